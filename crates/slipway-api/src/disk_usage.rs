//! What a project takes on this machine's disk, for `GET …/projects/{project}`: measured by walking
//! the directories the platform computes from the project's IDs (`DataLayout`), distrusting
//! everything found inside them — tenant build output holds symbolic links to anywhere, hard links
//! and trees of millions of files.
//!
//! * A symbolic link is never followed (entries are `lstat`ed); it counts as itself.
//! * A file with several hard links counts once across the whole measurement, in the first figure
//!   that meets it (they are walked logs first, then repository, builds, build cache).
//! * A walk stays on the filesystem its figure starts on, and stops at [`MAX_ENTRIES`] entries or
//!   [`MAX_WALK`], whichever comes first; the figures are then lower bounds (`complete: false`).
//! * A measurement is reused for [`FRESH`]; up to [`STALE`] a request answers the last one while a
//!   new one runs in the background, so only a first request (or one after a long quiet) waits for
//!   a walk. At most [`CONCURRENT_WALKS`] walks run at once, on the blocking pool.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slipway_core::api::DiskUsage;
use slipway_core::ids::{ProjectId, WorkspaceId};
use slipway_core::layout::DataLayout;
use slipway_core::names::ProjectSlug;
use slipway_core::timestamp::Timestamp;
use slipway_git::Repos;
use slipway_store::{ProjectFiles, Store, StoreError};
use tokio::sync::Semaphore;

/// The most entries one measurement looks at.
pub(crate) const MAX_ENTRIES: u64 = 1_000_000;
/// The longest one measurement walks.
pub(crate) const MAX_WALK: Duration = Duration::from_secs(2);
/// How long a measurement is answered without measuring again.
pub(crate) const FRESH: Duration = Duration::from_secs(60);
/// How old a measurement may be and still be answered while a new one runs.
pub(crate) const STALE: Duration = Duration::from_secs(300);
/// Walks that may run at once, whatever the number of requests.
const CONCURRENT_WALKS: usize = 2;
/// Cached projects beyond which measurements older than [`STALE`] are forgotten.
const MAX_CACHED: usize = 10_000;

/// The last measurement of each project, shared by every request of this control plane.
pub(crate) struct DiskUsageCache {
    slots: Mutex<HashMap<ProjectId, Arc<Slot>>>,
    walks: Arc<Semaphore>,
}

#[derive(Default)]
struct Slot {
    last: Mutex<Option<(DiskUsage, Instant)>>,
    /// Held while this project is measured, so concurrent requests wait for one walk.
    measuring: tokio::sync::Mutex<()>,
}

impl Slot {
    fn last(&self) -> Option<(DiskUsage, Instant)> {
        self.last.lock().ok().and_then(|last| last.clone())
    }

    fn record(&self, usage: DiskUsage) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some((usage, Instant::now()));
        }
    }
}

impl Default for DiskUsageCache {
    fn default() -> Self {
        Self { slots: Mutex::default(), walks: Arc::new(Semaphore::new(CONCURRENT_WALKS)) }
    }
}

impl DiskUsageCache {
    /// The disk use of `project` of `workspace`; `PROJECT_NOT_FOUND` when there is none.
    pub(crate) async fn usage(
        &self,
        store: &Store,
        layout: &DataLayout,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
    ) -> Result<DiskUsage, StoreError> {
        let files = store.project_files(workspace, project).await?;
        let slot = self.slot(&files.project_id);
        match slot.last() {
            Some((usage, at)) if at.elapsed() < FRESH => return Ok(usage),
            Some((usage, at)) if at.elapsed() < STALE => {
                let (walks, layout) = (self.walks.clone(), layout.clone());
                tokio::spawn(async move {
                    // One refresh at a time; a request that finds one running answers the last figure.
                    let Ok(_measuring) = slot.measuring.try_lock() else { return };
                    if let Some(usage) = measure(&walks, layout, files).await {
                        slot.record(usage);
                    }
                });
                return Ok(usage);
            }
            _ => {}
        }
        let _measuring = slot.measuring.lock().await;
        if let Some((usage, _)) = slot.last().filter(|(_, at)| at.elapsed() < FRESH) {
            return Ok(usage); // measured by the request we waited for
        }
        let usage = measure(&self.walks, layout.clone(), files)
            .await
            .ok_or_else(|| StoreError::Corrupt("measuring the project's disk use stopped".into()))?;
        slot.record(usage.clone());
        Ok(usage)
    }

