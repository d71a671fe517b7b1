//! The Kubernetes target's records: an environment's runtime target, the image
//! and GitOps commit of a deployment, and what rendering an environment's
//! manifests needs (a release's plan and config snapshot, hostnames, scale).
//!
//! The agent never sees an environment whose target is `kubernetes` (see
//! [`Store::desired_state`]). The deploy pipeline commits such a deployment's
//! manifests — a rollback's too, through a [`Job::GitopsRollback`] queued with
//! it — and then either takes it live itself (no cluster to read back) or
//! records the commit and leaves it DEPLOYING, [`Store::awaiting_cluster`],
//! until the cluster watcher reports it live or failed (both through
//! `lifecycle.rs`). Moving an environment back to `local` queues a
//! [`Job::GitopsRemove`] that takes it out of the cluster.

use std::collections::BTreeMap;

use slipway_core::address::EnvironmentPath;
use slipway_core::api::{Environment, RuntimeTarget, Workspace};
use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::{DeploymentNumber, DeploymentStatus};
use slipway_core::ids::{DeploymentId, EnvironmentId, ReleaseId, UserId, WorkspaceId};
use slipway_core::image_tag::CommitSha;
use slipway_core::names::{EnvironmentName, ProjectSlug, WorkspaceSlug};
use slipway_core::quota::WorkspaceQuota;
use slipway_core::resources::Resources;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::environments::resolve_environment;
use crate::error::stored;
use crate::job::Job;
use crate::jobs::insert_job;
use crate::lifecycle::cancel_not_live;
use crate::quotas::read_quota;
use crate::releases::{release_deployment, ConfigValue};
use crate::resources::{own_resources, platform_defaults};
use crate::scope::{Scope, Tx};
use crate::{Store, StoreError};

/// Everything a render of one environment at one release needs, read in one transaction.
#[derive(Debug, Clone)]
pub struct RenderSource {
    pub environment_id: EnvironmentId,
    pub target: RuntimeTarget,
    pub release: ReleaseId,
    /// The number of the deployment that made the release.
    pub number: DeploymentNumber,
    pub plan: BuildPlan,
    /// The release's config snapshot, in clear: the renderer keeps plain values and only the
    /// names of secret ones.
    pub config: Vec<ConfigValue>,
    /// Generated hostname first, then custom domains in the order they were added.
    pub hostnames: Vec<String>,
    pub scale: BTreeMap<String, u32>,
    /// What each instance may use, the platform's defaults filled in (containers' limits).
    pub resources: Resources,
    /// The workspace's quota (the namespace's ResourceQuota).
    pub quota: WorkspaceQuota,
    /// The image exported for the release, if it was deployed to the Kubernetes target.
    pub image: Option<String>,
    pub commit_sha: Option<CommitSha>,
    /// Who made the deployment (the user part of the image tag).
    pub created_by: Option<UserId>,
}

/// A deployment committed to GitOps that the cluster has not yet been seen running.
#[derive(Debug, Clone)]
pub struct AwaitingCluster {
    pub workspace_id: WorkspaceId,
    pub workspace: WorkspaceSlug,
    pub project: ProjectSlug,
    pub environment: EnvironmentName,
    pub environment_id: EnvironmentId,
    pub deployment: DeploymentId,
    pub number: DeploymentNumber,
    pub release: ReleaseId,
    /// The image pinned by digest, which every Deployment of the environment must run.
    pub image: String,
    pub gitops_commit: String,
    /// When the commit was recorded.
    pub committed_at: Timestamp,
    /// The release the environment runs meanwhile, if any.
    pub active_release: Option<ReleaseId>,
}

