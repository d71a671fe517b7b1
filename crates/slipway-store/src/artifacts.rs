//! What the platform keeps on disk for a project, as far as the store knows it: release retention
//! (which build directories may go, recorded before they go) and the IDs that name a project's
//! directories, for its disk use.
//!
//! The store touches no file. The pipeline removes what [`Store::prune_artifacts`] hands it and
//! the API measures what [`Store::project_files`] names — in both cases paths the platform computes
//! from these IDs (`DataLayout`), never a path read from a row or from a tenant's files.
//!
//! An artifact is the build directory of the deployment that built it; a rollback's release reuses
//! the artifact of the release it went back to (`releases.artifact_deployment_id`), so an artifact
//! stays while any release that needs it is kept.

use std::collections::{BTreeMap, HashSet};

use slipway_core::api::RuntimeTarget;
use slipway_core::deployment::DeploymentNumber;
use slipway_core::ids::{DeploymentId, EnvironmentId, ProjectId, WorkspaceId};
use slipway_core::names::ProjectSlug;
use slipway_core::retention::ReleaseRetention;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::error::stored;
use crate::projects::project_row;
use crate::quotas::lock_quota;
use crate::releases::RuntimeEnv;
use crate::scope::{Scope, Tx};
use crate::{Store, StoreError};

/// A build directory release retention gave up: `<data>/builds/<deployment_id>/` is to be removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunedBuild {
    pub deployment_id: DeploymentId,
    /// The build number of that deployment.
    pub number: DeploymentNumber,
    /// Whether it held a release's artifact (else it is what a failed build left).
    pub released: bool,
}

/// The IDs that name a project's files on this machine.
#[derive(Debug, Clone)]
pub struct ProjectFiles {
    pub workspace_id: WorkspaceId,
    pub project_id: ProjectId,
    pub environments: Vec<EnvironmentId>,
    /// Every deployment, oldest first (each has a build log).
    pub deployments: Vec<DeploymentId>,
    /// The deployments whose build directory may exist: builds that retention has not removed.
    pub builds: Vec<DeploymentId>,
}

/// How a release's availability for rollback reads in the release list.
pub(crate) struct Availability {
    pub available: bool,
    pub reason: Option<String>,
    pub pruned_at: Option<Timestamp>,
}

/// The columns [`availability`] reads, for a query over `releases r JOIN deployments d` (the
/// release's own deployment) with `a`, the deployment that holds the artifact.
pub(crate) const AVAILABILITY_COLUMNS: &str =
    "d.image AS rollback_image, a.build_pruned_at AS artifact_pruned_at, a.build_pruned_retention AS artifact_retention";

/// The join that brings in `a` for [`AVAILABILITY_COLUMNS`].
pub(crate) const ARTIFACT_JOIN: &str =
    "LEFT JOIN deployments a ON a.id = COALESCE(r.artifact_deployment_id, r.deployment_id)";

/// Whether the release of `row` can be rolled back to on an environment of `target`, and why not.
pub(crate) fn availability(row: &AnyRow, target: RuntimeTarget) -> Result<Availability, StoreError> {
    let commit: Option<String> = row.try_get("commit_sha")?;
    let pruned_at = row.try_get::<Option<i64>, _>("artifact_pruned_at")?.map(Timestamp::from_millis);
    let reason = match target {
        // The cluster pulls the image; the local artifact does not matter there.
        RuntimeTarget::Kubernetes => match row.try_get::<Option<String>, _>("rollback_image")? {
            Some(_) => None,
            None => Some(never_exported(commit.as_deref())),
        },
        RuntimeTarget::Local => match pruned_at {
            Some(_) => Some(pruned_reason(row.try_get("artifact_retention")?, commit.as_deref())),
            None => None,
        },
    };
    Ok(Availability { available: reason.is_none(), reason, pruned_at })
}

fn redeploy(commit: Option<&str>) -> String {
    match commit {
        Some(sha) => format!(
            "deploy its commit {sha} again instead (`slipway deploy --commit {sha}`, or POST …/deployments with \
             {{\"commit\": \"{sha}\"}})"
        ),
        None => "deploy again instead".to_owned(),
    }
}

/// Why a release whose artifact retention removed cannot be rolled back to.
pub(crate) fn pruned_reason(retention: Option<i64>, commit: Option<&str>) -> String {
    let kept = match retention {
        Some(n) => format!("this environment keeps the artifacts of its last {n} releases"),
        None => "this environment keeps the artifacts of its newest releases only".to_owned(),
    };
    format!("its artifact was removed by release retention ({kept}); {}", redeploy(commit))
}

fn never_exported(commit: Option<&str>) -> String {
    format!("it was never exported to the registry (it ran on the local target); {}", redeploy(commit))
}

