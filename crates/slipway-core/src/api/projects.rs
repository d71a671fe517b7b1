use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{EnvironmentId, ProjectId, WorkspaceId};
use crate::names::{EnvironmentName, ProjectSlug, WorkspaceSlug};
use crate::resources::Resources;
use crate::timestamp::Timestamp;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    pub slug: String,
    /// A git URL to track instead of pushes to Slipway.
    #[serde(default)]
    pub repo_url: Option<String>,
    /// The deploy branch (default `main`).
    #[serde(default)]
    pub branch: Option<String>,
    /// A domain of the user's that becomes production's primary URL.
    #[serde(default)]
    pub custom_domain: Option<String>,
}

/// PATCH body: an absent field is left alone, `null` clears it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
    #[serde(default, deserialize_with = "super::patch_field", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub repo_url: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, deserialize_with = "super::patch_field", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub custom_domain: Option<Option<String>>,
    /// How long one build may take, in seconds: 60 to 7200 (1 minute to 2 hours); `null` goes
    /// back to the platform's default of 900 (15 minutes). A build already running keeps its limit.
    #[serde(default, deserialize_with = "super::patch_field", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, example = 1800)]
    pub build_timeout: Option<Option<i64>>,
    /// The directory of the repository that holds the app (a monorepo's `apps/web`): a relative
    /// path of plain names. Only it is built and shipped. It wins over `root_dir` in the
    /// repository's slipway.toml; `null` goes back to that (or the repository's root).
    #[serde(default, deserialize_with = "super::patch_field", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "apps/web")]
    pub root_dir: Option<Option<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Project {
    pub id: ProjectId,
    pub workspace_id: WorkspaceId,
    pub slug: ProjectSlug,
    pub workspace: WorkspaceSlug,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_url: Option<String>,
    pub branch: String,
    /// Production's primary URL.
    pub url: String,
    pub environments: Vec<Environment>,
    /// How long one build may take, in seconds: the project's own setting, or the platform's
    /// default (900, 15 minutes).
    pub build_timeout: u64,
    /// The project's app directory in its repository, if it names one (else slipway.toml's
    /// `root_dir`, or the root, decides at each build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_dir: Option<String>,
    pub created_at: Timestamp,
    /// Bytes the project takes on the machine that answered. Only in `GET …/projects/{project}`,
    /// and only from a control plane that runs with the platform's data dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_usage: Option<DiskUsage>,
}

/// What a project takes on disk, in bytes allocated (as `du` counts them: a sparse file counts
/// what it occupies). Symbolic links are never followed (a link counts as itself), and a file
/// with several hard links counts once: in the repository, else the builds, else the build cache.
///
/// The figure is measured, not tracked: the control plane walks the project's directories at
/// most once a minute and answers the last measurement meanwhile (`measured_at` says when; a
/// figure up to five minutes old may be answered while a new one is measured). A walk stops at
/// two seconds or a million entries, whichever comes first; its figures are then lower bounds
/// and `complete` is false.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DiskUsage {
    /// The project's git repository (pushes, and fetches of a tracked repository).
    pub repository: u64,
    /// Build directories: the artifacts of the releases retention keeps (each environment's last N,
    /// its active one included), and failed builds not yet removed.
    pub builds: u64,
    /// The project's dependency caches, kept across builds.
    pub build_cache: u64,
    /// The build logs of its deployments.
    pub build_logs: u64,
    /// The runtime logs of its environments, rotated files included.
    pub runtime_logs: u64,
    /// The edge router's access logs of its environments, rotated files included.
    pub access_logs: u64,
    /// The sum of the figures above.
    pub total: u64,
    /// False when the walk stopped at its time or entry limit: the figures are then at least this.
    pub complete: bool,
    pub measured_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Environment {
    pub id: EnvironmentId,
    pub name: EnvironmentName,
    /// The primary URL: the custom domain if there is one, else the generated hostname.
    pub url: String,
    /// Every hostname routed here, generated first.
    pub hostnames: Vec<String>,
    /// The hostnames whose plain-HTTP requests are redirected to HTTPS.
    #[serde(default)]
    pub https_redirects: Vec<String>,
    pub target: RuntimeTarget,
    /// What each instance may use, the platform's defaults filled in: `memory` in bytes, `cpu`
    /// in thousandths of a core, `max_processes` counting threads too.
    pub resources: Resources,
    pub created_at: Timestamp,
}

/// Where an environment runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeTarget {
    /// The agent on this machine.
    Local,
    /// A Kubernetes cluster through GitOps.
    Kubernetes,
}

impl RuntimeTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeTarget::Local => "local",
            RuntimeTarget::Kubernetes => "kubernetes",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [RuntimeTarget::Local, RuntimeTarget::Kubernetes].into_iter().find(|t| t.as_str() == value)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEnvironmentRequest {
    pub name: String,
}

/// `PATCH …/environments/{env}`: settings of an environment; an absent field is left alone.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEnvironmentRequest {
    /// `local` (this machine's agent) or `kubernetes` (GitOps). A plain string, so that a bad
    /// value gets `INVALID_TARGET` rather than a generic JSON error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// What each instance may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesPatch>,
}

/// Resources of each instance of an environment: an absent figure is left alone, `null` goes
/// back to the platform's default. Figures are strings, as people write them, so that a bad one
/// gets `INVALID_RESOURCES` naming it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcesPatch {
    /// `512M`, `1G`, `1.5G`: the instance is killed when it uses more (swap excluded).
    #[serde(default, deserialize_with = "super::patch_field", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "512M")]
    pub memory: Option<Option<String>>,
    /// Cores: `0.5`, `2`, or `500m`; a hard cap on CPU time.
    #[serde(default, deserialize_with = "super::patch_field", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "0.5")]
    pub cpu: Option<Option<String>>,
    /// Processes and threads together.
    #[serde(default, deserialize_with = "super::patch_field", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, example = 128)]
    pub max_processes: Option<Option<i64>>,
}

/// `POST …/environments/{env}/domains`: route a custom domain here.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDomainRequest {
    pub hostname: String,
}

/// `PATCH …/environments/{env}/domains/{hostname}`: settings of one hostname.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDomainRequest {
    /// Answer plain-HTTP requests for this hostname with a 308 to the same URL on `https://`.
    pub https_redirect: bool,
}
