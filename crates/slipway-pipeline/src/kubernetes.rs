//! The Kubernetes target of the pipeline: after a successful build of an
//! environment whose target is `kubernetes`, export the image to the registry
//! (`slipway-image`), record the release, render the environment's manifests
//! and commit them to the GitOps repository (`slipway-gitops`). Argo CD
//! applies what is committed. Without a kubeconfig the deployment is DEPLOYED
//! once the commit is pushed; with one it stays DEPLOYING until the cluster
//! watcher (`cluster_watch.rs`) sees it live or failed.
//!
//! Missing settings — and, with a kubeconfig, a cluster that does not answer —
//! are checked before the build starts, so such a deployment fails at once
//! with what to fix, and nothing is pushed or committed for it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use slipway_build::BuiltApp;
use slipway_cluster::Cluster;
use slipway_core::deployment::DeploymentStatus;
use slipway_core::ids::{DeploymentId, ReleaseId, WorkspaceId};
use slipway_core::image_tag::{CommitSha, ImageTag};
use slipway_core::layout::DataLayout;
use slipway_core::redact::{redact_url, Redactor};
use slipway_gitops::{AppPath, ArgoSettings, ClusterSettings, RepoWriter, WriterSettings};
use slipway_image::{ExportRequest, Exporter, ImageRef, LayerSource, RegistrySettings};
use slipway_store::{Actor, DeploymentContext, NewRelease, StoreError};
use tokio::sync::Mutex;

use crate::deploy::Failure;
use crate::log::DeployLog;
use crate::manifests::render_input;
use crate::Pipeline;

/// The settings of the Kubernetes target, all optional: a deployment that needs a missing one
/// fails with a reason naming it.
#[derive(Debug, Clone, Default)]
pub struct KubernetesSettings {
    /// `SLIPWAY_REGISTRY` (+ credentials): where images go.
    pub registry: Option<RegistrySettings>,
    /// `SLIPWAY_BASE_IMAGE`: the run image, pinned by digest.
    pub base_image: Option<ImageRef>,
    /// `SLIPWAY_GITOPS_REMOTE`; `None` is Slipway's own bare repository in the data dir.
    pub gitops_remote: Option<String>,
    /// The repository URL as Argo CD reaches it; `None` means the remote itself.
    pub argo_repo_url: Option<String>,
    pub cluster: ClusterSettings,
    /// `SLIPWAY_KUBECONFIG`: the cluster to read deployments' status back from.
    pub read_back: Option<ReadBack>,
}

/// Reading the cluster back: a committed deployment is DEPLOYED once Argo CD has synced it and
/// its rollout finished, FAILED when it cannot finish or has not within `deadline`.
#[derive(Debug, Clone)]
pub struct ReadBack {
    pub cluster: Cluster,
    /// How long a committed deployment may take to go live (`SLIPWAY_ROLLOUT_TIMEOUT`).
    pub deadline: Duration,
    /// Between two reads of the cluster.
    pub interval: Duration,
}

impl ReadBack {
    pub fn new(cluster: Cluster, deadline: Duration) -> Self {
        Self { cluster, deadline, interval: Duration::from_secs(2) }
    }
}

pub(crate) struct KubernetesTarget {
    pub(crate) config: KubernetesSettings,
    exporter: Option<Exporter>,
    layout: DataLayout,
    /// Opened on first use (opening fetches), and again after a failed open.
    writer: Mutex<Option<Arc<RepoWriter>>>,
}

impl KubernetesTarget {
    pub(crate) fn new(config: KubernetesSettings, layout: DataLayout) -> Self {
        let exporter = config.registry.clone().map(Exporter::new);
        Self { config, exporter, layout, writer: Mutex::new(None) }
    }

    /// The remote as it may be shown: without a password or token in its user part.
    fn shown_remote(&self) -> String {
        match &self.config.gitops_remote {
            Some(remote) => redact_url(remote),
            None => self.layout.gitops_repo().display().to_string(),
        }
    }

    fn remote(&self) -> String {
        match &self.config.gitops_remote {
            Some(remote) => remote.clone(),
            None => self.layout.gitops_repo().display().to_string(),
        }
    }

    /// What Argo CD is told: the repository as it reaches it, the branch, its namespace.
    pub(crate) fn argo(&self) -> ArgoSettings {
        ArgoSettings::new(self.config.argo_repo_url.clone().unwrap_or_else(|| self.remote()))
    }

    pub(crate) async fn writer(&self) -> Result<Arc<RepoWriter>, String> {
        let mut slot = self.writer.lock().await;
        if let Some(writer) = slot.as_ref() {
            return Ok(writer.clone());
        }
        let remote = self.remote();
        let argo = self.argo();
        let workdir = self.layout.gitops_workdir();
        if self.config.gitops_remote.is_none() {
            // Slipway's own repository, created on first use.
            slipway_git::repos::init_bare(&self.layout.gitops_repo(), &argo.revision)
                .await
                .map_err(|err| err.to_string())?;
        }
        let writer = tokio::task::spawn_blocking(move || {
            RepoWriter::open(WriterSettings::new(workdir, remote, argo)).map_err(|err| err.to_string())
        })
        .await
        .map_err(|err| format!("opening the GitOps repository stopped: {err}"))??;
        let writer = Arc::new(writer);
        *slot = Some(writer.clone());
        Ok(writer)
    }
}

