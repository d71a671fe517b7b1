//! Slipway's control-plane HTTP server: the REST API under `/v1` with its
//! OpenAPI document, bearer-token authentication and workspace roles.
//!
//! Start at [`app`], which assembles the routes of `routes/` (one file per
//! resource) behind the request-ID and error-envelope middleware of
//! `envelope.rs`. Handlers parse input with the types of `slipway-core`,
//! check the caller's [`Permission`](slipway_core::role::Permission) and call
//! the store; they never build SQL or error JSON themselves.

mod body;
mod disk_usage;
mod envelope;
pub mod error;
mod extract;
mod openapi;
mod routes;
mod tail;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use slipway_core::hostname::{Hostname, PublicUrls};
use slipway_core::names::{Password, Username};
use slipway_store::{hash_password, NewUser, Store, StoreError};

pub use error::ApiError;

/// The header that carries a request's ID, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Settings of the control-plane API.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The domain under which app hostnames are generated.
    pub platform_domain: Hostname,
    /// How app URLs are written (router scheme and port).
    pub public_urls: PublicUrls,
    /// Whether anyone may create an account with `POST /v1/users`.
    pub open_signup: bool,
    /// How long a login session lasts.
    pub session_ttl: Duration,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Repositories, logs and the hook command: what git pushes, deploys and
    /// log streams need. Without it those endpoints answer 503.
    pub platform: Option<PlatformPaths>,
    /// Kubernetes target: the registry images go to (`SLIPWAY_REGISTRY`), for the image
    /// references of a manifest preview of a release not exported yet.
    pub registry: Option<slipway_pipeline::RegistrySettings>,
    /// Kubernetes target: the cluster settings manifests are rendered with.
    pub cluster: slipway_pipeline::ClusterSettings,
    /// What one instance gets by default and may be given at most (`SLIPWAY_DEFAULT_*`,
    /// `SLIPWAY_MAX_*`). The maxima are checked here; the defaults are what `slipway up`
    /// records in the store, which resolves every environment's unset figures against them.
    pub resources: slipway_core::quota::ResourceLimits,
    /// Which repository URLs projects may track: refused ones get a 400 when
    /// set (the pipeline checks again, with DNS, when it fetches).
    pub repo_policy: slipway_core::repo::RepoPolicy,
    /// Whether tenant code runs sandboxed (`false`: `SLIPWAY_SANDBOX=off`), told by `/healthz`.
    pub sandboxed: bool,
}

/// Where the control plane finds the platform's files and itself.
#[derive(Debug, Clone)]
pub struct PlatformPaths {
    pub layout: slipway_core::layout::DataLayout,
    /// The `slipway` executable, run by git hooks.
    pub slipway_bin: std::path::PathBuf,
    /// This API's own URL, for hooks to call back.
    pub api_url: String,
}

impl ApiSettings {
    pub fn new(platform_domain: Hostname, public_urls: PublicUrls) -> Self {
        Self {
            platform_domain,
            public_urls,
            open_signup: false,
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            max_body_bytes: 1024 * 1024,
            platform: None,
            registry: None,
            cluster: slipway_pipeline::ClusterSettings::default(),
            resources: slipway_core::quota::ResourceLimits::default(),
            repo_policy: slipway_core::repo::RepoPolicy::default(),
            // The library cannot know; `slipway up` says which.
            sandboxed: true,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ApiSettings>,
    /// Projects' disk use, measured at most once a minute.
    disk_usage: Arc<disk_usage::DiskUsageCache>,
}

/// The whole HTTP application: `/v1`, `/v1/openapi.json` and `/healthz`.
pub fn app(store: Store, config: ApiSettings) -> Router {
    let max_body = config.max_body_bytes;
    let (router, openapi) = routes::all().split_for_parts();
    let openapi = openapi::finish(openapi, &config);
    let state = AppState { store, config: Arc::new(config), disk_usage: Arc::default() };
    router
        .merge(openapi::serve(openapi))
        .merge(routes::git::routes())
        .route("/healthz", axum::routing::get(routes::health))
        .route("/metrics", axum::routing::get(routes::metrics::metrics))
        .fallback(|| async { ApiError::new(slipway_core::ErrorCode::NotFound, "no such route; see /v1/openapi.json") })
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(envelope::envelope))
}

/// Serves [`app`] on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Store,
    config: ApiSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Streamed responses (SSE, git) must not wait for the client's delayed ACK (Nagle).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app(store, config)).with_graceful_shutdown(shutdown).await
}

/// Creates the platform admin `admin` on first start. Returns the password
/// when it was generated, so the caller can show it once.
pub async fn bootstrap_admin(store: &Store, password: Option<&str>) -> Result<Option<String>, StoreError> {
    let generated = password.is_none().then(generate_password);
    let text = password.or(generated.as_deref()).unwrap_or_default();
    let password = Password::parse(text).map_err(|err| StoreError::Config(format!("SLIPWAY_ADMIN_PASSWORD: {err}")))?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|err| StoreError::Config(format!("password hashing stopped: {err}")))??;
    let admin = NewUser {
        // A literal that passes the username rule.
        username: Username::parse("admin").map_err(|err| StoreError::Config(err.to_string()))?,
        email: None,
        password_hash: hash,
        is_admin: true,
    };
    let created = store.bootstrap_admin(admin).await?;
    Ok(if created { generated } else { None })
}

fn generate_password() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
