//! Slipway's edge router: the HTTP server on the platform's app port that sends each request to
//! a healthy instance of the app its Host names.
//!
//! The agent owns a [`RouteTable`] and calls [`RouteTable::replace`] whenever instances become
//! healthy or go away, then [`RouteTable::drain`] before stopping an old instance; [`serve`]
//! reads the same table for every request.
//!
//! Where to start reading: `proxy.rs` (one request, start to end), then `table.rs` (the
//! atomic table and the guarantee behind `drain`), `backend.rs` (the keep-alive pool),
//! `body.rs` (streaming, and when a request stops being in flight), `upgrade.rs` (WebSockets)
//! and `server.rs` (accept loop and shutdown). Error handling lives in `errors.rs` (which side
//! failed, and whether a retry is safe) and `pages.rs` (what the client sees).
//!
//! TLS: [`serve_tls`] serves HTTPS (HTTP/2 or HTTP/1.1 by ALPN) with certificates picked by SNI
//! from a [`CertStore`] the caller fills and changes while serving (`tls.rs`); [`serve_http`] is
//! the plain listener that also answers ACME HTTP-01 challenges and per-host HTTPS redirects
//! (`tls_edge.rs`). Certificates come from the control plane, from [`LocalCa`] for `*.localhost`
//! development (`tls_local_ca.rs`), or from an ACME CA through [`AcmeIssuer`] (`acme.rs`).
//!
//! Limits and observability: `limits.rs` (header and body size → 431/413, header-read timeout
//! against slow clients; its timers and the upstream's are reused, not made per request, in
//! `timers.rs`), `metrics.rs` + `observe.rs` ([`Metrics`]: per-host counts by status
//! class, latency histograms, in-flight gauges, rendered as Prometheus text) and
//! `access_log.rs` + `access_writer.rs` ([`AccessLog`]: one JSON line per request, into one
//! bounded file per site, written off the request path by a thread of its own).
//!
//! Built on hyper directly, not a framework: the hot path is one table load, one atomic
//! round-robin step, a pooled HTTP/1.1 connection, and bodies streamed frame by frame.

mod access_log;
mod access_writer;
mod acme;
mod backend;
mod body;
mod config;
mod errors;
mod gauge;
mod h1_client;
mod headers;
mod limits;
mod metrics;
mod observe;
mod pages;
mod proxy;
mod server;
mod stop;
mod table;
mod timers;
mod tls;
mod tls_edge;
mod tls_local_ca;
mod upgrade;
mod workers;

pub use access_log::{AccessLog, AccessLogMode, AccessLogName};
pub use acme::{
    needs_renewal, not_after, AcmeClientSettings, AcmeError, AcmeIssuer, Challenges, Issued, CHALLENGE_PREFIX,
    RENEW_BEFORE,
};
pub use config::RouterSettings;
pub use metrics::{Metrics, UNROUTED_HOST};
/// The rustls types the TLS API takes and returns.
pub use rustls::{pki_types::CertificateDer, sign::CertifiedKey};
pub use server::{serve, serve_http, serve_tls, SHUTDOWN_GRACE, TLS_HANDSHAKE_TIMEOUT};
pub use table::{RouteTable, RouteTarget};
pub use tls::{certified_key, certified_key_from_pem, server_config, CertStore, TlsError};
pub use tls_local_ca::{LocalCa, LOCAL_NAMES};
pub use workers::{Router, RouterSpec};
