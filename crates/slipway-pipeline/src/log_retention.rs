//! Log retention on this machine: every log file is bounded on its own (rotation, the build's
//! output cap), and this bounds how many there are. A deployment's log is kept while it is among
//! the newest [`DEPLOYMENT_LOGS_KEPT`] deployments of its environment; an environment's runtime
//! and access logs, and its deployments' logs, go when the environment (or its project) is
//! deleted. [`Pipeline::run`] sweeps at start and every [`SWEEP_EVERY`].
//!
//! Files are listed first and the store asked afterwards, so a log created meanwhile belongs to
//! a row that already existed and is kept. Only names that parse as a deployment or environment
//! ID (with `.log` and rotation suffixes) are considered: nothing else in the directories is ours
//! to judge, the router's `_unrouted.log` included. A file still open by a writer (an instance
//! stopping) is unlinked; its writer's next rotation or reopen starts afresh.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use slipway_core::ids::{DeploymentId, EnvironmentId};

use crate::Pipeline;

/// Deployment logs kept per environment: with each capped at 10 MiB of build output, at most
/// ~1 GiB per environment, typically a few MiB.
pub const DEPLOYMENT_LOGS_KEPT: u32 = 100;

/// How often the logs are swept.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// What a sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LogSweep {
    pub deployment_logs: usize,
    /// Runtime and access-log files (rotated ones included) of deleted environments.
    pub environment_logs: usize,
}

impl Pipeline {
    /// Removes the log files the platform no longer keeps (see the module's documentation).
    /// Failures are logged and left for the next sweep.
    pub async fn sweep_logs(&self) -> LogSweep {
        let mut sweep = LogSweep::default();
        let deployments = named_files(&self.layout.deployment_logs(), |id| DeploymentId::parse(id).ok());
        match self
            .store
            .deployment_logs_past(&deployments.keys().cloned().collect::<Vec<_>>(), DEPLOYMENT_LOGS_KEPT)
            .await
        {
            Ok(past) => sweep.deployment_logs = remove(files_of(&past, &deployments)).await,
            Err(err) => tracing::warn!(%err, "finding deployment logs past retention failed"),
        }
        let mut environments = named_files(&self.layout.app_logs(), |id| EnvironmentId::parse(id).ok());
        for (id, files) in named_files(&self.layout.access_logs(), |id| EnvironmentId::parse(id).ok()) {
            environments.entry(id).or_default().extend(files);
        }
        match self.store.environments_gone(&environments.keys().cloned().collect::<Vec<_>>()).await {
            Ok(gone) => sweep.environment_logs = remove(files_of(&gone, &environments)).await,
            Err(err) => tracing::warn!(%err, "finding the logs of deleted environments failed"),
        }
        if sweep != LogSweep::default() {
            tracing::info!(
                deployment_logs = sweep.deployment_logs,
                environment_logs = sweep.environment_logs,
                "removed log files past retention"
            );
        }
        sweep
    }
}

/// The regular files of `dir` whose name is `<ID>.log` or `<ID>.log.<N>`, by ID.
fn named_files<Id: Ord>(dir: &Path, parse: impl Fn(&str) -> Option<Id>) -> BTreeMap<Id, Vec<PathBuf>> {
    let mut files: BTreeMap<Id, Vec<PathBuf>> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return files };
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|kind| kind.is_file()) {
            continue;
        }
        let name = entry.file_name();
        let Some((stem, suffix)) = name.to_str().and_then(|name| name.split_once(".log")) else { continue };
        let rotated = suffix.is_empty() || suffix.strip_prefix('.').is_some_and(|n| n.parse::<u32>().is_ok());
        if let (true, Some(id)) = (rotated, parse(stem)) {
            files.entry(id).or_default().push(entry.path());
        }
    }
    files
}

/// The files of `ids`.
fn files_of<Id: Ord>(ids: &[Id], files: &BTreeMap<Id, Vec<PathBuf>>) -> Vec<PathBuf> {
    ids.iter().filter_map(|id| files.get(id)).flatten().cloned().collect()
}

/// Removes the files; returns how many were.
async fn remove(files: Vec<PathBuf>) -> usize {
    let mut removed = 0;
    for file in files {
        match tokio::fs::remove_file(&file).await {
            Ok(()) => removed += 1,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => tracing::warn!(file = %file.display(), %err, "could not remove a log past retention"),
        }
    }
    removed
}
