//! Observed state the agent reports: the instances it runs, for
//! `slipway ps`. And the scale users ask for, which the agent reads.

use std::collections::BTreeMap;

use slipway_core::api::Instance;
use slipway_core::deployment::DeploymentNumber;
use slipway_core::ids::{EnvironmentId, InstanceId, WorkspaceId};
use slipway_core::names::{EnvironmentName, ProjectSlug};
use slipway_core::process_type::ProcessType;
use slipway_core::timestamp::Timestamp;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::environments::resolve_environment;
use crate::error::stored;
use crate::kubernetes::queue_gitops_scale;
use crate::quotas::{environment_usage, lock_quota};
use crate::resources::platform_defaults;
use crate::scope::Scope;
use crate::{Store, StoreError};

/// The most instances of one process type an environment may ask for.
pub const MAX_SCALE: u32 = 20;

impl Store {
    /// Replaces what the agent runs for an environment.
    pub async fn record_instances(
        &self,
        workspace: &WorkspaceId,
        environment: &EnvironmentId,
        instances: &[Instance],
    ) -> Result<(), StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        sqlx::query("DELETE FROM instances WHERE environment_id = $1")
            .bind(environment.as_str())
            .execute(&mut *tx)
            .await?;
        for instance in instances {
            sqlx::query(
                "INSERT INTO instances (id, workspace_id, environment_id, release_number, name, process, state, port, restarts, updated_at, last_exit)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(InstanceId::generate().as_str())
            .bind(workspace.as_str())
            .bind(environment.as_str())
            .bind(i64::try_from(instance.release.get()).unwrap_or(i64::MAX))
            .bind(&instance.name)
            .bind(&instance.process)
            .bind(&instance.state)
            .bind(instance.port.map(i64::from))
            .bind(i64::from(instance.restarts))
            .bind(instance.updated_at.as_millis())
            .bind(instance.last_exit.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_instances(
        &self,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
    ) -> Result<Vec<Instance>, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let (_, environment) = resolve_environment(&mut tx, workspace, project, environment).await?;
        let rows = sqlx::query("SELECT * FROM instances WHERE environment_id = $1 ORDER BY release_number, name")
            .bind(environment.as_str())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                Ok(Instance {
                    name: row.try_get("name")?,
                    process: row.try_get("process")?,
                    release: stored(DeploymentNumber::new(
                        u64::try_from(row.try_get::<i64, _>("release_number")?).unwrap_or(0),
                    ))?,
                    state: row.try_get("state")?,
                    port: row.try_get::<Option<i64>, _>("port")?.and_then(|p| u16::try_from(p).ok()),
                    restarts: u32::try_from(row.try_get::<i64, _>("restarts")?).unwrap_or(u32::MAX),
                    updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
                    last_exit: row.try_get("last_exit")?,
                })
            })
            .collect()
    }

    /// Sets instances per process type; types not named keep their scale. A scale that would
    /// take the workspace over its instance or memory quota is refused, changing nothing.
    pub async fn set_scale(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        processes: &BTreeMap<ProcessType, u32>,
    ) -> Result<BTreeMap<String, u32>, StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let (_, environment_id) = resolve_environment(&mut tx, workspace, project, environment).await?;
        let quota = lock_quota(&mut tx, self.backend, workspace).await?;
        let current: String = sqlx::query("SELECT scale FROM environments WHERE id = $1")
            .bind(environment_id.as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let mut scale: BTreeMap<String, u32> = stored(serde_json::from_str(&current))?;
        scale.extend(processes.iter().map(|(k, v)| (k.to_string(), *v)));
        let defaults = platform_defaults(&mut tx).await?;
        let usage = environment_usage(&mut tx, workspace, &defaults).await?;
        let mut next = usage.clone();
        next.rescale(&environment_id, &scale);
        quota.check_growth(&usage.total(), &next.total())?;
        sqlx::query("UPDATE environments SET scale = $1 WHERE id = $2")
            .bind(stored(serde_json::to_string(&scale))?)
            .bind(environment_id.as_str())
            .execute(&mut *tx)
            .await?;
        let summary: Vec<String> = processes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        audit::record(
            &mut tx,
            Some(workspace),
            actor,
            "scale.set",
            &format!("project/{project}/{environment}:{}", summary.join(",")),
        )
        .await?;
        queue_gitops_scale(&mut tx, workspace, &environment_id, project, environment).await?;
        tx.commit().await?;
        self.desired_changed();
        Ok(scale)
    }
}