/// For a rollback of `environment` to the release in `target` (a `releases` row): the image to
/// deploy again when the environment's target is `kubernetes` (refused when that release was
/// never exported), `None` on the local target.
pub(crate) async fn rollback_image(
    tx: &mut Tx,
    environment: &EnvironmentId,
    target: &AnyRow,
) -> Result<Option<String>, StoreError> {
    let kind: String = sqlx::query("SELECT target FROM environments WHERE id = $1")
        .bind(environment.as_str())
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    if kind != RuntimeTarget::Kubernetes.as_str() {
        return Ok(None);
    }
    let image: Option<String> = sqlx::query("SELECT image FROM deployments WHERE id = $1")
        .bind(target.try_get::<String, _>("deployment_id")?)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    let number: i64 = target.try_get("number")?;
    image.map(Some).ok_or_else(|| {
        StoreError::conflict(
            ErrorCode::DeploymentStateConflict,
            format!(
                "release #{number} was never exported to the registry (it ran on the local target); deploy its commit \
                 again instead"
            ),
        )
    })
}

/// Queues the GitOps commit of rollback deployment `id` and records the image it deploys again.
pub(crate) async fn queue_gitops_rollback(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &DeploymentId,
    image: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE deployments SET image = $1 WHERE id = $2")
        .bind(image)
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?;
    let job = Job::GitopsRollback { workspace: workspace.clone(), deployment: id.clone() };
    insert_job(tx, &job, Timestamp::now()).await?;
    Ok(())
}

/// After a scale change of `environment`: on the Kubernetes target, once something was
/// committed for it, queues the commit of the new replicas.
pub(crate) async fn queue_gitops_scale(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    environment: &EnvironmentId,
    project: &ProjectSlug,
    environment_name: &EnvironmentName,
) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT e.target, w.slug,
                (SELECT COUNT(*) FROM deployments d WHERE d.environment_id = e.id AND d.gitops_commit IS NOT NULL) AS committed
         FROM environments e JOIN workspaces w ON w.id = e.workspace_id WHERE e.id = $1",
    )
    .bind(environment.as_str())
    .fetch_one(&mut **tx)
    .await?;
    let target: String = row.try_get("target")?;
    let committed: i64 = row.try_get("committed")?;
    if target != RuntimeTarget::Kubernetes.as_str() || committed == 0 {
        return Ok(());
    }
    let path = EnvironmentPath {
        workspace: stored(WorkspaceSlug::parse(&row.try_get::<String, _>("slug")?))?,
        project: project.clone(),
        environment: environment_name.clone(),
    };
    insert_job(tx, &Job::GitopsScale { workspace: workspace.clone(), environment: path }, Timestamp::now()).await?;
    Ok(())
}

