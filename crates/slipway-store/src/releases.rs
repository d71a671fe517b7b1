//! Releases: what a finished build (or a rollback) records — artifact, plan,
//! runtime environment and a sealed config snapshot — and the listing of an
//! environment's releases.
//!
//! An environment has a *desired* release (what the control plane wants
//! running, read by the agent in `desired_state.rs`) and an *active* one (what
//! serves, written when the release goes live in `lifecycle.rs`).

use serde::{Deserialize, Serialize};
use slipway_core::api::{Deployment, DeploymentKind, Release, RuntimeTarget};
use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::{DeploymentNumber, Transition};
use slipway_core::ids::{DeploymentId, EnvironmentId, ReleaseId, WorkspaceId};
use slipway_core::image_tag::CommitSha;
use slipway_core::names::{EnvironmentName, ProjectSlug};
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::artifacts;
use crate::audit::{self, Actor};
use crate::deployments::{deployment_from, deployment_not_found, insert_deployment, NewDeployment};
use crate::environments::resolve_environment;
use crate::error::stored;
use crate::lifecycle::{advance, cancel_not_live};
use crate::page::{Order, PageRequest, Paged};
use crate::quotas::{environment_usage, lock_quota};
use crate::resources::platform_defaults;
use crate::scope::{Scope, Tx};
use crate::{Store, StoreError};

/// What the runtime needs beyond the artifact: PATH entries and variables
/// the build decided (a virtualenv, say), and the runtime version it was built with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeEnv {
    pub path_prepend: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The runtime version the app asked for and was built with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<slipway_core::runtime::RuntimeVersion>,
    /// That runtime's directory in the runtimes store, which instances see read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_dir: Option<String>,
}

/// One config var of a release's snapshot, in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigValue {
    pub name: String,
    pub value: String,
    pub secret: bool,
}

/// A finished build, to be recorded as a release.
#[derive(Debug, Clone)]
pub struct NewRelease {
    pub artifact_dir: String,
    pub plan: BuildPlan,
    pub runtime_env: RuntimeEnv,
    pub config: Vec<ConfigValue>,
}

fn snapshot_context(environment: &EnvironmentId) -> String {
    format!("{environment}/release-config")
}

