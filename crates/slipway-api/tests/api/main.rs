//! Integration tests of the `/v1` API: a real server on a loopback port,
//! real HTTP, and a fresh database per test — every scenario once on SQLite
//! and once on PostgreSQL (`SLIPWAY_TEST_DATABASE_URL`, default the local
//! server on 127.0.0.1:5432; an unreachable server fails, nothing is skipped).
//!
//! The helpers are in `harness.rs`; each other file here is one
//! scenario group. Every call goes through `TestApp::send`, which asserts
//! the invariants of all responses (request ID, no 5xx, the error envelope).

// `both_backends!` (each scenario on SQLite and PostgreSQL), for every module here.
#[macro_use]
extern crate slipway_testkit;

pub mod harness;
pub mod snapshot;

mod audit;
mod auth;
mod bad_input;
mod config;
mod deployments;
mod deploys;
mod kubernetes;
mod metrics;
mod openapi;
mod pagination;
mod projects;
mod request_ids;
mod resources;
mod retention;
mod roles;
mod tenancy;
mod users;
