//! A stand-in for a cluster's API server, for tests: no Kubernetes API server
//! or Argo CD can run on the test machines (no container runtime, no cluster
//! binaries in the registries we may use), so this serves the few read-only
//! paths Slipway reads — over TLS with a CA of its own, checking a bearer
//! token or a client certificate as a real API server does — from objects the
//! test puts in it, playing Argo CD and the Deployment controller itself.
//! Anything but GET is answered 405 and remembered, so tests can assert
//! Slipway never writes to a cluster.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

pub enum Auth {
    Token(&'static str),
    ClientCertificate,
}

pub struct StandIn {
    pub url: String,
    pub ca_pem: String,
    /// The client certificate and key the server accepts (with `Auth::ClientCertificate`).
    client: Option<(String, String)>,
    token: Option<&'static str>,
    objects: Arc<Mutex<BTreeMap<String, Value>>>,
    writes: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    pub async fn start(auth: Auth) -> Self {
        let ca_key = rcgen::KeyPair::generate().expect("ca key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "stand-in cluster CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let server_key = rcgen::KeyPair::generate().expect("server key");
        let mut server_params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
        server_params.subject_alt_names.push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
        let server_cert = server_params.signed_by(&server_key, &issuer).expect("server cert");

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("protocol versions");
        let (builder, client, token) = match auth {
            Auth::Token(token) => (builder.with_no_client_auth(), None, Some(token)),
            Auth::ClientCertificate => {
                let client_key = rcgen::KeyPair::generate().expect("client key");
                let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("client params");
                params.distinguished_name.push(rcgen::DnType::CommonName, "slipway");
                params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
                let client_cert = params.signed_by(&client_key, &issuer).expect("client cert");
                let mut roots = rustls::RootCertStore::empty();
                roots.add(ca_cert.der().clone()).expect("client CA");
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .expect("client verifier");
                let client = Some((client_cert.pem(), client_key.serialize_pem()));
                (builder.with_client_cert_verifier(verifier), client, None)
            }
        };
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
        let tls = builder.with_single_cert(vec![server_cert.der().clone()], key).expect("server TLS");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the stand-in");
        let url = format!("https://127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let objects = Arc::new(Mutex::new(BTreeMap::new()));
        let writes = Arc::new(Mutex::new(Vec::new()));
        let task = {
            let (objects, writes) = (objects.clone(), writes.clone());
            tokio::spawn(async move {
                // Connections live in this task's set, so stopping the server closes kept-alive
                // connections too, as a cluster that went away would.
                let mut connections = tokio::task::JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    let (acceptor, objects, writes) = (acceptor.clone(), objects.clone(), writes.clone());
                    connections.spawn(async move {
                        let Ok(stream) = acceptor.accept(stream).await else { return };
                        let service = hyper::service::service_fn(move |request| {
                            let answer = answer(&request, token, &objects, &writes);
                            async move { Ok::<_, std::convert::Infallible>(answer) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            })
        };
        StandIn { url, ca_pem: ca_cert.pem(), client, token, objects, writes, task }
    }

    /// Writes a kubeconfig for this server (CA and credentials inline, as `kind` and most
    /// providers write them) and returns its path.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let ca = self.ca_pem_b64();
        let user = match (&self.client, self.token) {
            (Some((cert, key)), _) => {
                format!("    client-certificate-data: {}\n    client-key-data: {}\n", b64(cert), b64(key))
            }
            (None, Some(token)) => format!("    token: {token}\n"),
            (None, None) => "    {}\n".to_owned(),
        };
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: stand-in\nclusters:\n- name: stand-in\n  cluster:\n    \
             server: {}\n    certificate-authority-data: {}\ncontexts:\n- name: stand-in\n  context:\n    cluster: \
             stand-in\n    user: slipway\nusers:\n- name: slipway\n  user:\n{user}",
            self.url, ca
        );
        let path = dir.join("kubeconfig");
        std::fs::write(&path, text).expect("write the kubeconfig");
        path
    }

    /// The CA certificate as a kubeconfig holds it inline.
    pub fn ca_pem_b64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.ca_pem)
    }

    /// Puts `object` at its API path (`/apis/apps/v1/namespaces/ns/deployments/web`).
    pub fn put(&self, path: &str, object: Value) {
        self.objects.lock().expect("objects").insert(path.to_owned(), object);
    }

    /// Requests other than GET that reached the server (Slipway must make none).
    pub fn writes(&self) -> Vec<String> {
        self.writes.lock().expect("writes").clone()
    }
}

fn answer(
    request: &Request<hyper::body::Incoming>,
    token: Option<&str>,
    objects: &Mutex<BTreeMap<String, Value>>,
    writes: &Mutex<Vec<String>>,
) -> Response<Full<Bytes>> {
    let status = |code: u16, message: &str| {
        let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code});
        respond(code, &body)
    };
    if let Some(token) = token {
        let presented = request.headers().get("authorization").and_then(|value| value.to_str().ok());
        if presented != Some(&format!("Bearer {token}")) {
            return status(401, "Unauthorized");
        }
    }
    let path = request.uri().path().to_owned();
    if request.method() != hyper::Method::GET {
        writes.lock().expect("writes").push(format!("{} {path}", request.method()));
        return status(405, "the stand-in is read-only");
    }
    if path == "/version" {
        return respond(200, &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-stand-in"}));
    }
    let objects = objects.lock().expect("objects");
    if let Some(object) = objects.get(&path) {
        return respond(200, object);
    }
    let prefix = format!("{path}/");
    let items: Vec<&Value> = objects
        .iter()
        .filter(|(key, _)| key.strip_prefix(&prefix).is_some_and(|name| !name.contains('/')))
        .map(|(_, object)| object)
        .collect();
    // Collections of the kinds Slipway lists exist even when empty, as in a cluster.
    if !items.is_empty() || path.ends_with("/deployments") || path.ends_with("/pods") {
        return respond(200, &json!({"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}));
    }
    status(404, &format!("{path} not found"))
}

fn respond(code: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}
