//! The local agent: makes the app instances on this machine match the
//! desired state in the store, and keeps the edge router's table pointing at
//! healthy instances. It runs as its own process (`slipway agent`), so apps
//! keep serving while the control plane restarts.
//!
//! Each environment with a desired release gets a *generation*: one
//! supervised instance per process type and scale. A new release is started
//! beside the serving one; only when its `web` instances pass their health
//! check does the router switch to them, then the old generation is drained
//! and stopped (SIGTERM, SIGKILL after a grace period). A release that fails
//! to start is reported FAILED with its last log lines, and the old one keeps
//! serving.
//!
//! Start at [`Agent::run`] (the reconcile loop), then `generation.rs`
//! (start, health-gate, stop) and `instance.rs` (one supervised process, its
//! output in the environment's runtime log). `certificates.rs` keeps the router's TLS
//! certificates (local CA, ACME) and HTTPS redirects in line with the routes;
//! `lock.rs` keeps one agent per data dir, `metrics.rs` publishes the router's
//! metrics to the control plane, `serve_static.rs` is what static sites run and
//! `serve_php.rs` what PHP apps run (php-fpm behind nginx).
//! `ports.rs` sets the port variables some frameworks read instead of `$PORT`,
//! and says where an instance that does not answer listens instead.

mod certificates;
mod generation;
mod health;
mod instance;
mod lock;
mod metrics;
mod ports;
mod serve_php;
mod serve_static;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use slipway_core::hostname::PublicUrls;
use slipway_core::ids::{EnvironmentId, ReleaseId};
use slipway_core::layout::DataLayout;
use slipway_logs::LogWriter;
use slipway_router::{AccessLogName, RouteTable, RouteTarget};
use slipway_store::{Actor, ConfigValue, EnvironmentState, ReleaseSpec, Store};
use tokio::sync::Mutex;
use tracing::Instrument;

use crate::generation::Generation;

pub use certificates::{keep_certificates, AcmeSettings, CertificateSources};
pub use lock::{running_agent, AgentLock, LockError, RunningAgent};
pub use metrics::publish_metrics;
pub use serve_php::{serve_php, ServePhpError};
pub use serve_static::{serve_static, serve_static_on};

/// Settings of the agent.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub public_urls: PublicUrls,
    /// How long a new `web` instance may take to become healthy.
    pub health_timeout: Duration,
    /// How long a stopping instance gets between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
    /// How long the old generation's in-flight requests may take to finish.
    pub drain_timeout: Duration,
    /// Directory of the `slipway` binary, put on every app's PATH (for `slipway serve-static` and `serve-php`).
    pub slipway_bin_dir: Option<PathBuf>,
    /// How often the desired state is read when nothing nudges the agent.
    pub poll: Duration,
    /// A datagram socket where any message means "desired state changed,
    /// reconcile now" (the control plane writes one after each change).
    pub nudge_socket: Option<PathBuf>,
    /// How instances start: sandboxed, or (`SLIPWAY_SANDBOX=off`) as the agent's own user.
    pub sandbox: slipway_sandbox::Sandbox,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            public_urls: PublicUrls::default(),
            health_timeout: Duration::from_secs(60),
            stop_grace: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
            slipway_bin_dir: None,
            poll: Duration::from_millis(200),
            nudge_socket: None,
            sandbox: slipway_sandbox::Sandbox::off(),
        }
    }
}

/// Instances are reported to the store every this many poll intervals.
const REPORT_EVERY: u32 = 10;

/// What runs for one environment.
#[derive(Default)]
struct EnvironmentRuntime {
    /// The generation serving traffic.
    current: Option<Generation>,
    /// A release being started, while it is.
    starting: Option<ReleaseId>,
    hostnames: Vec<String>,
    workspace: Option<slipway_core::ids::WorkspaceId>,
}

#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    layout: DataLayout,
    table: RouteTable,
    config: AgentSettings,
    environments: Mutex<HashMap<EnvironmentId, EnvironmentRuntime>>,
}

impl Agent {
    pub fn new(store: Store, layout: DataLayout, table: RouteTable, config: AgentSettings) -> Self {
        Self { inner: Arc::new(Inner { store, layout, table, config, environments: Mutex::new(HashMap::new()) }) }
    }

