//! How the router treats slow or idle peers.

use std::time::Duration;

/// Timeouts and logging of the router. `RouterConfig::default()` suits apps on this machine.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// How long a TCP connect to an instance may take before the next instance is tried.
    /// On loopback a dead instance refuses at once; this bounds a full accept backlog.
    pub connect_timeout: Duration,
    /// How long an instance may take to start answering (send its response head) once the
    /// request has been handed to it; past it the client gets 504.
    pub upstream_header_timeout: Duration,
    /// How long a client connection may sit between requests (or take to send request headers)
    /// before it is closed. Pooled instance connections are kept at most this long too (and
    /// never more than 4 s, below common app keep-alive timeouts).
    pub idle_timeout: Duration,
    /// Emit one `tracing` event per request (target `slipway_router::access`).
    pub access_log: bool,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            connect_timeout: Duration::from_secs(5),
            upstream_header_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(75),
            access_log: true,
        }
    }
}