/// What the Kubernetes step needs from the build.
pub(crate) struct Built<'a> {
    pub release: NewRelease,
    pub app: &'a BuiltApp,
    pub commit: &'a CommitSha,
}

impl Pipeline {
    /// Fails a Kubernetes deployment before its build when a setting it needs is missing, or
    /// when the cluster it is read back from does not answer.
    pub(crate) async fn kubernetes_preflight(&self) -> Result<(), Failure> {
        let settings = &self.kubernetes.config;
        if settings.registry.is_none() {
            return Err(Failure::Deploy(
                "this environment's target is kubernetes, but SLIPWAY_REGISTRY is not set: set it to the registry and \
                 repository prefix for images (e.g. registry.example.com/slipway) and restart `slipway up`, or switch \
                 the environment back with `slipway env:set-target local`"
                    .into(),
            ));
        }
        if settings.base_image.is_none() {
            return Err(Failure::Deploy(
                "this environment's target is kubernetes, but SLIPWAY_BASE_IMAGE is not set: set it to the run image, \
                 pinned by digest (e.g. registry.example.com/base/run:1@sha256:…), and restart `slipway up`"
                    .into(),
            ));
        }
        if let Some(read_back) = &settings.read_back {
            if let Err(err) = read_back.cluster.version().await {
                return Err(Failure::Deploy(format!(
                    "{err}. Nothing was built, pushed or committed: fix SLIPWAY_KUBECONFIG (or the cluster) and \
                     deploy again"
                )));
            }
        }
        Ok(())
    }

    /// Export → release → render → commit → DEPLOYED. A failure before the release fails the
    /// deployment as a build failure; after it, the release is marked not committed.
    pub(crate) async fn ship_to_kubernetes(
        &self,
        workspace: &WorkspaceId,
        id: &DeploymentId,
        context: &DeploymentContext,
        built: Built<'_>,
        log: &DeployLog,
    ) -> Result<(), Failure> {
        let target = &self.kubernetes;
        let (Some(exporter), Some(base)) = (&target.exporter, &target.config.base_image) else {
            return self.kubernetes_preflight().await;
        };
        let plan = built.release.plan.clone();
        log.step("Dockerfile for this app (to build the same image elsewhere; not used by Slipway):").await;
        for line in slipway_image::dockerfile(&plan).lines() {
            log.line(format!("       {line}")).await;
        }
        let user = context.created_by.clone().ok_or_else(|| {
            Failure::Deploy(format!(
                "deployment #{} was made by no user, so its image has no tag (<userId>-<build>-<commit>); deploy again \
                 with `slipway deploy` or a push",
                context.deployment.number
            ))
        })?;
        let tag = ImageTag::new(user, context.deployment.number, built.commit.clone());
        let (ws, project) = (context.workspace.clone(), context.project.clone());
        if let Some(pinned) = &context.deployment.image {
            // Exported before the control plane restarted: the tag is taken (by this very
            // build), so the recorded image is used rather than exported twice.
            log.step(format!("Using the image exported before the restart: {pinned}")).await;
            let release = self.store.create_release(&Actor::pipeline(), workspace, id, built.release).await?;
            return self.finish_on_kubernetes(workspace, context, &release, pinned, log).await.map_err(Failure::Store);
        }
        let mut request = ExportRequest::new(plan, built.app.app_dir.clone(), base.clone(), ws, project, tag);
        add_runtime(&mut request, built.app);
        log.step(format!(
            "Exporting the image to {}/{} onto {base}",
            exporter.config().host(),
            exporter.config().repository(&request.workspace, &request.project)
        ))
        .await;
        let image = exporter
            .export(&request)
            .await
            .map_err(|err| Failure::Deploy(format!("exporting the image failed: {err}")))?;
        let pinned = format!("{}@{}", image.reference, image.digest);
        self.store.record_image(workspace, id, &pinned).await?;
        log.step(format!("Pushed {pinned}")).await;

        let release = self.store.create_release(&Actor::pipeline(), workspace, id, built.release).await?;
        self.finish_on_kubernetes(workspace, context, &release, &pinned, log).await.map_err(Failure::Store)
    }

