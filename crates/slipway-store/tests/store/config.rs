//! Config vars: masked for people, clear for instances, sealed at rest.

use slipway_core::api::{ConfigVar, Workspace};
use slipway_core::names::ConfigVarName;
use slipway_core::ErrorCode;
use slipway_store::{SealingKey, Store, StoreError};
use slipway_testkit::TestBackend;
use sqlx::Row;

use crate::support::*;

both_backends!(
    config_vars_are_set_listed_and_unset,
    secrets_are_masked_in_lists_but_clear_for_instances,
    values_are_sealed_at_rest,
    unsetting_a_missing_name_removes_nothing,
    a_store_with_another_sealing_key_refuses_to_read,
    config_of_unknown_projects_and_environments_is_not_found,
);

fn name(text: &str) -> ConfigVarName {
    ConfigVarName::parse(text).unwrap()
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(ConfigVarName, String)> {
    pairs.iter().map(|(n, v)| (name(n), (*v).to_owned())).collect()
}

/// What `list_config` shows for project `shop`, as plain tuples.
async fn listed(store: &Store, ws: &Workspace, env: &str) -> Vec<(String, Option<String>, bool)> {
    store
        .list_config(&ws.id, &project_slug("shop"), &env_name(env))
        .await
        .unwrap()
        .into_iter()
        .map(|var| (var.name.to_string(), var.value, var.secret))
        .collect()
}

/// Sets config vars of project `shop`'s production environment.
async fn set(f: &Fixture, ws: &Workspace, pairs: &[(&str, &str)], secret: bool) -> Result<Vec<ConfigVar>, StoreError> {
    f.store.set_config(&f.actor, &ws.id, &project_slug("shop"), &env_name("production"), &vars(pairs), secret).await
}

async fn config_vars_are_set_listed_and_unset(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "shop").await;
    f.store
        .create_environment(
            &f.actor,
            &ws,
            &project_slug("shop"),
            &env_name("staging"),
            &generated("acme", "shop", "staging"),
        )
        .await
        .unwrap();

    let returned = f
        .store
        .set_config(
            &f.actor,
            &ws.id,
            &project_slug("shop"),
            &env_name("production"),
            &vars(&[("B_VAR", "2"), ("A_VAR", "1")]),
            false,
        )
        .await
        .unwrap();
    let returned: Vec<_> = returned.into_iter().map(|v| (v.name.to_string(), v.value)).collect();
    assert_eq!(returned, [("A_VAR".to_owned(), Some("1".to_owned())), ("B_VAR".to_owned(), Some("2".to_owned()))]);

    // Setting again replaces the value and keeps one row per name.
    f.store
        .set_config(&f.actor, &ws.id, &project_slug("shop"), &env_name("production"), &vars(&[("A_VAR", "one")]), false)
        .await
        .unwrap();
    assert_eq!(
        listed(&f.store, &ws, "production").await,
        [("A_VAR".to_owned(), Some("one".to_owned()), false), ("B_VAR".to_owned(), Some("2".to_owned()), false)]
    );
    // Environments do not share config.
    assert!(listed(&f.store, &ws, "staging").await.is_empty());

    let left = f
        .store
        .unset_config(&f.actor, &ws.id, &project_slug("shop"), &env_name("production"), &[name("A_VAR")])
        .await
        .unwrap();
    assert_eq!(left.iter().map(|v| v.name.to_string()).collect::<Vec<_>>(), ["B_VAR"]);
    assert_eq!(config_in_clear(&f.store, &ws.id, "shop", "production").await.unwrap(), vars(&[("B_VAR", "2")]));
}

async fn secrets_are_masked_in_lists_but_clear_for_instances(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "shop").await;
    let returned = set(&f, &ws, &[("API_KEY", "sk-live-123")], true).await.unwrap();
    assert_eq!(returned.len(), 1);
    assert_eq!((returned[0].value.as_deref(), returned[0].secret), (None, true));
    set(&f, &ws, &[("LOG_LEVEL", "debug")], false).await.unwrap();

    assert_eq!(
        listed(&f.store, &ws, "production").await,
        [("API_KEY".to_owned(), None, true), ("LOG_LEVEL".to_owned(), Some("debug".to_owned()), false)]
    );
    assert_eq!(
        config_in_clear(&f.store, &ws.id, "shop", "production").await.unwrap(),
        vars(&[("API_KEY", "sk-live-123"), ("LOG_LEVEL", "debug")])
    );

    // A plain value set again as a secret becomes masked, and back.
    set(&f, &ws, &[("LOG_LEVEL", "info")], true).await.unwrap();
    set(&f, &ws, &[("API_KEY", "sk-live-456")], false).await.unwrap();
    assert_eq!(
        listed(&f.store, &ws, "production").await,
        [("API_KEY".to_owned(), Some("sk-live-456".to_owned()), false), ("LOG_LEVEL".to_owned(), None, true)]
    );
}

