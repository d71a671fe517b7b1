//! Deployment records: numbered per project, read by the API and the
//! pipeline, and the fields the pipeline records while it builds (commit,
//! plan). Their status moves only in `lifecycle.rs`.

use slipway_core::address::EnvironmentPath;
use slipway_core::api::{Deployment, DeploymentKind, RuntimeTarget};
use slipway_core::build_plan::BuildPlan;
use slipway_core::build_timeout::BuildTimeout;
use slipway_core::deployment::{DeploymentNumber, DeploymentStatus};
use slipway_core::ids::{DeploymentId, EnvironmentId, ProjectId, ReleaseId, UserId, WorkspaceId};
use slipway_core::image_tag::CommitSha;
use slipway_core::names::{EnvironmentName, ProjectSlug, WorkspaceSlug};
use slipway_core::resources::{Resources, SandboxUid};
use slipway_core::root_dir::RootDir;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::environments::resolve_environment;
use crate::error::stored;
use crate::page::{Order, PageRequest, Paged};
use crate::projects::{build_timeout_of, root_dir_of};
use crate::resources::{own_resources, platform_defaults, sandbox_uid_of};
use crate::scope::{Scope, Tx};
use crate::{Store, StoreError};

pub(crate) fn deployment_from(row: &AnyRow) -> Result<Deployment, StoreError> {
    let status: String = row.try_get("status")?;
    let commit: Option<String> = row.try_get("commit_sha")?;
    let number: i64 = row.try_get("number")?;
    Ok(Deployment {
        id: stored(DeploymentId::parse(&row.try_get::<String, _>("id")?))?,
        environment_id: stored(EnvironmentId::parse(&row.try_get::<String, _>("environment_id")?))?,
        number: stored(DeploymentNumber::new(u64::try_from(number).unwrap_or(0)))?,
        status: DeploymentStatus::parse(&status).ok_or(StoreError::Corrupt(status))?,
        commit_sha: commit.map(|sha| stored(CommitSha::parse(&sha))).transpose()?,
        failure_reason: row.try_get("failure_reason")?,
        kind: if row.try_get::<String, _>("kind")? == "rollback" {
            DeploymentKind::Rollback
        } else {
            DeploymentKind::Build
        },
        plan: row.try_get::<Option<String>, _>("plan")?.map(|plan| stored(serde_json::from_str(&plan))).transpose()?,
        release_id: row
            .try_get::<Option<String>, _>("release_id")?
            .map(|id| stored(ReleaseId::parse(&id)))
            .transpose()?,
        image: row.try_get("image")?,
        gitops_commit: row.try_get("gitops_commit")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

pub(crate) fn deployment_not_found(number: impl std::fmt::Display) -> StoreError {
    StoreError::not_found(ErrorCode::DeploymentNotFound, format!("no deployment #{number} in this environment"))
}

/// Where a new deployment goes.
pub(crate) struct NewDeployment<'a> {
    pub workspace: &'a WorkspaceId,
    pub project: &'a ProjectSlug,
    pub environment: &'a EnvironmentName,
    pub project_id: &'a ProjectId,
    pub environment_id: &'a EnvironmentId,
}

/// Inserts a QUEUED deployment with the project's next build number, and
/// its audit row.
pub(crate) async fn insert_deployment(
    tx: &mut Tx,
    actor: &Actor,
    target: &NewDeployment<'_>,
    commit: Option<&CommitSha>,
    kind: DeploymentKind,
) -> Result<DeploymentId, StoreError> {
    let number: i64 = sqlx::query(
        "UPDATE projects SET next_build_number = next_build_number + 1 WHERE id = $1 RETURNING next_build_number - 1",
    )
    .bind(target.project_id.as_str())
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?;
    let now = Timestamp::now();
    let id = DeploymentId::generate();
    sqlx::query(
        "INSERT INTO deployments (id, workspace_id, project_id, environment_id, number, status, commit_sha,
                                  created_by, created_at, updated_at, kind)
         VALUES ($1, $2, $3, $4, $5, $10, $6, $7, $8, $8, $9)",
    )
    .bind(id.as_str())
    .bind(target.workspace.as_str())
    .bind(target.project_id.as_str())
    .bind(target.environment_id.as_str())
    .bind(number)
    .bind(commit.map(CommitSha::as_str))
    .bind(actor.user_id.as_ref().map(|id| id.as_str()))
    .bind(now.as_millis())
    .bind(kind.as_str())
    // Every deployment starts where the machine does.
    .bind(DeploymentStatus::Queued.as_str())
    .execute(&mut **tx)
    .await?;
    let action = match kind {
        DeploymentKind::Build => "deployment.create",
        DeploymentKind::Rollback => "deployment.rollback",
    };
    let audit_target = format!("project/{}/{}#{number}", target.project, target.environment);
    audit::record(tx, Some(target.workspace), actor, action, &audit_target).await?;
    Ok(id)
}

/// What the pipeline needs to know about a deployment it builds.
#[derive(Debug, Clone)]
pub struct DeploymentContext {
    pub deployment: Deployment,
    pub workspace: WorkspaceSlug,
    pub project: ProjectSlug,
    pub environment: EnvironmentName,
    pub repo_url: Option<String>,
    pub branch: String,
    /// Where the environment runs: the local agent, or a cluster through GitOps.
    pub target: RuntimeTarget,
    /// Who asked for the deployment (names its image tag); `None` for the system.
    pub created_by: Option<UserId>,
    /// The uid (and gid) the environment's tenant code runs as, builds included.
    pub sandbox_uid: SandboxUid,
    /// What each instance of the environment may use, the platform's defaults filled in (a
    /// build may be given the same figures).
    pub resources: Resources,
    /// How long the build may take: the project's own limit, or the default.
    pub build_timeout: BuildTimeout,
    /// The project's app directory in its repository, if it names one.
    pub root_dir: Option<RootDir>,
}

impl DeploymentContext {
    /// The address of the deployment's environment.
    pub fn path(&self) -> EnvironmentPath {
        EnvironmentPath {
            workspace: self.workspace.clone(),
            project: self.project.clone(),
            environment: self.environment.clone(),
        }
    }
}

impl Store {
    /// Queues a deployment, taking the project's next build number.
    pub async fn create_deployment(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        commit: Option<&CommitSha>,
    ) -> Result<Deployment, StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let (project_id, environment_id) = resolve_environment(&mut tx, workspace, project, environment).await?;
        let target =
            NewDeployment { workspace, project, environment, project_id: &project_id, environment_id: &environment_id };
        let id = insert_deployment(&mut tx, actor, &target, commit, DeploymentKind::Build).await?;
        let row = sqlx::query("SELECT * FROM deployments WHERE id = $1").bind(id.as_str()).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        deployment_from(&row)
    }

    /// An environment's deployments, newest first.
    pub async fn list_deployments(
        &self,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        page: &PageRequest,
    ) -> Result<Paged<Deployment>, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let (_, environment_id) = resolve_environment(&mut tx, workspace, project, environment).await?;
        let (cmp, dir) = Order::NewestFirst.sql();
        let rows = sqlx::query(&format!(
            "SELECT * FROM deployments WHERE environment_id = $1 AND ($2 IS NULL OR id {cmp} $2) ORDER BY id {dir} LIMIT $3"
        ))
        .bind(environment_id.as_str())
        .bind(page.bound())
        .bind(page.fetch())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let items = rows.iter().map(deployment_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Paged::from_rows(items, page, |d| d.id.to_string()))
    }

    pub async fn deployment(
        &self,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        number: DeploymentNumber,
    ) -> Result<Deployment, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let (_, environment_id) = resolve_environment(&mut tx, workspace, project, environment).await?;
        let row = sqlx::query("SELECT * FROM deployments WHERE environment_id = $1 AND number = $2")
            .bind(environment_id.as_str())
            .bind(i64::try_from(number.get()).unwrap_or(i64::MAX))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| deployment_not_found(number))?;
        tx.commit().await?;
        deployment_from(&row)
    }

    /// Deployments on the whole platform by status, for `/metrics`.
    pub async fn deployment_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut tx = self.read(Scope::Platform).await?;
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM deployments GROUP BY status ORDER BY status")
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter().map(|row| Ok((row.try_get("status")?, row.try_get("n")?))).collect()
    }

    /// A deployment with the names the pipeline needs.
    pub async fn deployment_context(
        &self,
        workspace: &WorkspaceId,
        id: &DeploymentId,
    ) -> Result<DeploymentContext, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let row = sqlx::query(
            "SELECT d.*, w.slug AS workspace_slug, p.slug AS project_slug, p.repo_url, p.branch, p.build_timeout_seconds, p.root_dir,
                    e.name AS environment_name,
                    e.target, e.sandbox_uid, e.resource_memory, e.resource_cpu, e.resource_max_processes
             FROM deployments d JOIN projects p ON p.id = d.project_id JOIN environments e ON e.id = d.environment_id
             JOIN workspaces w ON w.id = d.workspace_id WHERE d.id = $1 AND d.workspace_id = $2",
        )
        .bind(id.as_str())
        .bind(workspace.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| deployment_not_found(id))?;
        let defaults = platform_defaults(&mut tx).await?;
        tx.commit().await?;
        let deployment = deployment_from(&row)?;
        let sandbox_uid = match row.try_get::<Option<i64>, _>("sandbox_uid")? {
            Some(uid) => sandbox_uid_of(uid)?,
            None => self.sandbox_uid(workspace, &deployment.environment_id).await?,
        };
        Ok(DeploymentContext {
            sandbox_uid,
            resources: own_resources(&row)?.resolve(&defaults),
            build_timeout: build_timeout_of(&row)?,
            root_dir: root_dir_of(&row)?,
            deployment,
            workspace: stored(WorkspaceSlug::parse(&row.try_get::<String, _>("workspace_slug")?))?,
            project: stored(ProjectSlug::parse(&row.try_get::<String, _>("project_slug")?))?,
            environment: stored(EnvironmentName::parse(&row.try_get::<String, _>("environment_name")?))?,
            repo_url: row.try_get("repo_url")?,
            branch: row.try_get("branch")?,
            target: {
                let target: String = row.try_get("target")?;
                RuntimeTarget::parse(&target).ok_or(StoreError::Corrupt(target))?
            },
            created_by: row
                .try_get::<Option<String>, _>("created_by")?
                .map(|id| stored(UserId::parse(&id)))
                .transpose()?,
        })
    }

    /// Records the plan of a deployment being built (shown by the API).
    pub async fn record_plan(
        &self,
        workspace: &WorkspaceId,
        id: &DeploymentId,
        plan: &BuildPlan,
    ) -> Result<(), StoreError> {
        self.set_deployment_field(workspace, id, "plan", stored(serde_json::to_string(plan))?).await
    }

    /// Sets the commit a deployment builds, once the pipeline resolved it.
    pub async fn record_commit(
        &self,
        workspace: &WorkspaceId,
        id: &DeploymentId,
        commit: &CommitSha,
    ) -> Result<(), StoreError> {
        self.set_deployment_field(workspace, id, "commit_sha", commit.to_string()).await
    }

    /// Sets one column (a constant of this module, never input) of a deployment of `workspace`.
    pub(crate) async fn set_deployment_field(
        &self,
        workspace: &WorkspaceId,
        id: &DeploymentId,
        column: &'static str,
        value: String,
    ) -> Result<(), StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let changed = sqlx::query(&format!("UPDATE deployments SET {column} = $1 WHERE id = $2 AND workspace_id = $3"))
            .bind(value)
            .bind(id.as_str())
            .bind(workspace.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(deployment_not_found(id));
        }
        tx.commit().await?;
        Ok(())
    }
}
