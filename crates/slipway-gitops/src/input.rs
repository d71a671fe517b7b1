//! What the renderer needs to know about one environment, as plain data.
//!
//! The deploy pipeline fills [`AppEnvironment`] from the store (project,
//! active release, scale, routes, config var names) and [`ClusterSettings`]
//! from the platform settings; nothing here touches I/O, so `slipway gitops
//! render` and the tests build the same values by hand.

use std::collections::BTreeMap;

use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::DeploymentNumber;
use slipway_core::hostname::Hostname;
use slipway_core::image_ref::ReleaseImage;
use slipway_core::names::{ConfigVarName, EnvironmentName, ProjectSlug, WorkspaceSlug};
use slipway_core::process_type::ProcessType;
use slipway_core::quota::WorkspaceQuota;
use slipway_core::resources::{Memory, Resources};

/// One environment of one project, at one deployment.
#[derive(Debug, Clone)]
pub struct AppEnvironment {
    pub workspace: WorkspaceSlug,
    pub project: ProjectSlug,
    pub environment: EnvironmentName,
    /// The deployment (build) number this render belongs to; it is written as an annotation
    /// so a rollout is visible in the cluster even when nothing else changed.
    pub deployment: DeploymentNumber,
    pub image: ReleaseImage,
    /// Process types by name (`web`, `worker`, …). `web` gets the Service, Ingress and probes.
    pub processes: BTreeMap<ProcessType, Process>,
    /// The port the `web` process listens on (`PORT` is set to it).
    pub port: u16,
    /// HTTP path for readiness/liveness probes of `web`; `None` probes the TCP port.
    pub health_check_path: Option<String>,
    /// Generated hostname first, then custom domains. Empty means no Ingress.
    pub hostnames: Vec<Hostname>,
    pub config: Vec<ConfigVar>,
    pub quota: Quota,
}

/// A config var as the renderer sees it. A secret carries no value at all, so
/// no code path here can write one to git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigVar {
    /// Goes into the ConfigMap, value and all (plain vars are not secret).
    Plain { name: ConfigVarName, value: String },
    /// Goes into the ExternalSecret as a reference to the secret store.
    Secret { name: ConfigVarName },
}

impl ConfigVar {
    pub fn name(&self) -> &ConfigVarName {
        match self {
            Self::Plain { name, .. } | Self::Secret { name } => name,
        }
    }
}

/// How one process type runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Shell command line, run as `/bin/sh -c <command>`.
    pub command: String,
    pub replicas: u32,
    /// The environment's figures for each instance (the local target's cgroup limits), rendered
    /// as the container's limits; see `render::workload` for the requests.
    pub resources: Resources,
    pub autoscaling: Option<Autoscaling>,
    /// A cron expression; when set the process type becomes a CronJob instead of a Deployment.
    pub schedule: Option<String>,
}

/// Horizontal autoscaling on CPU utilisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Autoscaling {
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub target_cpu_percent: u32,
}

/// The workspace's quota, rendered as the ResourceQuota of each of its namespaces; `None` is
/// unlimited. Kubernetes has no quota across namespaces: the control plane holds the workspace
/// to its total across all of them (it refuses any deploy or scale that would exceed it), and
/// each namespace's ResourceQuota holds that namespace to it as well.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    /// Memory limits of all pods together.
    pub memory: Option<Memory>,
    /// Pods.
    pub pods: Option<u32>,
}

impl From<&WorkspaceQuota> for Quota {
    fn from(quota: &WorkspaceQuota) -> Self {
        Self { memory: quota.memory, pods: quota.instances }
    }
}

impl Process {
    /// One process per entry of the build plan, each with the same settings; the caller then
    /// applies the environment's scale. A plan with only `start` yields a `web` process.
    pub fn from_build_plan(plan: &BuildPlan, defaults: &Process) -> BTreeMap<ProcessType, Process> {
        let mut processes: BTreeMap<ProcessType, Process> = plan
            .processes
            .iter()
            .map(|(name, command)| (name.clone(), Process { command: command.clone(), ..defaults.clone() }))
            .collect();
        if processes.is_empty() {
            if let Some(start) = &plan.start {
                processes.insert(ProcessType::web(), Process { command: start.clone(), ..defaults.clone() });
            }
        }
        processes
    }
}

impl Default for Process {
    fn default() -> Self {
        Self { command: String::new(), replicas: 1, resources: Resources::default(), autoscaling: None, schedule: None }
    }
}

/// Platform-wide settings of the cluster the manifests are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// `spec.ingressClassName` of every Ingress.
    pub ingress_class: String,
    /// cert-manager ClusterIssuer named in the `cert-manager.io/cluster-issuer` annotation.
    pub cert_issuer: String,
    /// Namespace of the ingress controller, the only source of inbound traffic to `web`.
    pub ingress_namespace: String,
    /// external-secrets.io ClusterSecretStore holding the secret config vars.
    pub secret_store: String,
    /// Remote keys are `<prefix><workspace>/<project>/<environment>/<VAR>`.
    pub secret_key_prefix: String,
    /// UID the containers run as (Pod Security `restricted` needs a non-root user).
    pub run_as_user: i64,
    /// Let apps reach public addresses (outside the private IPv4 ranges, so not other
    /// tenants' pods). Off by default: the network model denies all egress but DNS and the
    /// workspace's own add-ons until an operator opts in.
    pub allow_internet_egress: bool,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            ingress_class: "nginx".into(),
            cert_issuer: "letsencrypt".into(),
            ingress_namespace: "ingress-nginx".into(),
            secret_store: "slipway".into(),
            secret_key_prefix: "slipway/".into(),
            run_as_user: 10001,
            allow_internet_egress: false,
        }
    }
}
