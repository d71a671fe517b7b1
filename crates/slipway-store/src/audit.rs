//! The audit log: one row per mutating call, written in the same transaction
//! as the change, so there is no change without its row and no row without
//! its change.

use slipway_core::api::AuditEvent;
use slipway_core::ids::{AuditEventId, UserId, WorkspaceId};
use slipway_core::timestamp::Timestamp;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::stored;
use crate::page::{Order, PageRequest, Paged};
use crate::scope::{Scope, Tx};
use crate::{Store, StoreError};

/// Who is making a change, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<UserId>,
    pub username: String,
    pub request_id: String,
}

impl Actor {
    /// The platform itself (bootstrap, background work); `request_id` names the part that acts.
    pub fn system(request_id: impl Into<String>) -> Self {
        Self { user_id: None, username: "slipway".into(), request_id: request_id.into() }
    }

    /// The local agent, which starts releases and reports them live or failed.
    pub fn agent() -> Self {
        Self::system("agent")
    }

    /// The deploy pipeline, which builds deployments and commits them to GitOps.
    pub fn pipeline() -> Self {
        Self::system("pipeline")
    }

    /// The cluster watcher, which reports a Kubernetes-target release live or failed.
    pub fn cluster() -> Self {
        Self::system("cluster")
    }

    /// The janitor, which fails deployments whose builds were abandoned.
    pub fn janitor() -> Self {
        Self::system("janitor")
    }
}

pub(crate) async fn record(
    tx: &mut Tx,
    workspace: Option<&WorkspaceId>,
    actor: &Actor,
    action: &str,
    target: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_events (id, workspace_id, actor_id, actor, action, target, request_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(AuditEventId::generate().as_str())
    .bind(workspace.map(WorkspaceId::as_str))
    .bind(actor.user_id.as_ref().map(UserId::as_str))
    .bind(&actor.username)
    .bind(action)
    .bind(target)
    .bind(&actor.request_id)
    .bind(Timestamp::now().as_millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn event_from(row: &AnyRow) -> Result<AuditEvent, StoreError> {
    let actor_id: Option<String> = row.try_get("actor_id")?;
    Ok(AuditEvent {
        id: stored(AuditEventId::parse(&row.try_get::<String, _>("id")?))?,
        actor_id: actor_id.map(|id| stored(UserId::parse(&id))).transpose()?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        request_id: row.try_get("request_id")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

impl Store {
    /// A workspace's audit events, newest first.
    pub async fn list_audit_events(
        &self,
        workspace: &WorkspaceId,
        page: &PageRequest,
    ) -> Result<Paged<AuditEvent>, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let (cmp, dir) = Order::NewestFirst.sql();
        let rows = sqlx::query(&format!(
            "SELECT * FROM audit_events WHERE workspace_id = $1 AND ($2 IS NULL OR id {cmp} $2) ORDER BY id {dir} LIMIT $3"
        ))
        .bind(workspace.as_str())
        .bind(page.bound())
        .bind(page.fetch())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let events = rows.iter().map(event_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Paged::from_rows(events, page, |e| e.id.to_string()))
    }
}
