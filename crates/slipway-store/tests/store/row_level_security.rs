//! PostgreSQL only: row-level security, proven with hand-written queries on
//! the store's own connections (which run as `slipway_app`). A query that
//! forgets its tenant filter must still see nothing of another tenant.

use slipway_core::names::ConfigVarName;
use slipway_core::role::Role;
use slipway_core::timestamp::Timestamp;
use slipway_store::Job;
use slipway_testkit::TestBackend;
use sqlx::{Any, Row, Transaction};

use crate::support::*;

/// A raw transaction on the store's pool, with the tenant setting (if any)
/// made exactly as the store makes it.
async fn as_tenant(f: &Fixture, workspace: Option<&str>) -> Transaction<'static, Any> {
    let mut tx = f.db.pool().await.begin().await.unwrap();
    if let Some(workspace) = workspace {
        sqlx::query("SELECT set_config('slipway.workspace_id', $1, true)")
            .bind(workspace)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx
}

async fn count(tx: &mut Transaction<'static, Any>, sql: &str, bind: Option<&str>) -> i64 {
    let mut query = sqlx::query(sql);
    if let Some(value) = bind {
        query = query.bind(value);
    }
    query.fetch_one(&mut **tx).await.unwrap().get(0)
}

#[tokio::test]
async fn row_level_security_hides_other_tenants_from_raw_queries() {
    let f = Fixture::new(TestBackend::Postgres).await;
    let a = f.workspace("alpha").await;
    let b = f.workspace("beta").await;
    f.project(&a, "web").await;
    f.project(&b, "api").await;
    let (a_id, b_id) = (a.id.as_str(), b.id.as_str());

    // The pool's connections act as slipway_app, which cannot bypass RLS.
    let user: String = sqlx::query("SELECT current_user::text").fetch_one(f.db.pool().await).await.unwrap().get(0);
    assert_eq!(user, slipway_store::POSTGRES_APP_ROLE);
    let row = sqlx::query("SELECT rolbypassrls, rolsuper FROM pg_roles WHERE rolname = 'slipway_app'")
        .fetch_one(f.db.pool().await)
        .await
        .unwrap();
    assert!(!row.get::<bool, _>("rolbypassrls"), "slipway_app must not bypass RLS");
    assert!(!row.get::<bool, _>("rolsuper"), "slipway_app must not be a superuser");

    // Both projects exist (the platform scope sees them), so zero below means hidden.
    let mut tx = f.raw_platform().await;
    assert_eq!(count(&mut tx, "SELECT count(*) FROM projects", None).await, 2);
    tx.commit().await.unwrap();

    // As B: A's project is invisible even when asked for by its workspace.
    let mut tx = as_tenant(&f, Some(b_id)).await;
    let rows =
        sqlx::query("SELECT * FROM projects WHERE workspace_id = $1").bind(a_id).fetch_all(&mut *tx).await.unwrap();
    assert_eq!(rows.len(), 0);
    let all = sqlx::query("SELECT workspace_id FROM projects").fetch_all(&mut *tx).await.unwrap();
    assert_eq!(all.len(), 1, "count(*) under B counts only B's");
    assert_eq!(all[0].get::<String, _>(0), b_id);
    assert_eq!(count(&mut tx, "SELECT count(*) FROM projects", None).await, 1);
    tx.commit().await.unwrap();

    // As A: the same query finds it.
    let mut tx = as_tenant(&f, Some(a_id)).await;
    let rows =
        sqlx::query("SELECT * FROM projects WHERE workspace_id = $1").bind(a_id).fetch_all(&mut *tx).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<String, _>("slug"), "web");
    tx.commit().await.unwrap();

    // With no setting at all: nothing, inside a transaction or outside one.
    let mut tx = as_tenant(&f, None).await;
    assert_eq!(count(&mut tx, "SELECT count(*) FROM projects WHERE workspace_id = $1", Some(a_id)).await, 0);
    assert_eq!(count(&mut tx, "SELECT count(*) FROM projects", None).await, 0);
    assert_eq!(count(&mut tx, "SELECT count(*) FROM workspaces", None).await, 0);
    tx.commit().await.unwrap();
    let outside: i64 = sqlx::query("SELECT count(*) FROM projects").fetch_one(f.db.pool().await).await.unwrap().get(0);
    assert_eq!(outside, 0);
}

