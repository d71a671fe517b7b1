//! Slipway's persistence. One [`Store`] speaks to SQLite (the embedded
//! default) or PostgreSQL with the same SQL, so both behave alike.
//!
//! Every call is one transaction in a [`Scope`]: a tenant scope names the
//! workspace, and on PostgreSQL the store puts that workspace in a
//! per-transaction setting that row-level-security policies compare with each
//! row's `workspace_id` — a query that forgets its filter still sees nothing
//! of another tenant. The platform scope, for the few cross-tenant operations
//! (resolving a workspace slug, the job queue), is spelt out at each call.
//!
//! Start reading at [`Store::connect`], then `migrate.rs` and `scope.rs`;
//! each remaining module owns one table group. Every mutating call writes its
//! audit row inside the same transaction. A deployment's status changes only
//! in `lifecycle.rs`, whose SQL is derived from the status machine; the job
//! queue is `jobs.rs`, the jobs it carries `job.rs`.

mod artifacts;
mod audit;
mod certificates;
mod config;
mod deployments;
mod desired_state;
mod environments;
mod error;
mod identity;
mod instances;
mod job;
mod jobs;
mod kept_logs;
mod kubernetes;
mod lifecycle;
mod migrate;
mod page;
mod projects;
mod queueing;
mod quotas;
mod releases;
mod resources;
mod scope;
mod sealing;
mod users;
mod workspaces;

pub use artifacts::{ProjectFiles, PrunedBuild};
pub use audit::Actor;
pub use certificates::{StoredCertificate, TlsRoute};
pub use deployments::DeploymentContext;
pub use desired_state::{EnvironmentState, ReleaseSpec};
pub use error::StoreError;
pub use identity::{hash_password, verify_password, TokenSecret};
pub use instances::MAX_SCALE;
pub use job::{Job, JobKind};
pub use jobs::ClaimedJob;
pub use kubernetes::{AwaitingCluster, RenderSource};
pub use page::{Order, PageRequest, Paged};
pub use projects::{NewProject, ProjectPatch};
pub use queueing::IdempotencyKey;
pub use releases::{ConfigValue, NewRelease, RuntimeEnv};
pub use resources::{OwnResources, ResourceChange};
pub use scope::{Backend, Scope};
pub use sealing::{SealingKey, SEALING_KEY_LEN};
pub use users::{Authenticated, NewUser};
pub use workspaces::Access;

use std::str::FromStr;
use std::time::Duration;

use slipway_core::hostname::PublicUrls;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

/// The handle to the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    sealer: sealing::Sealer,
    urls: PublicUrls,
    notifier: Option<ChangeNotifier>,
}

/// Called after a commit that changes what the agent must run or route
/// (a new release, a rollback, scale, domains, deletions), so it need not
/// wait for its next poll.
pub type ChangeNotifier = std::sync::Arc<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// Opens the pool the store works through, on an already migrated database
/// at `url` ([`Store::connect`] migrates, then calls this): on PostgreSQL every connection acts as
/// [`POSTGRES_APP_ROLE`]; on SQLite it waits on a busy database. Public so
/// that tests look under the store through the same connections
/// (`slipway-testkit`), never through a method of the store itself.
pub async fn app_pool(url: &str) -> Result<AnyPool, StoreError> {
    let (options, backend) = connect_options(url)?;
    AnyPoolOptions::new()
        .max_connections(match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        })
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                let setup = match backend {
                    Backend::Sqlite => "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000",
                    Backend::Postgres => "SET ROLE slipway_app",
                };
                conn.execute(setup).await.map(|_| ())
            })
        })
        .connect_with(options)
        .await
        .map_err(|err| StoreError::unreachable(url, err))
}

fn connect_options(url: &str) -> Result<(AnyConnectOptions, Backend), StoreError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::from_url(url)?;
    let options = AnyConnectOptions::from_str(url)
        .map_err(|err| StoreError::Config(format!("database URL: {err}")))?
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
    Ok((options, backend))
}

/// The role PostgreSQL connections switch to: it owns nothing and cannot
/// bypass row-level security, even when Slipway logs in as a superuser.
pub const POSTGRES_APP_ROLE: &str = "slipway_app";

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`), applies pending
    /// migrations, and returns a pool ready for use. Config var values are
    /// sealed with `key`, which must live outside the database.
    pub async fn connect(url: &str, key: SealingKey) -> Result<Self, StoreError> {
        let (options, backend) = connect_options(url)?;
        let mut admin = options.connect().await.map_err(|err| StoreError::unreachable(url, err))?;
        migrate::run(&mut admin, backend).await?;
        drop(admin);

        let pool = app_pool(url).await?;
        Ok(Self { pool, backend, sealer: sealing::Sealer::new(key), urls: PublicUrls::default(), notifier: None })
    }

    /// Calls `notifier` after every change to desired state.
    pub fn with_change_notifier(mut self, notifier: ChangeNotifier) -> Self {
        self.notifier = Some(notifier);
        self
    }

    pub(crate) fn desired_changed(&self) {
        if let Some(notify) = &self.notifier {
            notify();
        }
    }

    /// How environment URLs are written (scheme and router port).
    pub fn with_public_urls(mut self, urls: PublicUrls) -> Self {
        self.urls = urls;
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Waits for in-flight queries and closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Checks that the database answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.pool.execute("SELECT 1").await.map(|_| ()).map_err(StoreError::from)
    }
}

/// `sqlite://` URL of the database file inside a data directory.
pub fn sqlite_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("slipway.db").display())
}
