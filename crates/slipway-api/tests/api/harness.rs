//! `spawn_app()`: a real server on a loopback port over a fresh database,
//! and a client whose every call checks the invariants that hold for all
//! responses — a request ID on each, no 5xx ever, and every error in the
//! envelope with the same request ID as the header.

use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use slipway_api::{ApiSettings, PlatformPaths, REQUEST_ID_HEADER};
use slipway_core::hostname::{Hostname, PublicUrls};
use slipway_core::layout::DataLayout;
use slipway_core::ErrorCode;
use slipway_store::Store;
use slipway_testkit::{TestBackend, TestDatabase};
use tokio::sync::oneshot;

pub const ADMIN_PASSWORD: &str = "admin-password";

/// No `Authorization` header.
pub const ANON: &str = "";

/// A running API over its own database, dropped with the test.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
    pub client: Client,
    /// The server's store, for what the API cannot do yet (deployments).
    pub store: Store,
    /// A session token of the bootstrap platform admin `admin`.
    pub admin: String,
    /// The database's URL, for tests that inspect it directly. On
    /// PostgreSQL it logs in as the server's superuser, which row-level
    /// security does not restrict.
    pub db_url: String,
    /// The platform's data directory, when started by [`spawn_app_with_platform`].
    pub layout: Option<DataLayout>,
    shutdown: Option<oneshot::Sender<()>>,
    // Declared last so that it is dropped after the server was told to stop.
    _db: TestDatabase,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(layout) = &self.layout {
            let _ = std::fs::remove_dir_all(layout.root());
        }
    }
}

