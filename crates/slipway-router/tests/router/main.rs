//! The integration tests of the edge router: real sockets on 127.0.0.1, small hyper upstreams
//! (`support.rs`), raw-socket bad input, the access log, TLS and ACME against Pebble.

mod access_log;
mod acme;
mod bad_input;
mod idle_connections;
mod metrics;
mod proxy;
mod support;
mod tls;
mod upstream_responses;
mod workers;