/// A release of the list: `row` has the columns of `releases`, the `kind` of its deployment and
/// [`artifacts::AVAILABILITY_COLUMNS`]; `target` is its environment's.
fn release_from(row: &AnyRow, active: Option<&str>, target: RuntimeTarget) -> Result<Release, StoreError> {
    let id: String = row.try_get("id")?;
    let plan: BuildPlan = stored(serde_json::from_str(&row.try_get::<String, _>("plan")?))?;
    let config: Vec<String> = stored(serde_json::from_str(&row.try_get::<String, _>("config_names")?))?;
    let runtime_env: RuntimeEnv = stored(serde_json::from_str(&row.try_get::<String, _>("runtime_env")?))?;
    let rollback = artifacts::availability(row, target)?;
    Ok(Release {
        active: active == Some(id.as_str()),
        rollback_available: rollback.available,
        rollback_unavailable_reason: rollback.reason,
        artifact_pruned_at: rollback.pruned_at,
        id: stored(ReleaseId::parse(&id))?,
        number: stored(DeploymentNumber::new(u64::try_from(row.try_get::<i64, _>("number")?).unwrap_or(0)))?,
        commit_sha: row
            .try_get::<Option<String>, _>("commit_sha")?
            .map(|sha| stored(CommitSha::parse(&sha)))
            .transpose()?,
        kind: if row.try_get::<String, _>("kind")? == "rollback" {
            DeploymentKind::Rollback
        } else {
            DeploymentKind::Build
        },
        processes: plan.processes,
        runtime: runtime_env.runtime,
        config,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

impl Store {
    /// The build of `deployment` succeeded: records its release, makes it
    /// the environment's desired release and moves the deployment to
    /// DEPLOYING. A deployment still waiting to go live is cancelled: only
    /// the newest release is worth starting.
    ///
    /// A release whose process types would take the workspace over its instance or memory
    /// quota is not recorded: the deployment FAILS with the quota's message (committed), and
    /// the answer is that `QUOTA_EXCEEDED` conflict.
    pub async fn create_release(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        deployment: &DeploymentId,
        new: NewRelease,
    ) -> Result<ReleaseId, StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let quota = lock_quota(&mut tx, self.backend, workspace).await?;
        let row = sqlx::query("SELECT * FROM deployments WHERE id = $1 AND workspace_id = $2")
            .bind(deployment.as_str())
            .bind(workspace.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| deployment_not_found(deployment))?;
        let current = deployment_from(&row)?;
        let defaults = platform_defaults(&mut tx).await?;
        let usage = environment_usage(&mut tx, workspace, &defaults).await?;
        let mut next = usage.clone();
        next.run(&current.environment_id, &new.plan);
        if let Err(refused) = quota.check_growth(&usage.total(), &next.total()) {
            // The build is done and cannot start: the deployment fails with the reason, and the
            // release that would have broken the quota is never recorded.
            let reason = format!("the release was not started: {refused}");
            advance(&mut tx, deployment, Transition::Fail, Some(&reason)).await?;
            let audit_target = format!("release/{}", current.number);
            audit::record(&mut tx, Some(workspace), actor, "release.refused", &audit_target).await?;
            tx.commit().await?;
            return Err(refused);
        }
        advance(&mut tx, deployment, Transition::StartDeploy, None).await?;
        let id = self.insert_release(&mut tx, workspace, &row, &current, new, &current.id).await?;
        audit::record(&mut tx, Some(workspace), actor, "release.create", &format!("release/{}", current.number))
            .await?;
        tx.commit().await?;
        self.desired_changed();
        Ok(id)
    }

    async fn insert_release(
        &self,
        tx: &mut Tx,
        workspace: &WorkspaceId,
        deployment_row: &AnyRow,
        deployment: &Deployment,
        new: NewRelease,
        artifact: &DeploymentId,
    ) -> Result<ReleaseId, StoreError> {
        let id = ReleaseId::generate();
        let environment = &deployment.environment_id;
        // The names travel in clear beside the sealed snapshot, for listings.
        let names: Vec<&str> = new.config.iter().map(|var| var.name.as_str()).collect();
        let sealed = self.sealer.seal(&snapshot_context(environment), &stored(serde_json::to_string(&new.config))?)?;
        sqlx::query(
            "INSERT INTO releases (id, workspace_id, project_id, environment_id, deployment_id, number, commit_sha,
                                   artifact_dir, plan, runtime_env, sealed_config, config_names, created_at,
                                   artifact_deployment_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(id.as_str())
        .bind(workspace.as_str())
        .bind(deployment_row.try_get::<String, _>("project_id")?)
        .bind(environment.as_str())
        .bind(deployment.id.as_str())
        .bind(i64::try_from(deployment.number.get()).unwrap_or(i64::MAX))
        .bind(deployment.commit_sha.as_ref().map(CommitSha::as_str))
        .bind(&new.artifact_dir)
        .bind(stored(serde_json::to_string(&new.plan))?)
        .bind(stored(serde_json::to_string(&new.runtime_env))?)
        .bind(sealed)
        .bind(stored(serde_json::to_string(&names))?)
        .bind(Timestamp::now().as_millis())
        .bind(artifact.as_str())
        .execute(&mut **tx)
        .await?;
        sqlx::query("UPDATE deployments SET release_id = $1, plan = COALESCE(plan, $2) WHERE id = $3")
            .bind(id.as_str())
            .bind(stored(serde_json::to_string(&new.plan))?)
            .bind(deployment.id.as_str())
            .execute(&mut **tx)
            .await?;
        let replaced = format!("replaced by #{} before it went live", deployment.number);
        cancel_not_live(tx, environment, Some(&deployment.id), &replaced).await?;
        sqlx::query("UPDATE environments SET desired_release_id = $1 WHERE id = $2")
            .bind(id.as_str())
            .bind(environment.as_str())
            .execute(&mut **tx)
            .await?;
        Ok(id)
    }

    /// An environment's releases, newest first, each saying whether it can be rolled back to.
    pub async fn list_releases(
        &self,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        page: &PageRequest,
    ) -> Result<Paged<Release>, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let (_, environment_id) = resolve_environment(&mut tx, workspace, project, environment).await?;
        let active = active_release(&mut tx, &environment_id).await?;
        let target: String = sqlx::query("SELECT target FROM environments WHERE id = $1")
            .bind(environment_id.as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let target = RuntimeTarget::parse(&target).ok_or(StoreError::Corrupt(target))?;
        let (cmp, dir) = Order::NewestFirst.sql();
        let rows = sqlx::query(&format!(
            "SELECT r.*, d.kind, {columns} FROM releases r JOIN deployments d ON d.id = r.deployment_id {join}
             WHERE r.environment_id = $1 AND ($2 IS NULL OR r.id {cmp} $2) ORDER BY r.id {dir} LIMIT $3",
            columns = artifacts::AVAILABILITY_COLUMNS,
            join = artifacts::ARTIFACT_JOIN,
        ))
        .bind(environment_id.as_str())
        .bind(page.bound())
        .bind(page.fetch())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let items =
            rows.iter().map(|row| release_from(row, active.as_deref(), target)).collect::<Result<Vec<_>, _>>()?;
        Ok(Paged::from_rows(items, page, |r| r.id.to_string()))
    }

    /// Re-activates an earlier release (by its number; by default the one
    /// before the active release) as a new deployment that skips the build:
    /// same artifact, same config snapshot, same process types. On the
    /// Kubernetes target the release's image is committed to GitOps again by
    /// the pipeline (a queued job); a release that was never exported is refused.
    /// On the local target a release whose artifact release retention removed is
    /// refused with `RELEASE_PRUNED`. A refusal changes nothing.
    pub async fn rollback(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        number: Option<DeploymentNumber>,
    ) -> Result<Deployment, StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let (project_id, environment_id) = resolve_environment(&mut tx, workspace, project, environment).await?;
        let quota = lock_quota(&mut tx, self.backend, workspace).await?;
        let active = active_release(&mut tx, &environment_id).await?;
        let target = match number {
            Some(number) => sqlx::query("SELECT * FROM releases WHERE environment_id = $1 AND number = $2")
                .bind(environment_id.as_str())
                .bind(i64::try_from(number.get()).unwrap_or(i64::MAX))
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| {
                    StoreError::not_found(ErrorCode::ReleaseNotFound, format!("no release #{number} here"))
                })?,
            None => sqlx::query(
                // Only releases that once served: not one that failed to start or was cancelled.
                "SELECT r.* FROM releases r JOIN deployments d ON d.id = r.deployment_id
                 WHERE r.environment_id = $1 AND r.id < COALESCE($2, '') AND d.status IN ('DEPLOYED', 'SUPERSEDED')
                 ORDER BY r.id DESC LIMIT 1",
            )
            .bind(environment_id.as_str())
            .bind(active.as_deref())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                StoreError::not_found(ErrorCode::ReleaseNotFound, "there is no earlier release to roll back to")
            })?,
        };
        artifacts::refuse_pruned(&mut tx, &environment_id, &target).await?;
        let artifact = artifacts::artifact_of(&target)?;
        let plan: BuildPlan = stored(serde_json::from_str(&target.try_get::<String, _>("plan")?))?;
        let defaults = platform_defaults(&mut tx).await?;
        let usage = environment_usage(&mut tx, workspace, &defaults).await?;
        let mut next = usage.clone();
        next.run(&environment_id, &plan);
        quota.check_growth(&usage.total(), &next.total())?;
        let commit =
            target.try_get::<Option<String>, _>("commit_sha")?.map(|sha| stored(CommitSha::parse(&sha))).transpose()?;
        let image = crate::kubernetes::rollback_image(&mut tx, &environment_id, &target).await?;
        let new =
            NewDeployment { workspace, project, environment, project_id: &project_id, environment_id: &environment_id };
        let id = insert_deployment(&mut tx, actor, &new, commit.as_ref(), DeploymentKind::Rollback).await?;
        advance(&mut tx, &id, Transition::StartBuild, None).await?;
        advance(&mut tx, &id, Transition::StartDeploy, None).await?;
        if let Some(image) = &image {
            crate::kubernetes::queue_gitops_rollback(&mut tx, workspace, &id, image).await?;
        }
        let row = sqlx::query("SELECT * FROM deployments WHERE id = $1").bind(id.as_str()).fetch_one(&mut *tx).await?;
        let deployment = deployment_from(&row)?;
        let release = NewRelease {
            artifact_dir: target.try_get("artifact_dir")?,
            plan,
            runtime_env: stored(serde_json::from_str(&target.try_get::<String, _>("runtime_env")?))?,
            config: self.open_snapshot(&environment_id, &target.try_get::<String, _>("sealed_config")?)?,
        };
        self.insert_release(&mut tx, workspace, &row, &deployment, release, &artifact).await?;
        audit::record(&mut tx, Some(workspace), actor, "release.create", &format!("release/{}", deployment.number))
            .await?;
        let row = sqlx::query("SELECT * FROM deployments WHERE id = $1").bind(id.as_str()).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        self.desired_changed();
        deployment_from(&row)
    }

    pub(crate) fn open_snapshot(
        &self,
        environment: &EnvironmentId,
        sealed: &str,
    ) -> Result<Vec<ConfigValue>, StoreError> {
        stored(serde_json::from_str(&self.sealer.open(&snapshot_context(environment), sealed)?))
    }
}

/// The deployment that made `release`, which must belong to `environment`
/// of `workspace` (SQLite has no row-level security to say so).
pub(crate) async fn release_deployment(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    environment: &EnvironmentId,
    release: &ReleaseId,
) -> Result<DeploymentId, StoreError> {
    let row =
        sqlx::query("SELECT deployment_id FROM releases WHERE id = $1 AND workspace_id = $2 AND environment_id = $3")
            .bind(release.as_str())
            .bind(workspace.as_str())
            .bind(environment.as_str())
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| StoreError::not_found(ErrorCode::ReleaseNotFound, format!("no release {release} here")))?;
    stored(DeploymentId::parse(&row.try_get::<String, _>(0)?))
}

async fn active_release(tx: &mut Tx, environment: &EnvironmentId) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query("SELECT active_release_id FROM environments WHERE id = $1")
        .bind(environment.as_str())
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?)
}
