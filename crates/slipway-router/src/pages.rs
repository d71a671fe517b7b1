//! The small HTML pages the router answers with itself. They name the host the client asked
//! for (escaped) and nothing about the platform's internals.

use std::fmt::Write as _;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};

use crate::body::ProxyBody;
use crate::errors::ProxyError;

/// The page for a request that failed with `error`; `host` is the normalised host, if any.
pub(crate) fn error_page(error: &ProxyError, host: Option<&str>) -> Response<ProxyBody> {
    let status = error.status();
    let host = host.unwrap_or("this address");
    let message = match error {
        ProxyError::BadHost => "This request does not say which site it is for.".to_owned(),
        ProxyError::UnknownHost => format!("No app is served at {}.", Escaped(host)),
        ProxyError::HeadersTooLarge { .. } => "The request headers are too large.".to_owned(),
        ProxyError::BodyTooLarge { .. } => "The request body is too large.".to_owned(),
        ProxyError::HeaderTimeout { .. } => format!("{} took too long to answer.", Escaped(host)),
        ProxyError::Upstream { .. } | ProxyError::UnexpectedUpgrade { .. } => {
            format!("{} could not answer this request.", Escaped(host))
        }
        ProxyError::NoBackends
        | ProxyError::TableChurn
        | ProxyError::Connect { .. }
        | ProxyError::ConnectTimeout { .. }
        | ProxyError::Handshake { .. }
        | ProxyError::NotSent { .. } => format!("{} has no healthy instance right now.", Escaped(host)),
    };
    page(status, &message)
}

fn page(status: StatusCode, message: &str) -> Response<ProxyBody> {
    let reason = status.canonical_reason().unwrap_or("Error");
    let code = status.as_u16();
    let mut html = String::with_capacity(256 + message.len());
    // Writing to a String cannot fail.
    let _ = write!(
        html,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{code} {reason}</title></head>\n\
         <body><h1>{code} {reason}</h1>\n<p>{message}</p></body></html>\n"
    );
    let mut response = Response::new(ProxyBody::full(Bytes::from(html)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Displays text with the HTML special characters escaped.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['<', '>', '&', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'&' => "&amp;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_special_characters() {
        assert_eq!(
            Escaped("<a href=\"x\">'&'</a>").to_string(),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(Escaped("shop.example").to_string(), "shop.example");
    }
}