/// Refuses a rollback to the release of `target` (a `releases` row) on the local target when
/// retention removed its artifact: `RELEASE_PRUNED`, naming the release, the retention and what
/// to do instead.
pub(crate) async fn refuse_pruned(tx: &mut Tx, environment: &EnvironmentId, target: &AnyRow) -> Result<(), StoreError> {
    let kind: String = sqlx::query("SELECT target FROM environments WHERE id = $1")
        .bind(environment.as_str())
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    if kind != RuntimeTarget::Local.as_str() {
        return Ok(());
    }
    let artifact = artifact_of(target)?;
    let row = sqlx::query("SELECT build_pruned_at, build_pruned_retention FROM deployments WHERE id = $1")
        .bind(artifact.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(()) };
    if row.try_get::<Option<i64>, _>("build_pruned_at")?.is_none() {
        return Ok(());
    }
    let number: i64 = target.try_get("number")?;
    let commit: Option<String> = target.try_get("commit_sha")?;
    let reason = pruned_reason(row.try_get("build_pruned_retention")?, commit.as_deref());
    Err(StoreError::Conflict {
        code: ErrorCode::ReleasePruned,
        message: format!("release #{number} can no longer be rolled back to: {reason}"),
    })
}

/// The deployment whose build directory holds the artifact of the release in `row`.
pub(crate) fn artifact_of(row: &AnyRow) -> Result<DeploymentId, StoreError> {
    let id = match row.try_get::<Option<String>, _>("artifact_deployment_id")? {
        Some(id) => id,
        None => row.try_get("deployment_id")?,
    };
    stored(DeploymentId::parse(&id))
}

/// A release of the environment, newest first, as retention weighs it.
struct Weighed {
    id: String,
    number: i64,
    status: String,
    artifact: String,
    artifact_number: Option<i64>,
    artifact_pruned: bool,
}

impl Store {
    /// Release retention for one environment of the local target: records as pruned the build
    /// directories that no release worth keeping needs, and returns them for the caller to remove.
    ///
    /// Kept, whatever their age: the artifacts of the `retention` newest releases, of the active
    /// and the desired release, of any release still being started (its deployment DEPLOYING) and
    /// of any release the agent reports instances of (starting, serving or draining). A failed
    /// build's directory (it made no release) goes once the build is older than the oldest of the
    /// `retention` newest releases. The Kubernetes target keeps images, not directories: nothing
    /// is pruned there.
    ///
    /// Recorded first, removed after: a crash in between leaves a directory on disk that nothing
    /// can roll back to ([`Store::pruned_builds`] finds it again), never a release that claims an
    /// artifact it lost. Takes the workspace lock that release creation and rollback take, so a
    /// rollback cannot pick a release while its artifact is being given up.
    pub async fn prune_artifacts(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        environment: &EnvironmentId,
        retention: ReleaseRetention,
    ) -> Result<Vec<PrunedBuild>, StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        lock_quota(&mut tx, self.backend, workspace).await?;
        let env = sqlx::query(
            "SELECT target, desired_release_id, active_release_id FROM environments WHERE id = $1 AND workspace_id = $2",
        )
        .bind(environment.as_str())
        .bind(workspace.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(env) = env else { return Ok(Vec::new()) }; // deleted meanwhile
        if env.try_get::<String, _>("target")? != RuntimeTarget::Local.as_str() {
            return Ok(Vec::new());
        }
        let active: Option<String> = env.try_get("active_release_id")?;
        let desired: Option<String> = env.try_get("desired_release_id")?;
        let releases = weigh_releases(&mut tx, environment).await?;
        let running: HashSet<i64> =
            sqlx::query("SELECT DISTINCT release_number FROM instances WHERE environment_id = $1")
                .bind(environment.as_str())
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?;

        let newest = usize::try_from(retention.get()).unwrap_or(usize::MAX);
        let mut kept = HashSet::new();
        for (index, release) in releases.iter().enumerate() {
            let protected = index < newest
                || active.as_deref() == Some(release.id.as_str())
                || desired.as_deref() == Some(release.id.as_str())
                || release.status == "DEPLOYING"
                || running.contains(&release.number);
            if protected {
                kept.insert(release.artifact.clone());
            }
        }
        // Artifact → (build number, held a release); a BTreeMap so the order is stable.
        let mut pruned: BTreeMap<String, (i64, bool)> = BTreeMap::new();
        for release in &releases {
            if let (false, false, Some(number)) =
                (kept.contains(&release.artifact), release.artifact_pruned, release.artifact_number)
            {
                pruned.insert(release.artifact.clone(), (number, true));
            }
        }
        if releases.len() >= newest {
            let oldest_kept = releases.iter().take(newest).map(|r| r.number).min().unwrap_or(0);
            let failed = sqlx::query(
                "SELECT id, number FROM deployments
                 WHERE environment_id = $1 AND kind = 'build' AND release_id IS NULL AND build_pruned_at IS NULL
                   AND status IN ('FAILED', 'CANCELLED') AND number < $2",
            )
            .bind(environment.as_str())
            .bind(oldest_kept)
            .fetch_all(&mut *tx)
            .await?;
            for row in &failed {
                pruned.insert(row.try_get("id")?, (row.try_get("number")?, false));
            }
        }

        let now = Timestamp::now().as_millis();
        let mut builds = Vec::with_capacity(pruned.len());
        for (id, (number, released)) in pruned {
            let recorded = sqlx::query(
                "UPDATE deployments SET build_pruned_at = $1, build_pruned_retention = $2
                 WHERE id = $3 AND workspace_id = $4 AND build_pruned_at IS NULL",
            )
            .bind(now)
            .bind(i64::from(retention.get()))
            .bind(&id)
            .bind(workspace.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // Only a directory recorded here, of this workspace, is handed out to be removed.
            if recorded != 1 {
                continue;
            }
            audit::record(&mut tx, Some(workspace), actor, "build.prune", &format!("deployment/{number}")).await?;
            builds.push(PrunedBuild {
                deployment_id: stored(DeploymentId::parse(&id))?,
                number: stored(DeploymentNumber::new(u64::try_from(number).unwrap_or(0)))?,
                released,
            });
        }
        tx.commit().await?;
        builds.sort_by_key(|build| build.number);
        Ok(builds)
    }

    /// The runtime directories (`RuntimeEnv::runtime_dir`) of the releases whose builds are kept, on
    /// the whole platform: the runtimes store keeps those versions.
    pub async fn runtime_dirs_in_use(&self) -> Result<HashSet<String>, StoreError> {
        let mut tx = self.read(Scope::Platform).await?;
        let rows = sqlx::query(
            "SELECT DISTINCT r.runtime_env FROM releases r JOIN deployments d ON d.id = r.deployment_id \
             WHERE d.build_pruned_at IS NULL",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut dirs = HashSet::new();
        for row in rows {
            let env: RuntimeEnv = stored(serde_json::from_str(&row.try_get::<String, _>(0)?))?;
            dirs.extend(env.runtime_dir);
        }
        Ok(dirs)
    }

    /// Which of `deployments` retention has recorded as pruned, on the whole platform: after a
    /// crash between recording and removing, the pipeline removes those directories at start.
    pub async fn pruned_builds(&self, deployments: &[DeploymentId]) -> Result<Vec<DeploymentId>, StoreError> {
        let mut pruned = Vec::new();
        let mut tx = self.read(Scope::Platform).await?;
        for chunk in deployments.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT id FROM deployments WHERE build_pruned_at IS NOT NULL AND id IN ({})",
                marks.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&mut *tx).await? {
                pruned.push(stored(DeploymentId::parse(&row.try_get::<String, _>(0)?))?);
            }
        }
        tx.commit().await?;
        Ok(pruned)
    }