    /// Commits a release that has its image to GitOps and settles its deployment: DEPLOYED with
    /// the commit, or FAILED with the reason (the environment keeps its committed release).
    /// Only a store failure is an error (the job is retried).
    pub(crate) async fn finish_on_kubernetes(
        &self,
        workspace: &WorkspaceId,
        context: &DeploymentContext,
        release: &ReleaseId,
        image: &str,
        log: &DeployLog,
    ) -> Result<(), StoreError> {
        let environment = &context.deployment.environment_id;
        match self.commit_manifests(workspace, context, release, image, log).await {
            Ok(sha) => match &self.kubernetes.config.read_back {
                Some(read_back) => {
                    log.step(format!(
                        "Deployment #{} is committed to GitOps; waiting up to {} for Argo CD to sync it and the \
                         rollout to finish",
                        context.deployment.number,
                        crate::cluster_watch::minutes(read_back.deadline)
                    ))
                    .await;
                    self.store.record_gitops_commit(workspace, environment, release, &sha).await
                }
                None => {
                    // Logged before the status changes: log readers stop at DEPLOYED.
                    log.step(format!(
                        "Deployment #{} is committed to GitOps; Argo CD applies it (without SLIPWAY_KUBECONFIG the \
                         cluster's status is not read back)",
                        context.deployment.number
                    ))
                    .await;
                    self.store.release_live(&Actor::pipeline(), workspace, environment, release, Some(&sha)).await
                }
            },
            Err(Failure::Store(err)) => Err(err),
            Err(Failure::Deploy(reason)) => {
                log.step(format!("Not committed to GitOps: {reason}")).await;
                self.store.release_failed(&Actor::pipeline(), workspace, environment, release, &reason).await
            }
        }
    }

    /// A rollback on the Kubernetes target: the store made the rollback deployment (DEPLOYING,
    /// with the earlier release's image); its manifests are committed like a deployment's.
    #[tracing::instrument(skip(self), fields(%workspace, deployment = %id))]
    pub(crate) async fn commit_rollback(&self, workspace: &WorkspaceId, id: &DeploymentId) -> Result<(), StoreError> {
        let context = self.store.deployment_context(workspace, id).await?;
        let deployment = &context.deployment;
        let (DeploymentStatus::Deploying, Some(release), Some(image)) =
            (deployment.status, &deployment.release_id, &deployment.image)
        else {
            return Ok(()); // finished, cancelled or replaced meanwhile
        };
        let log =
            match DeployLog::open(&self.layout.deployment_log(id), Redactor::new(std::iter::empty::<(&str, &str)>()))
                .await
            {
                Ok(log) => log,
                Err(err) => return Err(StoreError::Corrupt(format!("cannot open the deployment log: {err}"))),
            };
        log.step(format!(
            "Rolling back {} ({}) as #{}: {image}",
            context.project, context.environment, deployment.number
        ))
        .await;
        self.finish_on_kubernetes(workspace, &context, release, image, &log).await
    }

    /// Renders the environment at `release` and lands one commit; returns its SHA.
    pub(crate) async fn commit_manifests(
        &self,
        workspace: &WorkspaceId,
        context: &DeploymentContext,
        release: &ReleaseId,
        image: &str,
        log: &DeployLog,
    ) -> Result<String, Failure> {
        let target = &self.kubernetes;
        let source = self.store.render_source(workspace, &context.project, &context.environment, Some(release)).await?;
        let app = render_input(&context.path(), &source, image)
            .map_err(|err| Failure::Deploy(format!("the manifests cannot be rendered: {err}")))?;
        let writer = target.writer().await.map_err(|err| Failure::Deploy(self.hide_remote(err)))?;
        let path = AppPath::of(&app);
        log.step(format!("Committing apps/{} to the GitOps repository {}", path, target.shown_remote())).await;
        let cluster = target.config.cluster.clone();
        let commit = tokio::task::spawn_blocking(move || writer.deploy(&app, &cluster))
            .await
            .map_err(|err| Failure::Deploy(format!("the GitOps commit stopped: {err}")))?
            .map_err(|err| Failure::Deploy(self.hide_remote(err.to_string())))?;
        if !commit.created {
            log.step("The manifests were committed before and are unchanged; no new commit").await;
        }
        log.step(format!("GitOps commit {}", commit.sha)).await;
        Ok(commit.sha)
    }

    /// `text` with the configured remote's credentials removed.
    pub(crate) fn hide_remote(&self, text: String) -> String {
        match &self.kubernetes.config.gitops_remote {
            Some(remote) => text.replace(remote.as_str(), &redact_url(remote)),
            None => text,
        }
    }
}

/// PATH entries and variables the build decided, as the image sees them: app-dir paths move to
/// `/app`, anything else (a Python virtualenv in the project cache) is packed at its own path.
fn add_runtime(request: &mut ExportRequest, built: &BuiltApp) {
    for dir in &built.path_prepend {
        match dir.strip_prefix(&built.app_dir) {
            Ok(relative) => request.path_prepend.push(Path::new("/app").join(relative).display().to_string()),
            Err(_) => {
                let packed = if dir.ends_with("bin") { dir.parent().unwrap_or(dir) } else { dir.as_path() };
                let image_path = packed.display().to_string();
                if !request.sources.iter().any(|source| source.image_path == image_path) {
                    request.sources.push(LayerSource { host_dir: packed.to_path_buf(), image_path });
                }
                request.path_prepend.push(dir.display().to_string());
            }
        }
    }
    // A path into the app (Bundler's BUNDLE_PATH and BUNDLE_GEMFILE) is under /app in the image.
    request.env.extend(built.env.iter().map(|(name, value)| match Path::new(value).strip_prefix(&built.app_dir) {
        Ok(relative) if Path::new(value).is_absolute() => {
            (name.clone(), Path::new("/app").join(relative).display().to_string())
        }
        _ => (name.clone(), value.clone()),
    }));
}
