//! The deploy pipeline's records: queuing a deployment with its build job,
//! releases (artifact + plan + config snapshot), rollback, and the desired
//! and observed state the agent reads and writes.
//!
//! An environment has a *desired* release (what the control plane wants
//! running) and an *active* one (what serves, written by the agent once the
//! new instances are healthy). A failed start puts desired back to active.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use slipway_core::api::{Deployment, DeploymentKind, Release, RuntimeTarget};
use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::{BuildNumber, DeploymentStatus, Transition};
use slipway_core::ids::{DeploymentId, EnvironmentId, ReleaseId, UserId, WorkspaceId};
use slipway_core::image_tag::CommitSha;
use slipway_core::resources::{Resources, SandboxUid};
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::artifacts;
use crate::audit::{self, Actor};
use crate::deployments::{advance, deployment_from, deployment_not_found, insert_deployment, NewDeployment};
use crate::error::stored;
use crate::jobs::{insert_job, NewJob};
use crate::page::{Order, PageRequest, Paged};
use crate::projects::resolve_environment;
use crate::quotas::{environment_usage, lock_quota};
use crate::resources::{defaults_of, own_resources, platform_defaults, sandbox_uid_of};
use crate::scope::{Scope, Tx};
use crate::{Store, StoreError};

/// The job kind that builds a queued deployment.
pub const DEPLOY_JOB: &str = "deploy";

/// What the runtime needs beyond the artifact: PATH entries and variables
/// the build decided (a virtualenv, say).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeEnv {
    pub path_prepend: Vec<String>,
    pub env: Vec<(String, String)>,
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

/// Everything the agent needs to run a release.
#[derive(Debug, Clone)]
pub struct ReleaseSpec {
    pub id: ReleaseId,
    pub number: BuildNumber,
    pub deployment_id: DeploymentId,
    pub artifact_dir: String,
    pub plan: BuildPlan,
    pub runtime_env: RuntimeEnv,
    pub config: Vec<ConfigValue>,
}

/// One environment as the agent must make it.
#[derive(Debug, Clone)]
pub struct EnvironmentState {
    pub workspace_id: WorkspaceId,
    pub environment_id: EnvironmentId,
    pub project: String,
    pub environment: String,
    pub hostnames: Vec<String>,
    pub active_release: Option<ReleaseId>,
    pub desired: Option<ReleaseSpec>,
    /// Instances per process type; absent types run one instance.
    pub scale: BTreeMap<String, u32>,
    /// The uid (and gid) every instance of the environment runs as; allocated on first use,
    /// never shared with another environment.
    pub sandbox_uid: SandboxUid,
    /// What each instance may use, the platform's defaults filled in.
    pub resources: Resources,
}

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

