//! TLS state of routes: HTTPS-redirect flags and the certificates the agent stores.

use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use slipway_testkit::TestBackend;
use sqlx::Row;

use crate::support::*;

both_backends!(
    a_stored_certificate_is_sealed_replaced_and_removed_with_its_domain,
    https_redirect_flags_are_per_hostname_audited_and_scoped_to_the_environment,
);

const CHAIN: &str = "-----BEGIN CERTIFICATE-----\nchain\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nsecret-key-material\n-----END PRIVATE KEY-----\n";

async fn a_stored_certificate_is_sealed_replaced_and_removed_with_its_domain(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "shop").await;
    f.store
        .add_domain(&f.actor, &ws, &project_slug("shop"), &env_name("production"), &custom_domain("shop.example.com"))
        .await
        .unwrap();
    let system = slipway_store::Actor::system("acme");

    let routes = f.store.tls_routes().await.unwrap();
    let hosts: Vec<_> = routes.iter().map(|r| (r.hostname.as_str(), r.certificate_updated_at)).collect();
    assert_eq!(hosts, [("shop-acme.localhost", None), ("shop.example.com", None)]);

    let expiry = Timestamp::from_millis(1_900_000_000_000);
    assert!(f.store.save_certificate(&system, "shop.example.com", CHAIN, KEY, expiry).await.unwrap());
    let stored = f.store.certificate("shop.example.com").await.unwrap().expect("stored");
    assert_eq!((stored.cert_chain_pem.as_str(), stored.key_pem.as_str()), (CHAIN, KEY));
    assert_eq!(stored.not_after, expiry);
    assert!(!format!("{stored:?}").contains("secret-key-material"), "Debug never shows the key");

    // Sealed at rest: the key's text is nowhere in the table.
    let mut tx = f.raw_platform().await;
    let sealed: String = sqlx::query("SELECT sealed_key FROM certificates").fetch_one(&mut *tx).await.unwrap().get(0);
    assert!(!sealed.contains("secret-key-material"));
    drop(tx);

    // A replacement always moves the stamp on, so the agent reloads it.
    let first = f.store.tls_routes().await.unwrap()[1].certificate_updated_at.expect("a stamp");
    assert!(f.store.save_certificate(&system, "shop.example.com", CHAIN, "other key", expiry).await.unwrap());
    let second = f.store.tls_routes().await.unwrap()[1].certificate_updated_at.expect("a stamp");
    assert!(second > first, "{second} > {first}");
    assert_eq!(f.store.certificate("shop.example.com").await.unwrap().unwrap().key_pem, "other key");

    // A hostname nobody routes gets nothing stored.
    assert!(!f.store.save_certificate(&system, "nobody.example.com", CHAIN, KEY, expiry).await.unwrap());
    assert!(f.store.certificate("nobody.example.com").await.unwrap().is_none());

    // Removing the domain removes its certificate.
    f.store
        .remove_domain(&f.actor, &ws, &project_slug("shop"), &env_name("production"), "shop.example.com")
        .await
        .unwrap();
    assert!(f.store.certificate("shop.example.com").await.unwrap().is_none());
    let actions: Vec<_> = f.audit_rows().await.into_iter().map(|row| row.action).collect();
    assert_eq!(actions.iter().filter(|action| *action == "certificate.issue").count(), 2);
}

async fn https_redirect_flags_are_per_hostname_audited_and_scoped_to_the_environment(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "shop").await;
    f.project(&ws, "blog").await;

    let env = f
        .store
        .set_https_redirect(&f.actor, &ws, &project_slug("shop"), &env_name("production"), "shop-acme.localhost", true)
        .await
        .unwrap();
    assert_eq!(env.https_redirects, ["shop-acme.localhost"]);
    let routes = f.store.tls_routes().await.unwrap();
    let flags: Vec<_> = routes.iter().map(|r| (r.hostname.as_str(), r.https_redirect)).collect();
    assert_eq!(flags, [("blog-acme.localhost", false), ("shop-acme.localhost", true)]);
    let project = f.store.project(&ws, &project_slug("shop")).await.unwrap();
    assert_eq!(project.environments[0].https_redirects, ["shop-acme.localhost"]);

    // Another environment's hostname, or one that does not exist: not found, nothing changes.
    let before = f.audit_rows().await;
    let wrong = f
        .store
        .set_https_redirect(&f.actor, &ws, &project_slug("shop"), &env_name("production"), "blog-acme.localhost", true)
        .await;
    assert_eq!(not_found(wrong), ErrorCode::DomainNotFound);
    let missing = f
        .store
        .set_https_redirect(&f.actor, &ws, &project_slug("shop"), &env_name("production"), "nope.example.com", true)
        .await;
    assert_eq!(not_found(missing), ErrorCode::DomainNotFound);
    assert!(f.audit_rows_since(&before).await.is_empty());
    assert!(!f.store.tls_routes().await.unwrap()[0].https_redirect);

    let env = f
        .store
        .set_https_redirect(&f.actor, &ws, &project_slug("shop"), &env_name("production"), "shop-acme.localhost", false)
        .await
        .unwrap();
    assert!(env.https_redirects.is_empty());
    let actions: Vec<_> = f.audit_rows().await.into_iter().map(|row| row.action).collect();
    assert!(actions.contains(&"domain.https_redirect.on".to_owned()), "{actions:?}");
    assert!(actions.contains(&"domain.https_redirect.off".to_owned()), "{actions:?}");
}
