//! Extractors shared by the page handlers: the signed-in user's session and
//! a CSRF-checked form. Both reject with a page, never with a panic or a 500.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::errors::PageError;
use crate::{csrf, session};

/// A signed-in request: the API token from the session cookie.
pub struct Session {
    pub token: String,
    pub csrf: String,
    pub tls: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        session_of(&parts.headers).ok_or(PageError::SignIn)
    }
}

fn session_of(headers: &HeaderMap) -> Option<Session> {
    let token = session::token(headers)?.to_owned();
    Some(Session { csrf: csrf::for_session(&token), token, tls: session::is_tls(headers) })
}

/// The fields of a posted form from a signed-in user whose CSRF token matched.
pub struct Form {
    pub session: Session,
    fields: HashMap<String, String>,
}

impl Form {
    /// A field's value, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).map(|v| v.trim()).unwrap_or_default()
    }

    /// A field's value as sent (for config values, where spaces matter).
    pub fn raw(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or_default()
    }

    pub fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), "on" | "true" | "1")
    }
}

/// Largest form accepted (config values may be long, but not this long).
const MAX_FORM: usize = 256 * 1024;

/// Reads a url-encoded form body; bad encoding is a 400 page.
pub async fn read_fields(request: Request) -> Result<HashMap<String, String>, PageError> {
    let bytes = axum::body::to_bytes(request.into_body(), MAX_FORM)
        .await
        .map_err(|_| PageError::BadRequest("the form is too large".to_owned()))?;
    parse_fields(&bytes)
}

fn parse_fields(bytes: &Bytes) -> Result<HashMap<String, String>, PageError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|_| PageError::BadRequest("the form could not be read".to_owned()))?;
    Ok(pairs.into_iter().collect())
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = PageError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let session = session_of(request.headers()).ok_or(PageError::SignIn)?;
        let fields = read_fields(request).await?;
        if !csrf::check_session(&session.token, fields.get(csrf::FIELD).map(String::as_str)) {
            return Err(PageError::Csrf);
        }
        Ok(Form { session, fields })
    }
}
