//! The deploy pipeline of the control plane: workers claim jobs (every kind of
//! `slipway_store::Job`) from the store's queue and take each deployment from QUEUED through BUILDING
//! (checkout → detect → build) to DEPLOYING, where a release exists and the
//! agent takes over. Every step writes to the deployment's log file, which
//! the API streams to the pusher and to `slipway logs --build`.
//!
//! A control plane killed mid-build leaves its job leased; after the lease
//! expires the job is claimed again and the build starts over in a clean
//! directory, or — past its attempts — the deployment fails with a reason.
//!
//! An environment whose target is `kubernetes` continues after its build in
//! `kubernetes.rs`: image export, release, GitOps commit, then DEPLOYED — or,
//! with a kubeconfig, `cluster_watch.rs` reads the cluster until the
//! deployment is live or failed.
//!
//! After each release of a `local` environment, `retention.rs` removes the
//! build directories of releases older than the last N (and of old failed
//! builds); those releases can no longer be rolled back to.
//!
//! Start at [`Pipeline::run`], then `deploy.rs` (one deployment),
//! `kubernetes.rs`, `manifests.rs` (what is rendered for a commit, and the
//! preview the API shows), `cluster_watch.rs`, `gitops_jobs.rs` (removal and
//! scale of a Kubernetes-target environment) and `retention.rs`.

mod cluster_watch;
mod deploy;
mod gitops_jobs;
mod kubernetes;
mod log;
mod log_retention;
mod manifests;
mod orphans;
mod retention;

pub use kubernetes::{KubernetesSettings, ReadBack};
pub use log_retention::{LogSweep, DEPLOYMENT_LOGS_KEPT};
pub use manifests::preview_manifests;
pub use slipway_git::source::CheckoutLimits;
pub use slipway_gitops::ClusterSettings;
pub use slipway_image::RegistrySettings;

use std::sync::Arc;
use std::time::Duration;

use slipway_build::{Builder, Runtimes};
use slipway_core::layout::DataLayout;
use slipway_core::repo::RepoPolicy;
use slipway_core::timestamp::Timestamp;
use slipway_store::{Actor, JobKind, Store};

/// Settings of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Builds that may run at once; more wait in the queue.
    pub max_concurrent_builds: usize,
    pub max_log_bytes: u64,
    /// Which repository URLs may be fetched (the data dir is always refused).
    pub repo_policy: RepoPolicy,
    /// How large a checkout may be, unpacked.
    pub checkout_limits: CheckoutLimits,
    /// How build commands start: sandboxed, or (`SLIPWAY_SANDBOX=off`) as the platform's user.
    pub sandbox: slipway_sandbox::Sandbox,
    /// What one build may use (builds need more than the instances they make).
    pub build_resources: slipway_core::resources::Resources,
    /// How many releases of each `local` environment keep their artifact (`SLIPWAY_RELEASE_RETENTION`).
    pub release_retention: slipway_core::retention::ReleaseRetention,
    /// Where the runtime versions apps ask for are downloaded from (`SLIPWAY_NODE_MIRROR`, …).
    pub runtime_mirrors: slipway_build::RuntimeMirrors,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            max_concurrent_builds: 2,
            max_log_bytes: 10 * 1024 * 1024,
            repo_policy: RepoPolicy::default(),
            checkout_limits: CheckoutLimits::default(),
            sandbox: slipway_sandbox::Sandbox::off(),
            build_resources: BUILD_RESOURCES,
            release_retention: slipway_core::retention::ReleaseRetention::DEFAULT,
            runtime_mirrors: slipway_build::RuntimeMirrors::default(),
        }
    }
}

/// Builds by default: 4 GiB (a cargo or webpack build wants it), two cores, 2048 processes.
pub const BUILD_RESOURCES: slipway_core::resources::Resources = slipway_core::resources::Resources {
    memory: slipway_core::resources::Memory::from_mib(4096),
    cpu: slipway_core::resources::Cpu::from_millis(2000),
    max_processes: 2048,
};

