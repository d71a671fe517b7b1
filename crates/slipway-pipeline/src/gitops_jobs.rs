//! Changes to a Kubernetes-target environment that are not deployments, each a
//! job naming the environment's folder:
//!
//! - [`Job::GitopsRemove`]: the environment moved back to the local target, so
//!   its folder leaves the GitOps repository and Argo CD prunes it;
//! - [`Job::GitopsScale`]: `ps:scale` changed its instances, so its manifests
//!   are committed again with the new replicas (same release, same image).
//!
//! [`Job::GitopsRemove`]: slipway_store::Job::GitopsRemove
//! [`Job::GitopsScale`]: slipway_store::Job::GitopsScale

use slipway_core::address::EnvironmentPath;
use slipway_core::api::RuntimeTarget;
use slipway_core::ids::WorkspaceId;
use slipway_gitops::{render_environment, AppPath, Commit, GitopsError, RepoWriter};
use slipway_store::StoreError;

use crate::manifests::render_input;
use crate::Pipeline;

/// The GitOps folder of the environment a job names.
fn app_path(environment: &EnvironmentPath) -> AppPath {
    AppPath {
        workspace: environment.workspace.clone(),
        project: environment.project.clone(),
        environment: environment.environment.clone(),
    }
}

impl Pipeline {
    /// An environment moved back to the local target: its folder leaves the GitOps repository,
    /// so Argo CD prunes it from the cluster. Kept when it moved to `kubernetes` again meanwhile.
    pub(crate) async fn remove_from_gitops(
        &self,
        workspace: &WorkspaceId,
        environment: &EnvironmentPath,
    ) -> Result<(), StoreError> {
        let path = app_path(environment);
        match self.store.environment_target(workspace, &environment.project, &environment.environment).await {
            Ok(RuntimeTarget::Kubernetes) => return Ok(()),
            Ok(RuntimeTarget::Local) => {}
            // Deleted meanwhile: its folder must go all the same.
            Err(StoreError::NotFound { .. }) => {}
            Err(err) => return Err(err),
        }
        let message = format!("remove {path}: moved to the local target\n\n{}", trailer(&path));
        self.land(&path, "removing the app from GitOps", move |writer, path| writer.remove(path, &message)).await;
        Ok(())
    }

    /// `ps:scale` on a Kubernetes-target environment: its current release is committed again
    /// with the new replicas. A release still on its way (no image yet) carries the new scale
    /// in its own commit, so there is nothing to do then.
    pub(crate) async fn rescale_in_gitops(
        &self,
        workspace: &WorkspaceId,
        environment: &EnvironmentPath,
    ) -> Result<(), StoreError> {
        let path = app_path(environment);
        let source =
            match self.store.render_source(workspace, &environment.project, &environment.environment, None).await {
                Ok(source) => source,
                Err(StoreError::NotFound { .. }) => return Ok(()), // deleted, or never released
                Err(err) => return Err(err),
            };
        let (RuntimeTarget::Kubernetes, Some(image)) = (source.target, &source.image) else { return Ok(()) };
        let cluster = self.kubernetes.config.cluster.clone();
        let manifests =
            match render_input(environment, &source, image).and_then(|app| render_environment(&app, &cluster)) {
                Ok(manifests) => manifests,
                Err(err) => {
                    tracing::error!(app = %path, %err, "the new scale cannot be rendered");
                    return Ok(());
                }
            };
        let scale: Vec<String> = source.scale.iter().map(|(process, n)| format!("{process}={n}")).collect();
        let message = format!("scale {path}: {}\n\n{}", scale.join(", "), trailer(&path));
        self.land(&path, "committing the new scale", move |writer, path| writer.commit(path, &manifests, &message))
            .await;
        Ok(())
    }

    /// Runs one write to the GitOps repository; failures are logged (the job is not retried:
    /// the next change of the environment writes its whole folder anyway).
    async fn land<F>(&self, path: &AppPath, what: &'static str, write: F)
    where
        F: FnOnce(&RepoWriter, &AppPath) -> Result<Commit, GitopsError> + Send + 'static,
    {
        let writer = match self.kubernetes.writer().await {
            Ok(writer) => writer,
            Err(reason) => {
                tracing::error!(app = %path, reason = %self.hide_remote(reason), "{what} failed");
                return;
            }
        };
        let result = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || write(&writer, &path)).await
        };
        match result {
            Ok(Ok(commit)) => tracing::info!(app = %path, sha = commit.sha, created = commit.created, "{what}: done"),
            Ok(Err(err)) => tracing::error!(app = %path, err = %self.hide_remote(err.to_string()), "{what} failed"),
            Err(err) => tracing::error!(app = %path, %err, "{what} stopped"),
        }
    }
}

/// The commit message trailer naming the environment.
fn trailer(path: &AppPath) -> String {
    format!("workspace: {}\nproject: {}\nenvironment: {}\n", path.workspace, path.project, path.environment)
}
