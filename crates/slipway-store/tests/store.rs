//! Integration tests of the store. Every scenario runs against SQLite and
//! PostgreSQL (a fresh database each), through the public API of
//! `slipway_store`; a few look under it with raw SQL to prove what the API
//! cannot show (row-level security, sealing at rest, the audit table).
//!
//! PostgreSQL must be reachable at `SLIPWAY_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); when it is not, the
//! PostgreSQL tests fail rather than skip.
//!
//! Start with `store/support.rs` (fixtures and assertions), then any module.

// Tests may unwrap (CONVENTIONS.md, rule 5). clippy.toml allows it only inside
// #[test] functions; the scenarios and helpers here are plain async fns.
#![allow(clippy::unwrap_used)]

// `on_both_backends!` (each scenario on SQLite and PostgreSQL), for every module here.
#[macro_use]
extern crate slipway_store;

#[path = "store/support.rs"]
mod support;

#[path = "store/audit.rs"]
mod audit;
#[path = "store/certificates.rs"]
mod certificates;
#[path = "store/collation.rs"]
mod collation;
#[path = "store/config.rs"]
mod config;
#[path = "store/deployments.rs"]
mod deployments;
#[path = "store/jobs.rs"]
mod jobs;
#[path = "store/kubernetes.rs"]
mod kubernetes;
#[path = "store/projects.rs"]
mod projects;
#[path = "store/queueing.rs"]
mod queueing;
#[path = "store/releases.rs"]
mod releases;
#[path = "store/resources.rs"]
mod resources;
#[path = "store/retention.rs"]
mod retention;
#[path = "store/row_level_security.rs"]
mod row_level_security;
#[path = "store/startup.rs"]
mod startup;
#[path = "store/tokens.rs"]
mod tokens;
#[path = "store/workspaces.rs"]
mod workspaces;
