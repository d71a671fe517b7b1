//! The integration tests of slipway-agent: the reconciler and supervisor on a real store
//! with real processes, and the static-site server.

mod reconciler;
mod serve_static;