    fn slot(&self, project: &ProjectId) -> Arc<Slot> {
        let Ok(mut slots) = self.slots.lock() else { return Arc::default() };
        if slots.len() >= MAX_CACHED && !slots.contains_key(project) {
            slots.retain(|_, slot| slot.last().is_some_and(|(_, at)| at.elapsed() < STALE));
        }
        slots.entry(project.clone()).or_default().clone()
    }
}

/// Measures on the blocking pool, at most [`CONCURRENT_WALKS`] at once. `None` if the walk panicked.
async fn measure(walks: &Semaphore, layout: DataLayout, files: ProjectFiles) -> Option<DiskUsage> {
    let _permit = walks.acquire().await.ok()?;
    tokio::task::spawn_blocking(move || {
        measure_project(&layout, &files, Limits { max_entries: MAX_ENTRIES, max_walk: MAX_WALK })
    })
    .await
    .ok()
}

/// How far one measurement may go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_entries: u64,
    pub max_walk: Duration,
}

/// The figures of one project, each path computed here from its IDs.
pub(crate) fn measure_project(layout: &DataLayout, files: &ProjectFiles, limits: Limits) -> DiskUsage {
    let mut walk = Walk::new(limits);
    let (mut runtime_logs, mut access_logs) = (0, 0);
    for environment in &files.environments {
        runtime_logs += walk.measure_log(&layout.app_log(environment));
        access_logs += walk.measure_log(&layout.access_log(environment));
    }
    let mut build_logs = 0;
    for deployment in &files.deployments {
        build_logs += walk.measure(&layout.deployment_log(deployment));
    }
    let repository = walk.measure(&Repos::new(layout.repos()).path(&files.workspace_id, &files.project_id));
    let mut builds = 0;
    for deployment in &files.builds {
        builds += walk.measure(&layout.build_dir(deployment));
    }
    let build_cache = walk.measure(&layout.cache_dir(&files.project_id));
    DiskUsage {
        repository,
        builds,
        build_cache,
        build_logs,
        runtime_logs,
        access_logs,
        total: repository + builds + build_cache + build_logs + runtime_logs + access_logs,
        complete: !walk.spent && !walk.missed,
        measured_at: Timestamp::now(),
    }
}

/// One measurement's state: its budget and the hard-linked files it has counted.
struct Walk {
    limits: Limits,
    started: Instant,
    entries: u64,
    /// `(device, inode)` of files with more than one link, counted already.
    seen: HashSet<(u64, u64)>,
    /// The budget ran out: nothing more is counted.
    spent: bool,
    /// An entry could not be read: the figures miss it.
    missed: bool,
}

impl Walk {
    fn new(limits: Limits) -> Self {
        Self { limits, started: Instant::now(), entries: 0, seen: HashSet::new(), spent: false, missed: false }
    }

    /// Whether the budget is spent; once it is, it stays so.
    fn exhausted(&mut self) -> bool {
        if !self.spent {
            self.spent = self.entries >= self.limits.max_entries || self.started.elapsed() >= self.limits.max_walk;
        }
        self.spent
    }

    /// Bytes allocated under `root` (itself included), without following any symbolic link and
    /// without leaving `root`'s filesystem. A missing `root` is 0. The walk goes by directory
    /// descriptor: a directory the tenant swaps for a link meanwhile is not entered.
    /// A log and its rotated files.
    fn measure_log(&mut self, log: &Path) -> u64 {
        let rotated: u64 = slipway_logs::rotated_files(log).iter().map(|file| self.measure(file)).sum();
        self.measure(log) + rotated
    }

