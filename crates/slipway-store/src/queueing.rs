//! Queuing a deployment: the deployment and its build job in one
//! transaction, within the workspace's quota, and `Idempotency-Key`s that make
//! a retried request replay its first deployment.

use slipway_core::api::{Deployment, DeploymentKind};
use slipway_core::ids::WorkspaceId;
use slipway_core::image_tag::CommitSha;
use slipway_core::names::{EnvironmentName, ProjectSlug};
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use sqlx::Row;

use crate::audit::Actor;
use crate::deployments::{deployment_from, deployment_not_found, insert_deployment, NewDeployment};
use crate::environments::resolve_environment;
use crate::job::Job;
use crate::jobs::insert_job;
use crate::quotas::{environment_usage, lock_quota};
use crate::resources::platform_defaults;
use crate::scope::Scope;
use crate::{Store, StoreError};

/// An `Idempotency-Key` and what the request that carried it asked for: a
/// retry of the same request replays its first deployment, another request
/// under the key is refused.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyKey<'a> {
    pub key: &'a str,
    /// The commit the request named; `None` asked for the branch head,
    /// whichever commit that is when the request is retried.
    pub requested_commit: Option<&'a CommitSha>,
}

impl Store {
    /// Queues a deployment of `commit` and its build job in one transaction.
    /// A repeated `idempotency` key for the same request returns the first
    /// deployment (and `false`); for a different request it is refused.
    pub async fn queue_deployment(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        commit: Option<&CommitSha>,
        idempotency: Option<IdempotencyKey<'_>>,
    ) -> Result<(Deployment, bool), StoreError> {
        match self.try_queue_deployment(actor, workspace, project, environment, commit, idempotency).await {
            // A concurrent request with the same key committed first (on
            // PostgreSQL both pass the lookup): this one is its retry, so
            // answer as a replay. SQLite serializes writers, so never races.
            Err(StoreError::Database(err)) if idempotency.is_some() && StoreError::is_unique_violation(&err) => {
                self.try_queue_deployment(actor, workspace, project, environment, commit, idempotency).await
            }
            other => other,
        }
    }

    async fn try_queue_deployment(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        commit: Option<&CommitSha>,
        idempotency: Option<IdempotencyKey<'_>>,
    ) -> Result<(Deployment, bool), StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let key = idempotency.map(|idempotency| idempotency.key);
        let requested = idempotency.and_then(|idempotency| idempotency.requested_commit);
        let fingerprint = format!("{project}/{environment}@{}", requested.map_or("HEAD", CommitSha::as_str));
        if let Some(key) = key {
            let seen =
                sqlx::query("SELECT request, deployment_id FROM idempotency_keys WHERE workspace_id = $1 AND key = $2")
                    .bind(workspace.as_str())
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(seen) = seen {
                if seen.try_get::<String, _>("request")? != fingerprint {
                    return Err(StoreError::conflict(
                        ErrorCode::IdempotencyKeyReused,
                        "this Idempotency-Key was used for a different request; use a new key",
                    ));
                }
                let id: String = seen.try_get("deployment_id")?;
                let row =
                    sqlx::query("SELECT * FROM deployments WHERE id = $1").bind(&id).fetch_optional(&mut *tx).await?;
                tx.commit().await?;
                return Ok((deployment_from(&row.ok_or_else(|| deployment_not_found(id))?)?, false));
            }
        }
        let (project_id, environment_id) = resolve_environment(&mut tx, workspace, project, environment).await?;
        let quota = lock_quota(&mut tx, self.backend, workspace).await?;
        let defaults = platform_defaults(&mut tx).await?;
        let usage = environment_usage(&mut tx, workspace, &defaults).await?;
        let mut next = usage.clone();
        next.deploy(&environment_id);
        quota.check_growth(&usage.total(), &next.total())?;
        let target =
            NewDeployment { workspace, project, environment, project_id: &project_id, environment_id: &environment_id };
        let id = insert_deployment(&mut tx, actor, &target, commit, DeploymentKind::Build).await?;
        let job = Job::Deploy { workspace: workspace.clone(), deployment: id.clone() };
        insert_job(&mut tx, &job, Timestamp::now()).await?;
        if let Some(key) = key {
            sqlx::query(
                "INSERT INTO idempotency_keys (workspace_id, key, request, deployment_id, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(workspace.as_str())
            .bind(key)
            .bind(&fingerprint)
            .bind(id.as_str())
            .bind(Timestamp::now().as_millis())
            .execute(&mut *tx)
            .await?;
        }
        let row = sqlx::query("SELECT * FROM deployments WHERE id = $1").bind(id.as_str()).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok((deployment_from(&row)?, true))
    }
}
