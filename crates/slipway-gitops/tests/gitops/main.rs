//! The integration tests of slipway-gitops: rendered manifests against golden files and the
//! official schemas, the Argo CD objects and their isolation, the install bundle, and the
//! GitOps repository writer. `common.rs` has the sample environments.

#![allow(clippy::unwrap_used)] // the fixtures are helpers, not #[test] functions

mod argo_isolation;
mod common;
mod crd_models;
mod golden;
mod install;
mod render;
mod repo;
mod schemas;