/// What the pipeline needs to know about a deployment it builds.
#[derive(Debug, Clone)]
pub struct DeploymentContext {
    pub deployment: Deployment,
    pub workspace: String,
    pub project: String,
    pub environment: String,
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
    let rollback = artifacts::availability(row, target)?;
    Ok(Release {
        active: active == Some(id.as_str()),
        rollback_available: rollback.available,
        rollback_unavailable_reason: rollback.reason,
        artifact_pruned_at: rollback.pruned_at,
        id: stored(ReleaseId::parse(&id))?,
        number: stored(BuildNumber::new(u64::try_from(row.try_get::<i64, _>("number")?).unwrap_or(0)))?,
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
        config,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

impl Store {
    /// Queues a deployment of `commit` and its build job in one transaction.
    /// A repeated `idempotency` key for the same request returns the first
    /// deployment (and `false`); for a different request it is refused.
    pub async fn queue_deployment(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        project: &str,
        environment: &str,
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
        project: &str,
        environment: &str,
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
        let job = NewJob {
            kind: DEPLOY_JOB.into(),
            payload: id.to_string(),
            workspace: Some(workspace.clone()),
            max_attempts: 2,
        };
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

    /// Fails every deployment still QUEUED or BUILDING whose deploy job has
    /// run out of attempts (its workers died mid-build), so none is left
    /// building forever. Returns how many it failed.
    pub async fn fail_abandoned_deployments(&self) -> Result<u64, StoreError> {
        let mut tx = self.write(Scope::Platform).await?;
        let failed = sqlx::query(
            "UPDATE deployments SET status = 'FAILED', updated_at = $1,
                 failure_reason = 'the control plane stopped during this build and the retry failed too; deploy again'
             WHERE status IN ('QUEUED', 'BUILDING')
               AND id IN (SELECT payload FROM jobs WHERE kind = $2 AND status = 'failed')",
        )
        .bind(Timestamp::now().as_millis())
        .bind(DEPLOY_JOB)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(failed)
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
            "SELECT d.*, w.slug AS workspace_slug, p.slug AS project_slug, p.repo_url, p.branch, e.name AS environment_name,
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
            deployment,
            workspace: row.try_get("workspace_slug")?,
            project: row.try_get("project_slug")?,
            environment: row.try_get("environment_name")?,
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
            advance(&mut tx, deployment, current.status, Transition::Fail, Some(&reason)).await?;
            let audit_target = format!("release/{}", current.number);
            audit::record(&mut tx, Some(workspace), actor, "release.refused", &audit_target).await?;
            tx.commit().await?;
            return Err(refused);
        }
        advance(&mut tx, deployment, current.status, Transition::StartDeploy, None).await?;
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
        sqlx::query(
            "UPDATE deployments SET status = 'CANCELLED', failure_reason = $1, updated_at = $2
             WHERE environment_id = $3 AND status = 'DEPLOYING' AND id <> $4",
        )
        .bind(format!("replaced by #{} before it went live", deployment.number))
        .bind(Timestamp::now().as_millis())
        .bind(environment.as_str())
        .bind(deployment.id.as_str())
        .execute(&mut **tx)
        .await?;
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
        project: &str,
        environment: &str,
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
        project: &str,
        environment: &str,
        number: Option<BuildNumber>,
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
        advance(&mut tx, &id, DeploymentStatus::Queued, Transition::StartBuild, None).await?;
        advance(&mut tx, &id, DeploymentStatus::Building, Transition::StartDeploy, None).await?;
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

    /// Every environment of the local target with a release to run, as the agent must make
    /// it. Platform scope: the agent serves every tenant. An environment moved to the
    /// `kubernetes` target drops out here, so the agent stops its instances and routes.
    pub async fn desired_state(&self) -> Result<Vec<EnvironmentState>, StoreError> {
        let mut tx = self.read(Scope::Platform).await?;
        let rows = sqlx::query(
            "SELECT e.id AS environment_id, e.workspace_id, e.name AS environment_name, e.active_release_id, e.scale,
                    e.sandbox_uid, e.resource_memory, e.resource_cpu, e.resource_max_processes,
                    p.slug AS project_slug, r.id AS release_id, r.number, r.deployment_id, r.artifact_dir, r.plan,
                    r.runtime_env, r.sealed_config,
                    pr.id AS defaults_row, pr.default_memory, pr.default_cpu, pr.default_max_processes
             FROM environments e JOIN projects p ON p.id = e.project_id
             LEFT JOIN releases r ON r.id = e.desired_release_id
             LEFT JOIN platform_resources pr ON pr.id = 1
             WHERE e.target = 'local' AND (e.desired_release_id IS NOT NULL OR e.active_release_id IS NOT NULL)
             ORDER BY e.id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let routes = sqlx::query(
            "SELECT r.environment_id, r.hostname FROM routes r JOIN environments e ON e.id = r.environment_id
             WHERE e.target = 'local' AND (e.desired_release_id IS NOT NULL OR e.active_release_id IS NOT NULL)
             ORDER BY r.kind DESC, r.hostname",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        // The defaults come with every row (this runs every 200 ms: no query of their own).
        let defaults = match rows.first() {
            Some(row) if row.try_get::<Option<i64>, _>("defaults_row")?.is_none() => {
                return Err(StoreError::Corrupt("the platform_resources row is missing".into()))
            }
            Some(row) => defaults_of(row)?,
            None => Resources::default(),
        };
        let mut unallocated = Vec::new();
        for row in &rows {
            if row.try_get::<Option<i64>, _>("sandbox_uid")?.is_none() {
                unallocated.push(stored(EnvironmentId::parse(&row.try_get::<String, _>("environment_id")?))?);
            }
        }
        let mut allocated =
            if unallocated.is_empty() { BTreeMap::new() } else { self.allocate_sandbox_uids(&unallocated).await? };
        let mut hostnames: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for route in &routes {
            hostnames.entry(route.try_get("environment_id")?).or_default().push(route.try_get("hostname")?);
        }
        let mut states = Vec::with_capacity(rows.len());
        for row in &rows {
            let environment_id = stored(EnvironmentId::parse(&row.try_get::<String, _>("environment_id")?))?;
            let sandbox_uid = match row.try_get::<Option<i64>, _>("sandbox_uid")? {
                Some(uid) => sandbox_uid_of(uid)?,
                None => match allocated.remove(environment_id.as_str()) {
                    Some(uid) => uid,
                    None => continue, // deleted since it was read: nothing to run
                },
            };
            let desired = match row.try_get::<Option<String>, _>("release_id")? {
                None => None,
                Some(id) => Some(ReleaseSpec {
                    id: stored(ReleaseId::parse(&id))?,
                    number: stored(BuildNumber::new(u64::try_from(row.try_get::<i64, _>("number")?).unwrap_or(0)))?,
                    deployment_id: stored(DeploymentId::parse(&row.try_get::<String, _>("deployment_id")?))?,
                    artifact_dir: row.try_get("artifact_dir")?,
                    plan: stored(serde_json::from_str(&row.try_get::<String, _>("plan")?))?,
                    runtime_env: stored(serde_json::from_str(&row.try_get::<String, _>("runtime_env")?))?,
                    config: self.open_snapshot(&environment_id, &row.try_get::<String, _>("sealed_config")?)?,
                }),
            };
            states.push(EnvironmentState {
                sandbox_uid,
                resources: own_resources(row)?.resolve(&defaults),
                workspace_id: stored(WorkspaceId::parse(&row.try_get::<String, _>("workspace_id")?))?,
                hostnames: hostnames.remove(environment_id.as_str()).unwrap_or_default(),
                environment_id,
                project: row.try_get("project_slug")?,
                environment: row.try_get("environment_name")?,
                active_release: row
                    .try_get::<Option<String>, _>("active_release_id")?
                    .map(|id| stored(ReleaseId::parse(&id)))
                    .transpose()?,
                desired,
                scale: stored(serde_json::from_str(&row.try_get::<String, _>("scale")?))?,
            });
        }
        Ok(states)
    }

    /// The agent's word that `release` now serves `environment`: the
    /// deployment goes DEPLOYED and the one it replaces SUPERSEDED.
    pub async fn release_live(
        &self,
        workspace: &WorkspaceId,
        environment: &EnvironmentId,
        release: &ReleaseId,
    ) -> Result<(), StoreError> {
        self.go_live(&Actor::system("agent"), workspace, environment, release, None).await
    }

    /// [`Store::release_live`] for any actor; `gitops_commit` is recorded on the deployment in
    /// the same transaction (the Kubernetes target's proof of what it committed).
    pub(crate) async fn go_live(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        environment: &EnvironmentId,
        release: &ReleaseId,
        gitops_commit: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let deployment = release_deployment(&mut tx, workspace, environment, release).await?;
        if let Some(commit) = gitops_commit {
            sqlx::query("UPDATE deployments SET gitops_commit = $1 WHERE id = $2")
                .bind(commit)
                .bind(&deployment)
                .execute(&mut *tx)
                .await?;
        }
        let now = Timestamp::now().as_millis();
        sqlx::query("UPDATE deployments SET status = 'SUPERSEDED', updated_at = $1 WHERE environment_id = $2 AND status = 'DEPLOYED'")
            .bind(now)
            .bind(environment.as_str())
            .execute(&mut *tx)
            .await?;
        let id = stored(DeploymentId::parse(&deployment))?;
        advance(&mut tx, &id, DeploymentStatus::Deploying, Transition::GoLive, None).await?;
        sqlx::query("UPDATE environments SET active_release_id = $1 WHERE id = $2")
            .bind(release.as_str())
            .bind(environment.as_str())
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, Some(workspace), actor, "release.live", &format!("release/{release}")).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The agent could not start `release`: its deployment FAILS with
    /// `reason`, and the environment's desired release goes back to the
    /// active one, which keeps serving.
    pub async fn release_failed(
        &self,
        workspace: &WorkspaceId,
        environment: &EnvironmentId,
        release: &ReleaseId,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.fail_release(&Actor::system("agent"), workspace, environment, release, reason).await
    }

    /// [`Store::release_failed`] for any actor.
    pub(crate) async fn fail_release(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        environment: &EnvironmentId,
        release: &ReleaseId,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let deployment = release_deployment(&mut tx, workspace, environment, release).await?;
        sqlx::query(
            "UPDATE deployments SET status = 'FAILED', failure_reason = $1, updated_at = $2 WHERE id = $3 AND status = 'DEPLOYING'",
        )
        .bind(reason)
        .bind(Timestamp::now().as_millis())
        .bind(&deployment)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE environments SET desired_release_id = active_release_id WHERE id = $1 AND desired_release_id = $2",
        )
        .bind(environment.as_str())
        .bind(release.as_str())
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, Some(workspace), actor, "release.failed", &format!("release/{release}")).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The deployment that made `release`, which must belong to `environment`
/// of `workspace` (SQLite has no row-level security to say so).
pub(crate) async fn release_deployment(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    environment: &EnvironmentId,
    release: &ReleaseId,
) -> Result<String, StoreError> {
    let row =
        sqlx::query("SELECT deployment_id FROM releases WHERE id = $1 AND workspace_id = $2 AND environment_id = $3")
            .bind(release.as_str())
            .bind(workspace.as_str())
            .bind(environment.as_str())
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| StoreError::not_found(ErrorCode::ReleaseNotFound, format!("no release {release} here")))?;
    Ok(row.try_get(0)?)
}

async fn active_release(tx: &mut Tx, environment: &EnvironmentId) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query("SELECT active_release_id FROM environments WHERE id = $1")
        .bind(environment.as_str())
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?)
}
