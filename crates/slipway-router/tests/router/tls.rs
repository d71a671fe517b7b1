//! TLS end to end over real sockets on 127.0.0.1: SNI selection, HTTP/1.1 and HTTP/2 (ALPN)
//! with real TLS clients, a name without a certificate, certificates replaced while serving,
//! the local development CA, and the plain listener's HTTPS redirects and ACME challenges.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::support::{config, routes, Upstream};
use http::StatusCode;
use rustls::pki_types::{CertificateDer, ServerName};
use slipway_router::{certified_key_from_pem, CertStore, Challenges, LocalCa, RouteTable, RouterSettings};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

/// A test CA that signs leaf certificates; clients trust its PEM.
struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl TestCa {
    fn new() -> TestCa {
        let key = rcgen::KeyPair::generate().expect("ca key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "slipway test CA");
        let cert = params.self_signed(&key).expect("ca cert");
        TestCa { pem: cert.pem(), issuer: rcgen::Issuer::new(params, key) }
    }

    /// A certificate for `names`, as the router serves it, and its DER for comparisons.
    fn leaf(&self, names: &[&str]) -> (Arc<rustls::sign::CertifiedKey>, CertificateDer<'static>) {
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let params = rcgen::CertificateParams::new(names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>())
            .expect("leaf params");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf cert");
        let certified = certified_key_from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).expect("usable");
        (certified, cert.der().clone())
    }
}

struct TlsRouter {
    addr: SocketAddr,
    _shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Drop for TlsRouter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_tls(table: RouteTable, certs: CertStore) -> TlsRouter {
    slipway_testkit::init_logs();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(slipway_router::serve_tls(listener, table, config(), certs, async move {
        let _ = rx.await;
    }));
    TlsRouter { addr, _shutdown: tx, task }
}

fn client(ca_pem: &str, host: &str, addr: SocketAddr, http1_only: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("ca pem"))
        .resolve(host, addr);
    if http1_only {
        builder = builder.http1_only();
    }
    builder.build().expect("client")
}

/// Connects with SNI `server_name`, trusting `ca_pem`; returns the certificate the router served.
async fn handshake(
    addr: SocketAddr,
    ca_pem: &str,
    server_name: &str,
) -> Result<(CertificateDer<'static>, tokio_rustls::client::TlsStream<TcpStream>), std::io::Error> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("ca pem")).expect("add root");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(server_name.to_owned()).expect("name");
    let tls = TlsConnector::from(Arc::new(config)).connect(name, tcp).await?;
    let served = tls.get_ref().1.peer_certificates().expect("a certificate")[0].clone();
    Ok((served, tls))
}

#[tokio::test]
async fn serves_http1_and_http2_over_tls_with_forwarded_proto_https() {
    let shop = Upstream::start("shop").await;
    let table = RouteTable::default();
    table.replace(routes(&[("shop.example", &[shop.addr])]));
    let ca = TestCa::new();
    let certs = CertStore::default();
    certs.insert("shop.example", ca.leaf(&["shop.example"]).0);
    let router = start_tls(table, certs).await;
    let url = format!("https://shop.example:{}/", router.addr.port());

    let reply = client(&ca.pem, "shop.example", router.addr, true).get(&url).send().await.expect("HTTP/1.1 over TLS");
    assert_eq!((reply.status(), reply.version()), (StatusCode::OK, http::Version::HTTP_11));
    assert_eq!(reply.text().await.expect("body"), "shop");
    let seen = shop.state.last_headers.lock().expect("lock").clone().expect("a request reached shop");
    assert_eq!(seen["x-forwarded-proto"], "https");
    assert_eq!(seen["host"], format!("shop.example:{}", router.addr.port()));

    let http2 = client(&ca.pem, "shop.example", router.addr, false);
    for _ in 0..3 {
        let reply = http2.get(&url).send().await.expect("HTTP/2 over TLS");
        assert_eq!((reply.status(), reply.version()), (StatusCode::OK, http::Version::HTTP_2));
        assert_eq!(reply.text().await.expect("body"), "shop");
    }
    let seen = shop.state.last_headers.lock().expect("lock").clone().expect("a request reached shop");
    assert_eq!(seen["x-forwarded-proto"], "https");
    // The app gets HTTP/1.1 with a Host header, whatever the client spoke.
    assert_eq!(seen["host"], format!("shop.example:{}", router.addr.port()));
}

