//! The deployment lifecycle: the only code that writes `deployments.status`.
//!
//! Every change is a [`Transition`] of the machine in `slipway_core::deployment`,
//! and its SQL is derived from [`DeploymentStatus::apply`]: the statuses a
//! transition leaves from, and where each one goes, are asked of the machine
//! (see [`move_sql`]), so the database cannot take a move the machine does not
//! have. The update is a compare-and-set on those statuses: of two racing
//! writers only one moves a row.
//!
//! A deployment's outcome has two verbs, whoever reports it (the agent, the
//! pipeline, the cluster watcher): [`Store::release_live`] and
//! [`Store::release_failed`]. Every call that changes a status writes its
//! audit row, the janitor's [`Store::fail_abandoned_deployments`] included,
//! and runs in a span naming the deployment, so one deployment's changes can
//! be followed in the logs.

use slipway_core::api::Deployment;
use slipway_core::deployment::{DeploymentStatus, Transition};
use slipway_core::ids::{DeploymentId, EnvironmentId, ReleaseId, WorkspaceId};
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::deployments::{deployment_from, deployment_not_found};
use crate::error::stored;
use crate::job::deployments_of_failed_deploy_jobs;
use crate::releases::release_deployment;
use crate::scope::{Scope, Tx};
use crate::{Store, StoreError};

/// The statuses `transition` leaves from, as the machine says, narrowed to `only`.
fn leaving(transition: Transition, only: &[DeploymentStatus]) -> Vec<DeploymentStatus> {
    DeploymentStatus::ALL.into_iter().filter(|from| only.contains(from) && from.apply(transition).is_ok()).collect()
}

/// `'QUEUED', 'BUILDING'`: the machine's own names, never input, so they may be spliced
/// (`NULL`, which matches nothing, for none).
fn sql_list(statuses: &[DeploymentStatus]) -> String {
    if statuses.is_empty() {
        return "NULL".into();
    }
    statuses.iter().map(|status| format!("'{status}'")).collect::<Vec<_>>().join(", ")
}

/// The compare-and-set of `transition` (narrowed to `only`) on deployment `$3`, keeping `$1`
/// as the failure reason when given and `$2` as the change's time; it returns the new status.
/// Each status it leaves from goes where the machine sends it.
fn move_sql(transition: Transition, only: &[DeploymentStatus]) -> String {
    let from = leaving(transition, only);
    let arms: String = from
        .iter()
        .filter_map(|status| status.apply(transition).ok().map(|to| format!(" WHEN '{status}' THEN '{to}'")))
        .collect();
    if from.is_empty() {
        // Nothing may move: a statement that matches no row.
        return "UPDATE deployments SET failure_reason = COALESCE($1, failure_reason), updated_at = $2
                WHERE id = $3 AND 1 = 0 RETURNING status"
            .into();
    }
    format!(
        "UPDATE deployments SET status = CASE status{arms} END, failure_reason = COALESCE($1, failure_reason),
             updated_at = $2
         WHERE id = $3 AND status IN ({from}) RETURNING status",
        from = sql_list(&from),
    )
}

/// Moves deployment `id` by `transition` if it is at a status the move leaves from (and in
/// `only`); `None` when it is not, which changes nothing. `reason` is kept on the row.
#[tracing::instrument(skip_all, fields(deployment = %id, transition = ?transition))]
async fn try_advance(
    tx: &mut Tx,
    id: &DeploymentId,
    transition: Transition,
    only: &[DeploymentStatus],
    reason: Option<&str>,
) -> Result<Option<DeploymentStatus>, StoreError> {
    let moved = sqlx::query(&move_sql(transition, only))
        .bind(reason)
        .bind(Timestamp::now().as_millis())
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = moved else { return Ok(None) };
    let status: String = row.try_get(0)?;
    let status = DeploymentStatus::parse(&status).ok_or(StoreError::Corrupt(status))?;
    tracing::info!(%status, reason, "deployment status changed");
    Ok(Some(status))
}

