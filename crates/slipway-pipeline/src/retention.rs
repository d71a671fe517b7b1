//! Release retention on this machine: after each release of a `local` environment, the build
//! directories of releases beyond the last N (`PipelineSettings::release_retention`) and of old
//! failed builds are removed. The store decides which and records them as pruned first (so a
//! rollback to one is refused from then on); this module removes the directories, and at start
//! removes any that a crash left behind between the two.
//!
//! Every path removed is `DataLayout::build_dir` of a deployment ID the store returned: computed
//! by the platform, never read from a row or a tenant's files. `remove_dir_all` unlinks symbolic
//! links without following them, so a build that planted a link to `/` loses the link only.

use std::io;
use std::path::{Path, PathBuf};

use slipway_core::runtime::RuntimeVersion;

use slipway_core::ids::{DeploymentId, EnvironmentId, WorkspaceId};
use slipway_store::{Actor, PrunedBuild, StoreError};

use crate::log::DeployLog;
use crate::Pipeline;

impl Pipeline {
    /// Applies release retention to `environment` and removes the build directories it gave up;
    /// returns them. Nothing happens on the Kubernetes target. A directory that cannot be removed
    /// is logged and left (it is already recorded as pruned; the next start tries again).
    pub async fn prune_releases(
        &self,
        workspace: &WorkspaceId,
        environment: &EnvironmentId,
    ) -> Result<Vec<PrunedBuild>, StoreError> {
        let retention = self.config.release_retention;
        let pruned = self.store.prune_artifacts(&Actor::pipeline(), workspace, environment, retention).await?;
        for build in &pruned {
            self.remove_build(&build.deployment_id).await;
        }
        Ok(pruned)
    }

    /// [`Pipeline::prune_releases`] after a release, told in the deployment's log. Failing to prune
    /// never fails the deployment.
    pub(crate) async fn prune_after_release(
        &self,
        workspace: &WorkspaceId,
        environment: &EnvironmentId,
        log: &DeployLog,
    ) {
        match self.prune_releases(workspace, environment).await {
            Ok(pruned) if pruned.is_empty() => {}
            Ok(pruned) => {
                let numbers: Vec<String> = pruned.iter().map(|build| format!("#{}", build.number)).collect();
                log.step(format!(
                    "Removed the builds of {} (this environment keeps the artifacts of its last {} releases)",
                    numbers.join(", "),
                    self.config.release_retention
                ))
                .await;
            }
            Err(err) => tracing::warn!(%err, %environment, "release retention failed; old builds stay for now"),
        }
    }

    /// Removes the installed runtime versions that no kept release was built with and no build
    /// used within `keep` (`slipway_build::KEEP_UNUSED` in production); returns them. Runs with the
    /// log sweep.
    pub async fn sweep_runtimes(&self, keep: std::time::Duration) -> Vec<RuntimeVersion> {
        let in_use = match self.store.runtime_dirs_in_use().await {
            Ok(dirs) => dirs.into_iter().map(PathBuf::from).collect(),
            Err(err) => {
                tracing::warn!(%err, "finding the runtimes releases use failed; none is removed");
                return Vec::new();
            }
        };
        let removed = self.builder.sweep_runtimes(&in_use, keep).await;
        for runtime in &removed {
            tracing::info!(runtime = %runtime, "removed a runtime no kept release uses");
        }
        removed
    }

    /// Removes the build directories recorded as pruned that are still on disk: a control plane
    /// stopped between recording and removing leaves them behind. [`Pipeline::run`] calls it at start.
    pub async fn sweep_pruned_builds(&self) {
        let builds = self.layout.builds();
        let Ok(mut entries) = tokio::fs::read_dir(&builds).await else { return };
        let mut present = Vec::new();
        while let Ok(Some(entry)) = entries.next_entry().await {
            // Only names that are deployment IDs: nothing else of the directory is ours to judge.
            if let Some(id) = entry.file_name().to_str().and_then(|name| DeploymentId::parse(name).ok()) {
                present.push(id);
            }
        }
        match self.store.pruned_builds(&present).await {
            Ok(pruned) => {
                for id in pruned {
                    self.remove_build(&id).await;
                }
            }
            Err(err) => tracing::warn!(%err, "finding build directories left to prune failed"),
        }
    }

    async fn remove_build(&self, deployment: &DeploymentId) {
        let dir = self.layout.build_dir(deployment);
        let shown = dir.display().to_string();
        match tokio::task::spawn_blocking(move || remove_build_dir(&dir)).await {
            Ok(Ok(())) => tracing::info!(dir = %shown, "removed a build directory (release retention)"),
            Ok(Err(err)) => tracing::warn!(dir = %shown, %err, "could not remove a pruned build directory"),
            Err(err) => tracing::warn!(dir = %shown, %err, "removing a pruned build directory stopped"),
        }
    }
}

/// Removes `dir` and everything below it; a missing one is fine. A build may leave directories
/// without write permission, which only root can empty: when removal is refused, the owner's
/// permission is restored on every directory below (never through a symbolic link) and it is
/// tried once more.
fn remove_build_dir(dir: &Path) -> io::Result<()> {
    let missing_is_fine = |result: io::Result<()>| match result {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    match missing_is_fine(std::fs::remove_dir_all(dir)) {
        Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
            make_directories_writable(dir);
            missing_is_fine(std::fs::remove_dir_all(dir))
        }
        other => other,
    }
}

/// Gives the owner read, write and search permission on `dir` and every directory below it.
/// Only what `symlink_metadata` reports as a directory is changed or entered. No tenant code runs
/// in a build directory retention gave up (none of its releases is starting, serving or draining),
/// so nothing swaps a directory for a link between the look and the change.
fn make_directories_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&dir) else { continue };
        if !meta.is_dir() {
            continue;
        }
        let mode = meta.permissions().mode();
        if mode & 0o700 != 0o700 {
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode | 0o700));
        }
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn removes_read_only_trees_and_only_unlinks_symlinks() {
        let root = std::env::temp_dir().join(format!("slipway-remove-{}", std::process::id()));
        let outside = root.join("outside");
        let build = root.join("build");
        std::fs::create_dir_all(outside.join("keep")).unwrap();
        std::fs::write(outside.join("keep/file"), b"keep me").unwrap();
        std::fs::create_dir_all(build.join("app/locked/deeper")).unwrap();
        std::fs::write(build.join("app/locked/deeper/file"), b"x").unwrap();
        std::os::unix::fs::symlink(&outside, build.join("app/to-outside")).unwrap();
        std::os::unix::fs::symlink("/", build.join("app/to-root")).unwrap();
        std::fs::hard_link(outside.join("keep/file"), build.join("app/hard-link")).unwrap();
        for dir in ["app/locked/deeper", "app/locked"] {
            std::fs::set_permissions(build.join(dir), std::fs::Permissions::from_mode(0o500)).unwrap();
        }

        remove_build_dir(&build).unwrap();
        assert!(!build.exists());
        assert_eq!(std::fs::read(outside.join("keep/file")).unwrap(), b"keep me", "a link's target is untouched");
        remove_build_dir(&build).unwrap(); // already gone: fine
        std::fs::remove_dir_all(&root).unwrap();
    }
}
