//! The one HTTP error boundary. Handlers return [`ApiError`]; it becomes a
//! response carrying an [`ErrorInfo`] extension, and the `envelope`
//! middleware turns that into the JSON envelope with the request ID and logs
//! the internal cause once. Errors axum raises itself (unknown route, wrong
//! method, body too large) get the same envelope there.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use slipway_core::names::InvalidName;
use slipway_core::ErrorCode;
use slipway_store::StoreError;

/// An error answer: a code from the catalogue and a message for people.
/// `internal` is logged, never sent.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub internal: Option<String>,
}

/// What the envelope middleware needs to render an error.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub code: ErrorCode,
    pub message: String,
    pub internal: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), internal: None }
    }

    pub fn forbidden(action: &str) -> Self {
        Self::new(ErrorCode::Forbidden, format!("your role does not allow you to {action}"))
    }

    fn internal(code: ErrorCode, message: &str, cause: impl std::fmt::Display) -> Self {
        Self { code, message: message.into(), internal: Some(cause.to_string()) }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorInfo { code: self.code, message: self.message, internal: self.internal });
        response
    }
}

impl From<InvalidName> for ApiError {
    fn from(err: InvalidName) -> Self {
        Self::new(err.code, err.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict { code, message } | StoreError::NotFound { code, message } => Self::new(code, message),
            StoreError::Unauthenticated(code) => {
                Self::new(code, "the token is unknown, expired or revoked; log in again")
            }
            StoreError::Unavailable(_) => {
                Self::internal(ErrorCode::Unavailable, "the database is unavailable; retry shortly", err)
            }
            other => Self::internal(ErrorCode::Internal, "an internal error occurred", other),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            ),
            JsonRejection::BytesRejection(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(ErrorCode::PayloadTooLarge, "the body is larger than this server accepts")
            }
            other => Self::new(ErrorCode::InvalidJson, other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(ErrorCode::InvalidRequest, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(ErrorCode::InvalidRequest, rejection.body_text())
    }
}

/// The code for an error status axum produced without an [`ApiError`].
pub(crate) fn code_for_bare_status(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        status if status.is_client_error() => ErrorCode::InvalidRequest,
        _ => ErrorCode::Internal,
    }
}
