//! What each instance of an environment may use, the platform's defaults for
//! it, and the uid an environment's tenant code runs as on one machine.
//!
//! **Defaults** live in the database (`platform_resources`), written by
//! `slipway up` at each start through [`Store::set_default_resources`]; every
//! read resolves an environment's unset figures against them in the same
//! transaction. So every process that reads the store — control plane, agent,
//! pipeline — sees one effective figure, and a restarted control plane with new
//! defaults is seen by an agent that kept running. Until `up` first writes
//! them, [`Resources::default`] stands in.
//!
//! **Sandbox uids** are allocated on first use ([`Store::sandbox_uid`],
//! [`Store::desired_state`], [`Store::deployment_context`]) from a counter that
//! only grows, in a platform-scope transaction that holds the counter's row
//! lock: two allocations never collide, an environment keeps its uid for ever,
//! and a deleted environment's uid is never handed out again. The unique index
//! on `environments.sandbox_uid` is the second guard, and on PostgreSQL a
//! trigger refuses any change of a uid once set.

use std::collections::BTreeMap;

use slipway_core::api::{Environment, Workspace};
use slipway_core::ids::{EnvironmentId, WorkspaceId};
use slipway_core::names::{EnvironmentName, ProjectSlug};
use slipway_core::resources::{Cpu, Memory, Resources, SandboxUid};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::environments::resolve_environment;
use crate::error::stored;
use crate::quotas::{environment_usage, lock_quota};
use crate::scope::{Scope, Tx};
use crate::{Store, StoreError};

/// A change to an environment's resources: `None` leaves a figure alone,
/// `Some(None)` returns it to the platform default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceChange {
    pub memory: Option<Option<Memory>>,
    pub cpu: Option<Option<Cpu>>,
    pub max_processes: Option<Option<u32>>,
}

impl ResourceChange {
    pub fn is_empty(&self) -> bool {
        self.memory.is_none() && self.cpu.is_none() && self.max_processes.is_none()
    }

    /// What an environment whose own figures are `own` gets after the change, under `defaults`.
    pub fn effective(&self, own: &OwnResources, defaults: &Resources) -> Resources {
        OwnResources {
            memory: self.memory.unwrap_or(own.memory),
            cpu: self.cpu.unwrap_or(own.cpu),
            max_processes: self.max_processes.unwrap_or(own.max_processes),
        }
        .resolve(defaults)
    }
}

/// An environment's own figures, as stored: `None` follows the platform default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnResources {
    pub memory: Option<Memory>,
    pub cpu: Option<Cpu>,
    pub max_processes: Option<u32>,
}

impl OwnResources {
    pub fn resolve(&self, defaults: &Resources) -> Resources {
        Resources {
            memory: self.memory.unwrap_or(defaults.memory),
            cpu: self.cpu.unwrap_or(defaults.cpu),
            max_processes: self.max_processes.unwrap_or(defaults.max_processes),
        }
    }
}

/// The platform's default resources, as `slipway up` last wrote them.
pub(crate) async fn platform_defaults(tx: &mut Tx) -> Result<Resources, StoreError> {
    let row =
        sqlx::query("SELECT default_memory, default_cpu, default_max_processes FROM platform_resources WHERE id = 1")
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the platform_resources row is missing".into()))?;
    defaults_of(&row)
}

/// The platform's default resources from a row holding `default_memory`, `default_cpu` and
/// `default_max_processes` (of `platform_resources`); a NULL figure is the built-in one.
pub(crate) fn defaults_of(row: &AnyRow) -> Result<Resources, StoreError> {
    let built_in = Resources::default();
    Ok(Resources {
        memory: match row.try_get::<Option<i64>, _>("default_memory")? {
            Some(bytes) => memory_of(bytes)?,
            None => built_in.memory,
        },
        cpu: match row.try_get::<Option<i64>, _>("default_cpu")? {
            Some(millis) => cpu_of(millis)?,
            None => built_in.cpu,
        },
        max_processes: match row.try_get::<Option<i64>, _>("default_max_processes")? {
            Some(count) => processes_of(count)?,
            None => built_in.max_processes,
        },
    })
}

