//! The integration tests of the edge router: real sockets on 127.0.0.1, small hyper upstreams
//! (`support.rs`), raw-socket bad input, TLS and ACME against Pebble. The access log has a
//! binary of its own (`tests/access_log.rs`).

mod acme;
mod bad_input;
mod idle_connections;
mod metrics;
mod proxy;
mod support;
mod tls;
mod upstream_responses;
mod workers;
