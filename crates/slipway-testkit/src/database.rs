//! Fresh databases for tests: a temporary SQLite file, or
//! a new PostgreSQL database on the server named by
//! `SLIPWAY_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! dropped again when the handle goes. An unreachable server fails the test
//! with a message that says how to start one; nothing is skipped.

use std::path::PathBuf;

use slipway_store::{sqlite_url, SealingKey, Store};
use sqlx::{AnyPool, Connection, Executor};
use tokio::sync::OnceCell;

pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The two backends every store and API test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
    pool: OnceCell<AnyPool>,
}

enum Cleanup {
    Directory(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    pub async fn create(backend: TestBackend) -> Self {
        match backend {
            TestBackend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("slipway-test-{}", uuid_like()));
                std::fs::create_dir_all(&dir).expect("creating a temporary directory for SQLite");
                Self { url: sqlite_url(&dir), cleanup: Cleanup::Directory(dir), pool: OnceCell::new() }
            }
            TestBackend::Postgres => {
                let admin_url =
                    std::env::var("SLIPWAY_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned());
                sqlx::any::install_default_drivers();
                let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap_or_else(|err| {
                    panic!(
                        "PostgreSQL is required for the store tests and is not reachable at {admin_url}: {err}\n\
                         Start one (see README, \"Running the tests\") or point SLIPWAY_TEST_DATABASE_URL at one."
                    )
                });
                let name = format!("slipway_test_{}", uuid_like());
                admin
                    .execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .unwrap_or_else(|err| panic!("creating test database {name}: {err}"));
                let url = match admin_url.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{name}"),
                    None => panic!("SLIPWAY_TEST_DATABASE_URL must end in /DATABASE"),
                };
                Self { url, cleanup: Cleanup::Postgres { admin_url, name }, pool: OnceCell::new() }
            }
        }
    }

    pub async fn store(&self) -> Store {
        Store::connect(&self.url, SealingKey::generate())
            .await
            .unwrap_or_else(|err| panic!("connecting the store to {}: {err}", self.url))
    }

    /// A pool on this database opened as the store opens its own (on
    /// PostgreSQL acting as the store's role, under row-level security), for
    /// tests that look under the store with hand-written SQL. Call it after
    /// [`Self::store`] has migrated the database.
    pub async fn pool(&self) -> &AnyPool {
        self.pool
            .get_or_init(|| async {
                slipway_store::app_pool(&self.url)
                    .await
                    .unwrap_or_else(|err| panic!("opening a pool on {}: {err}", self.url))
            })
            .await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime, which cannot block on
                // itself; a short-lived thread with its own runtime can.
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                    runtime.block_on(async {
                        let mut admin = sqlx::AnyConnection::connect(&admin_url).await.ok()?;
                        admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await.ok()
                    })
                })
                .join();
            }
        }
    }
}

fn uuid_like() -> String {
    use rand::Rng;
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}
