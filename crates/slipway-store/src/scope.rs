//! Transactions and the scope each one runs in.

use slipway_core::ids::WorkspaceId;
use sqlx::{Any, Transaction};

use crate::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub(crate) fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(format!(
                "unsupported database URL `{}`: use sqlite://PATH or postgres://USER@HOST/DB",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }
}

/// Whose rows a transaction may see.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// One workspace's rows only.
    Tenant(&'a WorkspaceId),
    /// Every tenant's rows: for resolving slugs, listing a user's
    /// workspaces, the job queue, and platform-level audit rows (users,
    /// tokens). Each use is a named store method.
    Platform,
}

pub(crate) type Tx = Transaction<'static, Any>;

impl Store {
    /// A transaction that only reads.
    pub(crate) async fn read(&self, scope: Scope<'_>) -> Result<Tx, StoreError> {
        self.begin(scope, "BEGIN").await
    }

    /// A transaction that writes. SQLite takes its write lock up front so a
    /// read-then-write transaction never fails with a stale snapshot.
    pub(crate) async fn write(&self, scope: Scope<'_>) -> Result<Tx, StoreError> {
        let begin = match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        self.begin(scope, begin).await
    }

    async fn begin(&self, scope: Scope<'_>, statement: &'static str) -> Result<Tx, StoreError> {
        let mut tx = self.pool.begin_with(statement).await?;
        if self.backend == Backend::Postgres {
            let (workspace, platform) = match scope {
                Scope::Tenant(id) => (id.as_str(), "off"),
                Scope::Platform => ("", "on"),
            };
            sqlx::query(
                "SELECT set_config('slipway.workspace_id', $1, true), set_config('slipway.platform', $2, true)",
            )
            .bind(workspace)
            .bind(platform)
            .execute(&mut *tx)
            .await?;
        }
        Ok(tx)
    }
}
