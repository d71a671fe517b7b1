//! Where things live under the data directory. Every component computes
//! paths here, so the control plane, the pipeline and the agent (separate
//! processes) agree without talking to each other.

use std::path::{Path, PathBuf};

use crate::ids::{DeploymentId, EnvironmentId, ProjectId};

#[derive(Debug, Clone)]
pub struct DataLayout {
    root: PathBuf,
}

impl DataLayout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Bare git repositories, one per project.
    pub fn repos(&self) -> PathBuf {
        self.root.join("repos")
    }

    /// Slipway's own GitOps repository (the default `SLIPWAY_GITOPS_REMOTE`), bare. `_platform`
    /// cannot be a workspace ID, so it never meets a project's repository.
    pub fn gitops_repo(&self) -> PathBuf {
        self.repos().join("_platform").join("gitops.git")
    }

    /// The GitOps writer's own bare working clone.
    pub fn gitops_workdir(&self) -> PathBuf {
        self.root.join("gitops").join("work.git")
    }

    /// Every deployment's build directory, each named by its deployment ID.
    pub fn builds(&self) -> PathBuf {
        self.root.join("builds")
    }

    /// The build directory of a deployment; its `app/` is the release artifact.
    pub fn build_dir(&self, deployment: &DeploymentId) -> PathBuf {
        self.builds().join(deployment.as_str())
    }

    /// The runtimes store: `<language>/<version>/` of each runtime version installed for an app
    /// that asked for it, shared by every tenant and seen read-only by them.
    pub fn runtimes(&self) -> PathBuf {
        self.root.join("runtimes")
    }

    /// Dependency caches of a project, kept across builds.
    pub fn cache_dir(&self, project: &ProjectId) -> PathBuf {
        self.root.join("cache").join(project.as_str())
    }

    /// The dependency cache of one environment of a project, kept across its builds. One per
    /// environment: builds of each environment run as that environment's uid, and a cache
    /// shared with staging would let staging's build change what production's next release runs.
    pub fn environment_cache_dir(&self, project: &ProjectId, environment: &EnvironmentId) -> PathBuf {
        self.cache_dir(project).join(environment.as_str())
    }

    /// Every deployment's build-and-deploy log, each `<deployment ID>.log`.
    pub fn deployment_logs(&self) -> PathBuf {
        self.root.join("logs").join("deployments")
    }

    /// The build-and-deploy log of a deployment.
    pub fn deployment_log(&self, deployment: &DeploymentId) -> PathBuf {
        self.deployment_logs().join(format!("{deployment}.log"))
    }

    /// Every environment's runtime log, each `<environment ID>.log`.
    pub fn app_logs(&self) -> PathBuf {
        self.root.join("logs").join("apps")
    }

    /// The runtime log of an environment, across all its releases.
    pub fn app_log(&self, environment: &EnvironmentId) -> PathBuf {
        self.app_logs().join(format!("{environment}.log"))
    }

    /// The edge router's access logs: `<environment ID>.log` per environment, and
    /// `_unrouted.log` for requests no environment took.
    pub fn access_logs(&self) -> PathBuf {
        self.root.join("logs").join("access")
    }

    /// The access log of an environment: one JSON line per request the router answered for it.
    pub fn access_log(&self, environment: &EnvironmentId) -> PathBuf {
        self.access_logs().join(format!("{environment}.log"))
    }

    /// The agent's own log (its stdout and stderr too).
    pub fn agent_log(&self) -> PathBuf {
        self.root.join("logs").join("agent.log")
    }

    /// The agent's lock and pid file.
    pub fn agent_lock(&self) -> PathBuf {
        self.root.join("run").join("agent.pid")
    }

    /// The agent's datagram socket: a byte there means "desired state changed".
    pub fn agent_socket(&self) -> PathBuf {
        self.root.join("run").join("agent.sock")
    }

    /// The router's metrics in Prometheus text, rewritten by the agent every
    /// few seconds and served by the control plane's `/metrics`.
    pub fn router_metrics(&self) -> PathBuf {
        self.root.join("run").join("router.prom")
    }

    /// Process groups of app instances the agent started, for clean-up after a crash.
    pub fn agent_instances(&self) -> PathBuf {
        self.root.join("run").join("instances")
    }
}
