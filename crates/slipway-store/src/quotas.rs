//! Workspace quotas: total memory, instances and projects, set by a platform
//! admin, enforced by every change that could grow a workspace (queuing a
//! deployment, recording a release, rollback, scale, resize, project creation).
//!
//! Each such change first takes the workspace's quota row with
//! [`lock_quota`] — a row lock on PostgreSQL (`FOR NO KEY UPDATE`, which leaves
//! foreign-key checks of other writers alone), SQLite's single writer anyway —
//! then counts the workspace's use in the same transaction, so two concurrent
//! changes cannot both fit under the quota and together exceed it.
//!
//! Use is counted as the agent runs it: for each environment, the process
//! types of the release it runs or is about to run (desired, else active), at
//! the environment's scale (absent types run one), times its memory limit. A
//! change is refused only when it grows a figure past the quota, so a
//! workspace over a lowered quota may still shrink or redeploy at its size.

use std::collections::{BTreeMap, BTreeSet};

use slipway_core::api::{QuotaReport, Workspace};
use slipway_core::build_plan::BuildPlan;
use slipway_core::ids::{EnvironmentId, WorkspaceId};
use slipway_core::names::{EnvironmentName, ProjectSlug};
use slipway_core::process_type::ProcessType;
use slipway_core::quota::{Bytes, QuotaUsage, WorkspaceQuota};
use slipway_core::resources::{Memory, Resources};
use slipway_core::ErrorCode;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::error::stored;
use crate::resources::{memory_of, own_resources, platform_defaults};
use crate::scope::{Backend, Scope, Tx};
use crate::{Store, StoreError};

/// A workspace's quota, read under the lock that serialises changes of its use.
#[derive(Debug, Clone)]
pub(crate) struct LockedQuota {
    slug: String,
    quota: WorkspaceQuota,
}

fn exceeded(message: String) -> StoreError {
    StoreError::conflict(ErrorCode::QuotaExceeded, message)
}

const HINT: &str = "scale something down, or ask a platform admin for a larger quota";

impl LockedQuota {
    /// Refuses going from `now` to `next` when that grows a figure past its quota.
    pub(crate) fn check_growth(&self, now: &QuotaUsage, next: &QuotaUsage) -> Result<(), StoreError> {
        let slug = &self.slug;
        if let Some(limit) = self.quota.instances {
            if next.instances > now.instances && next.instances > limit {
                return Err(exceeded(format!(
                    "this would take workspace `{slug}` over its quota of {}: {} now and this change asks for {} \
                     more; {HINT}",
                    counted(limit, "instance"),
                    counted(now.instances, "instance"),
                    next.instances - now.instances
                )));
            }
        }
        if let Some(limit) = self.quota.memory {
            if next.memory > now.memory && next.memory > limit.bytes() {
                return Err(exceeded(format!(
                    "this would take workspace `{slug}` over its memory quota of {limit}: {} is in use and this \
                     change asks for {} more; {HINT}",
                    Bytes(now.memory),
                    Bytes(next.memory - now.memory)
                )));
            }
        }
        Ok(())
    }

    /// Refuses a new project when the workspace has its quota's worth already.
    pub(crate) fn check_new_project(&self, projects: u32) -> Result<(), StoreError> {
        match self.quota.projects {
            Some(limit) if projects >= limit => Err(exceeded(format!(
                "workspace `{}` has a quota of {} and has {projects}; this asks for 1 more. Delete one, or ask a \
                 platform admin for a larger quota",
                self.slug,
                counted(limit, "project"),
            ))),
            _ => Ok(()),
        }
    }
}

/// `1 instance`, `3 instances`.
fn counted(count: u32, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}

fn quota_figure(value: Option<i64>) -> Result<Option<u32>, StoreError> {
    value.map(|n| u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("quota {n}")))).transpose()
}

/// Reads the workspace's quota and locks it until the transaction ends.
pub(crate) async fn lock_quota(
    tx: &mut Tx,
    backend: Backend,
    workspace: &WorkspaceId,
) -> Result<LockedQuota, StoreError> {
    let lock = match backend {
        Backend::Postgres => " FOR NO KEY UPDATE",
        // SQLite's write transactions hold the database's one write lock already.
        Backend::Sqlite => "",
    };
    quota_row(tx, workspace, lock).await
}

