//! A small typed client of the REST API. Error envelopes become
//! [`ApiFailure`], whose code decides the process exit code.

use anyhow::{Context, Result};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use slipway_core::api::ErrorEnvelope;
use slipway_core::sse::SseParser;
use slipway_core::ErrorCode;

use crate::credentials::{self, Credentials};

pub const DEFAULT_API_URL: &str = "http://127.0.0.1:8080";

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_AUTH: u8 = 3;
pub const EXIT_NOT_FOUND: u8 = 4;
pub const EXIT_CONFLICT: u8 = 5;
pub const EXIT_FORBIDDEN: u8 = 6;
pub const EXIT_UNAVAILABLE: u8 = 7;

/// The API answered with an error envelope.
#[derive(Debug, thiserror::Error)]
#[error("{message} ({code}, request {request_id})")]
pub struct ApiFailure {
    pub code: ErrorCode,
    pub message: String,
    pub request_id: String,
}

/// The client is not logged in.
#[derive(Debug, thiserror::Error)]
#[error("not logged in; run `slipway login` or set SLIPWAY_TOKEN")]
pub struct NotLoggedIn;

/// The process exit code for an error: 3 auth, 4 not found, 5 conflict,
/// 6 forbidden, 7 server unreachable or failing, 1 anything else.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<NotLoggedIn>().is_some() {
        return EXIT_AUTH;
    }
    if let Some(failure) = err.downcast_ref::<ApiFailure>() {
        return match failure.code.http_status() {
            401 => EXIT_AUTH,
            403 => EXIT_FORBIDDEN,
            404 => EXIT_NOT_FOUND,
            409 => EXIT_CONFLICT,
            500.. => EXIT_UNAVAILABLE,
            _ => EXIT_FAILURE,
        };
    }
    if err.chain().any(|cause| cause.downcast_ref::<reqwest::Error>().is_some_and(|e| e.is_connect() || e.is_timeout()))
    {
        return EXIT_UNAVAILABLE;
    }
    EXIT_FAILURE
}

pub struct Client {
    http: reqwest::Client,
    pub base: String,
    token: Option<String>,
    pub saved: Credentials,
}

impl Client {
    /// A client from `SLIPWAY_API_URL`/`SLIPWAY_TOKEN`, else the saved login.
    pub fn from_env() -> Result<Self> {
        let saved = credentials::load()?;
        let base = std::env::var("SLIPWAY_API_URL")
            .ok()
            .or_else(|| saved.api_url.clone())
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let token = std::env::var("SLIPWAY_TOKEN").ok().filter(|t| !t.is_empty()).or_else(|| saved.token.clone());
        Self::new(base, token, saved)
    }

    pub fn new(base: String, token: Option<String>, saved: Credentials) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("slipway-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .context("while building the HTTP client")?;
        Ok(Self { http, base: base.trim_end_matches('/').to_owned(), token, saved })
    }

    pub fn require_login(&self) -> Result<()> {
        if self.token.is_none() {
            return Err(NotLoggedIn.into());
        }
        Ok(())
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(Method::GET, path, None::<&()>).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(Method::DELETE, path, None::<&()>).await
    }

    /// Reads a Server-Sent-Events stream, calling `on_line` with the data of each
    /// event; returns the data of the final `end` event, if one came.
    pub async fn follow_events(&self, path: &str, mut on_line: impl FnMut(&str)) -> Result<Option<String>> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.get(&url).timeout(std::time::Duration::from_secs(24 * 3600));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.with_context(|| format!("while calling GET {url}"))?;
        if !response.status().is_success() {
            let status = response.status();
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(failure(&Method::GET, &url, status, &bytes));
        }
        let mut response = response;
        let mut parser = SseParser::default();
        while let Some(chunk) = response.chunk().await.with_context(|| format!("while reading {url}"))? {
            for event in parser.push(&chunk) {
                if event.event.as_deref() == Some("end") {
                    return Ok(Some(event.data));
                }
                on_line(&event.data);
            }
        }
        Ok(None)
    }

    /// `GET path` whose answer is text (YAML, say) rather than JSON.
    pub async fn get_text(&self, path: &str) -> Result<String> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.get(&url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response =
            request.send().await.with_context(|| format!("while calling GET {url}; is `slipway up` running there?"))?;
        let status = response.status();
        let bytes = response.bytes().await.with_context(|| format!("while reading the answer to GET {url}"))?;
        if status.is_success() {
            return String::from_utf8(bytes.to_vec())
                .with_context(|| format!("GET {url} answered with non-UTF-8 text"));
        }
        Err(failure(&Method::GET, &url, status, &bytes))
    }

    async fn send<B: Serialize, T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<&B>) -> Result<T> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("while calling {method} {url}; is `slipway up` running there?"))?;
        let status = response.status();
        let bytes = response.bytes().await.with_context(|| format!("while reading the answer to {method} {url}"))?;
        if status.is_success() {
            // 204 has no body: decode `null` so `()` works.
            let bytes: &[u8] = if status == StatusCode::NO_CONTENT || bytes.is_empty() { b"null" } else { &bytes };
            return serde_json::from_slice(bytes).with_context(|| format!("unexpected answer from {method} {url}"));
        }
        Err(failure(&method, &url, status, &bytes))
    }
}

/// An error answer: the API's envelope as an [`ApiFailure`], or the bare status.
fn failure(method: &Method, url: &str, status: StatusCode, body: &[u8]) -> anyhow::Error {
    match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(envelope) => ApiFailure {
            code: envelope.error.code,
            message: envelope.error.message,
            request_id: envelope.error.request_id,
        }
        .into(),
        Err(_) => anyhow::anyhow!("{method} {url} answered {status}"),
    }
}