#[tokio::test]
async fn sni_picks_the_certificate_and_a_name_without_one_fails_the_handshake_only() {
    let ca = TestCa::new();
    let certs = CertStore::default();
    let (shop, shop_der) = ca.leaf(&["shop.example"]);
    let (wild, wild_der) = ca.leaf(&["*.apps.example"]);
    certs.insert("shop.example", shop);
    certs.insert("*.apps.example", wild);
    let router = start_tls(RouteTable::default(), certs).await;

    let (served, _) = handshake(router.addr, &ca.pem, "shop.example").await.expect("shop handshake");
    assert_eq!(served, shop_der);
    let (served, _) = handshake(router.addr, &ca.pem, "blog.apps.example").await.expect("wildcard handshake");
    assert_eq!(served, wild_der);

    let error = handshake(router.addr, &ca.pem, "nothing.example").await.expect_err("no certificate for that name");
    assert!(error.to_string().contains("alert") || error.to_string().contains("Alert"), "{error}");
    // An IP address sends no SNI: refused the same way.
    assert!(handshake(router.addr, &ca.pem, "127.0.0.1").await.is_err());

    // The router goes on serving the names it has, with an HTTP answer (404: no route).
    let reply = client(&ca.pem, "shop.example", router.addr, false)
        .get(format!("https://shop.example:{}/", router.addr.port()))
        .send()
        .await
        .expect("still serving");
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_replaced_certificate_is_served_to_new_connections_without_restart() {
    let shop = Upstream::start("shop").await;
    let table = RouteTable::default();
    table.replace(routes(&[("shop.example", &[shop.addr])]));
    let ca = TestCa::new();
    let certs = CertStore::default();
    let (old, old_der) = ca.leaf(&["shop.example"]);
    certs.insert("shop.example", old);
    let router = start_tls(table, certs.clone()).await;

    let (served, _old_conn) = handshake(router.addr, &ca.pem, "shop.example").await.expect("handshake");
    assert_eq!(served, old_der);

    let (new, new_der) = ca.leaf(&["shop.example"]);
    certs.insert("shop.example", new);
    let (served, _) = handshake(router.addr, &ca.pem, "shop.example").await.expect("handshake");
    assert_eq!(served, new_der, "the next connection gets the new certificate");

    assert!(certs.remove("shop.example"));
    assert!(handshake(router.addr, &ca.pem, "shop.example").await.is_err(), "removed: no certificate");
}

#[tokio::test]
async fn local_ca_is_made_once_kept_private_and_serves_localhost_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_dir = dir.path().join("tls");
    let first = LocalCa::load_or_create(&ca_dir).expect("create");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for key in ["ca-key.pem", "localhost-key.pem"] {
            let mode = std::fs::metadata(ca_dir.join(key)).expect("key file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
    }
    let again = LocalCa::load_or_create(&ca_dir).expect("reload");
    assert_eq!(first.ca_cert_pem(), again.ca_cert_pem(), "a restart reuses the CA");
    assert_eq!(first.certified_key().cert, again.certified_key().cert, "and the leaf");
    assert_eq!(again.ca_cert_path(), ca_dir.join("ca.pem"));

    let app = Upstream::start("app").await;
    let table = RouteTable::default();
    table.replace(routes(&[("app.localhost", &[app.addr]), ("localhost", &[app.addr])]));
    let certs = CertStore::default();
    again.install(&certs);
    // rustls clients refuse `*.localhost` for `app.localhost`, so apps get an exact-name leaf.
    again.install_host(&certs, "app.localhost").expect("leaf for app.localhost");
    let router = start_tls(table, certs).await;
    for host in ["app.localhost", "localhost"] {
        let reply = client(again.ca_cert_pem(), host, router.addr, false)
            .get(format!("https://{host}:{}/", router.addr.port()))
            .send()
            .await
            .expect("trusted by the local CA");
        assert_eq!(reply.status(), StatusCode::OK, "{host}");
        assert_eq!(reply.text().await.expect("body"), "app");
    }
}

#[tokio::test]
async fn plain_listener_redirects_flagged_hosts_and_answers_acme_challenges() {
    let (shop, blog) = (Upstream::start("shop").await, Upstream::start("blog").await);
    let table = RouteTable::default();
    table.replace(routes(&[("shop.example", &[shop.addr]), ("blog.example", &[blog.addr])]));
    let certs = CertStore::default();
    let challenges = Challenges::default();
    certs.set_https_redirect("shop.example", true);
    challenges.insert("token-1", "token-1.thumbprint");

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (_tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(slipway_router::serve_http(
        listener,
        table,
        RouterSettings::default(),
        certs.clone(),
        challenges.clone(),
        async move {
            let _ = rx.await;
        },
    ));

    let mut client = crate::support::Client::connect(addr).await;
    let reply = client.get("shop.example", "/cart?id=1").await;
    assert_eq!(reply.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(reply.header("location"), Some("https://shop.example/cart?id=1"));
    assert_eq!(shop.requests(), 0);

    // Challenges are answered for every host, flagged or not, and never redirected.
    let reply = client.get("shop.example", "/.well-known/acme-challenge/token-1").await;
    assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "token-1.thumbprint"));
    // Unknown tokens go to the app like any other path.
    let reply = client.get("blog.example", "/.well-known/acme-challenge/other").await;
    assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "blog"));

    let reply = client.get("blog.example", "/").await;
    assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "blog"));
    certs.set_https_redirect("shop.example", false);
    let reply = client.get("shop.example", "/").await;
    assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "shop"));
    task.abort();
}