    /// Reconciles until `shutdown` resolves, then stops every instance.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        instance::reap_leftovers(&self.inner.layout).await;
        let nudges = self.inner.config.nudge_socket.as_deref().and_then(bind_nudge_socket);
        tokio::pin!(shutdown);
        // Reporting writes to the store; on its own task it never holds up a nudged reconcile.
        let reporter = {
            let agent = self.clone();
            let every = self.inner.config.poll.saturating_mul(REPORT_EVERY);
            tokio::spawn(async move {
                loop {
                    agent.report().await;
                    tokio::time::sleep(every).await;
                }
            })
        };
        loop {
            match self.inner.store.desired_state().await {
                Ok(desired) => self.reconcile(desired).await,
                Err(err) => tracing::warn!(%err, "reading the desired state failed; apps keep running as they are"),
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(self.inner.config.poll) => {}
                _ = next_nudge(nudges.as_ref()) => {}
            }
        }
        reporter.abort();
        let generations: Vec<Generation> = {
            let mut environments = self.inner.environments.lock().await;
            environments.drain().filter_map(|(_, runtime)| runtime.current).collect()
        };
        self.inner.table.replace(HashMap::<String, RouteTarget>::new());
        for generation in generations {
            generation.stop().await;
        }
    }

    async fn reconcile(&self, desired: Vec<EnvironmentState>) {
        let mut environments = self.inner.environments.lock().await;
        let wanted: Vec<EnvironmentId> = desired.iter().map(|e| e.environment_id.clone()).collect();
        // Environments that no longer want anything stop.
        let gone: Vec<EnvironmentId> = environments.keys().filter(|id| !wanted.contains(id)).cloned().collect();
        for id in gone {
            if let Some(runtime) = environments.remove(&id) {
                if let Some(generation) = runtime.current {
                    tokio::spawn(generation.stop());
                }
            }
        }
        for state in desired {
            let runtime = environments.entry(state.environment_id.clone()).or_default();
            runtime.hostnames = state.hostnames.clone();
            runtime.workspace = Some(state.workspace_id.clone());
            let Some(release) = &state.desired else {
                if let Some(generation) = runtime.current.take() {
                    tokio::spawn(generation.stop());
                }
                continue;
            };
            let wanted_scale = generation::effective_scale(release, &state.scale);
            // A change of release, scale or resources starts a new generation beside the serving one.
            let serving = runtime.current.as_ref().map(|g| (&g.release.id, &g.scale, &g.resources));
            if serving == Some((&release.id, &wanted_scale, &state.resources))
                || runtime.starting.as_ref() == Some(&release.id)
            {
                continue;
            }
            if runtime.starting.is_some() {
                continue; // one start at a time; the newer release is picked up after it
            }
            runtime.starting = Some(release.id.clone());
            let agent = self.clone();
            tokio::spawn(async move { agent.roll_out(state).await });
        }
        self.publish_routes(&environments);
    }

    /// Reports what runs to the store, for `slipway ps`.
    async fn report(&self) {
        let reports: Vec<_> = {
            let environments = self.inner.environments.lock().await;
            environments
                .iter()
                .filter_map(|(id, runtime)| {
                    let generation = runtime.current.as_ref()?;
                    Some((runtime.workspace.clone()?, id.clone(), generation.report()))
                })
                .collect()
        };
        for (workspace, environment, instances) in reports {
            if let Err(err) = self.inner.store.record_instances(&workspace, &environment, &instances).await {
                tracing::warn!(%err, "reporting instances failed");
            }
        }
    }

    /// Points every hostname at the `web` instances of its serving generation, its requests
    /// logged in its environment's access log (`DataLayout::access_log`).
    fn publish_routes(&self, environments: &HashMap<EnvironmentId, EnvironmentRuntime>) {
        let mut routes: HashMap<String, RouteTarget> = HashMap::new();
        for (id, runtime) in environments {
            let backends = runtime.current.as_ref().map(Generation::web_backends).unwrap_or_default();
            // An environment ID is always a valid name (`env_` and hex digits).
            let access_log = AccessLogName::parse(id.as_str()).ok();
            for host in &runtime.hostnames {
                routes.insert(host.clone(), RouteTarget { backends: backends.clone(), access_log: access_log.clone() });
            }
        }
        self.inner.table.replace(routes);
    }

    /// Starts the desired release of `state` beside the serving one and
    /// switches traffic when it is healthy.
    async fn roll_out(&self, state: EnvironmentState) {
        let Some(release) = state.desired.clone() else { return };
        // One deployment's path through the logs: pipeline, lifecycle and this roll-out carry its id.
        let span = tracing::info_span!("roll_out", workspace = %state.workspace_id, project = %state.project,
            environment = %state.environment, deployment = %release.deployment_id, release = %release.number);
        self.roll_out_release(state, release).instrument(span).await;
    }

    async fn roll_out_release(&self, state: EnvironmentState, release: ReleaseSpec) {
        let inner = &self.inner;
        let log = LogWriter::open_or_warn(
            &inner.layout.deployment_log(&release.deployment_id),
            ConfigValue::redactor(&release.config),
        )
        .await;
        let scale: BTreeMap<String, u32> = state.scale.clone();
        let started = Generation::start(&inner.layout, &inner.config, &state, &release, &scale, &log).await;
        match started {
            Ok(generation) => {
                let old = {
                    let mut environments = inner.environments.lock().await;
                    let runtime = environments.entry(state.environment_id.clone()).or_default();
                    let old = runtime.current.replace(generation);
                    runtime.starting = None;
                    self.publish_routes(&environments);
                    old
                };
                // Logged before the status changes: log readers stop at DEPLOYED.
                match inner.config.public_urls.primary_url(&state.hostnames) {
                    Some(url) => log.step(format!("Release #{} is live at {url}", release.number)).await,
                    None => log.step(format!("Release #{} is running", release.number)).await,
                }
                if state.active_release.as_ref() != Some(&release.id) {
                    if let Err(err) = inner
                        .store
                        .release_live(&Actor::agent(), &state.workspace_id, &state.environment_id, &release.id, None)
                        .await
                    {
                        tracing::error!(%err, release = %release.id, "recording the release as live failed");
                    }
                }
                if let Some(old) = old {
                    for backend in old.web_backends() {
                        inner.table.drain(backend, inner.config.drain_timeout).await;
                    }
                    old.stop().await;
                }
            }
            Err(reason) => {
                log.step(format!("Release #{} failed to start: {reason}", release.number)).await;
                // Recorded before `starting` clears, so the loop never retries it.
                if let Err(err) = inner
                    .store
                    .release_failed(&Actor::agent(), &state.workspace_id, &state.environment_id, &release.id, &reason)
                    .await
                {
                    tracing::error!(%err, release = %release.id, "recording the failed release failed");
                }
                let mut environments = inner.environments.lock().await;
                if let Some(runtime) = environments.get_mut(&state.environment_id) {
                    runtime.starting = None;
                }
            }
        }
    }
}

/// Binds the nudge socket (replacing a stale one a dead agent left behind).
fn bind_nudge_socket(path: &std::path::Path) -> Option<tokio::net::UnixDatagram> {
    let _ = std::fs::remove_file(path);
    match tokio::net::UnixDatagram::bind(path) {
        Ok(socket) => Some(socket),
        Err(err) => {
            tracing::warn!(path = %path.display(), %err, "no nudge socket; changes wait for the next poll");
            None
        }
    }
}

/// Resolves when a nudge arrives (never, without a socket).
async fn next_nudge(socket: Option<&tokio::net::UnixDatagram>) {
    let mut buffer = [0u8; 16];
    match socket {
        Some(socket) => {
            let _ = socket.recv(&mut buffer).await;
        }
        None => std::future::pending().await,
    }
}

/// Tells the agent on `path` that desired state changed. Never blocks, never
/// fails: a missing agent just means nobody needs telling.
pub fn nudge(path: &std::path::Path) {
    if let Ok(socket) = std::os::unix::net::UnixDatagram::unbound() {
        let _ = socket.set_nonblocking(true);
        let _ = socket.send_to(b"!", path);
    }
}
