//! ACME end to end against Pebble (Let's Encrypt's RFC 8555 test server, Debian package
//! `pebble`), with real HTTP-01 validation: Pebble resolves `app.test` through a dnsmasq this
//! test starts on a loopback port (every name → 127.0.0.1) and fetches the challenge from the
//! router's plain listener. Validation is not switched off.
//!
//! The CA is `slipway_testkit::pebble` (shared with `slipway up`'s ACME test); it needs `pebble`,
//! `dnsmasq` and `openssl` and fails naming them when missing. The issued certificate is checked
//! against Pebble's issuing root, fetched from its management endpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::support::{config, routes, Upstream};
use http::StatusCode;
use slipway_router::{needs_renewal, AcmeClientSettings, AcmeIssuer, CertStore, Challenges, RouteTable, RENEW_BEFORE};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const HOST: &str = "app.test";

fn reqwest_trusting(root_pem: &[u8]) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem).expect("root pem"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obtains_serves_and_renews_a_certificate_from_pebble() {
    slipway_testkit::init_logs();

    // The router: plain listener (HTTP-01) and TLS listener, sharing one certificate store.
    let app = Upstream::start("app").await;
    let table = RouteTable::default();
    table.replace(routes(&[(HOST, &[app.addr])]));
    let (certs, challenges) = (CertStore::default(), Challenges::default());
    let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind plain");
    let tls = TcpListener::bind("127.0.0.1:0").await.expect("bind tls");
    let (plain_port, tls_addr): (u16, SocketAddr) =
        (plain.local_addr().expect("addr").port(), tls.local_addr().expect("addr"));
    let (_stop, stopped) = oneshot::channel::<()>();
    let stopped = futures::future::FutureExt::shared(async move {
        let _ = stopped.await;
    });
    let plain_task = tokio::spawn(slipway_router::serve_http(
        plain,
        table.clone(),
        config(),
        certs.clone(),
        challenges.clone(),
        stopped.clone(),
    ));
    let tls_task = tokio::spawn(slipway_router::serve_tls(tls, table, config(), certs.clone(), stopped));

    let mut pebble = slipway_testkit::pebble::Pebble::prepare();
    pebble.start(plain_port).await;

    let mut acme = AcmeClientSettings::new(pebble.directory_url());
    acme.api_root_pem = Some(pebble.api_cert.clone());
    acme.timeout = Duration::from_secs(60);
    let issuer = AcmeIssuer::new(&acme, challenges.clone(), certs.clone()).await.expect("ACME account");

    let issued = issuer.obtain(HOST).await.expect("a certificate from pebble");
    assert!(certs.get(HOST).is_some(), "installed in the store");
    assert!(challenges.get("anything").is_none());

    let root_pem = pebble.root_pem().await;
    let client = || reqwest_trusting(&root_pem).resolve(HOST, tls_addr).build().expect("client");
    let url = format!("https://{HOST}:{}/", tls_addr.port());
    let reply = client().get(&url).send().await.expect("served over TLS with the ACME certificate");
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(reply.text().await.expect("body"), "app");

    // Renewal: not due now; due 29 days before expiry, when a new certificate replaces the old.
    let now = SystemTime::now();
    let leaf = issued.certified_key.end_entity_cert().expect("leaf").clone();
    assert!(!needs_renewal(&leaf, now, RENEW_BEFORE).expect("parse"));
    assert!(issuer.renew_if_due(HOST, now).await.expect("check").is_none());
    let later = issued.not_after - Duration::from_secs(29 * 24 * 60 * 60);
    assert!(needs_renewal(&leaf, later, RENEW_BEFORE).expect("parse"));
    let renewed = issuer.renew_if_due(HOST, later).await.expect("renewal").expect("renewed");
    let served = certs.get(HOST).expect("still has one");
    assert!(Arc::ptr_eq(&served, &renewed.certified_key));
    assert_ne!(served.end_entity_cert().expect("leaf").as_ref(), leaf.as_ref(), "a new certificate");
    let reply = client().get(&url).send().await.expect("served with the renewed certificate");
    assert_eq!(reply.status(), StatusCode::OK);

    // A restart restores the same account from its saved credentials and can order again.
    let restored = AcmeIssuer::restore(&acme, issuer.credentials_json(), challenges.clone(), certs.clone())
        .await
        .expect("restored account");
    let again = restored.obtain(HOST).await.expect("ordered with the restored account");
    assert!(Arc::ptr_eq(&certs.get(HOST).expect("installed"), &again.certified_key));

    plain_task.abort();
    tls_task.abort();
}
