//! One deployment through the pipeline: checkout → detect → build → release
//! (for the Kubernetes target: → image export → release → GitOps commit, in `kubernetes.rs`).

use std::path::PathBuf;
use std::time::Duration;

use slipway_build::{detect, AppRoot, BuildRequest, BuildSandbox};
use slipway_core::api::RuntimeTarget;
use slipway_core::deployment::{DeploymentStatus, Transition};
use slipway_core::ids::{DeploymentId, WorkspaceId};
use slipway_core::image_tag::CommitSha;
use slipway_core::names::{Branch, RepoUrl};
use slipway_core::timestamp::Timestamp;
use slipway_git::{source, Repos};
use slipway_store::{Actor, ClaimedJob, ConfigValue, DeploymentContext, Job, NewRelease, RuntimeEnv, StoreError};

use crate::kubernetes::Built;
use crate::log::DeployLog;
use crate::{Pipeline, LEASE_SECONDS};

impl Pipeline {
    /// Runs a claimed job, renewing its lease meanwhile: the pipeline's one entry point, a
    /// match over every kind of [`Job`]. A deployment that failed for its own reasons completes
    /// the job; only a store failure gives the job back for a retry.
    pub(crate) async fn deploy_job(&self, worker: &str, job: ClaimedJob) {
        let heartbeat = {
            let (store, id, worker) = (self.store.clone(), job.id.clone(), worker.to_owned());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs((LEASE_SECONDS / 3) as u64)).await;
                    if let Ok(false) = store.renew_job_lease(&id, &worker, LEASE_SECONDS, Timestamp::now()).await {
                        return;
                    }
                }
            })
        };
        let result = match &job.job {
            Job::Deploy { workspace, deployment } => self.deploy(workspace, deployment, job.attempt).await,
            Job::GitopsRollback { workspace, deployment } => self.commit_rollback(workspace, deployment).await,
            Job::GitopsRemove { workspace, environment } => self.remove_from_gitops(workspace, environment).await,
            Job::GitopsScale { workspace, environment } => self.rescale_in_gitops(workspace, environment).await,
        };
        heartbeat.abort();
        let now = Timestamp::now();
        let settled = match &result {
            Ok(()) => self.store.complete_job(&job.id, worker, now).await,
            Err(err) => {
                tracing::error!(job = %job.id, %err, "deploy job failed; it will be retried");
                self.store.fail_job(&job.id, worker, &err.to_string(), 5, now).await
            }
        };
        if let Err(err) = settled {
            tracing::error!(job = %job.id, %err, "recording the job's outcome failed");
        }
    }

    #[tracing::instrument(skip(self), fields(%workspace, deployment = %id))]
    async fn deploy(&self, workspace: &WorkspaceId, id: &DeploymentId, attempt: u32) -> Result<(), StoreError> {
        let context = self.store.deployment_context(workspace, id).await?;
        let config = self.store.config_snapshot(workspace, &context.project, &context.environment).await?;
        let log = match DeployLog::open(&self.layout.deployment_log(id), ConfigValue::redactor(&config)).await {
            Ok(log) => log,
            Err(err) => return Err(StoreError::Corrupt(format!("cannot open the deployment log: {err}"))),
        };
        match context.deployment.status {
            DeploymentStatus::Queued => {
                self.store
                    .transition_deployment(&Actor::pipeline(), workspace, id, Transition::StartBuild, None)
                    .await?;
            }
            DeploymentStatus::Building => {
                log.step(format!("Resuming the build after a control-plane restart (attempt {attempt})")).await;
            }
            // The control plane stopped between a Kubernetes release and its GitOps commit:
            // nobody else finishes it (the agent does not run this target), so commit it now.
            DeploymentStatus::Deploying if context.target == RuntimeTarget::Kubernetes => {
                let deployment = &context.deployment;
                if let (Some(release), Some(image)) = (&deployment.release_id, &deployment.image) {
                    log.step("Resuming the GitOps commit after a control-plane restart").await;
                    return self.finish_on_kubernetes(workspace, &context, release, image, &log).await;
                }
                return Ok(());
            }
            _ => return Ok(()), // cancelled or finished meanwhile
        }
        log.step(format!("Building {} #{} for {}", context.project, context.deployment.number, context.environment))
            .await;
        match self.build(workspace, id, &context, config, &log).await {
            // The Kubernetes target finished the deployment itself (and logged how).
            Ok(()) if context.target == RuntimeTarget::Kubernetes => Ok(()),
            Ok(()) => {
                self.prune_after_release(workspace, &context.deployment.environment_id, &log).await;
                Ok(())
            }
            Err(Failure::Store(err)) => Err(err),
            Err(Failure::Deploy(reason)) => {
                log.step(format!("Build failed: {reason}")).await;
                let pipeline = Actor::pipeline();
                match self.store.transition_deployment(&pipeline, workspace, id, Transition::Fail, Some(&reason)).await
                {
                    Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
                    Err(err) => Err(err),
                }
            }
        }
    }

    async fn build(
        &self,
        workspace: &WorkspaceId,
        id: &DeploymentId,
        context: &DeploymentContext,
        config: Vec<slipway_store::ConfigValue>,
        log: &DeployLog,
    ) -> Result<(), Failure> {
        if context.target == RuntimeTarget::Kubernetes {
            self.kubernetes_preflight().await?;
        }
        let project = self.store.project_id(workspace, &context.project).await?;
        let repos = Repos::new(self.layout.repos());
        let repo = repos.ensure(workspace, &project).await.map_err(|err| Failure::Deploy(err.to_string()))?;
        let commit = self.source_commit(&repo, context, log).await?;
        self.store.record_commit(workspace, id, &commit).await?;

        let build_dir = self.layout.build_dir(id);
        let app_dir = build_dir.join("app");
        clean_dir(&app_dir)
            .await
            .map_err(|err| Failure::Deploy(format!("cannot prepare the build directory: {err}")))?;
        source::export(&repo, &commit, &app_dir, &self.config.checkout_limits)
            .await
            .map_err(|err| Failure::Deploy(err.to_string()))?;
        log.step(format!("Checked out {} ({})", commit.short(), context.branch)).await;
        let modules =
            source::export_submodules(&repo, &commit, &app_dir, &self.config.repo_policy, &self.config.checkout_limits)
                .await
                .map_err(|err| Failure::Deploy(err.to_string()))?;
        for module in modules {
            let own = if module.has_own_submodules { "; its own submodules are not fetched" } else { "" };
            log.step(format!("Fetched submodule {} from {} ({}){own}", module.path, module.url, module.commit.short()))
                .await;
        }
        // A monorepo's app: only its directory is detected, built and shipped.
        let root = slipway_build::app_root(&app_dir, context.root_dir.as_ref())
            .map_err(|err| Failure::Deploy(err.to_string()))?;
        if let Some(AppRoot { dir, named_by }) = root {
            slipway_build::narrow_to(&app_dir, &dir)
                .map_err(|err| Failure::Deploy(format!("cannot take {dir}/ out of the checkout: {err}")))?;
            log.step(format!("Building {dir}/ ({named_by})")).await;
        }

        let plan = detect(&app_dir).map_err(|err| Failure::Deploy(err.to_string()))?;
        self.store.record_plan(workspace, id, &plan).await?;

        let (sender, mut receiver) = tokio::sync::mpsc::channel::<String>(1024);
        let request = BuildRequest {
            app_dir: app_dir.clone(),
            cache_dir: self.layout.environment_cache_dir(&project, &context.deployment.environment_id),
            env: config.iter().map(|v| (v.name.clone(), v.value.clone())).collect(),
            // The project's own limit (`PATCH …/projects/{project}`), or the default of 15 minutes.
            timeout: context.build_timeout.duration(),
            max_log_bytes: self.config.max_log_bytes,
            sandbox: BuildSandbox {
                sandbox: self.config.sandbox.clone(),
                uid: context.sandbox_uid,
                resources: self.config.build_resources,
                max_file_size: self.config.checkout_limits.max_bytes,
                name: id.to_string(),
            },
        };
        let built = {
            let build = self.builder.build(&plan, request, sender);
            let forward = async {
                while let Some(line) = receiver.recv().await {
                    log.line(format!("       {line}")).await;
                }
            };
            let (built, ()) = tokio::join!(build, forward);
            built.map_err(|err| Failure::Deploy(err.to_string()))?
        };
        let release = NewRelease {
            artifact_dir: built.app_dir.to_string_lossy().into_owned(),
            plan,
            runtime_env: RuntimeEnv {
                path_prepend: built.path_prepend.iter().map(|p| p.to_string_lossy().into_owned()).collect(),
                env: built.env.clone(),
                runtime: built.runtime.clone(),
                runtime_dir: built.runtime_dir.as_ref().map(|dir| dir.to_string_lossy().into_owned()),
            },
            config,
        };
        if context.target == RuntimeTarget::Kubernetes {
            let built = Built { release, app: &built, commit: &commit };
            return self.ship_to_kubernetes(workspace, id, context, built, log).await;
        }
        // Said before the release exists: from then on the agent (another process) starts it and
        // writes its own lines to this log, and a line written after this call could follow them.
        log.step(format!("Build finished; starting release #{}", context.deployment.number)).await;
        self.store.create_release(&Actor::pipeline(), workspace, id, release).await?;
        Ok(())
    }

    /// The commit to build: the pushed one, or the head of the tracked branch
    /// (fetched from the project's repository URL when it has one).
    async fn source_commit(
        &self,
        repo: &std::path::Path,
        context: &DeploymentContext,
        log: &DeployLog,
    ) -> Result<CommitSha, Failure> {
        if let Some(commit) = &context.deployment.commit_sha {
            return Ok(commit.clone());
        }
        let branch = Branch::parse(&context.branch).map_err(|err| Failure::Deploy(err.to_string()))?;
        match &context.repo_url {
            Some(url) => {
                let url = RepoUrl::parse(url).map_err(|err| Failure::Deploy(err.to_string()))?;
                log.step(format!("Fetching {branch} from {url}")).await;
                source::fetch(repo, &url, &branch, &self.config.repo_policy)
                    .await
                    .map_err(|err| Failure::Deploy(err.to_string()))
            }
            None => source::branch_head(repo, &branch)
                .await
                .map_err(|err| Failure::Deploy(err.to_string()))?
                .ok_or_else(|| Failure::Deploy(format!("branch {branch} has no commits; push to it first"))),
        }
    }
}

/// Why a deployment did not reach DEPLOYING.
pub(crate) enum Failure {
    /// The deployment's own problem, told to the user as its failure reason.
    Deploy(String),
    /// The store failed; the job is retried.
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Failure::Store(err)
    }
}

/// An empty directory at `dir` (a resumed build starts over).
async fn clean_dir(dir: &PathBuf) -> std::io::Result<()> {
    match tokio::fs::remove_dir_all(dir).await {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    tokio::fs::create_dir_all(dir).await
}