impl Store {
    /// Switches where an environment runs. A release still on its way to the old target is
    /// cancelled (the new one would never finish it) and the environment's desired release
    /// goes back to the active one; back to `local`, its GitOps folder is queued for removal.
    /// Unchanged targets change nothing and audit nothing.
    pub async fn set_environment_target(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        target: RuntimeTarget,
    ) -> Result<Environment, StoreError> {
        let mut tx = self.write(Scope::Tenant(&workspace.id)).await?;
        let (project_id, environment_id) = resolve_environment(&mut tx, &workspace.id, project, environment).await?;
        let changed = sqlx::query("UPDATE environments SET target = $1 WHERE id = $2 AND target <> $1")
            .bind(target.as_str())
            .bind(environment_id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed > 0 {
            let moved =
                format!("the environment moved to the {} target before this release went live", target.as_str());
            cancel_not_live(&mut tx, &environment_id, None, &moved).await?;
            sqlx::query("UPDATE environments SET desired_release_id = active_release_id WHERE id = $1")
                .bind(environment_id.as_str())
                .execute(&mut *tx)
                .await?;
            let audit_target = format!("project/{project}/{environment}:{}", target.as_str());
            audit::record(&mut tx, Some(&workspace.id), actor, "environment.target", &audit_target).await?;
            // Back on this machine: the cluster must stop running it too, so its GitOps folder
            // goes (Argo CD prunes what it held) — if anything was ever committed for it.
            let committed: i64 =
                sqlx::query("SELECT COUNT(*) FROM deployments WHERE environment_id = $1 AND gitops_commit IS NOT NULL")
                    .bind(environment_id.as_str())
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
            if target == RuntimeTarget::Local && committed > 0 {
                let path = EnvironmentPath {
                    workspace: workspace.slug.clone(),
                    project: project.clone(),
                    environment: environment.clone(),
                };
                let job = Job::GitopsRemove { workspace: workspace.id.clone(), environment: path };
                insert_job(&mut tx, &job, Timestamp::now()).await?;
            }
        }
        let environment = self.environment_of(&mut tx, &workspace.id, &project_id, &environment_id).await?;
        tx.commit().await?;
        if changed > 0 {
            self.desired_changed();
        }
        Ok(environment)
    }

    /// The runtime target of an environment now.
    pub async fn environment_target(
        &self,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
    ) -> Result<RuntimeTarget, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let (_, environment_id) = resolve_environment(&mut tx, workspace, project, environment).await?;
        let target: String = sqlx::query("SELECT target FROM environments WHERE id = $1")
            .bind(environment_id.as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        tx.commit().await?;
        RuntimeTarget::parse(&target).ok_or(StoreError::Corrupt(target))
    }

    /// Records the image a deployment exported (`registry/repository:tag@sha256:…`).
    pub async fn record_image(
        &self,
        workspace: &WorkspaceId,
        id: &DeploymentId,
        image: &str,
    ) -> Result<(), StoreError> {
        self.set_deployment_field(workspace, id, "image", image.to_owned()).await
    }

    /// The pipeline committed `release` as `commit` and the cluster is read back: the commit is
    /// recorded and the deployment stays DEPLOYING until the cluster watcher reports it
    /// [live](Store::release_live) or [failed](Store::release_failed).
    pub async fn record_gitops_commit(
        &self,
        workspace: &WorkspaceId,
        environment: &EnvironmentId,
        release: &ReleaseId,
        commit: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let deployment = release_deployment(&mut tx, workspace, environment, release).await?;
        sqlx::query("UPDATE deployments SET gitops_commit = $1, updated_at = $2 WHERE id = $3 AND status = $4")
            .bind(commit)
            .bind(Timestamp::now().as_millis())
            .bind(deployment.as_str())
            .bind(DeploymentStatus::Deploying.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every deployment on the platform committed to GitOps and not yet seen live or failed,
    /// oldest first. Platform scope: the cluster watcher serves every tenant.
    pub async fn awaiting_cluster(&self) -> Result<Vec<AwaitingCluster>, StoreError> {
        let mut tx = self.read(Scope::Platform).await?;
        let rows = sqlx::query(
            "SELECT d.id, d.workspace_id, w.slug AS workspace, p.slug AS project, e.name AS environment,
                    d.environment_id, d.number, d.release_id, d.image, d.gitops_commit, d.updated_at,
                    e.active_release_id
             FROM deployments d
             JOIN workspaces w ON w.id = d.workspace_id
             JOIN projects p ON p.id = d.project_id
             JOIN environments e ON e.id = d.environment_id
             WHERE d.status = 'DEPLOYING' AND d.gitops_commit IS NOT NULL AND d.image IS NOT NULL
               AND d.release_id IS NOT NULL AND e.target = 'kubernetes'
             ORDER BY d.updated_at, d.id",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                Ok(AwaitingCluster {
                    workspace_id: stored(WorkspaceId::parse(&row.try_get::<String, _>("workspace_id")?))?,
                    workspace: stored(WorkspaceSlug::parse(&row.try_get::<String, _>("workspace")?))?,
                    project: stored(ProjectSlug::parse(&row.try_get::<String, _>("project")?))?,
                    environment: stored(EnvironmentName::parse(&row.try_get::<String, _>("environment")?))?,
                    environment_id: stored(EnvironmentId::parse(&row.try_get::<String, _>("environment_id")?))?,
                    deployment: stored(DeploymentId::parse(&row.try_get::<String, _>("id")?))?,
                    number: stored(DeploymentNumber::new(
                        u64::try_from(row.try_get::<i64, _>("number")?).unwrap_or(0),
                    ))?,
                    release: stored(ReleaseId::parse(&row.try_get::<String, _>("release_id")?))?,
                    image: row.try_get("image")?,
                    gitops_commit: row.try_get("gitops_commit")?,
                    committed_at: Timestamp::from_millis(row.try_get("updated_at")?),
                    active_release: row
                        .try_get::<Option<String>, _>("active_release_id")?
                        .map(|id| stored(ReleaseId::parse(&id)))
                        .transpose()?,
                })
            })
            .collect()
    }

