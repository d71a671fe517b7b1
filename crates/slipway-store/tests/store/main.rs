//! Integration tests of the store. Every scenario runs against SQLite and
//! PostgreSQL (a fresh database each), through the public API of
//! `slipway_store`; a few look under it with raw SQL to prove what the API
//! cannot show (row-level security, sealing at rest, the audit table).
//!
//! PostgreSQL must be reachable at `SLIPWAY_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); when it is not, the
//! PostgreSQL tests fail rather than skip.
//!
//! Start with `support.rs` (fixtures and assertions), then any module.

// Tests may unwrap (CONVENTIONS.md, rule 5). clippy.toml allows it only inside
// #[test] functions; the scenarios and helpers here are plain async fns.
#![allow(clippy::unwrap_used)]

// `both_backends!` (each scenario on SQLite and PostgreSQL), for every module here.
#[macro_use]
extern crate slipway_testkit;

mod support;

mod audit;
mod certificates;
mod collation;
mod config;
mod deployments;
mod jobs;
mod kubernetes;
mod projects;
mod queueing;
mod releases;
mod resources;
mod retention;
mod row_level_security;
mod startup;
mod tokens;
mod workspaces;
