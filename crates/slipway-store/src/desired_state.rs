//! The agent's view: every environment of the local target with a release to
//! run, as the agent must make it (release, hostnames, scale, sandbox uid,
//! resources). The agent reports back through the lifecycle's
//! [`Store::release_live`] and [`Store::release_failed`].

use std::collections::BTreeMap;

use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::DeploymentNumber;
use slipway_core::ids::{DeploymentId, EnvironmentId, ReleaseId, WorkspaceId};
use slipway_core::resources::{Resources, SandboxUid};
use sqlx::Row;

use crate::error::stored;
use crate::releases::{ConfigValue, RuntimeEnv};
use crate::resources::{defaults_of, own_resources, sandbox_uid_of};
use crate::scope::Scope;
use crate::{Store, StoreError};

/// Everything the agent needs to run a release.
#[derive(Debug, Clone)]
pub struct ReleaseSpec {
    pub id: ReleaseId,
    pub number: DeploymentNumber,
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

impl Store {
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
                    number: stored(DeploymentNumber::new(
                        u64::try_from(row.try_get::<i64, _>("number")?).unwrap_or(0),
                    ))?,
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
}