/// How long a claimed job is ours without a renewal; a crashed control
/// plane's builds are retried after this.
const LEASE_SECONDS: i64 = 30;
const IDLE_POLL: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Pipeline {
    store: Store,
    layout: DataLayout,
    builder: Arc<Builder>,
    config: PipelineSettings,
    kubernetes: Arc<kubernetes::KubernetesTarget>,
}

impl Pipeline {
    /// A pipeline without Kubernetes settings: deployments to that target fail with a reason
    /// naming the missing setting.
    pub fn new(store: Store, layout: DataLayout, mut config: PipelineSettings) -> Self {
        // Every tenant's repositories, logs and the sealing key live there.
        config.repo_policy = config.repo_policy.forbid_paths_under(layout.root());
        let runtimes = Runtimes::new(layout.runtimes(), config.runtime_mirrors.clone());
        let builder = Arc::new(Builder::new(config.max_concurrent_builds).with_runtimes(runtimes));
        let kubernetes = Arc::new(kubernetes::KubernetesTarget::new(KubernetesSettings::default(), layout.clone()));
        Self { store, layout, builder, config, kubernetes }
    }

    /// Sets the registry, base image and GitOps repository of the Kubernetes target.
    pub fn with_kubernetes(mut self, config: KubernetesSettings) -> Self {
        self.kubernetes = Arc::new(kubernetes::KubernetesTarget::new(config, self.layout.clone()));
        self
    }

    /// Runs `max_concurrent_builds` workers until `shutdown` resolves. A build
    /// in progress at shutdown is abandoned with its lease, and resumed by the
    /// next start.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
        // Builds a killed control plane left running: in the sandbox their cgroups find them all.
        if self.config.sandbox.is_enforced() {
            self.config.sandbox.kill_leftover_builds();
        } else {
            orphans::kill_leftover_builds(&self.layout).await;
        }
        self.sweep_pruned_builds().await;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let janitor = {
            let (store, mut stopped) = (self.store.clone(), stopped.clone());
            tokio::spawn(async move {
                loop {
                    match store.fail_abandoned_deployments(&Actor::janitor()).await {
                        Ok(0) => {}
                        Ok(n) => tracing::warn!(count = n, "failed deployments whose builds were abandoned twice"),
                        Err(err) => tracing::warn!(%err, "checking for abandoned deployments failed"),
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                        _ = stopped.wait_for(|stop| *stop) => return,
                    }
                }
            })
        };
        let log_sweeper = {
            let (pipeline, mut stopped) = (self.clone(), stopped.clone());
            tokio::spawn(async move {
                loop {
                    pipeline.sweep_logs().await;
                    pipeline.sweep_runtimes(slipway_build::KEEP_UNUSED).await;
                    tokio::select! {
                        _ = tokio::time::sleep(log_retention::SWEEP_EVERY) => {}
                        _ = stopped.wait_for(|stop| *stop) => return,
                    }
                }
            })
        };
        let watcher = self
            .kubernetes
            .config
            .read_back
            .clone()
            .map(|read_back| tokio::spawn(cluster_watch::watch(self.clone(), read_back, stopped.clone())));
        let workers: Vec<_> = (0..self.config.max_concurrent_builds.max(1))
            .map(|n| {
                let pipeline = self.clone();
                let mut stopped = stopped.clone();
                let worker = format!("pipeline-{}-{n}", std::process::id());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = pipeline.work(&worker) => {}
                        _ = stopped.wait_for(|stop| *stop) => {}
                    }
                })
            })
            .collect();
        shutdown.await;
        let _ = stop.send(true);
        for worker in workers {
            let _ = worker.await;
        }
        let _ = janitor.await;
        let _ = log_sweeper.await;
        if let Some(watcher) = watcher {
            let _ = watcher.await;
        }
    }

    async fn work(&self, worker: &str) {
        loop {
            match self.store.claim_job(worker, &JobKind::ALL, LEASE_SECONDS, Timestamp::now()).await {
                Ok(Some(job)) => self.deploy_job(worker, job).await,
                Ok(None) => tokio::time::sleep(IDLE_POLL).await,
                Err(err) => {
                    tracing::error!(%err, "claiming a deploy job failed");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }
}
