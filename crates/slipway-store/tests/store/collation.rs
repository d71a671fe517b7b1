//! PostgreSQL only: listings on a database whose default collation is not
//! byte order, as on most installations (`en_US.UTF-8`, ICU). There, text
//! such as `~` sorts before letters, so a cursor bound must not assume
//! ASCII order.

use slipway_store::{SealingKey, Store};
use slipway_testkit::database::DEFAULT_TEST_DATABASE_URL;
use sqlx::{Connection, Executor};

use crate::support::*;

/// A PostgreSQL database with an ICU `en-US` default collation, dropped
/// again when the handle goes.
struct IcuDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl IcuDatabase {
    async fn create() -> Self {
        let admin_url =
            std::env::var("SLIPWAY_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned());
        sqlx::any::install_default_drivers();
        let mut admin = sqlx::AnyConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|err| panic!("PostgreSQL is required at {admin_url}: {err}"));
        let name = format!("slipway_test_icu_{:016x}", rand::random::<u64>());
        admin
            .execute(
                format!(
                    "CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' ENCODING 'UTF8' LOCALE 'C'"
                )
                .as_str(),
            )
            .await
            .unwrap_or_else(|err| panic!("creating an ICU-collated database {name}: {err}"));
        let url = match admin_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("SLIPWAY_TEST_DATABASE_URL must end in /DATABASE"),
        };
        Self { admin_url, name, url }
    }
}

impl Drop for IcuDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // As in `TestDatabase`: the test's runtime cannot block on itself.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let mut admin = sqlx::AnyConnection::connect(&admin_url).await.ok()?;
                admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await.ok()
            })
        })
        .join();
    }
}

#[tokio::test]
async fn newest_first_listings_work_under_a_non_byte_order_collation() {
    let db = IcuDatabase::create().await;
    let store = Store::connect(&db.url, SealingKey::generate()).await.unwrap();
    let owner = create_user(&store, "owner", false).await;
    let actor = actor_for(&owner);
    let ws = store.create_workspace(&actor, &owner.id, &ws_slug("acme"), "Acme").await.unwrap();
    store.create_project(&actor, &ws, new_project(&ws, "web")).await.unwrap();
    for _ in 0..3 {
        store.create_deployment(&actor, &ws.id, &project_slug("web"), &env_name("production"), None).await.unwrap();
    }

    let events = store.list_audit_events(&ws.id, &page(2, None)).await.unwrap();
    let actions: Vec<_> = events.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["deployment.create", "deployment.create"]);
    let rest = store.list_audit_events(&ws.id, &page(10, events.next)).await.unwrap();
    assert_eq!(rest.items.len(), 3);

    let deployments =
        store.list_deployments(&ws.id, &project_slug("web"), &env_name("production"), &page(10, None)).await.unwrap();
    let numbers: Vec<_> = deployments.items.iter().map(|d| d.number.get()).collect();
    assert_eq!(numbers, [3, 2, 1]);

    // Oldest-first listings, for completeness.
    assert_eq!(store.list_projects(&ws, &page(10, None)).await.unwrap().items.len(), 1);
    assert_eq!(store.list_workspaces(&owner, &page(10, None)).await.unwrap().items.len(), 1);
    store.close().await;
}