pub(crate) fn memory_of(bytes: i64) -> Result<Memory, StoreError> {
    stored(Memory::try_from(u64::try_from(bytes).map_err(|_| StoreError::Corrupt(format!("memory {bytes}")))?))
}

fn cpu_of(millis: i64) -> Result<Cpu, StoreError> {
    stored(Cpu::try_from(u32::try_from(millis).map_err(|_| StoreError::Corrupt(format!("cpu {millis}")))?))
}

fn processes_of(count: i64) -> Result<u32, StoreError> {
    u32::try_from(count).map_err(|_| StoreError::Corrupt(format!("max_processes {count}")))
}

/// The environment's own figures from a row holding `resource_memory`, `resource_cpu` and
/// `resource_max_processes`.
pub(crate) fn own_resources(row: &AnyRow) -> Result<OwnResources, StoreError> {
    Ok(OwnResources {
        memory: row.try_get::<Option<i64>, _>("resource_memory")?.map(memory_of).transpose()?,
        cpu: row.try_get::<Option<i64>, _>("resource_cpu")?.map(cpu_of).transpose()?,
        max_processes: row.try_get::<Option<i64>, _>("resource_max_processes")?.map(processes_of).transpose()?,
    })
}

/// A stored sandbox uid, checked against the reserved range.
pub(crate) fn sandbox_uid_of(uid: i64) -> Result<SandboxUid, StoreError> {
    let uid = u32::try_from(uid).map_err(|_| StoreError::Corrupt(format!("sandbox uid {uid}")))?;
    stored(SandboxUid::new(uid))
}

impl Store {
    /// Records the platform's default resources (called by `slipway up` at each start). They
    /// apply at once to every environment that sets no figure of its own.
    pub async fn set_default_resources(&self, defaults: &Resources) -> Result<(), StoreError> {
        let mut tx = self.write(Scope::Platform).await?;
        sqlx::query(
            "UPDATE platform_resources SET default_memory = $1, default_cpu = $2, default_max_processes = $3
             WHERE id = 1",
        )
        .bind(i64::try_from(defaults.memory.bytes()).unwrap_or(i64::MAX))
        .bind(i64::from(defaults.cpu.millis()))
        .bind(i64::from(defaults.max_processes))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.desired_changed();
        Ok(())
    }

    /// The platform's default resources now.
    pub async fn default_resources(&self) -> Result<Resources, StoreError> {
        let mut tx = self.read(Scope::Platform).await?;
        let defaults = platform_defaults(&mut tx).await?;
        tx.commit().await?;
        Ok(defaults)
    }

    /// Changes what each instance of an environment may use. The API has checked each figure
    /// against the platform's maximum; here the workspace's memory quota is enforced, in the
    /// same transaction as the change (nothing changes when it would be exceeded).
    pub async fn set_environment_resources(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        change: &ResourceChange,
    ) -> Result<Environment, StoreError> {
        let mut tx = self.write(Scope::Tenant(&workspace.id)).await?;
        let (project_id, environment_id) = resolve_environment(&mut tx, &workspace.id, project, environment).await?;
        let quota = lock_quota(&mut tx, self.backend, &workspace.id).await?;
        let defaults = platform_defaults(&mut tx).await?;
        let row =
            sqlx::query("SELECT resource_memory, resource_cpu, resource_max_processes FROM environments WHERE id = $1")
                .bind(environment_id.as_str())
                .fetch_one(&mut *tx)
                .await?;
        let own = own_resources(&row)?;
        let before = own.resolve(&defaults);
        let after = change.effective(&own, &defaults);
        if after.memory > before.memory {
            let usage = environment_usage(&mut tx, &workspace.id, &defaults).await?;
            let mut next = usage.clone();
            next.resize(&environment_id, after.memory);
            quota.check_growth(&usage.total(), &next.total())?;
        }
        let own = OwnResources {
            memory: change.memory.unwrap_or(own.memory),
            cpu: change.cpu.unwrap_or(own.cpu),
            max_processes: change.max_processes.unwrap_or(own.max_processes),
        };
        sqlx::query(
            "UPDATE environments SET resource_memory = $1, resource_cpu = $2, resource_max_processes = $3
             WHERE id = $4",
        )
        .bind(own.memory.map(|memory| i64::try_from(memory.bytes()).unwrap_or(i64::MAX)))
        .bind(own.cpu.map(|cpu| i64::from(cpu.millis())))
        .bind(own.max_processes.map(i64::from))
        .bind(environment_id.as_str())
        .execute(&mut *tx)
        .await?;
        let audit_target = format!("project/{project}/{environment}:{after}");
        audit::record(&mut tx, Some(&workspace.id), actor, "environment.resources", &audit_target).await?;
        crate::kubernetes::queue_gitops_scale(&mut tx, &workspace.id, &environment_id, project, environment).await?;
        let environment = self.environment_of(&mut tx, &workspace.id, &project_id, &environment_id).await?;
        tx.commit().await?;
        self.desired_changed();
        Ok(environment)
    }

