//! How the router treats slow, idle or oversized peers, and where it counts what it does.

use std::time::Duration;

use crate::access_log::AccessLog;
use crate::metrics::Metrics;

/// Timeouts, limits, logging and metrics of the router. `RouterSettings::default()` suits apps on
/// this machine.
#[derive(Debug, Clone)]
pub struct RouterSettings {
    /// How long a TCP connect to an instance may take before the next instance is tried.
    /// On loopback a dead instance refuses at once; this bounds a full accept backlog.
    pub connect_timeout: Duration,
    /// How long an instance may take to start answering (send its response head) once the
    /// request has been handed to it; past it the client gets 504.
    pub upstream_header_timeout: Duration,
    /// How long a client connection may sit between requests before it is closed. Pooled
    /// instance connections are kept at most this long too (and never more than 4 s, below
    /// common app keep-alive timeouts).
    pub idle_timeout: Duration,
    /// How long a client may take to send a complete request head (request line and headers),
    /// however slowly it trickles in: the guard against slowloris. hyper runs one timer for
    /// "waiting for the next request head", so the client side uses the smaller of this and
    /// `idle_timeout` for both.
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers) accepted; larger gets 431. Heads up to
    /// twice this size get a 431 page; beyond that hyper stops reading and answers a bare 431.
    /// At most 100 header fields are accepted whatever their size (hyper's limit), also 431.
    pub max_header_bytes: usize,
    /// Largest request body accepted. A Content-Length above it gets 413 before any of the body
    /// is read; a chunked body that grows past it aborts the upstream request, and the client
    /// gets 413 if the response has not started, else its connection is closed.
    pub max_body_bytes: u64,
    /// Where each request's JSON line goes; [`AccessLog::off`] (the default) writes none.
    pub access_log: AccessLog,
    /// Where request counts, latencies and in-flight gauges are recorded; keep a clone and call
    /// [`Metrics::render`] to expose them. Clones share one registry.
    pub metrics: Metrics,
}

impl Default for RouterSettings {
    fn default() -> Self {
        RouterSettings {
            connect_timeout: Duration::from_secs(5),
            upstream_header_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(75),
            header_read_timeout: Duration::from_secs(60),
            max_header_bytes: 64 * 1024,
            max_body_bytes: 100 * 1024 * 1024,
            access_log: AccessLog::off(),
            metrics: Metrics::default(),
        }
    }
}
