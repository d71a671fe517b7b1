//! Schema migrations, applied in order at start-up and recorded in
//! `slipway_migrations`. One SQL file serves both backends; files marked
//! PostgreSQL-only add what SQLite lacks (row-level security).

use slipway_core::timestamp::Timestamp;
use sqlx::{AnyConnection, Executor, Row};

use crate::{Backend, StoreError};

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
    postgres_only: bool,
}

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "schema", sql: include_str!("../migrations/0001_schema.sql"), postgres_only: false },
    Migration {
        version: 2,
        name: "postgres_rls",
        sql: include_str!("../migrations/0002_postgres_rls.sql"),
        postgres_only: true,
    },
    Migration {
        version: 3,
        name: "releases",
        sql: include_str!("../migrations/0003_releases.sql"),
        postgres_only: false,
    },
    Migration {
        version: 4,
        name: "postgres_rls_releases",
        sql: include_str!("../migrations/0004_postgres_rls_releases.sql"),
        postgres_only: true,
    },
    Migration { version: 5, name: "tls", sql: include_str!("../migrations/0005_tls.sql"), postgres_only: false },
    Migration {
        version: 6,
        name: "postgres_rls_tls",
        sql: include_str!("../migrations/0006_postgres_rls_tls.sql"),
        postgres_only: true,
    },
    Migration {
        version: 7,
        name: "kubernetes",
        sql: include_str!("../migrations/0007_kubernetes.sql"),
        postgres_only: false,
    },
    Migration {
        version: 8,
        name: "resources",
        sql: include_str!("../migrations/0008_resources.sql"),
        postgres_only: false,
    },
    Migration {
        version: 9,
        name: "postgres_rls_resources",
        sql: include_str!("../migrations/0009_postgres_rls_resources.sql"),
        postgres_only: true,
    },
    Migration {
        version: 10,
        name: "instance_exit",
        sql: include_str!("../migrations/0010_instance_exit.sql"),
        postgres_only: false,
    },
    Migration {
        version: 11,
        name: "release_retention",
        sql: include_str!("../migrations/0011_release_retention.sql"),
        postgres_only: false,
    },
    Migration {
        version: 12,
        name: "build_timeout",
        sql: include_str!("../migrations/0012_build_timeout.sql"),
        postgres_only: false,
    },
    Migration {
        version: 13,
        name: "root_dir",
        sql: include_str!("../migrations/0013_root_dir.sql"),
        postgres_only: false,
    },
];

/// An arbitrary constant: the advisory lock that keeps two control planes
/// starting at once from migrating the same database twice.
const POSTGRES_MIGRATION_LOCK: i64 = 0x0051_1ba7;

pub(crate) async fn run(conn: &mut AnyConnection, backend: Backend) -> Result<(), StoreError> {
    match backend {
        Backend::Sqlite => {
            // Stores starting together on a new file wait for each other (as pool
            // connections do) instead of failing at once with "database is locked".
            conn.execute("PRAGMA busy_timeout = 10000").await?;
            // WAL lets readers carry on while one writer commits; the mode is
            // stored in the file, so setting it once here is enough.
            conn.execute("PRAGMA journal_mode = WAL").await?;
        }
        Backend::Postgres => {
            sqlx::query("SELECT pg_advisory_lock($1)").bind(POSTGRES_MIGRATION_LOCK).execute(&mut *conn).await?;
        }
    }
    let result = apply_pending(conn, backend).await;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(POSTGRES_MIGRATION_LOCK).execute(&mut *conn).await?;
    }
    result
}

async fn apply_pending(conn: &mut AnyConnection, backend: Backend) -> Result<(), StoreError> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS slipway_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM slipway_migrations")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| row.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    if let Some(newest) = applied.iter().max().filter(|v| **v > MIGRATIONS.len() as i64) {
        return Err(StoreError::Config(format!(
            "the database is at schema version {newest}, newer than this Slipway knows; upgrade Slipway"
        )));
    }
    for migration in MIGRATIONS {
        if applied.contains(&migration.version) || (migration.postgres_only && backend != Backend::Postgres) {
            continue;
        }
        // SQLite has no advisory lock: take its write lock up front and look
        // again, so a second process starting at once waits, then skips.
        let begin = match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        let mut tx = sqlx::Connection::begin_with(&mut *conn, begin).await?;
        let done = sqlx::query("SELECT version FROM slipway_migrations WHERE version = $1")
            .bind(migration.version)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_some() {
            continue;
        }
        if backend == Backend::Postgres {
            // A migration is the platform's own work: a statement that moves data must see every
            // tenant's rows, also when Slipway logs in as a table owner whose rows FORCE ROW LEVEL
            // SECURITY hides (only a superuser bypasses it). Local to this transaction.
            sqlx::query("SELECT set_config('slipway.platform', 'on', true)").execute(&mut *tx).await?;
        }
        tracing::info!(version = migration.version, name = migration.name, "applying migration");
        sqlx::raw_sql(migration.sql).execute(&mut *tx).await.map_err(|err| {
            StoreError::Config(format!("migration {} ({}) failed: {err}", migration.version, migration.name))
        })?;
        sqlx::query("INSERT INTO slipway_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(migration.version)
            .bind(migration.name)
            .bind(Timestamp::now().as_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    if backend == Backend::Postgres {
        // Re-granted every start so tables of later migrations are covered.
        conn.execute(
            "GRANT USAGE ON SCHEMA public TO slipway_app;
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO slipway_app",
        )
        .await?;
    }
    Ok(())
}
