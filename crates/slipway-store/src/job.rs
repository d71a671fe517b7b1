//! What a queued job asks for, and the one place that knows how a job is
//! stored: a `kind` column, a text `payload` and the job's workspace. The
//! payload keeps the formats rows already in the database use (a deployment
//! ID; `<workspace>/<project>/<environment>`), so an upgrade finds its queue
//! readable. A row this version cannot read is never guessed at: the queue
//! fails it with the reason (see `jobs.rs`).

use slipway_core::address::EnvironmentPath;
use slipway_core::ids::{DeploymentId, WorkspaceId};

/// One piece of work for the deploy pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Build a queued deployment and release it.
    Deploy { workspace: WorkspaceId, deployment: DeploymentId },
    /// Commit a rollback deployment of a Kubernetes-target environment to GitOps (the local
    /// agent finishes a local rollback by itself).
    GitopsRollback { workspace: WorkspaceId, deployment: DeploymentId },
    /// Remove an environment's folder from the GitOps repository after it moved back to the
    /// local target.
    GitopsRemove { workspace: WorkspaceId, environment: EnvironmentPath },
    /// Commit a Kubernetes-target environment again after a scale change.
    GitopsScale { workspace: WorkspaceId, environment: EnvironmentPath },
}

/// The kinds of [`Job`], to choose which a worker claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Deploy,
    GitopsRollback,
    GitopsRemove,
    GitopsScale,
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [Self::Deploy, Self::GitopsRollback, Self::GitopsRemove, Self::GitopsScale];

    /// The stored `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::GitopsRollback => "gitops-rollback",
            Self::GitopsRemove => "gitops-remove",
            Self::GitopsScale => "gitops-scale",
        }
    }

    fn parse(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|known| known.as_str() == kind)
    }
}

/// A stored row as the queue hands it over.
pub(crate) struct StoredJob<'a> {
    pub kind: &'a str,
    pub payload: &'a str,
    pub workspace: Option<&'a str>,
}

impl Job {
    pub fn kind(&self) -> JobKind {
        match self {
            Self::Deploy { .. } => JobKind::Deploy,
            Self::GitopsRollback { .. } => JobKind::GitopsRollback,
            Self::GitopsRemove { .. } => JobKind::GitopsRemove,
            Self::GitopsScale { .. } => JobKind::GitopsScale,
        }
    }

    /// The workspace the job works for.
    pub fn workspace(&self) -> &WorkspaceId {
        match self {
            Self::Deploy { workspace, .. }
            | Self::GitopsRollback { workspace, .. }
            | Self::GitopsRemove { workspace, .. }
            | Self::GitopsScale { workspace, .. } => workspace,
        }
    }

    /// How many claims the job gets when queued with the change that asks for it. A deployment
    /// is retried once (a second crash fails it); a GitOps write a little more, as the next
    /// change of the environment writes its whole folder anyway.
    pub(crate) fn max_attempts(&self) -> u32 {
        match self.kind() {
            JobKind::Deploy | JobKind::GitopsRollback => 2,
            JobKind::GitopsRemove | JobKind::GitopsScale => 3,
        }
    }

    /// The stored `payload`.
    pub(crate) fn payload(&self) -> String {
        match self {
            Self::Deploy { deployment, .. } | Self::GitopsRollback { deployment, .. } => deployment.to_string(),
            Self::GitopsRemove { environment, .. } | Self::GitopsScale { environment, .. } => environment.to_string(),
        }
    }

    /// Reads a stored row back, or says why it cannot be run.
    pub(crate) fn decode(row: StoredJob<'_>) -> Result<Self, String> {
        let kind = JobKind::parse(row.kind).ok_or_else(|| unknown_kind(row.kind))?;
        let workspace = row
            .workspace
            .and_then(|id| WorkspaceId::parse(id).ok())
            .ok_or_else(|| format!("the {} job names no valid workspace; it was not run", row.kind))?;
        let bad_payload =
            || format!("the {} job's payload `{}` does not decode; it was not run", row.kind, row.payload);
        let deployment = || DeploymentId::parse(row.payload).map_err(|_| bad_payload());
        let environment = || EnvironmentPath::parse(row.payload).ok_or_else(bad_payload);
        Ok(match kind {
            JobKind::Deploy => Self::Deploy { workspace, deployment: deployment()? },
            JobKind::GitopsRollback => Self::GitopsRollback { workspace, deployment: deployment()? },
            JobKind::GitopsRemove => Self::GitopsRemove { workspace, environment: environment()? },
            JobKind::GitopsScale => Self::GitopsScale { workspace, environment: environment()? },
        })
    }
}