/// Reads the workspace's quota without locking it.
pub(crate) async fn read_quota(tx: &mut Tx, workspace: &WorkspaceId) -> Result<WorkspaceQuota, StoreError> {
    Ok(quota_row(tx, workspace, "").await?.quota)
}

async fn quota_row(tx: &mut Tx, workspace: &WorkspaceId, lock: &str) -> Result<LockedQuota, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT slug, quota_memory, quota_instances, quota_projects FROM workspaces WHERE id = $1{lock}"
    ))
    .bind(workspace.as_str())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::not_found(ErrorCode::WorkspaceNotFound, "no such workspace"))?;
    let memory = row.try_get::<Option<i64>, _>("quota_memory")?.map(memory_of).transpose()?;
    Ok(LockedQuota {
        slug: row.try_get("slug")?,
        quota: WorkspaceQuota {
            memory,
            instances: quota_figure(row.try_get("quota_instances")?)?,
            projects: quota_figure(row.try_get("quota_projects")?)?,
        },
    })
}

/// One environment's part of the workspace's use.
#[derive(Debug, Clone)]
struct EnvironmentUse {
    /// The process types of the release it runs or is about to run; `None` without a release.
    processes: Option<BTreeSet<ProcessType>>,
    scale: BTreeMap<String, u32>,
    /// Bytes per instance.
    memory: u64,
}

impl EnvironmentUse {
    fn instances(&self) -> u64 {
        self.processes
            .iter()
            .flatten()
            .map(|process| u64::from(self.scale.get(process.as_str()).copied().unwrap_or(1)))
            .sum()
    }
}

/// What a workspace uses, environment by environment, so that a change to one can be weighed.
#[derive(Debug, Clone)]
pub(crate) struct Usage {
    environments: BTreeMap<String, EnvironmentUse>,
    projects: u32,
}

impl Usage {
    pub(crate) fn total(&self) -> QuotaUsage {
        let (mut instances, mut memory) = (0u64, 0u64);
        for environment in self.environments.values() {
            let count = environment.instances();
            instances = instances.saturating_add(count);
            memory = memory.saturating_add(count.saturating_mul(environment.memory));
        }
        QuotaUsage { memory, instances: u32::try_from(instances).unwrap_or(u32::MAX), projects: self.projects }
    }

    /// `environment` with each instance given `memory`.
    pub(crate) fn resize(&mut self, environment: &EnvironmentId, memory: Memory) {
        if let Some(usage) = self.environments.get_mut(environment.as_str()) {
            usage.memory = memory.bytes();
        }
    }

    /// `environment` at `scale` (the whole map).
    pub(crate) fn rescale(&mut self, environment: &EnvironmentId, scale: &BTreeMap<String, u32>) {
        if let Some(usage) = self.environments.get_mut(environment.as_str()) {
            usage.scale = scale.clone();
        }
    }

    /// `environment` running a release of `plan`.
    pub(crate) fn run(&mut self, environment: &EnvironmentId, plan: &BuildPlan) {
        if let Some(usage) = self.environments.get_mut(environment.as_str()) {
            usage.processes = Some(plan.processes.keys().cloned().collect());
        }
    }

    /// `environment` after a deployment whose plan is not known yet: the process types it runs
    /// now, or a `web` process for a first deployment. (The release is weighed again, exactly,
    /// when the build records it.)
    pub(crate) fn deploy(&mut self, environment: &EnvironmentId) {
        if let Some(usage) = self.environments.get_mut(environment.as_str()) {
            if usage.processes.is_none() {
                usage.processes = Some(BTreeSet::from([ProcessType::web()]));
            }
        }
    }
}