    /// The IDs naming a project's files on this machine, for its disk use.
    pub async fn project_files(
        &self,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
    ) -> Result<ProjectFiles, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let project_id =
            stored(ProjectId::parse(&project_row(&mut tx, workspace, project).await?.try_get::<String, _>("id")?))?;
        let environments = sqlx::query("SELECT id FROM environments WHERE project_id = $1 ORDER BY id")
            .bind(project_id.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let deployments =
            sqlx::query("SELECT id, kind, build_pruned_at FROM deployments WHERE project_id = $1 ORDER BY id")
                .bind(project_id.as_str())
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        let mut files = ProjectFiles {
            workspace_id: workspace.clone(),
            project_id,
            environments: environments
                .iter()
                .map(|row| stored(EnvironmentId::parse(&row.try_get::<String, _>(0)?)))
                .collect::<Result<_, _>>()?,
            deployments: Vec::with_capacity(deployments.len()),
            builds: Vec::new(),
        };
        for row in &deployments {
            let id = stored(DeploymentId::parse(&row.try_get::<String, _>("id")?))?;
            // A rollback builds nothing: its release uses another deployment's directory.
            let built = row.try_get::<String, _>("kind")? == "build";
            if built && row.try_get::<Option<i64>, _>("build_pruned_at")?.is_none() {
                files.builds.push(id.clone());
            }
            files.deployments.push(id);
        }
        Ok(files)
    }
}

/// The environment's releases, newest first, with what retention weighs.
async fn weigh_releases(tx: &mut Tx, environment: &EnvironmentId) -> Result<Vec<Weighed>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT r.id, r.number, d.status, COALESCE(r.artifact_deployment_id, r.deployment_id) AS artifact,
                a.number AS artifact_number, a.build_pruned_at
         FROM releases r JOIN deployments d ON d.id = r.deployment_id {ARTIFACT_JOIN}
         WHERE r.environment_id = $1 ORDER BY r.id DESC"
    ))
    .bind(environment.as_str())
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Weighed {
                id: row.try_get("id")?,
                number: row.try_get("number")?,
                status: row.try_get("status")?,
                artifact: row.try_get("artifact")?,
                artifact_number: row.try_get("artifact_number")?,
                artifact_pruned: row.try_get::<Option<i64>, _>("build_pruned_at")?.is_some(),
            })
        })
        .collect()
}
