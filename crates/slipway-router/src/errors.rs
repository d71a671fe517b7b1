//! Why a request could not be proxied, where the fault lies and whether trying another backend
//! is safe. The status code the client gets is derived from those two facts, nowhere else.

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;

/// An error from either upstream client (hyper's or `h1_client.rs`).
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which side of the proxy a failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The client: a request we cannot route.
    Downstream,
    /// The app instance: refused, timed out or broke the exchange.
    Upstream,
    /// The router itself or its table.
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyError {
    /// Neither a Host header nor an authority in the request line, or one that is not text.
    #[error("the request names no usable host")]
    BadHost,
    /// The request head is larger than the configured limit.
    #[error("the request head is larger than {limit} bytes")]
    HeadersTooLarge { limit: usize },
    /// The request body is (or declares to be) larger than the configured limit.
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge { limit: u64 },
    /// No route for the host: not an app served here.
    #[error("no app is served at this host")]
    UnknownHost,
    /// The host is routed but has no instance (none started yet, or all unhealthy).
    #[error("the host has no backend")]
    NoBackends,
    /// The route table kept changing while this request tried to pick a backend.
    #[error("the route table changed too often while routing")]
    TableChurn,
    /// TCP connect failed: nothing was sent, another backend may take the request.
    #[error("connecting to {backend} failed")]
    Connect {
        backend: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// TCP connect did not complete in time: nothing was sent.
    #[error("connecting to {backend} took longer than {timeout:?}")]
    ConnectTimeout { backend: SocketAddr, timeout: Duration },
    /// The HTTP/1 connection could not be set up: nothing was sent.
    #[error("setting up HTTP/1.1 to {backend} failed")]
    Handshake {
        backend: SocketAddr,
        #[source]
        source: hyper::Error,
    },
    /// The connection closed before the request was written to it: nothing was sent.
    #[error("the connection to {backend} closed before the request was sent")]
    NotSent {
        backend: SocketAddr,
        #[source]
        source: BoxError,
    },
    /// The request was (maybe partly) sent and no response head came back in time.
    #[error("{backend} sent no response head within {timeout:?}")]
    HeaderTimeout { backend: SocketAddr, timeout: Duration },
    /// The exchange failed after the request was (maybe partly) sent.
    #[error("{backend} failed the exchange")]
    Upstream {
        backend: SocketAddr,
        #[source]
        source: BoxError,
    },
    /// The backend switched protocols on a request that did not ask for it.
    #[error("{backend} answered 101 to a request that did not ask to upgrade")]
    UnexpectedUpgrade { backend: SocketAddr },
}

impl ProxyError {
    pub(crate) fn side(&self) -> Side {
        match self {
            ProxyError::BadHost
            | ProxyError::UnknownHost
            | ProxyError::HeadersTooLarge { .. }
            | ProxyError::BodyTooLarge { .. } => Side::Downstream,
            ProxyError::NoBackends | ProxyError::TableChurn => Side::Internal,
            ProxyError::Connect { .. }
            | ProxyError::ConnectTimeout { .. }
            | ProxyError::Handshake { .. }
            | ProxyError::NotSent { .. }
            | ProxyError::HeaderTimeout { .. }
            | ProxyError::Upstream { .. }
            | ProxyError::UnexpectedUpgrade { .. } => Side::Upstream,
        }
    }

    /// Whether the request certainly never reached the upstream, so another backend may take it.
    pub(crate) fn retry_safe(&self) -> bool {
        matches!(
            self,
            ProxyError::Connect { .. }
                | ProxyError::ConnectTimeout { .. }
                | ProxyError::Handshake { .. }
                | ProxyError::NotSent { .. }
        )
    }

    pub(crate) fn is_timeout(&self) -> bool {
        matches!(self, ProxyError::HeaderTimeout { .. })
    }

    pub(crate) fn backend(&self) -> Option<SocketAddr> {
        match self {
            ProxyError::Connect { backend, .. }
            | ProxyError::ConnectTimeout { backend, .. }
            | ProxyError::Handshake { backend, .. }
            | ProxyError::NotSent { backend, .. }
            | ProxyError::HeaderTimeout { backend, .. }
            | ProxyError::Upstream { backend, .. }
            | ProxyError::UnexpectedUpgrade { backend } => Some(*backend),
            ProxyError::BadHost
            | ProxyError::UnknownHost
            | ProxyError::HeadersTooLarge { .. }
            | ProxyError::BodyTooLarge { .. }
            | ProxyError::NoBackends
            | ProxyError::TableChurn => None,
        }
    }

    /// The status the client gets.
    pub(crate) fn status(&self) -> StatusCode {
        match self.side() {
            Side::Downstream => match self {
                ProxyError::UnknownHost => StatusCode::NOT_FOUND,
                ProxyError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                ProxyError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            },
            Side::Upstream if self.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
            Side::Upstream | Side::Internal => StatusCode::BAD_GATEWAY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_side_and_timeout() {
        let backend: SocketAddr = ([127, 0, 0, 1], 1).into();
        let refused = ProxyError::Connect { backend, source: std::io::ErrorKind::ConnectionRefused.into() };
        assert_eq!(
            (refused.side(), refused.retry_safe(), refused.status()),
            (Side::Upstream, true, StatusCode::BAD_GATEWAY)
        );
        let slow = ProxyError::HeaderTimeout { backend, timeout: Duration::from_secs(1) };
        assert_eq!(
            (slow.side(), slow.retry_safe(), slow.status()),
            (Side::Upstream, false, StatusCode::GATEWAY_TIMEOUT)
        );
        assert_eq!(ProxyError::UnknownHost.status(), StatusCode::NOT_FOUND);
        assert_eq!(ProxyError::BadHost.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ProxyError::NoBackends.side(), Side::Internal);
        assert_eq!(ProxyError::HeadersTooLarge { limit: 1 }.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        let big = ProxyError::BodyTooLarge { limit: 1 };
        assert_eq!(
            (big.side(), big.retry_safe(), big.status()),
            (Side::Downstream, false, StatusCode::PAYLOAD_TOO_LARGE)
        );
        assert_eq!(ProxyError::NoBackends.status(), StatusCode::BAD_GATEWAY);
    }
}
