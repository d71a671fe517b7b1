//! Deployment records: numbered per project, moved through the status
//! machine of `slipway_core::deployment` with a compare-and-set on the old
//! status.

use slipway_core::api::{Deployment, DeploymentKind};
use slipway_core::deployment::{BuildNumber, DeploymentStatus, Transition};
use slipway_core::ids::{DeploymentId, EnvironmentId, ProjectId, ReleaseId, WorkspaceId};
use slipway_core::image_tag::CommitSha;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::error::stored;
use crate::page::{Order, PageRequest, Paged};
use crate::projects::resolve_environment;
use crate::scope::{Scope, Tx};
use crate::{Store, StoreError};

pub(crate) fn deployment_from(row: &AnyRow) -> Result<Deployment, StoreError> {
    let status: String = row.try_get("status")?;
    let commit: Option<String> = row.try_get("commit_sha")?;
    let number: i64 = row.try_get("number")?;
    Ok(Deployment {
        id: stored(DeploymentId::parse(&row.try_get::<String, _>("id")?))?,
        environment_id: stored(EnvironmentId::parse(&row.try_get::<String, _>("environment_id")?))?,
        number: stored(BuildNumber::new(u64::try_from(number).unwrap_or(0)))?,
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
    pub project: &'a str,
    pub environment: &'a str,
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
         VALUES ($1, $2, $3, $4, $5, 'QUEUED', $6, $7, $8, $8, $9)",
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

/// Moves a deployment along the status machine inside `tx`: the move must
/// exist from `from`, and the row must still be at `from` (compare-and-set,
/// so of two racing writers only one wins). `reason` is kept on failure.
pub(crate) async fn advance(
    tx: &mut Tx,
    id: &DeploymentId,
    from: DeploymentStatus,
    transition: Transition,
    reason: Option<&str>,
) -> Result<DeploymentStatus, StoreError> {
    let to = from
        .apply(transition)
        .map_err(|err| StoreError::conflict(ErrorCode::DeploymentStateConflict, err.to_string()))?;
    let changed = sqlx::query(
        "UPDATE deployments SET status = $1, failure_reason = COALESCE($2, failure_reason), updated_at = $3
         WHERE id = $4 AND status = $5",
    )
    .bind(to.as_str())
    .bind(reason)
    .bind(Timestamp::now().as_millis())
    .bind(id.as_str())
    .bind(from.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(StoreError::conflict(ErrorCode::DeploymentStateConflict, "the deployment changed meanwhile"));
    }
    Ok(to)
}

impl Store {
    /// Queues a deployment, taking the project's next build number.
    pub async fn create_deployment(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        project: &str,
        environment: &str,
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

    /// Moves a deployment along the status machine. Fails with
    /// `DEPLOYMENT_STATE_CONFLICT` if the move is not allowed from the stored
    /// status, or if another writer changed it first.
    pub async fn transition_deployment(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        id: &DeploymentId,
        transition: Transition,
        reason: Option<&str>,
    ) -> Result<Deployment, StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let row = sqlx::query(
            "SELECT d.*, p.slug AS project_slug, e.name AS environment_name FROM deployments d
             JOIN projects p ON p.id = d.project_id JOIN environments e ON e.id = d.environment_id
             WHERE d.id = $1 AND d.workspace_id = $2",
        )
        .bind(id.as_str())
        .bind(workspace.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| deployment_not_found(id))?;
        let current = deployment_from(&row)?;
        let next = advance(&mut tx, id, current.status, transition, reason).await?;
        let target = format!(
            "project/{}/{}#{}",
            row.try_get::<String, _>("project_slug")?,
            row.try_get::<String, _>("environment_name")?,
            current.number
        );
        let action = format!("deployment.{}", next.as_str().to_ascii_lowercase());
        audit::record(&mut tx, Some(workspace), actor, &action, &target).await?;
        let row = sqlx::query("SELECT * FROM deployments WHERE id = $1").bind(id.as_str()).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        deployment_from(&row)
    }

    /// An environment's deployments, newest first.
    pub async fn list_deployments(
        &self,
        workspace: &WorkspaceId,
        project: &str,
        environment: &str,
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
        project: &str,
        environment: &str,
        number: BuildNumber,
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
}
