//! Runtimes no release needs leave the store: a tenant can pin a new version with every push, and
//! each install costs the machine tens of megabytes that nothing would ever give back.
//!
//! A version stays while a kept release was built with it (the pipeline names those) or while a
//! build used it within [`KEEP_UNUSED`] (each use touches its directory): builds run at most two
//! hours, so a build that has just resolved a version never loses it, and a version a project
//! went back to recently costs no new download. The rest is moved into `.partial/` under the
//! version's install lock, so no build can pick it meanwhile, and removed there.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use slipway_core::runtime::{Language, RuntimeVersion};

use super::install::partial_root;
use super::Runtimes;

/// How long a version no kept release uses stays after a build last used it.
pub const KEEP_UNUSED: Duration = Duration::from_secs(24 * 60 * 60);

impl Runtimes {
    /// Removes the versions that no directory of `in_use` names and no build used within `keep`;
    /// returns them. A directory that cannot be removed is logged and left for the next sweep.
    pub async fn sweep(&self, in_use: &HashSet<PathBuf>, keep: Duration) -> Vec<RuntimeVersion> {
        let mut removed = Vec::new();
        for language in Language::ALL {
            for version in self.installed(language) {
                let dir = self.dir(language, version);
                if in_use.contains(&dir) {
                    continue;
                }
                let lock = self.lock(language, version);
                let _held = lock.lock().await;
                if !idle_for(&dir, keep) {
                    continue;
                }
                match retire(&self.store, &dir).await {
                    Ok(()) => removed.push(RuntimeVersion { language, version: version.to_string(), host: false }),
                    Err(err) => tracing::warn!(dir = %dir.display(), %err, "could not remove an unused runtime"),
                }
            }
        }
        removed
    }
}

/// Whether `dir` was last touched more than `keep` ago (a clock that went back counts as recent).
fn idle_for(dir: &Path, keep: Duration) -> bool {
    let Ok(modified) = std::fs::metadata(dir).and_then(|meta| meta.modified()) else { return false };
    SystemTime::now().duration_since(modified).is_ok_and(|idle| idle > keep)
}

/// Marks `dir` as used now, so a sweep keeps it.
pub(super) fn touch(dir: &Path) {
    if let Ok(file) = std::fs::File::open(dir) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// Moves `dir` out of the store in one rename, then removes it.
async fn retire(store: &Path, dir: &Path) -> std::io::Result<()> {
    let partial = partial_root(store);
    tokio::fs::create_dir_all(&partial).await?;
    let name = dir.strip_prefix(store).unwrap_or(dir).to_string_lossy().replace('/', "-");
    let aside = partial.join(format!("{name}.removed-{}", std::process::id()));
    tokio::fs::rename(dir, &aside).await?;
    tokio::fs::remove_dir_all(&aside).await
}
