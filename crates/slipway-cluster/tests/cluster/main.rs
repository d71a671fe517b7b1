//! The integration tests of slipway-cluster: the read-only client against the stand-in API
//! server (`slipway_testkit::cluster`), and the rollout verdict from observed objects.

mod client;
mod verdict;