    /// What rendering `environment` at `release` needs; without `release`, the environment's
    /// desired release (else its active one). No release at all is `RELEASE_NOT_FOUND`.
    pub async fn render_source(
        &self,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        release: Option<&ReleaseId>,
    ) -> Result<RenderSource, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let (_, environment_id) = resolve_environment(&mut tx, workspace, project, environment).await?;
        let env = sqlx::query(
            "SELECT target, scale, COALESCE(desired_release_id, active_release_id) AS release_id,
                    resource_memory, resource_cpu, resource_max_processes
             FROM environments WHERE id = $1",
        )
        .bind(environment_id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let release_id = match release {
            Some(release) => Some(release.to_string()),
            None => env.try_get::<Option<String>, _>("release_id")?,
        };
        let no_release = || {
            StoreError::not_found(
                ErrorCode::ReleaseNotFound,
                format!("{project} ({environment}) has no release yet; deploy it first"),
            )
        };
        let release_id = release_id.ok_or_else(no_release)?;
        let row = sqlx::query(
            "SELECT r.id, r.number, r.plan, r.sealed_config, r.commit_sha, d.image, d.created_by
             FROM releases r JOIN deployments d ON d.id = r.deployment_id
             WHERE r.id = $1 AND r.environment_id = $2 AND r.workspace_id = $3",
        )
        .bind(&release_id)
        .bind(environment_id.as_str())
        .bind(workspace.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(no_release)?;
        let routes = sqlx::query(
            "SELECT hostname FROM routes WHERE environment_id = $1 ORDER BY kind DESC, created_at, hostname",
        )
        .bind(environment_id.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let defaults = platform_defaults(&mut tx).await?;
        let quota = read_quota(&mut tx, workspace).await?;
        tx.commit().await?;
        let target: String = env.try_get("target")?;
        Ok(RenderSource {
            target: RuntimeTarget::parse(&target).ok_or(StoreError::Corrupt(target))?,
            release: stored(ReleaseId::parse(&row.try_get::<String, _>("id")?))?,
            number: stored(DeploymentNumber::new(u64::try_from(row.try_get::<i64, _>("number")?).unwrap_or(0)))?,
            plan: stored(serde_json::from_str(&row.try_get::<String, _>("plan")?))?,
            config: self.open_snapshot(&environment_id, &row.try_get::<String, _>("sealed_config")?)?,
            hostnames: routes
                .iter()
                .map(|route| route.try_get::<String, _>("hostname"))
                .collect::<Result<Vec<_>, _>>()?,
            scale: stored(serde_json::from_str(&env.try_get::<String, _>("scale")?))?,
            resources: own_resources(&env)?.resolve(&defaults),
            quota,
            image: row.try_get("image")?,
            commit_sha: row
                .try_get::<Option<String>, _>("commit_sha")?
                .map(|sha| stored(CommitSha::parse(&sha)))
                .transpose()?,
            created_by: row
                .try_get::<Option<String>, _>("created_by")?
                .map(|id| stored(UserId::parse(&id)))
                .transpose()?,
            environment_id,
        })
    }
}
