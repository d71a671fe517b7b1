//! The in-process client of the `/v1` API: the portal's only way to read or
//! change anything. Requests go to a clone of the API's `Router` through
//! `tower::ServiceExt::oneshot`, so they pass the API's own middleware,
//! authentication and role checks, exactly like a request from the CLI.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tower::ServiceExt;

/// Largest API answer the portal reads into memory (a page of 100 items is far below).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The API router, called in-process.
#[derive(Clone)]
pub struct Api {
    router: Router,
}

/// A refusal or failure of the API, from its error envelope
/// `{"error":{"code","message"}}`.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ApiFailure {
    fn internal(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_GATEWAY, code: "PORTAL_UPSTREAM".to_owned(), message: message.into() }
    }

    /// The session is gone or never was: the user must sign in again.
    pub fn is_unauthenticated(&self) -> bool {
        self.status == StatusCode::UNAUTHORIZED
    }
}

impl Api {
    pub fn new(router: Router) -> Self {
        Self { router }
    }

    /// Sends one request and returns the raw response (used for streams).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        extra: &[(&str, String)],
    ) -> Response {
        let mut builder = Request::builder().method(method).uri(path).header(header::ACCEPT, "application/json");
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in extra {
            builder = builder.header(*name, value);
        }
        let request = match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(body).unwrap_or_default())),
            None => builder.body(Body::empty()),
        };
        let request = match request {
            Ok(request) => request,
            // Only a path with bytes a URI cannot hold gets here; the API answers such paths 404 as well.
            Err(_) => return not_found_response(),
        };
        match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// Sends a request and decodes the JSON answer, or the error envelope.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<T, ApiFailure> {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        extra: &[(&str, String)],
    ) -> Result<T, ApiFailure> {
        let response = self.send(method, path, token, body, extra).await;
        let status = response.status();
        let bytes = match http_body_util::Limited::new(response.into_body(), MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) => return Err(ApiFailure::internal(format!("reading the API's answer: {err}"))),
        };
        if status.is_success() {
            let bytes = if bytes.is_empty() { &b"null"[..] } else { &bytes[..] };
            return serde_json::from_slice(bytes)
                .map_err(|err| ApiFailure::internal(format!("unexpected answer from the API: {err}")));
        }
        let envelope: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let field = |name: &str| envelope["error"][name].as_str().map(str::to_owned);
        Err(ApiFailure {
            status,
            code: field("code").unwrap_or_else(|| "UNKNOWN".to_owned()),
            message: field("message").unwrap_or_else(|| format!("the API answered {status}")),
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str, token: &str) -> Result<T, ApiFailure> {
        self.call(Method::GET, path, Some(token), None).await
    }
}

fn not_found_response() -> Response {
    let mut response = Response::new(Body::from(r#"{"error":{"code":"NOT_FOUND","message":"no such path"}}"#));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// Percent-encodes one path segment (slugs are safe already; usernames and
/// token IDs come from users and links).
pub use slipway_core::percent::encode as seg;

/// `/v1/workspaces/{ws}/projects/{project}/environments/production`, the
/// environment the portal shows.
pub fn env_path(ws: &str, project: &str) -> String {
    format!("/v1/workspaces/{}/projects/{}/environments/production", seg(ws), seg(project))
}
