//! The integration tests of slipway-image: exports against a real registry
//! (Debian's `docker-registry`, started per test), the exported image run
//! under crun where this machine allows it, layer reproducibility, and the
//! golden Dockerfiles.

#![allow(clippy::unwrap_used)] // the fixtures are helpers, not #[test] functions

mod crun;
mod export;
mod golden;
mod layer;
mod pull;
mod token;