pub async fn spawn_app(backend: TestBackend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Like [`spawn_app`], with a chance to change the [`ApiSettings`].
pub async fn spawn_app_with(backend: TestBackend, configure: impl FnOnce(&mut ApiSettings)) -> TestApp {
    spawn(backend, None, configure).await
}

/// What stands in for the `slipway` executable in git hooks: it appends
/// its arguments, its `SLIPWAY_*` environment and its input to
/// `hook-calls.log` beside itself, and does nothing else.
const FAKE_SLIPWAY: &str = r#"#!/bin/sh
{ echo "args: $*"; env | grep '^SLIPWAY_' | sort; echo "stdin:"; cat; echo "end"; } >> "$(dirname "$0")/hook-calls.log"
"#;

/// Like [`spawn_app`], with the platform's files (git repositories, logs) in
/// a fresh data directory that goes with the app. Git hooks run a fake
/// `slipway` that only records its calls: see [`TestApp::hook_calls`].
pub async fn spawn_app_with_platform(backend: TestBackend) -> TestApp {
    use std::os::unix::fs::PermissionsExt;
    let root = std::env::temp_dir().join(format!("slipway-api-test-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&root).expect("creating the data directory");
    let slipway_bin = root.join("fake-slipway");
    std::fs::write(&slipway_bin, FAKE_SLIPWAY).expect("writing the fake slipway");
    std::fs::set_permissions(&slipway_bin, std::fs::Permissions::from_mode(0o755)).expect("making it executable");
    spawn(backend, Some((DataLayout::new(root), slipway_bin)), |_| {}).await
}

async fn spawn(
    backend: TestBackend,
    platform: Option<(DataLayout, std::path::PathBuf)>,
    configure: impl FnOnce(&mut ApiSettings),
) -> TestApp {
    let db = TestDatabase::create(backend).await;
    let urls = PublicUrls { https: false, port: 8000 };
    let store = db.store().await.with_public_urls(urls.clone());
    slipway_api::bootstrap_admin(&store, Some(ADMIN_PASSWORD)).await.expect("bootstrapping the admin user");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding a loopback port");
    let address = listener.local_addr().expect("the bound address");
    let mut config = ApiSettings::new(Hostname::parse("localhost").expect("localhost is a hostname"), urls);
    config.platform = platform.as_ref().map(|(layout, slipway_bin)| PlatformPaths {
        layout: layout.clone(),
        slipway_bin: slipway_bin.clone(),
        api_url: format!("http://{address}"),
    });
    configure(&mut config);
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server_store = store.clone();
    tokio::spawn(async move {
        slipway_api::serve(listener, server_store, config, async move {
            let _ = stopped.await;
        })
        .await
        .expect("the API server failed");
    });
    let mut app = TestApp {
        base: format!("http://{address}"),
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("building the HTTP client"),
        store,
        admin: String::new(),
        db_url: db.url.clone(),
        layout: platform.map(|(layout, _)| layout),
        shutdown: Some(shutdown),
        _db: db,
    };
    app.admin = app.login("admin", ADMIN_PASSWORD).await;
    app
}

/// One answer of the API, already checked for the universal invariants.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The `x-request-id` header.
    pub request_id: String,
    /// The JSON body; `Null` when the body is empty.
    pub body: Value,
    /// The body as text, for tests that look for a string anywhere in it.
    pub text: String,
}

impl Reply {
    /// Asserts a success status and returns the body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "expected {status}, got {} with body {}", self.status, self.text);
        &self.body
    }

    /// Asserts an error answer with `code` and the status the catalogue
    /// pairs with it; returns the message.
    #[track_caller]
    pub fn err(&self, code: &str) -> &str {
        let expected: ErrorCode = serde_json::from_value(json!(code)).expect("a code string");
        assert_ne!(expected, ErrorCode::Unknown, "`{code}` is not in the catalogue");
        assert_eq!(
            (self.status.as_u16(), self.body["error"]["code"].as_str()),
            (expected.http_status(), Some(code)),
            "expected {} {code}, got {} with body {}",
            expected.http_status(),
            self.status,
            self.text
        );
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    /// The error code of an error answer.
    pub fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }
}

/// Checks what every response of the API must satisfy.
#[track_caller]
fn check_invariants(what: &str, reply: &Reply) {
    assert!(!reply.request_id.is_empty(), "{what}: no x-request-id header ({} {})", reply.status, reply.text);
    assert!(!reply.status.is_server_error(), "{what}: server error {} {}", reply.status, reply.text);
    if reply.status.is_client_error() {
        assert_eq!(
            reply.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{what}: error content type"
        );
        let envelope =
            reply.body.as_object().unwrap_or_else(|| panic!("{what}: error body is not a JSON object: {}", reply.text));
        assert_eq!(envelope.keys().collect::<Vec<_>>(), ["error"], "{what}: {}", reply.text);
        let error = reply.body["error"].as_object().expect("`error` is an object");
        let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["code", "message", "request_id"], "{what}: {}", reply.text);
        let code: ErrorCode = serde_json::from_value(reply.body["error"]["code"].clone())
            .unwrap_or_else(|err| panic!("{what}: code is not a string: {err}"));
        assert_ne!(code, ErrorCode::Unknown, "{what}: code outside the catalogue: {}", reply.text);
        assert_eq!(
            code.http_status(),
            reply.status.as_u16(),
            "{what}: the code's status differs from the response's: {}",
            reply.text
        );
        assert!(
            reply.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: empty message: {}",
            reply.text
        );
        assert_eq!(
            reply.body["error"]["request_id"].as_str(),
            Some(reply.request_id.as_str()),
            "{what}: envelope request_id differs from the x-request-id header"
        );
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path`, with a bearer token unless `token` is [`ANON`].
    pub fn request(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        let request = self.client.request(method, self.url(path));
        if token.is_empty() {
            request
        } else {
            request.bearer_auth(token)
        }
    }

    /// The data directory of an app started by [`spawn_app_with_platform`].
    pub fn layout(&self) -> &DataLayout {
        self.layout.as_ref().expect("this app was started without platform paths")
    }

    /// What the fake `slipway` of git hooks recorded so far.
    pub fn hook_calls(&self) -> String {
        std::fs::read_to_string(self.layout().root().join("hook-calls.log")).unwrap_or_default()
    }

    /// Sends a request and checks the invariants of every response.
    pub async fn send(&self, request: RequestBuilder) -> Reply {
        let (what, reply) = self.exchange(request).await;
        check_invariants(&what, &reply);
        reply
    }

    /// Sends a request that must answer 503 `UNAVAILABLE` (a dependency
    /// is missing), in the error envelope; returns the message.
    pub async fn send_unavailable(&self, request: RequestBuilder) -> String {
        let (what, reply) = self.exchange(request).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {}", reply.text);
        assert_eq!(reply.code(), Some("UNAVAILABLE"), "{what}: {}", reply.text);
        assert_eq!(reply.body["error"]["request_id"].as_str(), Some(reply.request_id.as_str()), "{what}");
        assert!(!reply.request_id.is_empty(), "{what}: no request ID");
        reply.body["error"]["message"].as_str().unwrap_or_default().to_owned()
    }

    async fn exchange(&self, request: RequestBuilder) -> (String, Reply) {
        let built = request.build().expect("building the request");
        let what = format!("{} {:.120}", built.method(), built.url().path());
        let response = self.client.execute(built).await.unwrap_or_else(|err| panic!("{what}: {err}"));
        let status = response.status();
        let headers = response.headers().clone();
        let request_id = headers.get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let bytes = response.bytes().await.expect("reading the body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|err| panic!("{what}: body is not JSON ({err}): {text}"))
        };
        (what, Reply { status, headers, request_id, body, text })
    }

    pub async fn get(&self, token: &str, path: &str) -> Reply {
        self.send(self.request(Method::GET, path, token)).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> Reply {
        self.send(self.request(Method::DELETE, path, token)).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Reply {
        self.send(self.request(Method::POST, path, token).json(&body)).await
    }

    pub async fn put(&self, token: &str, path: &str, body: Value) -> Reply {
        self.send(self.request(Method::PUT, path, token).json(&body)).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> Reply {
        self.send(self.request(Method::PATCH, path, token).json(&body)).await
    }

    /// Logs in and returns the session token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let reply = self.post(ANON, "/v1/auth/login", json!({"username": username, "password": password})).await;
        let body = reply.ok(200);
        assert_eq!(body["user"]["username"], username);
        body["token"].as_str().expect("a token").to_owned()
    }

    /// Creates a user as the platform admin (password `password-<name>`)
    /// and returns a session token of theirs.
    pub async fn user(&self, username: &str) -> String {
        let password = format!("password-{username}");
        let reply = self.post(&self.admin, "/v1/users", json!({"username": username, "password": password})).await;
        assert_eq!(reply.ok(201)["username"], username);
        self.login(username, &password).await
    }

    /// Creates a workspace owned by the holder of `token`.
    pub async fn workspace(&self, token: &str, slug: &str) -> Value {
        let reply = self.post(token, "/v1/workspaces", json!({"slug": slug})).await;
        reply.ok(201).clone()
    }

    /// Creates a project in workspace `ws`.
    pub async fn project(&self, token: &str, ws: &str, slug: &str) -> Value {
        let reply = self.post(token, &format!("/v1/workspaces/{ws}/projects"), json!({"slug": slug})).await;
        reply.ok(201).clone()
    }

    /// Adds `username` to workspace `ws` with `role`.
    pub async fn add_member(&self, token: &str, ws: &str, username: &str, role: &str) {
        let reply = self
            .post(token, &format!("/v1/workspaces/{ws}/members"), json!({"username": username, "role": role}))
            .await;
        assert_eq!(reply.ok(201)["role"], role);
    }

    /// Every project slug of workspace `ws`, across all pages.
    pub async fn project_slugs(&self, token: &str, ws: &str) -> Vec<String> {
        let mut slugs = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/workspaces/{ws}/projects?limit=200&cursor={c}"),
                None => format!("/v1/workspaces/{ws}/projects?limit=200"),
            };
            let reply = self.get(token, &path).await;
            let body = reply.ok(200);
            slugs.extend(
                body["items"].as_array().expect("items").iter().map(|p| p["slug"].as_str().expect("slug").to_owned()),
            );
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return slugs,
            }
        }
    }

    /// Sends a hand-written HTTP/1.1 request head (request line and any extra
    /// headers) and returns the status of the answer.
    pub async fn raw_status(&self, head: &str, token: &str) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.expect("connecting");
        let request = format!("{head}Host: {address}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
        // The server may answer and close before it has read everything.
        let _ = stream.write_all(request.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let text = String::from_utf8_lossy(&answer);
        text.strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP answer: {text:.200}"))
    }
}