/// What `workspace` uses now, read in `tx` (which should hold [`lock_quota`]).
pub(crate) async fn environment_usage(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    defaults: &Resources,
) -> Result<Usage, StoreError> {
    let rows = sqlx::query(
        "SELECT e.id, e.scale, e.resource_memory, e.resource_cpu, e.resource_max_processes, r.plan
         FROM environments e LEFT JOIN releases r ON r.id = COALESCE(e.desired_release_id, e.active_release_id)
         WHERE e.workspace_id = $1",
    )
    .bind(workspace.as_str())
    .fetch_all(&mut **tx)
    .await?;
    let mut environments = BTreeMap::new();
    for row in &rows {
        let plan: Option<BuildPlan> =
            row.try_get::<Option<String>, _>("plan")?.map(|plan| stored(serde_json::from_str(&plan))).transpose()?;
        environments.insert(
            row.try_get::<String, _>("id")?,
            EnvironmentUse {
                processes: plan.map(|plan| plan.processes.into_keys().collect()),
                scale: stored(serde_json::from_str(&row.try_get::<String, _>("scale")?))?,
                memory: own_resources(row)?.resolve(defaults).memory.bytes(),
            },
        );
    }
    Ok(Usage { environments, projects: project_count(tx, workspace).await? })
}

/// How many projects `workspace` has, read in `tx`.
pub(crate) async fn project_count(tx: &mut Tx, workspace: &WorkspaceId) -> Result<u32, StoreError> {
    let projects: i64 = sqlx::query("SELECT COUNT(*) FROM projects WHERE workspace_id = $1")
        .bind(workspace.as_str())
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    Ok(u32::try_from(projects).unwrap_or(u32::MAX))
}

fn describe(quota: &WorkspaceQuota) -> String {
    let figure = |value: Option<String>| value.unwrap_or_else(|| "unlimited".into());
    format!(
        "memory={},instances={},projects={}",
        figure(quota.memory.map(|memory| memory.to_string())),
        figure(quota.instances.map(|n| n.to_string())),
        figure(quota.projects.map(|n| n.to_string())),
    )
}

impl Store {
    /// A workspace's quota and what it uses of it.
    pub async fn workspace_quota(&self, workspace: &WorkspaceId) -> Result<QuotaReport, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let quota = read_quota(&mut tx, workspace).await?;
        let defaults = platform_defaults(&mut tx).await?;
        let usage = environment_usage(&mut tx, workspace, &defaults).await?;
        tx.commit().await?;
        Ok(QuotaReport { quota, usage: usage.total() })
    }

    /// Replaces a workspace's quota (a platform admin's call). A quota under what is in use
    /// stops nothing: it refuses whatever would grow the workspace further. Environments on
    /// the Kubernetes target get their namespace's ResourceQuota committed again.
    pub async fn set_workspace_quota(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        quota: &WorkspaceQuota,
    ) -> Result<QuotaReport, StoreError> {
        let mut tx = self.write(Scope::Tenant(&workspace.id)).await?;
        lock_quota(&mut tx, self.backend, &workspace.id).await?;
        sqlx::query("UPDATE workspaces SET quota_memory = $1, quota_instances = $2, quota_projects = $3 WHERE id = $4")
            .bind(quota.memory.map(|memory| i64::try_from(memory.bytes()).unwrap_or(i64::MAX)))
            .bind(quota.instances.map(i64::from))
            .bind(quota.projects.map(i64::from))
            .bind(workspace.id.as_str())
            .execute(&mut *tx)
            .await?;
        let target = format!("workspace/{}:{}", workspace.slug, describe(quota));
        audit::record(&mut tx, Some(&workspace.id), actor, "quota.set", &target).await?;
        let clustered = sqlx::query(
            "SELECT e.id, e.name, p.slug FROM environments e JOIN projects p ON p.id = e.project_id
             WHERE e.workspace_id = $1 AND e.target = 'kubernetes' ORDER BY e.id",
        )
        .bind(workspace.id.as_str())
        .fetch_all(&mut *tx)
        .await?;
        for row in &clustered {
            let environment = stored(EnvironmentId::parse(&row.try_get::<String, _>("id")?))?;
            let project = stored(ProjectSlug::parse(&row.try_get::<String, _>("slug")?))?;
            let name = stored(EnvironmentName::parse(&row.try_get::<String, _>("name")?))?;
            crate::kubernetes::queue_gitops_scale(&mut tx, &workspace.id, &environment, &project, &name).await?;
        }
        let defaults = platform_defaults(&mut tx).await?;
        let usage = environment_usage(&mut tx, &workspace.id, &defaults).await?;
        tx.commit().await?;
        Ok(QuotaReport { quota: *quota, usage: usage.total() })
    }
}