/// Why a row of another kind is not run (a newer version queued it, or an older one whose
/// kind is gone).
pub(crate) fn unknown_kind(kind: &str) -> String {
    format!("this version of Slipway has no job of kind `{kind}`; it was not run")
}

/// The deployments named by `deploy` jobs that failed for good, as SQL (for the janitor, which
/// fails those deployments).
pub(crate) fn deployments_of_failed_deploy_jobs() -> String {
    format!("SELECT payload FROM jobs WHERE kind = '{}' AND status = 'failed'", JobKind::Deploy.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> EnvironmentPath {
        EnvironmentPath::parse(text).unwrap()
    }

    fn stored<'a>(kind: &'a str, payload: &'a str, workspace: Option<&'a str>) -> StoredJob<'a> {
        StoredJob { kind, payload, workspace }
    }

    #[test]
    fn every_job_round_trips_through_its_row() {
        let (workspace, deployment) = (WorkspaceId::generate(), DeploymentId::generate());
        let jobs = [
            Job::Deploy { workspace: workspace.clone(), deployment: deployment.clone() },
            Job::GitopsRollback { workspace: workspace.clone(), deployment },
            Job::GitopsRemove { workspace: workspace.clone(), environment: path("acme/web/production") },
            Job::GitopsScale { workspace: workspace.clone(), environment: path("acme/web/staging") },
        ];
        assert_eq!(jobs.iter().map(Job::kind).collect::<Vec<_>>(), JobKind::ALL, "one job of every kind");
        for job in jobs {
            let payload = job.payload();
            let row = stored(job.kind().as_str(), &payload, Some(workspace.as_str()));
            assert_eq!(Job::decode(row).as_ref(), Ok(&job));
            assert_eq!(job.workspace(), &workspace);
        }
    }

    #[test]
    fn rows_queued_before_the_typed_queue_still_decode() {
        let workspace = "ws_0190aaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let deployment = "dep_0190bbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        let ws = WorkspaceId::parse(workspace).unwrap();
        let id = DeploymentId::parse(deployment).unwrap();
        let decoded = |kind, payload| Job::decode(stored(kind, payload, Some(workspace))).unwrap();
        assert_eq!(decoded("deploy", deployment), Job::Deploy { workspace: ws.clone(), deployment: id.clone() });
        assert_eq!(
            decoded("gitops-rollback", deployment),
            Job::GitopsRollback { workspace: ws.clone(), deployment: id }
        );
        assert_eq!(
            decoded("gitops-remove", "acme/web/production"),
            Job::GitopsRemove { workspace: ws.clone(), environment: path("acme/web/production") }
        );
        assert_eq!(
            decoded("gitops-scale", "acme/web/production"),
            Job::GitopsScale { workspace: ws, environment: path("acme/web/production") }
        );
        assert_eq!(path("acme/web/production").to_string(), "acme/web/production");
    }

    #[test]
    fn an_unknown_kind_or_a_bad_payload_says_why_and_never_becomes_a_deploy() {
        let workspace = WorkspaceId::generate();
        let ws = Some(workspace.as_str());
        let id = DeploymentId::generate();
        let error = |kind, payload, workspace| Job::decode(stored(kind, payload, workspace)).unwrap_err();
        assert_eq!(
            error("build", id.as_str(), ws),
            "this version of Slipway has no job of kind `build`; it was not run"
        );
        assert_eq!(error("gitops-scale", id.as_str(), ws), unknown_payload("gitops-scale", id.as_str()));
        for payload in ["", "acme/web", "acme/web/production/extra", "Acme/web/production", "acme//production"] {
            assert_eq!(error("gitops-remove", payload, ws), unknown_payload("gitops-remove", payload));
        }
        assert_eq!(error("deploy", "acme/web/production", ws), unknown_payload("deploy", "acme/web/production"));
        assert_eq!(error("gitops-rollback", "dep_1", ws), unknown_payload("gitops-rollback", "dep_1"));
        assert!(error("deploy", id.as_str(), None).contains("names no valid workspace"));
        assert!(error("deploy", id.as_str(), Some("acme")).contains("names no valid workspace"));
    }

    fn unknown_payload(kind: &str, payload: &str) -> String {
        format!("the {kind} job's payload `{payload}` does not decode; it was not run")
    }
}
