//! Helpers shared by the per-project dependency caches: keys, the per-project
//! lock, hard-linked copies, publishing by rename, pruning.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::command::{Run, RunAs};
use super::log::BuildLog;
use super::{BuildError, Context, Step};

/// A cache key: sha256 over labelled parts, so `("a", "bc")` and `("ab", "c")` differ.
#[derive(Default)]
pub(crate) struct Key(Sha256);

impl Key {
    pub(crate) fn part(mut self, label: &str, value: impl AsRef<[u8]>) -> Self {
        let value = value.as_ref();
        for bytes in [label.as_bytes(), value] {
            self.0.update((bytes.len() as u64).to_le_bytes());
            self.0.update(bytes);
        }
        self
    }

    pub(crate) fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// Builds of one project take turns on its cache directory (two pushes in a
/// row must not both write the same node_modules or virtualenv). In-process only:
/// one Slipway process builds at a time on a machine.
pub(crate) async fn lock(cache_dir: &Path, log: &BuildLog) -> tokio::sync::OwnedMutexGuard<()> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let lock = {
        let mut locks = LOCKS.get_or_init(Default::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(cache_dir.to_owned()).or_default().clone()
    };
    match lock.clone().try_lock_owned() {
        Ok(guard) => guard,
        Err(_) => {
            log.line("waiting for another build of this project to finish with its cache").await;
            lock.lock_owned().await
        }
    }
}

/// `cp -al from to`: a copy whose files are hard links (instant, no extra space).
/// Falls back to a real copy when the two are on different file systems.
///
/// The copy runs as the platform, outside the sandbox: hard links cannot
/// cross the separate mounts a sandbox sees the app and the cache through.
/// `cp -a` copies symlinks as links and never follows them; the paths on
/// the way must not be links a build planted (checked here), and no tenant
/// process runs while it copies.
pub(crate) async fn link_copy(from: &Path, to: &Path, cx: &Context<'_>) -> Result<(), BuildError> {
    copy_with(from, to, cx, &["-al", "-a"]).await
}

/// `cp -a from to`: a copy of its own, for files a later step rewrites in place (a hard link
/// would carry the change into the cache and every release that shares the file). As
/// [`link_copy`], run as the platform outside the sandbox, ownership kept.
pub(crate) async fn real_copy(from: &Path, to: &Path, cx: &Context<'_>) -> Result<(), BuildError> {
    copy_with(from, to, cx, &["-a"]).await
}

/// `cp <flags> from to` for each of `flags` in turn until one succeeds.
async fn copy_with(from: &Path, to: &Path, cx: &Context<'_>, attempts: &[&str]) -> Result<(), BuildError> {
    let roots = [&cx.request.app_dir, &cx.request.cache_dir];
    for path in [from, to] {
        if !roots.iter().any(|root| no_links_below(root, path)) {
            return Err(BuildError::Io {
                context: format!("the build replaced part of {} with a symlink; it is not copied", path.display()),
                source: std::io::Error::other("symlink on the way"),
            });
        }
    }
    let (from, to) = (OsString::from(from), OsString::from(to));
    let env = [("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())];
    let cwd = Path::new("/");
    for (attempt, flags) in attempts.iter().enumerate() {
        let flag = OsString::from(*flags);
        let display = format!("cp {flags}");
        let run = Run {
            step: Step::Install,
            display: &display,
            program: "cp",
            args: &[&flag, &from, &to],
            cwd,
            env: &env,
            echo: false,
            run_as: RunAs::Platform,
        };
        match run.run(cx.log, cx.deadline).await {
            Ok(()) => return Ok(()),
            Err(BuildError::CommandFailed { .. }) if attempt + 1 < attempts.len() => {
                let _ = tokio::fs::remove_dir_all(&to).await;
            }
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// Puts the cached `entry` in place as `target` by `restore` (a [`link_copy`] of it, usually),
/// clearing `target` first and marking the entry used: `Ok(true)`. A restore that fails is
/// cleared away too (`Ok(false)`: the caller installs instead); a timeout ends the build.
pub(crate) async fn reuse(
    entry: &Path,
    target: &Path,
    restore: impl std::future::Future<Output = Result<(), BuildError>>,
) -> Result<bool, BuildError> {
    let _ = tokio::fs::remove_dir_all(target).await;
    match restore.await {
        Ok(()) => {
            touch(entry);
            Ok(true)
        }
        Err(timeout @ BuildError::Timeout { .. }) => Err(timeout),
        Err(_) => {
            let _ = tokio::fs::remove_dir_all(target).await;
            Ok(false)
        }
    }
}

/// After a successful install: a hard-linked copy of `from` (node_modules,
/// vendor/bundle) into the cache at `entry`, written under a temp name and
/// renamed, so no half entry is ever seen; the `keep` newest entries stay.
pub(crate) async fn store(cx: &Context<'_>, from: &Path, entry: &Path, keep: usize) {
    if !from.is_dir() {
        return;
    }
    let Some(parent) = entry.parent() else { return };
    if !no_links_below(&cx.request.cache_dir, entry) || tokio::fs::create_dir_all(parent).await.is_err() {
        return;
    }
    let temp = temp_beside(entry);
    let stored = match link_copy(from, &temp, cx).await {
        Ok(()) => publish(&temp, entry).await.is_ok(),
        Err(_) => {
            let _ = tokio::fs::remove_dir_all(&temp).await;
            false
        }
    };
    if stored {
        prune(parent, keep).await;
    } else {
        cx.log.line("Could not store dependencies in the cache; the next build installs again").await;
    }
}

/// Whether every entry from `root` down to `path` is what it seems and not a
/// symlink a build planted: the builder (root) writes and removes there after
/// the tenant's commands ran, and must not be led outside the tenant's tree.
/// No tenant process runs meanwhile (each command's sandbox dies with it), so
/// the answer still holds when the builder acts on it.
pub(crate) fn no_links_below(root: &Path, path: &Path) -> bool {
    let Ok(rest) = path.strip_prefix(root) else { return false };
    let mut current = root.to_path_buf();
    rest.components().all(|part| {
        current.push(part);
        !std::fs::symlink_metadata(&current).is_ok_and(|meta| meta.file_type().is_symlink())
    })
}

/// Moves a finished temp dir to its final name; loses gracefully to a
/// concurrent writer that got there first.
pub(crate) async fn publish(temp: &Path, target: &Path) -> std::io::Result<()> {
    match tokio::fs::rename(temp, target).await {
        Ok(()) => Ok(()),
        Err(_) if target.exists() => tokio::fs::remove_dir_all(temp).await,
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(temp).await;
            Err(e)
        }
    }
}

/// A fresh temp name beside `target` (same file system, so rename is atomic).
pub(crate) fn temp_beside(target: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    target.with_file_name(format!(".tmp-{name}-{}-{nanos}", std::process::id()))
}

/// Keeps the `keep` most recently used entries of `dir` (by modification
/// time), plus leftovers of crashed writes are removed.
pub(crate) async fn prune(dir: &Path, keep: usize) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return };
    let mut found = Vec::new();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name().to_string_lossy().into_owned();
        let modified = entry.metadata().await.and_then(|m| m.modified()).ok();
        found.push((name.starts_with(".tmp-"), modified, entry.path()));
    }
    found.sort_by_key(|(_, modified, _)| std::cmp::Reverse(*modified));
    let mut kept = 0;
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for (temp, modified, path) in found {
        let stale_temp = temp && modified.is_some_and(|m| m < an_hour_ago);
        if temp && !stale_temp {
            continue;
        }
        if !temp && kept < keep {
            kept += 1;
            continue;
        }
        let _ = tokio::fs::remove_dir_all(path).await;
    }
}

/// The bytes of a regular file of the app that decides a cache key, at most
/// `limit` of them; `None` when absent or not a regular file. The builder reads
/// it as the platform, so a symlink is never followed (a tenant could point
/// its lockfile at a root-only file or at `/proc/kmsg`, which never ends) and
/// a FIFO or device is never opened for reading.
pub(crate) async fn read_key_file(path: &Path, limit: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc_flags::O_NOFOLLOW | libc_flags::O_NONBLOCK)
            .open(&path)
            .ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        let mut bytes = Vec::new();
        file.take(limit).read_to_end(&mut bytes).ok()?;
        Some(bytes)
    })
    .await
    .ok()
    .flatten()
}