    /// The uid the tenant code of `environment` runs as on one machine, allocated on first use.
    pub async fn sandbox_uid(
        &self,
        workspace: &WorkspaceId,
        environment: &EnvironmentId,
    ) -> Result<SandboxUid, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let row = sqlx::query("SELECT sandbox_uid FROM environments WHERE id = $1 AND workspace_id = $2")
            .bind(environment.as_str())
            .bind(workspace.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| crate::environments::environment_not_found(environment.as_str()))?;
        tx.commit().await?;
        match row.try_get::<Option<i64>, _>(0)? {
            Some(uid) => sandbox_uid_of(uid),
            None => self
                .allocate_sandbox_uids(std::slice::from_ref(environment))
                .await?
                .remove(environment.as_str())
                .ok_or_else(|| crate::environments::environment_not_found(environment.as_str())),
        }
    }

    /// Gives each of `environments` that has no sandbox uid yet the next one of the range, and
    /// answers the uid of each (an environment deleted meanwhile is left out).
    ///
    /// Platform scope (uids are unique across tenants; on PostgreSQL only this scope may write
    /// them). The counter row is locked first, so the look at each environment that follows sees
    /// whatever a concurrent allocation committed: an environment is never given two uids and
    /// no counter value is spent on one that already has a uid.
    pub(crate) async fn allocate_sandbox_uids(
        &self,
        environments: &[EnvironmentId],
    ) -> Result<BTreeMap<String, SandboxUid>, StoreError> {
        let mut tx = self.write(Scope::Platform).await?;
        let locked = sqlx::query("UPDATE platform_resources SET next_sandbox_uid = next_sandbox_uid WHERE id = 1")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if locked != 1 {
            return Err(StoreError::Corrupt("the platform_resources row is missing or not writable".into()));
        }
        let mut uids = BTreeMap::new();
        for environment in environments {
            let Some(row) = sqlx::query("SELECT sandbox_uid FROM environments WHERE id = $1")
                .bind(environment.as_str())
                .fetch_optional(&mut *tx)
                .await?
            else {
                continue;
            };
            let uid = match row.try_get::<Option<i64>, _>(0)? {
                Some(uid) => sandbox_uid_of(uid)?,
                None => {
                    let n: i64 = sqlx::query(
                        "UPDATE platform_resources SET next_sandbox_uid = next_sandbox_uid + 1 WHERE id = 1
                         RETURNING next_sandbox_uid - 1",
                    )
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
                    let uid = u32::try_from(n).ok().and_then(|n| SandboxUid::nth(n).ok()).ok_or_else(|| {
                        StoreError::Config(format!(
                            "the {} sandbox uids of the reserved range are all allocated",
                            SandboxUid::COUNT
                        ))
                    })?;
                    sqlx::query("UPDATE environments SET sandbox_uid = $1 WHERE id = $2 AND sandbox_uid IS NULL")
                        .bind(i64::from(uid.get()))
                        .bind(environment.as_str())
                        .execute(&mut *tx)
                        .await?;
                    tracing::info!(environment = %environment, uid = uid.get(), "allocated a sandbox uid");
                    uid
                }
            };
            uids.insert(environment.to_string(), uid);
        }
        tx.commit().await?;
        Ok(uids)
    }
}
