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
//! Built on hyper directly, not a framework: the hot path is one table load, one atomic
//! round-robin step, a pooled HTTP/1.1 connection, and bodies streamed frame by frame.

mod backend;
mod body;
mod config;
mod errors;
mod gauge;
mod headers;
mod pages;
mod proxy;
mod server;
mod table;
mod upgrade;

pub use config::RouterConfig;
pub use server::{serve, SHUTDOWN_GRACE};
pub use table::RouteTable;
