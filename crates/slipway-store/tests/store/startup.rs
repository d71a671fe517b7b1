//! Connecting: migrations that can run again, and errors that name the
//! database without its password.

use slipway_core::names::ConfigVarName;
use slipway_store::{SealingKey, Store, StoreError};
use slipway_testkit::{TestBackend, TestDatabase};
use sqlx::Row;

use crate::support::*;

both_backends!(
    reconnecting_applies_no_migration_twice_and_keeps_the_data,
    stores_starting_together_migrate_once,
    a_database_newer_than_this_build_is_refused,
);

/// The migrations the database records, as any store opened on it sees them.
async fn migrations(db: &TestDatabase) -> Vec<i64> {
    sqlx::query("SELECT version FROM slipway_migrations ORDER BY version")
        .fetch_all(db.pool().await)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

fn expected_migrations(backend: TestBackend) -> Vec<i64> {
    match backend {
        TestBackend::Sqlite => vec![1, 3, 5, 7, 8, 10, 11, 12, 13],
        TestBackend::Postgres => vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
    }
}

async fn reconnecting_applies_no_migration_twice_and_keeps_the_data(backend: TestBackend) {
    let db = TestDatabase::create(backend).await;
    let key = SealingKey::generate();
    let first = Store::connect(&db.url, key.clone()).await.unwrap();
    let owner = create_user(&first, "owner", false).await;
    let actor = actor_for(&owner);
    let ws = first.create_workspace(&actor, &owner.id, &ws_slug("acme"), "Acme").await.unwrap();
    let project = first.create_project(&actor, &ws, new_project(&ws, "shop")).await.unwrap();
    let var = [(ConfigVarName::parse("KEY").unwrap(), "value".to_owned())];
    first.set_config(&actor, &ws.id, &project_slug("shop"), &env_name("production"), &var, true).await.unwrap();
    assert_eq!(migrations(&db).await, expected_migrations(backend));

    // A second store while the first is open, then a third after both closed.
    let second = Store::connect(&db.url, key.clone()).await.unwrap();
    assert_eq!(migrations(&db).await, expected_migrations(backend));
    assert_eq!(second.project(&ws, &project_slug("shop")).await.unwrap().id, project.id);
    first.close().await;
    second.close().await;
    let third = Store::connect(&db.url, key).await.unwrap();
    third.ping().await.unwrap();
    assert_eq!(migrations(&db).await, expected_migrations(backend));
    let access = third.access(&ws_slug("acme"), &owner).await.unwrap();
    assert_eq!(access.id(), &ws.id);
    assert_eq!(config_in_clear(&third, &ws.id, "shop", "production").await.unwrap(), var);
    assert_eq!(third.list_members(&ws.id).await.unwrap().len(), 1);
    third.close().await;
}

async fn stores_starting_together_migrate_once(backend: TestBackend) {
    let db = TestDatabase::create(backend).await;
    let key = SealingKey::generate();
    let (one, two, three) = tokio::join!(
        Store::connect(&db.url, key.clone()),
        Store::connect(&db.url, key.clone()),
        Store::connect(&db.url, key.clone()),
    );
    let stores = [one.unwrap(), two.unwrap(), three.unwrap()];
    assert_eq!(migrations(&db).await, expected_migrations(backend));
    let owner = create_user(&stores[1], "owner", false).await;
    let ws = stores[2].create_workspace(&actor_for(&owner), &owner.id, &ws_slug("acme"), "Acme").await.unwrap();
    assert_eq!(stores[0].access(&ws_slug("acme"), &owner).await.unwrap().id(), &ws.id);
    for store in stores {
        store.close().await;
    }
}

async fn a_database_newer_than_this_build_is_refused(backend: TestBackend) {
    let db = TestDatabase::create(backend).await;
    let store = db.store().await;
    sqlx::query("INSERT INTO slipway_migrations (version, name, applied_at) VALUES (99, 'future', 0)")
        .execute(db.pool().await)
        .await
        .unwrap();
    store.close().await;

    match Store::connect(&db.url, SealingKey::generate()).await {
        Err(StoreError::Config(message)) => assert!(message.contains("newer"), "{message}"),
        other => panic!("expected StoreError::Config, got {other:?}"),
    }
}

/// The error for an unreachable database, with what it shows.
async fn unreachable(url: &str) -> String {
    match Store::connect(url, SealingKey::generate()).await {
        Err(err @ StoreError::Unreachable { .. }) => {
            let mut shown = format!("{err} {err:?}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                shown.push_str(&format!(" {cause} {cause:?}"));
                source = cause.source();
            }
            shown
        }
        other => panic!("expected StoreError::Unreachable for {url}, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_postgres_is_reported_without_its_password() {
    let shown = unreachable("postgres://postgres@127.0.0.1:1/postgres").await;
    assert!(shown.contains("127.0.0.1:1"), "the message names the server: {shown}");

    let shown = unreachable("postgres://u:hunter2@127.0.0.1:1/x").await;
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("postgres://127.0.0.1:1/x"), "{shown}");

    // sqlx also takes the password as a query parameter.
    let shown = unreachable("postgres://u@127.0.0.1:1/x?password=hunter2&sslmode=disable").await;
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("127.0.0.1:1"), "{shown}");
}

#[tokio::test]
async fn an_unopenable_sqlite_file_is_reported_as_unreachable() {
    let missing = std::env::temp_dir().join("slipway-no-such-dir").join("deeper").join("slipway.db");
    let url = format!("sqlite://{}?mode=rwc", missing.display());
    let shown = unreachable(&url).await;
    assert!(shown.contains("slipway.db"), "{shown}");
}

#[tokio::test]
async fn an_unknown_database_scheme_is_a_config_error() {
    match Store::connect("mysql://root:hunter2@localhost/db", SealingKey::generate()).await {
        Err(StoreError::Config(message)) => {
            assert!(message.contains("sqlite://") && !message.contains("hunter2"), "{message}");
        }
        other => panic!("expected StoreError::Config, got {other:?}"),
    }
}
