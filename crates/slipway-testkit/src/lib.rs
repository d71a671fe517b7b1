//! What Slipway's tests share, as one dev-dependency: every crate's tests
//! take their databases, waits, logs and real stand-ins from here instead of
//! including each other's files.
//!
//! - [`database`]: a fresh SQLite or PostgreSQL database per test, and
//!   [`both_backends!`] to run a scenario on each;
//! - [`eventually`]: wait for a condition, never a bare sleep;
//! - [`init_logs`]: test output stays quiet unless `TEST_LOG` is set;
//! - [`platform`] and [`source`]: `slipway up` as a child process, and app
//!   sources pushed to it with the system `git`;
//! - [`pebble`] (ACME CA + dnsmasq), [`registry`] and [`base_image`] (an OCI
//!   registry with the tests' busybox base), [`cluster`] (a stand-in for a
//!   cluster's API server, since no cluster can run here), [`runtime_mirror`]
//!   (Node.js, Go and Python distributions in their upstreams' layouts),
//!   [`composer`] (a Composer repository of Debian's PHP libraries, for Packagist).
//!
//! Missing prerequisites (PostgreSQL, Debian packages) fail the test with
//! the command that installs them; nothing is skipped.

// Test code (CONVENTIONS.md, rule 5): a step that fails is a failed test.
#![allow(clippy::unwrap_used)]

pub mod base_image;
pub mod cluster;
pub mod composer;
pub mod database;
pub mod pebble;
pub mod platform;
pub mod registry;
pub mod runtime_mirror;
pub mod source;
pub mod static_files;

mod wait;

pub use database::{TestBackend, TestDatabase};
pub use wait::eventually;

/// Runs each named `async fn NAME(backend: TestBackend)` of the calling
/// module on both backends, as the tests `NAME::sqlite` and `NAME::postgres`
/// (the caller depends on `tokio`).
#[macro_export]
macro_rules! both_backends {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            use $crate::TestBackend;

            #[tokio::test]
            async fn sqlite() {
                super::$scenario(TestBackend::Sqlite).await
            }

            #[tokio::test]
            async fn postgres() {
                super::$scenario(TestBackend::Postgres).await
            }
        }
    )+};
}

/// Sends `tracing` output to the test's captured output when `TEST_LOG` is
/// set (its value is the filter, e.g. `debug` or `slipway_router=trace`;
/// `1` means `debug`); otherwise tests stay quiet. Safe to call many times.
pub fn init_logs() {
    if let Some(filter) = test_log() {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
}

/// The `TEST_LOG` filter, when set: child processes (the platform, Pebble, an
/// app) inherit their output only then.
pub fn test_log() -> Option<String> {
    let value = std::env::var("TEST_LOG").ok()?;
    Some(if value.is_empty() || value == "1" { "debug".to_owned() } else { value })
}

/// Where a child process's output goes: the test's own output with
/// `TEST_LOG`, else nowhere.
pub fn child_output() -> std::process::Stdio {
    if test_log().is_some() {
        std::process::Stdio::inherit()
    } else {
        std::process::Stdio::null()
    }
}