#[tokio::test]
async fn websockets_upgrade_over_tls() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let (ws_addr, _ws_task) = crate::support::start_ws_echo().await;
    let table = RouteTable::default();
    table.replace(routes(&[("ws.example", &[ws_addr])]));
    let ca = TestCa::new();
    let certs = CertStore::default();
    certs.insert("ws.example", ca.leaf(&["ws.example"]).0);
    let router = start_tls(table, certs).await;

    // No ALPN offered: HTTP/1.1, where Upgrade lives.
    let (_, tls) = handshake(router.addr, &ca.pem, "ws.example").await.expect("handshake");
    let (mut ws, response) =
        tokio_tungstenite::client_async("wss://ws.example/socket", tls).await.expect("websocket handshake");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    for text in ["hello", "over", "tls"] {
        ws.send(Message::text(text)).await.expect("send");
        let echoed = ws.next().await.expect("a reply").expect("reply ok");
        assert_eq!(echoed.into_text().expect("text").as_str(), text);
    }
    ws.close(None).await.expect("close");
}

#[tokio::test]
async fn a_client_that_never_finishes_the_handshake_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let ca = TestCa::new();
    let certs = CertStore::default();
    certs.insert("shop.example", ca.leaf(&["shop.example"]).0);
    let router = start_tls(RouteTable::default(), certs).await;

    // Half a ClientHello record header, then silence.
    let mut stalled = TcpStream::connect(router.addr).await.expect("connect");
    stalled.write_all(&[0x16, 0x03, 0x01]).await.expect("write");
    tokio::time::pause();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(slipway_router::TLS_HANDSHAKE_TIMEOUT * 2, stalled.read(&mut buf)).await;
    tokio::time::resume();
    match read {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        other => panic!("the stalled handshake was not closed: {other:?}"),
    }
    // Others are served meanwhile and after.
    assert!(handshake(router.addr, &ca.pem, "shop.example").await.is_ok());
}