async fn values_are_sealed_at_rest(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "shop").await;
    let plain = [("DATABASE_URL", "postgres://app:plaintext-password@db/app"), ("GREETING", "hello-plaintext")];
    f.store
        .set_config(&f.actor, &ws.id, &project_slug("shop"), &env_name("production"), &vars(&plain[..1]), true)
        .await
        .unwrap();
    f.store
        .set_config(&f.actor, &ws.id, &project_slug("shop"), &env_name("production"), &vars(&plain[1..]), false)
        .await
        .unwrap();

    let mut tx = f.raw_platform().await;
    let rows =
        sqlx::query("SELECT name, sealed_value FROM config_vars ORDER BY name").fetch_all(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(rows.len(), 2, "the raw query must see the rows it checks");
    for (row, (name, value)) in rows.iter().zip(plain) {
        let sealed: String = row.get("sealed_value");
        assert_eq!(row.get::<String, _>("name"), name);
        assert!(!sealed.contains(value), "{name} is stored in clear: {sealed}");
        assert!(!sealed.contains("plaintext"), "{name} leaks part of its value: {sealed}");
        assert!(sealed.len() > value.len(), "{name}: a sealed value carries a nonce and a tag");
    }
    // The same value sealed twice differs (fresh nonce).
    f.store
        .set_config(&f.actor, &ws.id, &project_slug("shop"), &env_name("production"), &vars(&plain[1..]), false)
        .await
        .unwrap();
    let mut tx = f.raw_platform().await;
    let resealed: String = sqlx::query("SELECT sealed_value FROM config_vars WHERE name = 'GREETING'")
        .fetch_one(&mut *tx)
        .await
        .unwrap()
        .get(0);
    tx.commit().await.unwrap();
    assert_ne!(resealed, rows[1].get::<String, _>("sealed_value"));
}

async fn unsetting_a_missing_name_removes_nothing(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "shop").await;
    f.store
        .set_config(
            &f.actor,
            &ws.id,
            &project_slug("shop"),
            &env_name("production"),
            &vars(&[("KEEP", "k"), ("ALSO", "a")]),
            false,
        )
        .await
        .unwrap();
    let before = f.audit_rows().await;

    let result = f
        .store
        .unset_config(
            &f.actor,
            &ws.id,
            &project_slug("shop"),
            &env_name("production"),
            &[name("KEEP"), name("MISSING")],
        )
        .await;
    assert_eq!(not_found(result), ErrorCode::ConfigVarNotFound);

    assert_eq!(
        config_in_clear(&f.store, &ws.id, "shop", "production").await.unwrap(),
        vars(&[("ALSO", "a"), ("KEEP", "k")])
    );
    assert!(f.audit_rows_since(&before).await.is_empty());
}

async fn a_store_with_another_sealing_key_refuses_to_read(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let key = SealingKey::generate();
    let store = Store::connect(&f.db.url, key.clone()).await.unwrap();
    let ws = f.workspace("acme").await;
    f.project(&ws, "shop").await;
    store
        .set_config(
            &f.actor,
            &ws.id,
            &project_slug("shop"),
            &env_name("production"),
            &vars(&[("TOKEN", "s3cret")]),
            true,
        )
        .await
        .unwrap();

    let stranger = Store::connect(&f.db.url, SealingKey::generate()).await.unwrap();
    match config_in_clear(&stranger, &ws.id, "shop", "production").await {
        Err(StoreError::Corrupt(message)) => assert!(!message.contains("s3cret"), "{message}"),
        other => panic!("expected StoreError::Corrupt, got {other:?}"),
    }
    assert!(matches!(
        stranger.list_config(&ws.id, &project_slug("shop"), &env_name("production")).await,
        Err(StoreError::Corrupt(_))
    ));
    // The fixture's own store has yet another key: same refusal.
    assert!(matches!(config_in_clear(&f.store, &ws.id, "shop", "production").await, Err(StoreError::Corrupt(_))));

    // The right key, in a store connected later, reads the value.
    let again = Store::connect(&f.db.url, SealingKey::from_base64(&key.to_base64()).unwrap()).await.unwrap();
    assert_eq!(config_in_clear(&again, &ws.id, "shop", "production").await.unwrap(), vars(&[("TOKEN", "s3cret")]));
    for s in [store, stranger, again] {
        s.close().await;
    }
}

async fn config_of_unknown_projects_and_environments_is_not_found(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "shop").await;
    let one = vars(&[("X", "1")]);

    assert_eq!(
        not_found(
            f.store.set_config(&f.actor, &ws.id, &project_slug("nope"), &env_name("production"), &one, false).await
        ),
        ErrorCode::ProjectNotFound
    );
    assert_eq!(
        not_found(f.store.set_config(&f.actor, &ws.id, &project_slug("shop"), &env_name("qa"), &one, false).await),
        ErrorCode::EnvironmentNotFound
    );
    assert_eq!(
        not_found(f.store.list_config(&ws.id, &project_slug("shop"), &env_name("qa")).await),
        ErrorCode::EnvironmentNotFound
    );
    assert_eq!(not_found(config_in_clear(&f.store, &ws.id, "nope", "production").await), ErrorCode::ProjectNotFound);
    assert_eq!(
        not_found(f.store.unset_config(&f.actor, &ws.id, &project_slug("shop"), &env_name("qa"), &[name("X")]).await),
        ErrorCode::EnvironmentNotFound
    );
}
