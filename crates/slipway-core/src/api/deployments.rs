use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use std::collections::BTreeMap;

use crate::build_plan::BuildPlan;
use crate::deployment::{DeploymentNumber, DeploymentStatus};
use crate::ids::{DeploymentId, EnvironmentId, ReleaseId};
use crate::image_tag::CommitSha;
use crate::process_type::ProcessType;
use crate::timestamp::Timestamp;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Deployment {
    pub id: DeploymentId,
    pub environment_id: EnvironmentId,
    /// The build number, unique in the project.
    pub number: DeploymentNumber,
    pub status: DeploymentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<CommitSha>,
    /// Why it failed, in words a person can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// A build of new code, or a rollback to an earlier release.
    #[serde(default)]
    pub kind: DeploymentKind,
    /// What detection decided, once the build has started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<BuildPlan>,
    /// The release this deployment produced (or re-activated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_id: Option<ReleaseId>,
    /// Kubernetes target: the exported image, `registry/repository:tag@sha256:…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Kubernetes target: the GitOps commit that holds this deployment's manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitops_commit: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentKind {
    #[default]
    Build,
    Rollback,
}

impl DeploymentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentKind::Build => "build",
            DeploymentKind::Rollback => "rollback",
        }
    }
}

/// `POST …/deployments`: deploy the tracked branch head, or a given commit
/// already in Slipway's repository (what a push does).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeploymentRequest {
    #[serde(default)]
    pub commit: Option<String>,
}

/// `POST …/rollback`: re-activate a release (default: the one before the active one).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    #[serde(default)]
    pub release: Option<u64>,
}

/// An immutable release: built artifact + config snapshot + process types.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Release {
    pub id: ReleaseId,
    /// The number of the deployment that made it.
    pub number: DeploymentNumber,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<CommitSha>,
    pub kind: DeploymentKind,
    pub processes: BTreeMap<ProcessType, String>,
    /// The runtime version it was built and runs with, where the app asked for one (a rollback
    /// runs with it again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<crate::runtime::RuntimeVersion>,
    /// Names of the config vars in its snapshot (values are never listed).
    pub config: Vec<String>,
    /// Whether it is the release serving now.
    pub active: bool,
    /// Whether `POST …/rollback` can re-activate it. On the local target a release can be rolled
    /// back to while its artifact is kept (release retention keeps those of the last N releases of
    /// the environment, `SLIPWAY_RELEASE_RETENTION`, default 10); on the Kubernetes target while
    /// its image is in the registry.
    pub rollback_available: bool,
    /// Why it cannot be rolled back to, and what to do instead; absent when it can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_unavailable_reason: Option<String>,
    /// When release retention removed its artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_pruned_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// One running copy of a process type, as the agent last reported it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Instance {
    /// `web.1`, `worker.2`, …
    pub name: String,
    pub process: String,
    /// The release number it runs.
    pub release: DeploymentNumber,
    /// `starting`, `running`, `restarting` or `stopping`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Crash restarts since it was first started.
    pub restarts: u32,
    pub updated_at: Timestamp,
    /// Why it last exited: `out of memory (limit 512 MiB)`, `exit status 1`…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_exit: Option<String>,
}

/// `PUT …/scale`: instances per process type (0 stops a type).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleRequest {
    pub processes: BTreeMap<String, u32>,
}