/// Moves deployment `id` by `transition` inside `tx`. A move the machine refuses from the
/// stored status is `DEPLOYMENT_STATE_CONFLICT`, and changes nothing.
pub(crate) async fn advance(
    tx: &mut Tx,
    id: &DeploymentId,
    transition: Transition,
    reason: Option<&str>,
) -> Result<DeploymentStatus, StoreError> {
    if let Some(status) = try_advance(tx, id, transition, &DeploymentStatus::ALL, reason).await? {
        return Ok(status);
    }
    let current: Option<String> = sqlx::query("SELECT status FROM deployments WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .map(|row| row.try_get(0))
        .transpose()?;
    let current = current.ok_or_else(|| deployment_not_found(id))?;
    let current = DeploymentStatus::parse(&current).ok_or(StoreError::Corrupt(current))?;
    let refused = match current.apply(transition) {
        Err(refused) => refused.to_string(),
        Ok(_) => "the deployment changed meanwhile".to_owned(),
    };
    Err(StoreError::conflict(ErrorCode::DeploymentStateConflict, refused))
}

/// Applies `transition` (narrowed to `only`) to each of `ids` still at a status it leaves
/// from; returns those it moved.
async fn advance_each(
    tx: &mut Tx,
    ids: Vec<DeploymentId>,
    transition: Transition,
    only: &[DeploymentStatus],
    reason: Option<&str>,
) -> Result<Vec<DeploymentId>, StoreError> {
    let mut moved = Vec::with_capacity(ids.len());
    for id in ids {
        if try_advance(tx, &id, transition, only, reason).await?.is_some() {
            moved.push(id);
        }
    }
    Ok(moved)
}

/// The deployments of `environment` (but `except`) that `transition` (narrowed to `only`) may
/// move.
async fn movable_in(
    tx: &mut Tx,
    environment: &EnvironmentId,
    except: Option<&DeploymentId>,
    transition: Transition,
    only: &[DeploymentStatus],
) -> Result<Vec<DeploymentId>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT id FROM deployments WHERE environment_id = $1 AND id <> $2 AND status IN ({}) ORDER BY id",
        sql_list(&leaving(transition, only))
    ))
    .bind(environment.as_str())
    .bind(except.map_or("", DeploymentId::as_str))
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(|row| stored(DeploymentId::parse(&row.try_get::<String, _>(0)?))).collect()
}

/// Cancels the deployments of `environment` (but `except`) whose release waits to go live: a
/// newer release replaces them, or the environment moved to another target. Those still queued
/// or building go on (they make newer releases).
#[tracing::instrument(skip_all, fields(environment = %environment))]
pub(crate) async fn cancel_not_live(
    tx: &mut Tx,
    environment: &EnvironmentId,
    except: Option<&DeploymentId>,
    reason: &str,
) -> Result<(), StoreError> {
    const WAITING: [DeploymentStatus; 1] = [DeploymentStatus::Deploying];
    let waiting = movable_in(tx, environment, except, Transition::Cancel, &WAITING).await?;
    advance_each(tx, waiting, Transition::Cancel, &WAITING, Some(reason)).await?;
    Ok(())
}

/// Where the janitor fails a deployment whose deploy job gave up: a DEPLOYING one has its
/// release, which the agent or the cluster settles.
const BEFORE_RELEASE: [DeploymentStatus; 2] = [DeploymentStatus::Queued, DeploymentStatus::Building];

/// The janitor's reason for a deployment whose deploy job gave up.
const ABANDONED: &str = "the control plane stopped during this build and the retry failed too; deploy again";