    fn measure(&mut self, root: &Path) -> u64 {
        if self.exhausted() {
            return 0;
        }
        let meta = match std::fs::symlink_metadata(root) {
            Ok(meta) => meta,
            Err(err) => {
                self.unreadable(&err);
                return 0;
            }
        };
        let device = meta.dev();
        let mut total = self.count(meta.is_dir(), meta.nlink(), meta.dev(), meta.ino(), meta.blocks());
        if !meta.is_dir() {
            return total;
        }
        let Some(root) = self.open_dir(nix::fcntl::AT_FDCWD, root) else { return total };
        // Depth-first with a stack of our own (a tenant's tree may be deeper than any call
        // stack); a directory is opened only when its turn comes, so open descriptors stay few.
        let mut stack: Vec<(Arc<OwnedFd>, std::ffi::CString)> = Vec::new();
        let mut current = Some(root);
        loop {
            let dir = match current.take() {
                Some(dir) => dir,
                None => match stack.pop() {
                    Some((parent, name)) => match self.open_dir(parent.as_fd(), name.as_c_str()) {
                        Some(dir) => dir,
                        None => continue,
                    },
                    None => return total,
                },
            };
            let dir = Arc::new(dir);
            let Some(names) = self.names(&dir) else { continue };
            for name in names {
                if self.exhausted() {
                    return total;
                }
                let flags = nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW;
                let stat = match nix::sys::stat::fstatat(dir.as_fd(), name.as_c_str(), flags) {
                    Ok(stat) => stat,
                    Err(err) => {
                        self.unreadable(&err.into());
                        continue;
                    }
                };
                let is_dir = stat.st_mode & libc_mode::S_IFMT == libc_mode::S_IFDIR;
                let blocks = u64::try_from(stat.st_blocks).unwrap_or(0);
                #[allow(clippy::useless_conversion)] // `nlink_t` is 32 bits on some targets
                let links = u64::from(stat.st_nlink);
                total += self.count(is_dir, links, stat.st_dev, stat.st_ino, blocks);
                if is_dir && stat.st_dev == device {
                    stack.push((dir.clone(), name));
                }
            }
        }
    }

    /// The entries of `dir` (`.` and `..` left out).
    fn names(&mut self, dir: &OwnedFd) -> Option<Vec<std::ffi::CString>> {
        let listed = dir.try_clone().and_then(|fd| nix::dir::Dir::from_fd(fd).map_err(std::io::Error::from));
        match listed {
            Ok(mut listing) => Some(
                listing
                    .iter()
                    .flatten()
                    .map(|entry| entry.file_name().to_owned())
                    .filter(|name| ![&b"."[..], &b".."[..]].contains(&name.as_bytes()))
                    .collect(),
            ),
            Err(err) => {
                self.unreadable(&err);
                None
            }
        }
    }

    /// `name` under `parent`, opened as a directory without following a link.
    fn open_dir<Fd: AsFd, P: ?Sized + nix::NixPath>(&mut self, parent: Fd, name: &P) -> Option<OwnedFd> {
        use nix::fcntl::OFlag;
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        match nix::fcntl::openat(parent, name, flags, nix::sys::stat::Mode::empty()) {
            Ok(fd) => Some(fd),
            Err(err) => {
                self.unreadable(&err.into());
                None
            }
        }
    }

    fn count(&mut self, is_dir: bool, links: u64, device: u64, inode: u64, blocks: u64) -> u64 {
        self.entries += 1;
        if !is_dir && links > 1 && !self.seen.insert((device, inode)) {
            return 0;
        }
        blocks.saturating_mul(512)
    }

    /// Something vanished meanwhile (fine) or could not be read (the figure misses it).
    fn unreadable(&mut self, err: &std::io::Error) {
        if err.kind() != std::io::ErrorKind::NotFound {
            self.missed = true;
        }
    }
}

/// File-type bits of `st_mode`.
mod libc_mode {
    pub(super) const S_IFMT: u32 = nix::sys::stat::SFlag::S_IFMT.bits();
    pub(super) const S_IFDIR: u32 = nix::sys::stat::SFlag::S_IFDIR.bits();
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    use slipway_core::ids::{DeploymentId, EnvironmentId};

    use super::*;

    fn allocated(path: &Path) -> u64 {
        std::fs::symlink_metadata(path).unwrap().blocks() * 512
    }

