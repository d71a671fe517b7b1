//! Every row of every table, for tests that prove a refused request
//! changed nothing.

use std::collections::BTreeMap;

use sqlx::{Connection, Row};

use super::harness::TestApp;

/// Every table with every column, so that a dump shows any change at all.
const TABLES: &[(&str, &str)] = &[
    ("users", "id, username, email, password_hash, is_admin, created_at"),
    ("api_tokens", "id, user_id, name, kind, token_hash, created_at, expires_at, revoked_at"),
    ("workspaces", "id, slug, name, created_at"),
    ("memberships", "workspace_id, user_id, role, created_at"),
    ("projects", "id, workspace_id, slug, repo_url, branch, next_build_number, build_timeout_seconds, created_at"),
    ("environments", "id, workspace_id, project_id, name, target, created_at"),
    ("routes", "hostname, workspace_id, environment_id, kind, created_at"),
    ("config_vars", "workspace_id, environment_id, name, sealed_value, secret, updated_at"),
    (
        "deployments",
        "id, workspace_id, project_id, environment_id, number, status, commit_sha, \
         failure_reason, created_by, created_at, updated_at",
    ),
    ("audit_events", "id, workspace_id, actor_id, actor, action, target, request_id, created_at"),
    (
        "jobs",
        "id, workspace_id, kind, payload, status, attempts, max_attempts, run_after, \
         lease_owner, lease_expires_at, last_error, created_at, updated_at",
    ),
];

/// Every row of every table, as text. Read over a connection of its own
/// (on PostgreSQL as the superuser, so row-level security hides nothing).
pub async fn dump(app: &TestApp) -> BTreeMap<&'static str, Vec<Vec<Option<String>>>> {
    let mut conn = sqlx::AnyConnection::connect(&app.db_url).await.expect("connecting to the test database");
    let mut tables = BTreeMap::new();
    for (table, columns) in TABLES {
        let select: Vec<String> = columns.split(',').map(|c| format!("CAST({c} AS TEXT)", c = c.trim())).collect();
        let sql = format!("SELECT {} FROM {table}", select.join(", "));
        let rows = sqlx::query(&sql).fetch_all(&mut conn).await.unwrap_or_else(|err| panic!("{sql}: {err}"));
        let mut rows: Vec<Vec<Option<String>>> = rows
            .iter()
            .map(|row| (0..select.len()).map(|i| row.try_get::<Option<String>, _>(i).expect("a text column")).collect())
            .collect();
        rows.sort();
        tables.insert(*table, rows);
    }
    conn.close().await.ok();
    tables
}