impl Store {
    /// Moves a deployment along the status machine. Fails with
    /// `DEPLOYMENT_STATE_CONFLICT` if the move is not allowed from the stored
    /// status, or if another writer changed it first.
    #[tracing::instrument(skip_all, fields(%workspace, deployment = %id, transition = ?transition))]
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
            "SELECT d.number, p.slug AS project_slug, e.name AS environment_name FROM deployments d
             JOIN projects p ON p.id = d.project_id JOIN environments e ON e.id = d.environment_id
             WHERE d.id = $1 AND d.workspace_id = $2",
        )
        .bind(id.as_str())
        .bind(workspace.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| deployment_not_found(id))?;
        let next = advance(&mut tx, id, transition, reason).await?;
        let target = format!(
            "project/{}/{}#{}",
            row.try_get::<String, _>("project_slug")?,
            row.try_get::<String, _>("environment_name")?,
            row.try_get::<i64, _>("number")?
        );
        let action = format!("deployment.{}", next.as_str().to_ascii_lowercase());
        audit::record(&mut tx, Some(workspace), actor, &action, &target).await?;
        let row = sqlx::query("SELECT * FROM deployments WHERE id = $1").bind(id.as_str()).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        deployment_from(&row)
    }

    /// `release` now serves `environment` (the agent started it, the cluster runs it, or the
    /// pipeline committed it and no cluster is read back): its deployment goes DEPLOYED and the
    /// one it replaces SUPERSEDED. `gitops_commit`, the Kubernetes target's proof of what it
    /// committed, is recorded in the same transaction.
    #[tracing::instrument(skip_all, fields(%workspace, %environment, %release, deployment = tracing::field::Empty, actor = %actor.request_id))]
    pub async fn release_live(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        environment: &EnvironmentId,
        release: &ReleaseId,
        gitops_commit: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let deployment = release_deployment(&mut tx, workspace, environment, release).await?;
        tracing::Span::current().record("deployment", deployment.as_str());
        if let Some(commit) = gitops_commit {
            sqlx::query("UPDATE deployments SET gitops_commit = $1 WHERE id = $2")
                .bind(commit)
                .bind(deployment.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let all = DeploymentStatus::ALL;
        let serving = movable_in(&mut tx, environment, Some(&deployment), Transition::Supersede, &all).await?;
        advance_each(&mut tx, serving, Transition::Supersede, &all, None).await?;
        advance(&mut tx, &deployment, Transition::GoLive, None).await?;
        sqlx::query("UPDATE environments SET active_release_id = $1 WHERE id = $2")
            .bind(release.as_str())
            .bind(environment.as_str())
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, Some(workspace), actor, "release.live", &format!("release/{release}")).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `release` will not serve (it did not start, the cluster will not run it, or it could not
    /// be committed): its deployment FAILS with `reason`, and the environment's desired release
    /// goes back to the active one, which keeps serving. A late report of a deployment that
    /// moved on changes nothing but the audit log.
    #[tracing::instrument(skip_all, fields(%workspace, %environment, %release, deployment = tracing::field::Empty, actor = %actor.request_id))]
    pub async fn release_failed(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        environment: &EnvironmentId,
        release: &ReleaseId,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let deployment = release_deployment(&mut tx, workspace, environment, release).await?;
        tracing::Span::current().record("deployment", deployment.as_str());
        try_advance(&mut tx, &deployment, Transition::Fail, &DeploymentStatus::ALL, Some(reason)).await?;
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

    /// Fails every deployment still QUEUED or BUILDING whose deploy job has
    /// run out of attempts (its workers died mid-build), so none is left
    /// building forever; each is audited in its workspace. Returns how many it failed.
    #[tracing::instrument(skip_all, fields(actor = %actor.request_id))]
    pub async fn fail_abandoned_deployments(&self, actor: &Actor) -> Result<u64, StoreError> {
        let mut tx = self.write(Scope::Platform).await?;
        let rows = sqlx::query(&format!(
            "SELECT d.id, d.workspace_id, d.number, p.slug AS project_slug, e.name AS environment_name
             FROM deployments d JOIN projects p ON p.id = d.project_id JOIN environments e ON e.id = d.environment_id
             WHERE d.status IN ({}) AND d.id IN ({}) ORDER BY d.id",
            sql_list(&leaving(Transition::Fail, &BEFORE_RELEASE)),
            deployments_of_failed_deploy_jobs(),
        ))
        .fetch_all(&mut *tx)
        .await?;
        let mut failed = 0;
        for row in &rows {
            let id = stored(DeploymentId::parse(&row.try_get::<String, _>("id")?))?;
            let workspace = stored(WorkspaceId::parse(&row.try_get::<String, _>("workspace_id")?))?;
            let target = format!(
                "project/{}/{}#{}",
                row.try_get::<String, _>("project_slug")?,
                row.try_get::<String, _>("environment_name")?,
                row.try_get::<i64, _>("number")?
            );
            if fail_abandoned(&mut tx, actor, &workspace, &id, &target).await? {
                failed += 1;
            }
        }
        tx.commit().await?;
        Ok(failed)
    }
}

/// Fails one deployment whose deploy job gave up (`target` names it in the audit log), unless
/// it moved on meanwhile.
#[tracing::instrument(skip(tx, actor, target), fields(%workspace, deployment = %id))]
async fn fail_abandoned(
    tx: &mut Tx,
    actor: &Actor,
    workspace: &WorkspaceId,
    id: &DeploymentId,
    target: &str,
) -> Result<bool, StoreError> {
    if try_advance(tx, id, Transition::Fail, &BEFORE_RELEASE, Some(ABANDONED)).await?.is_none() {
        return Ok(false);
    }
    audit::record(tx, Some(workspace), actor, "deployment.failed", target).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, Executor};

    use super::*;

    /// Runs every transition's derived statement on a row at every status (SQLite in memory)
    /// and compares the outcome with the machine's answer.
    #[tokio::test]
    async fn the_derived_sql_moves_exactly_as_the_machine_does() {
        sqlx::any::install_default_drivers();
        let mut db = sqlx::AnyConnection::connect("sqlite::memory:").await.unwrap();
        db.execute(
            "CREATE TABLE deployments (id TEXT PRIMARY KEY, status TEXT, failure_reason TEXT, updated_at BIGINT)",
        )
        .await
        .unwrap();
        for transition in Transition::ALL {
            let sql = move_sql(transition, &DeploymentStatus::ALL);
            for from in DeploymentStatus::ALL {
                let id = format!("{from}-{transition:?}");
                sqlx::query("INSERT INTO deployments (id, status) VALUES ($1, $2)")
                    .bind(&id)
                    .bind(from.as_str())
                    .execute(&mut db)
                    .await
                    .unwrap();
                let returned = sqlx::query(&sql)
                    .bind("why")
                    .bind(7_i64)
                    .bind(&id)
                    .fetch_optional(&mut db)
                    .await
                    .unwrap()
                    .map(|row| row.get::<String, _>(0));
                let stored: String = sqlx::query("SELECT status FROM deployments WHERE id = $1")
                    .bind(&id)
                    .fetch_one(&mut db)
                    .await
                    .unwrap()
                    .get(0);
                match from.apply(transition) {
                    Ok(to) => {
                        assert_eq!(returned.as_deref(), Some(to.as_str()), "{from} by {transition:?}");
                        assert_eq!(stored, to.as_str(), "{from} by {transition:?}");
                    }
                    Err(_) => {
                        assert_eq!(returned, None, "{from} by {transition:?} must not move");
                        assert_eq!(stored, from.as_str(), "{from} by {transition:?} must not move");
                    }
                }
            }
        }
    }

    #[test]
    fn a_narrowed_move_never_leaves_from_more_than_the_machine_allows() {
        use DeploymentStatus::*;
        assert_eq!(leaving(Transition::Fail, &DeploymentStatus::ALL), [Queued, Building, Deploying]);
        assert_eq!(leaving(Transition::Fail, &[Queued, Building, Deployed]), [Queued, Building]);
        assert_eq!(leaving(Transition::Cancel, &[Deploying]), [Deploying]);
        assert_eq!(leaving(Transition::Supersede, &DeploymentStatus::ALL), [Deployed]);
        assert!(leaving(Transition::GoLive, &[Queued, Failed]).is_empty());
        let nothing = move_sql(Transition::GoLive, &[Queued]);
        assert!(nothing.contains("1 = 0"), "{nothing}");
    }
}