    struct Fixture {
        root: PathBuf,
        layout: DataLayout,
        files: ProjectFiles,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    fn fixture(name: &str) -> Fixture {
        let root = std::env::temp_dir().join(format!("slipway-du-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let layout = DataLayout::new(&root);
        let files = ProjectFiles {
            workspace_id: WorkspaceId::generate(),
            project_id: ProjectId::generate(),
            environments: vec![EnvironmentId::generate()],
            deployments: vec![DeploymentId::generate()],
            builds: Vec::new(),
        };
        Fixture { root, layout, files }
    }

    const GENEROUS: Limits = Limits { max_entries: 1_000_000, max_walk: Duration::from_secs(60) };

    #[test]
    fn links_are_not_followed_and_hard_links_count_once() {
        let mut f = fixture("links");
        let build = f.layout.build_dir(&f.files.deployments[0]);
        f.files.builds.push(f.files.deployments[0].clone());
        let app = build.join("app");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("big"), vec![7u8; 256 * 1024]).unwrap();
        std::fs::hard_link(app.join("big"), app.join("big-again")).unwrap();
        symlink("/", app.join("root")).unwrap();
        symlink("/proc/self/root", app.join("proc-root")).unwrap();
        let cache = f.layout.cache_dir(&f.files.project_id);
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::hard_link(app.join("big"), cache.join("shared")).unwrap();

        let usage = measure_project(&f.layout, &f.files, GENEROUS);
        let expected_builds = allocated(&build)
            + allocated(&app)
            + allocated(&app.join("big"))
            + allocated(&app.join("root"))
            + allocated(&app.join("proc-root"));
        assert_eq!(usage.builds, expected_builds, "{usage:?}");
        assert_eq!(usage.build_cache, allocated(&cache), "the cache's link was counted in the builds: {usage:?}");
        assert!(usage.complete, "{usage:?}");
        assert_eq!(
            usage.total,
            usage.repository
                + usage.builds
                + usage.build_cache
                + usage.build_logs
                + usage.runtime_logs
                + usage.access_logs
        );
        assert!(usage.total < 2 * 256 * 1024, "a hard link counted twice, or a link followed: {usage:?}");
    }

    #[test]
    fn logs_and_missing_directories() {
        let f = fixture("logs");
        let log = f.layout.app_log(&f.files.environments[0]);
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        std::fs::write(&log, vec![b'x'; 10_000]).unwrap();
        std::fs::write(log.with_extension("log.1"), vec![b'y'; 20_000]).unwrap();
        let build_log = f.layout.deployment_log(&f.files.deployments[0]);
        std::fs::create_dir_all(build_log.parent().unwrap()).unwrap();
        std::fs::write(&build_log, b"-----> Building").unwrap();

        let usage = measure_project(&f.layout, &f.files, GENEROUS);
        assert_eq!(usage.runtime_logs, allocated(&log) + allocated(&log.with_extension("log.1")));
        assert_eq!(usage.build_logs, allocated(&build_log));
        // Access logs, with every rotated file the operator's retention keeps.
        let access = f.layout.access_log(&f.files.environments[0]);
        std::fs::create_dir_all(access.parent().unwrap()).unwrap();
        for path in [access.clone(), access.with_extension("log.1"), access.with_extension("log.2")] {
            std::fs::write(path, vec![b'z'; 5_000]).unwrap();
        }
        let usage = measure_project(&f.layout, &f.files, GENEROUS);
        let files = [access.clone(), access.with_extension("log.1"), access.with_extension("log.2")];
        assert_eq!(usage.access_logs, files.iter().map(|file| allocated(file)).sum::<u64>());
        assert_eq!((usage.repository, usage.builds, usage.build_cache), (0, 0, 0), "nothing there yet");
        assert!(usage.complete);
    }

    #[test]
    fn a_huge_tree_stops_the_walk_and_says_so() {
        let f = fixture("huge");
        let cache = f.layout.cache_dir(&f.files.project_id);
        for dir in 0..20 {
            std::fs::create_dir_all(cache.join(dir.to_string())).unwrap();
            for file in 0..20 {
                std::fs::write(cache.join(dir.to_string()).join(file.to_string()), b"x").unwrap();
            }
        }
        let full = measure_project(&f.layout, &f.files, GENEROUS);
        assert!(full.complete);
        let cut = measure_project(&f.layout, &f.files, Limits { max_entries: 50, max_walk: Duration::from_secs(60) });
        assert!(!cut.complete, "{cut:?}");
        assert!(cut.build_cache < full.build_cache, "{cut:?} vs {full:?}");
        let timed = measure_project(&f.layout, &f.files, Limits { max_entries: 1_000_000, max_walk: Duration::ZERO });
        assert!(!timed.complete && timed.total == 0, "{timed:?}");
    }
}
