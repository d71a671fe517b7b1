//! Slipway's web portal: server-rendered pages for the whole deploy journey
//! (sign in, workspaces, projects, deploys with live logs, config, domains,
//! members, tokens, audit), served by `slipway up` at the root of the
//! control plane's address next to the API.
//!
//! Start at [`app`]. Decisions, and why:
//!
//! * **Only the public API.** Every page handler calls the `/v1` API
//!   in-process: [`api::Api`] holds a clone of the axum `Router` built by
//!   `slipway_api::app` and sends it requests with `tower::ServiceExt::oneshot`
//!   carrying `Authorization: Bearer <session token>`. Authorisation is
//!   therefore exactly the API's, and the portal cannot show or do anything a
//!   CLI user could not. The token comes from `POST /v1/auth/login` and lives
//!   in an HttpOnly, SameSite=Lax cookie (Secure behind TLS), see `session.rs`.
//! * **maud for HTML.** Templates are Rust functions checked by the compiler
//!   and escape every interpolated value by default, so hostile project names
//!   or config values cannot inject markup; there are no template files to ship.
//! * **Progressive enhancement.** Every action is a plain `<form method=post>`
//!   with a CSRF token (`csrf.rs`); `assets/portal.js` adds live badges, live
//!   logs (SSE), copy buttons and the success banner. CSS, JS and the favicon
//!   are compiled into the binary with `include_str!`: nothing comes from a CDN.
//! * **SSE through the portal.** `EventSource` cannot send an Authorization
//!   header, so `stream.rs` offers same-origin SSE routes that forward the
//!   API's streams with the cookie's token, numbering events with `id:` so a
//!   reconnect (`Last-Event-ID`) resumes without losing or repeating lines.
//! * **One address.** [`app`] serves the portal's paths and hands everything
//!   else (`/v1`, `/git`, `/metrics`, `/healthz`) to the API router unchanged.

mod api;
mod assets;
mod csrf;
mod errors;
mod extract;
mod layout;
mod pages;
mod session;
mod stream;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceExt;

pub use api::Api;

/// What every portal handler can reach: the in-process API.
#[derive(Clone)]
pub struct Portal {
    api: Api,
}

/// The portal's pages in front of `api` (the router of `slipway_api::app`):
/// portal paths are served here, every other path goes to `api` untouched.
pub fn app(api: Router) -> Router {
    let portal = Portal { api: Api::new(api.clone()) };
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::auth::login_page).post(pages::auth::login))
        .route("/logout", post(pages::auth::logout))
        .route("/workspaces", get(pages::workspaces::list).post(pages::workspaces::create))
        .route("/tokens", get(pages::tokens::list).post(pages::tokens::create))
        .route("/tokens/{id}/revoke", post(pages::tokens::revoke))
        .route("/w/{ws}", get(pages::projects::list))
        .route("/w/{ws}/new", get(pages::projects::new_page).post(pages::projects::create))
        .route("/w/{ws}/members", get(pages::members::list).post(pages::members::invite))
        .route("/w/{ws}/members/{username}/role", post(pages::members::change_role))
        .route("/w/{ws}/members/{username}/remove", post(pages::members::remove))
        .route("/w/{ws}/audit", get(pages::audit::list))
        .route("/w/{ws}/status", get(stream::status))
        .route("/w/{ws}/p/{project}", get(pages::project::show))
        .route("/w/{ws}/p/{project}/deploy", post(pages::project::deploy))
        .route("/w/{ws}/p/{project}/rollback", post(pages::project::rollback))
        .route("/w/{ws}/p/{project}/config", post(pages::settings::set_config))
        .route("/w/{ws}/p/{project}/config/delete", post(pages::settings::unset_config))
        .route("/w/{ws}/p/{project}/domains", post(pages::settings::add_domain))
        .route("/w/{ws}/p/{project}/domains/delete", post(pages::settings::remove_domain))
        .route("/w/{ws}/p/{project}/deployments/{number}/logs", get(stream::build_log))
        .route("/w/{ws}/p/{project}/logs", get(stream::runtime_log))
        .route("/favicon.ico", get(assets::favicon))
        .route("/favicon.svg", get(assets::favicon))
        .route("/_portal/portal.css", get(assets::css))
        .route("/_portal/portal.js", get(assets::js))
        .route_layer(axum::middleware::map_response(protect))
        .fallback(move |request: Request| fallback(api.clone(), request))
        .with_state(portal)
}

/// Headers on every portal page: apps run on sibling hostnames and must not frame the portal
/// (clickjacking a Deploy or a role change), nor have a response sniffed as another type.
async fn protect(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'none'"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// Serves the portal in front of `api` on `listener` until `shutdown`
/// resolves, then lets in-flight requests finish (as `slipway_api::serve`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Streamed responses (SSE, git) must not wait for the client's delayed ACK (Nagle).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app(api)).with_graceful_shutdown(shutdown).await
}

/// The API's paths go to the API as they are; any other path is a page that
/// does not exist.
async fn fallback(api: Router, request: Request<Body>) -> Response {
    let path = request.uri().path();
    let for_api = ["/v1", "/git/", "/metrics", "/healthz"]
        .iter()
        .any(|prefix| path == prefix.trim_end_matches('/') || path.starts_with(prefix));
    if for_api {
        return match api.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    let signed_in = session::token(request.headers()).is_some();
    errors::not_found(signed_in).into_response()
}
