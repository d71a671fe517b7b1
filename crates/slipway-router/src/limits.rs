//! Size limits on what clients send: the request head (431) and the request body (413).
//!
//! hyper enforces the hard limits while parsing (it answers a bare 431 and closes); the router
//! checks the configured limits on the parsed request so that the client gets a page, and
//! counts body bytes as they stream through, since a chunked body declares no length.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;

use crate::config::RouterSettings;
use crate::timers::Timers;

/// hyper's default read buffer (8 KiB + 100 × 4 KiB); the buffer must hold a whole head.
const HYPER_DEFAULT_BUF: usize = 8192 + 4096 * 100;

/// Applies the client-side limits and timeouts of `config` to hyper's HTTP/1 server builder.
pub(crate) fn configure_http1(http: &mut http1::Builder, config: &RouterSettings, timers: Timers) {
    // The header-read timer starts when a connection waits for the next request head, so it is
    // the keep-alive idle timeout as well as the guard against slow headers.
    let head_timeout = config.header_read_timeout.min(config.idle_timeout);
    let hard_limit = hard_header_limit(config.max_header_bytes);
    http.timer(timers).header_read_timeout(head_timeout).keep_alive(true).max_header_size(hard_limit);
    if hard_limit + 8192 > HYPER_DEFAULT_BUF {
        http.max_buf_size(hard_limit + 8192);
    }
}

/// Above this hyper answers 431 itself, without a page and before buffering more of the head.
fn hard_header_limit(max_header_bytes: usize) -> usize {
    max_header_bytes.saturating_mul(2).max(8192)
}

/// The size of the request head as sent, give or take optional whitespace (never more than
/// what was sent): request line and `name: value` lines with their line ends.
pub(crate) fn head_size(parts: &Parts) -> usize {
    let uri = &parts.uri;
    let uri_len = uri.scheme_str().map_or(0, |scheme| scheme.len() + 3)
        + uri.authority().map_or(0, |authority| authority.as_str().len())
        + uri.path_and_query().map_or(1, |path| path.as_str().len());
    let request_line = parts.method.as_str().len() + 1 + uri_len + 11;
    let fields: usize = parts.headers.iter().map(|(name, value)| name.as_str().len() + 2 + value.len() + 2).sum();
    request_line + fields + 2
}

/// Why a request body stopped streaming.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// Reading from the client failed (it closed, or sent a malformed chunk).
    #[error("reading the request body failed")]
    Client(#[source] hyper::Error),
    /// The body grew past the configured limit.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: u64 },
}

/// The client's request body on its way to the upstream, cut off past `limit` bytes.
pub(crate) struct RequestBody {
    inner: Incoming,
    limit: u64,
    seen: u64,
}

impl RequestBody {
    pub(crate) fn new(inner: Incoming, limit: u64) -> Self {
        RequestBody { inner, limit, seen: 0 }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let polled = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(BodyError::Client(error)))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        if let Some(data) = polled.data_ref() {
            this.seen = this.seen.saturating_add(data.len() as u64);
            if this.seen > this.limit {
                return Poll::Ready(Some(Err(BodyError::TooLarge { limit: this.limit })));
            }
        }
        Poll::Ready(Some(Ok(polled)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `error` (or one of its causes) is a request body cut off at the limit.
pub(crate) fn is_body_too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if matches!(error.downcast_ref::<BodyError>(), Some(BodyError::TooLarge { .. })) {
            return true;
        }
        cause = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_size_counts_line_and_fields() {
        let (parts, ()) =
            http::Request::get("/abc").header("host", "a.example").body(()).expect("request").into_parts();
        // "GET /abc HTTP/1.1\r\n" + "host: a.example\r\n" + "\r\n"
        assert_eq!(head_size(&parts), 19 + 17 + 2);
        assert_eq!(hard_header_limit(1), 8192);
        assert_eq!(hard_header_limit(64 * 1024), 128 * 1024);
    }

    #[test]
    fn finds_the_limit_in_a_source_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] BodyError);
        assert!(is_body_too_large(&Outer(BodyError::TooLarge { limit: 1 })));
        assert!(!is_body_too_large(&std::io::Error::other("x")));
    }
}
