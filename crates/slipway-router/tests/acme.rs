//! ACME end to end against Pebble (Let's Encrypt's RFC 8555 test server, Debian package
//! `pebble`), with real HTTP-01 validation: Pebble resolves `app.test` through a dnsmasq this
//! test starts on a loopback port (every name → 127.0.0.1) and fetches the challenge from the
//! router's plain listener. Validation is not switched off.
//!
//! Needs `pebble` and `dnsmasq` on PATH (`apt-get install -y pebble dnsmasq`); fails with that
//! message otherwise. Debian's package ships no TLS certificate for Pebble's own API, so the
//! test makes one with rcgen and trusts it for the API; the issued certificate is checked
//! against Pebble's issuing root, fetched from its management endpoint.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::StatusCode;
use slipway_router::{needs_renewal, AcmeConfig, AcmeIssuer, CertStore, Challenges, RouteTable, RENEW_BEFORE};
use support::{config, routes, Upstream};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

const HOST: &str = "app.test";

fn require(binary: &str) -> String {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin"] {
        let path = Path::new(dir).join(binary);
        if path.is_file() {
            return path.display().to_string();
        }
    }
    panic!("`{binary}` is not installed: the ACME test needs it (apt-get install -y pebble dnsmasq)");
}

/// A loopback port that nothing listens on right now, for the servers that take a port number
/// rather than a listening socket (Pebble, dnsmasq): the OS picks it, as binding port 0 does.
fn free_port(udp: bool) -> u16 {
    if udp {
        std::net::UdpSocket::bind("127.0.0.1:0").and_then(|socket| socket.local_addr()).expect("udp port").port()
    } else {
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|socket| socket.local_addr()).expect("tcp port").port()
    }
}

async fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not listen on 127.0.0.1:{port}");
}

fn reqwest_trusting(root_pem: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem.as_bytes()).expect("root pem"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obtains_serves_and_renews_a_certificate_from_pebble() {
    support::init_logs();
    let (pebble_bin, dnsmasq_bin) = (require("pebble"), require("dnsmasq"));
    let dir = tempfile::tempdir().expect("tempdir");

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

    // dnsmasq: every name is 127.0.0.1.
    let dns_port = free_port(true);
    let mut dnsmasq = Command::new(&dnsmasq_bin)
        .args(["--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file="])
        .args(["--listen-address=127.0.0.1", "--bind-interfaces", "--address=/#/127.0.0.1"])
        .arg(format!("--port={dns_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start dnsmasq");
    // dnsmasq also listens on TCP on its port.
    wait_for_port(dns_port, &mut dnsmasq, "dnsmasq").await;

    // Pebble, with an API certificate of our own (Debian ships none).
    let api_key = rcgen::KeyPair::generate().expect("key");
    let api_cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("params")
        .self_signed(&api_key)
        .expect("api cert");
    let (api_cert_path, api_key_path) = (dir.path().join("api.pem"), dir.path().join("api-key.pem"));
    std::fs::write(&api_cert_path, api_cert.pem()).expect("write");
    std::fs::write(&api_key_path, api_key.serialize_pem()).expect("write");
    let (api_port, management_port, tls_port) = (free_port(false), free_port(false), free_port(false));
    let pebble_config = serde_json::json!({
        "pebble": {
            "listenAddress": format!("127.0.0.1:{api_port}"),
            "managementListenAddress": format!("127.0.0.1:{management_port}"),
            "certificate": api_cert_path,
            "privateKey": api_key_path,
            "httpPort": plain_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }
    });
    let config_path = dir.path().join("pebble.json");
    std::fs::write(&config_path, pebble_config.to_string()).expect("write");
    let mut pebble = Command::new(&pebble_bin)
        .arg("-config")
        .arg(&config_path)
        .arg("-dnsserver")
        .arg(format!("127.0.0.1:{dns_port}"))
        // Validate at once instead of after a random pause, and never reject nonces at random
        // (both are Pebble's chaos settings, not validation).
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("TEST_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
        .kill_on_drop(true)
        .spawn()
        .expect("start pebble");
    wait_for_port(api_port, &mut pebble, "pebble").await;
    wait_for_port(management_port, &mut pebble, "pebble management").await;

    let mut acme = AcmeConfig::new(format!("https://127.0.0.1:{api_port}/dir"));
    acme.api_root_pem = Some(api_cert_path.clone());
    acme.timeout = Duration::from_secs(60);
    let issuer = AcmeIssuer::new(&acme, challenges.clone(), certs.clone()).await.expect("ACME account");

    let issued = issuer.obtain(HOST).await.expect("a certificate from pebble");
    assert!(certs.get(HOST).is_some(), "installed in the store");
    assert!(challenges.get("anything").is_none());

    // Pebble's issuing root, from its management endpoint.
    let management = reqwest_trusting(&api_cert.pem()).build().expect("client");
    let root_pem = management
        .get(format!("https://127.0.0.1:{management_port}/roots/0"))
        .send()
        .await
        .expect("pebble root")
        .text()
        .await
        .expect("root pem");

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
    let _ = pebble.kill().await;
    let _ = dnsmasq.kill().await;
}
