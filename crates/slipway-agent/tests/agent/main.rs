//! The integration tests of slipway-agent: the reconciler and supervisor on a real store
//! with real processes, the static-site server and the PHP one.

mod reconciler;
mod serve_php;
mod serve_static;