#[tokio::test]
async fn row_level_security_refuses_writes_into_other_tenants() {
    let f = Fixture::new(TestBackend::Postgres).await;
    let a = f.workspace("alpha").await;
    let b = f.workspace("beta").await;
    f.project(&a, "web").await;
    let (a_id, b_id) = (a.id.as_str(), b.id.as_str());
    let insert = "INSERT INTO projects (id, workspace_id, slug, repo_url, branch, next_build_number, created_at)
                  VALUES ($1, $2, $3, NULL, 'main', 1, 0)";

    // WITH CHECK: B may not write a row that belongs to A.
    let mut tx = as_tenant(&f, Some(b_id)).await;
    let err = sqlx::query(insert)
        .bind(slipway_core::ids::ProjectId::generate().as_str())
        .bind(a_id)
        .bind("planted")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    let db = err.as_database_error().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(db.code().as_deref(), Some("42501"), "{db}");
    assert!(db.message().contains("row-level security"), "{db}");
    tx.rollback().await.unwrap();

    // The same statement for B's own workspace is accepted (then rolled back),
    // so it was the tenant that was refused, not the statement.
    let mut tx = as_tenant(&f, Some(b_id)).await;
    sqlx::query(insert)
        .bind(slipway_core::ids::ProjectId::generate().as_str())
        .bind(b_id)
        .bind("own")
        .execute(&mut *tx)
        .await
        .unwrap();
    // Updates and deletes of A's rows touch nothing; moving a row to A is refused.
    let updated = sqlx::query("UPDATE projects SET branch = 'pwned' WHERE workspace_id = $1")
        .bind(a_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 0);
    let deleted =
        sqlx::query("DELETE FROM projects WHERE workspace_id = $1").bind(a_id).execute(&mut *tx).await.unwrap();
    assert_eq!(deleted.rows_affected(), 0);
    let moved =
        sqlx::query("UPDATE projects SET workspace_id = $1 WHERE slug = 'own'").bind(a_id).execute(&mut *tx).await;
    assert!(moved.is_err(), "moving a row into another tenant must fail: {moved:?}");
    tx.rollback().await.unwrap();

    // An insert with no tenant setting is refused too.
    let mut tx = as_tenant(&f, None).await;
    let err = sqlx::query(insert)
        .bind(slipway_core::ids::ProjectId::generate().as_str())
        .bind(a_id)
        .bind("orphan")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(err.as_database_error().and_then(|db| db.code()).as_deref(), Some("42501"));
    tx.rollback().await.unwrap();

    let web = f.store.project(&a, &project_slug("web")).await.unwrap();
    assert_eq!(web.branch, "main");
    assert_eq!(f.store.list_projects(&a, &page(10, None)).await.unwrap().items.len(), 1);
    assert!(f.store.list_projects(&b, &page(10, None)).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn every_tenant_table_is_isolated() {
    let f = Fixture::new(TestBackend::Postgres).await;
    let a = f.workspace("alpha").await;
    let b = f.workspace("beta").await;
    let bob = f.user("bob").await;
    // A row of A in every tenant-owned table.
    f.project(&a, "web").await;
    f.store.add_member(&f.actor, &a.id, &bob, Role::Viewer).await.unwrap();
    let var = [(ConfigVarName::parse("KEY").unwrap(), "value".to_owned())];
    f.store.set_config(&f.actor, &a.id, &project_slug("web"), &env_name("production"), &var, true).await.unwrap();
    f.store.create_deployment(&f.actor, &a.id, &project_slug("web"), &env_name("production"), None).await.unwrap();
    let job = Job::Deploy { workspace: a.id.clone(), deployment: slipway_core::ids::DeploymentId::generate() };
    f.store.enqueue_job(&job, 1, Timestamp::now()).await.unwrap();

    let tables = [
        ("workspaces", "id"),
        ("memberships", "workspace_id"),
        ("projects", "workspace_id"),
        ("environments", "workspace_id"),
        ("routes", "workspace_id"),
        ("config_vars", "workspace_id"),
        ("deployments", "workspace_id"),
        ("audit_events", "workspace_id"),
        ("jobs", "workspace_id"),
    ];
    for (table, key) in tables {
        let sql = format!("SELECT count(*) FROM {table} WHERE {key} = $1");
        let mut tx = f.raw_platform().await;
        assert!(count(&mut tx, &sql, Some(a.id.as_str())).await > 0, "{table}: no row of A to hide");
        tx.commit().await.unwrap();
        let mut tx = as_tenant(&f, Some(a.id.as_str())).await;
        assert!(count(&mut tx, &sql, Some(a.id.as_str())).await > 0, "{table}: A cannot see its own rows");
        tx.commit().await.unwrap();
        let mut tx = as_tenant(&f, Some(b.id.as_str())).await;
        assert_eq!(count(&mut tx, &sql, Some(a.id.as_str())).await, 0, "{table}: B sees A's rows");
        tx.commit().await.unwrap();
    }
}
