//! The outermost middleware: gives every request an ID (kept from the
//! client's `x-request-id` when it is sane), opens a tracing span with it,
//! and renders every error response as the JSON envelope — logging the
//! internal cause of a server error exactly once.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use slipway_core::api::{ErrorBody, ErrorEnvelope};
use tracing::Instrument;

use crate::error::{code_for_bare_status, ErrorInfo};
use crate::REQUEST_ID_HEADER;

fn sane_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = !text.is_empty()
        && text.len() <= 128
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| text.to_owned())
}

pub(crate) async fn envelope(mut request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(sane_request_id)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let header_value = HeaderValue::from_str(&request_id).unwrap_or(HeaderValue::from_static("invalid"));
    request.headers_mut().insert(REQUEST_ID_HEADER, header_value.clone());
    let span =
        tracing::info_span!("request", id = %request_id, method = %request.method(), path = %request.uri().path());

    let mut response = next.run(request).instrument(span.clone()).await;
    response.headers_mut().insert(REQUEST_ID_HEADER, header_value);
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let info = response.extensions_mut().remove::<ErrorInfo>().unwrap_or_else(|| {
        let code = code_for_bare_status(status);
        ErrorInfo { code, message: code_message(code), internal: None }
    });
    let _entered = span.enter();
    match (&info.internal, status.is_server_error()) {
        (Some(cause), true) => tracing::error!(code = %info.code, %cause, "request failed"),
        (Some(cause), false) => tracing::warn!(code = %info.code, %cause, "request refused"),
        (None, _) => tracing::debug!(code = %info.code, "request refused"),
    }
    let envelope = ErrorEnvelope { error: ErrorBody { code: info.code, message: info.message, request_id } };
    // Serialising a struct of strings cannot fail.
    let body = serde_json::to_vec(&envelope).unwrap_or_default();
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

fn code_message(code: slipway_core::ErrorCode) -> String {
    use slipway_core::ErrorCode::*;
    match code {
        NotFound => "no such route; see /v1/openapi.json",
        MethodNotAllowed => "this route does not accept that method",
        PayloadTooLarge => "the body is larger than this server accepts",
        UnsupportedMediaType => "send the body as application/json",
        Internal => "an internal error occurred",
        _ => "the request was refused",
    }
    .to_owned()
}