/// `open(2)` flags, from nix (the builder has no libc dependency of its own).
mod libc_flags {
    pub(super) const O_NOFOLLOW: i32 = nix::fcntl::OFlag::O_NOFOLLOW.bits();
    pub(super) const O_NONBLOCK: i32 = nix::fcntl::OFlag::O_NONBLOCK.bits();
}

/// Marks a cache entry as just used, so pruning keeps it.
pub(crate) fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parts_are_delimited() {
        let a = Key::default().part("x", "ab").part("y", "c").finish();
        let b = Key::default().part("x", "a").part("y", "bc").finish();
        assert_ne!(a, b);
        assert_eq!(a, Key::default().part("x", "ab").part("y", "c").finish());
        assert_eq!(a.len(), 64);
    }
}

#[cfg(test)]
mod link_tests {
    use super::{no_links_below, read_key_file};

    #[tokio::test]
    async fn key_files_are_read_only_when_they_are_plain_files_of_the_app() {
        let app = tempfile::tempdir().expect("tempdir");
        std::fs::write(app.path().join("package-lock.json"), "{}").expect("write");
        std::os::unix::fs::symlink("/etc/shadow", app.path().join("yarn.lock")).expect("symlink");
        nix::unistd::mkfifo(&app.path().join("pnpm-lock.yaml"), nix::sys::stat::Mode::S_IRWXU).expect("fifo");
        assert_eq!(read_key_file(&app.path().join("package-lock.json"), 10).await, Some(b"{}".to_vec()));
        assert_eq!(read_key_file(&app.path().join("yarn.lock"), 10).await, None, "a symlink is not followed");
        assert_eq!(read_key_file(&app.path().join("pnpm-lock.yaml"), 10).await, None, "a FIFO is not read");
        assert_eq!(read_key_file(&app.path().join("missing"), 10).await, None);
    }

    #[test]
    fn a_planted_symlink_anywhere_below_the_root_is_noticed() {
        let root = tempfile::tempdir().expect("tempdir");
        let cache = root.path();
        std::fs::create_dir_all(cache.join("venvs/real")).expect("mkdir");
        std::os::unix::fs::symlink("/etc", cache.join("venvs/planted")).expect("symlink");
        std::os::unix::fs::symlink("/etc/passwd", cache.join("venvs/real/.slipway-complete")).expect("symlink");
        assert!(no_links_below(cache, &cache.join("venvs/real/other")));
        assert!(!no_links_below(cache, &cache.join("venvs/planted/x")));
        assert!(!no_links_below(cache, &cache.join("venvs/real/.slipway-complete")));
        assert!(!no_links_below(cache, std::path::Path::new("/elsewhere")));
    }
}
