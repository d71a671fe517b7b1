//! cgroup limits for each sandboxed process: memory (swap excluded), number
//! of processes and CPU time, on either layout a host may have — cgroup v1
//! (and the v1 + empty-v2 "hybrid" of many servers, resources live in v1)
//! or the unified v2 hierarchy of current distributions. The layout is
//! detected once at start; every group lives below the cgroup this process
//! was started in, in a subtree of the platform's own (`slipway-<id>`, one per
//! data dir, so two platforms on one host never touch each other's groups),
//! and an operator's own limits on Slipway's service still hold over all its
//! tenants.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use slipway_core::resources::Resources;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// The controllers Slipway needs, by their v1 names.
const CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];
const CPU_PERIOD_MICROS: u64 = 100_000;
/// The v2 leaf the platform moves itself into, beside its subtree.
const SUPERVISOR: &str = "supervisor";

/// Where this host keeps the controllers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupLayout {
    /// One directory per controller (`/sys/fs/cgroup/memory/…/slipway-<id>`).
    V1 { memory: PathBuf, pids: PathBuf, cpu: PathBuf },
    /// One unified directory (`/sys/fs/cgroup/…/slipway-<id>`) below `parent`,
    /// the cgroup the platform was started in (`in_root`: the hierarchy's root).
    V2 { parent: PathBuf, base: PathBuf, in_root: bool },
}

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no cgroup filesystem with the memory, pids and cpu controllers is mounted at /sys/fs/cgroup ({0})")]
    Unavailable(String),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CgroupError + 'a {
    move |source| CgroupError::Io { action, path: path.to_owned(), source }
}

impl CgroupLayout {
    /// Finds where the platform's `subtree` goes on this host's layout and
    /// checks the controllers are there; changes nothing (`slipway up --check`).
    pub fn locate(subtree: &str) -> Result<Self, CgroupError> {
        let own = fs::read_to_string("/proc/self/cgroup").map_err(io_error("read", Path::new("/proc/self/cgroup")))?;
        let unified = nix::sys::statfs::statfs(CGROUP_ROOT)
            .map(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
            .unwrap_or(false);
        if unified {
            Self::v2(Path::new(CGROUP_ROOT), &own, subtree)
        } else {
            Self::v1(Path::new(CGROUP_ROOT), &own, subtree)
        }
    }

    /// v1: each controller's own mount, at the path `/proc/self/cgroup` names for it.
    fn v1(root: &Path, own: &str, subtree: &str) -> Result<Self, CgroupError> {
        let mut dirs = Vec::new();
        for controller in CONTROLLERS {
            let path = own
                .lines()
                .filter_map(|line| line.split_once(':').and_then(|(_, rest)| rest.split_once(':')))
                .find(|(names, _)| names.split(',').any(|name| name == controller))
                .map(|(_, path)| path.trim_start_matches('/'))
                .ok_or_else(|| CgroupError::Unavailable(format!("this process is in no v1 {controller} cgroup")))?;
            let mount = root.join(controller);
            if !mount.join("cgroup.procs").is_file() {
                return Err(CgroupError::Unavailable(format!(
                    "{} is not a v1 {controller} hierarchy",
                    mount.display()
                )));
            }
            dirs.push(mount.join(path).join(subtree));
        }
        let [memory, pids, cpu] = <[PathBuf; 3]>::try_from(dirs).map_err(|_| CgroupError::Unavailable("v1".into()))?;
        Ok(Self::V1 { memory, pids, cpu })
    }

    /// v2: the subtree goes beside the cgroup the platform was started in. A
    /// process the platform started itself (the agent) begins in the
    /// `supervisor` leaf [`CgroupLayout::prepare`] moved its parent into: its
    /// parent is the one to delegate from.
    fn v2(root: &Path, own: &str, subtree: &str) -> Result<Self, CgroupError> {
        let path = own
            .lines()
            .find_map(|line| line.strip_prefix("0::"))
            .ok_or_else(|| CgroupError::Unavailable("this process is in no v2 cgroup".into()))?;
        let path = path.trim_start_matches('/');
        let path = path.strip_suffix(SUPERVISOR).map(|p| p.trim_end_matches('/')).unwrap_or(path);
        let parent = root.join(path);
        let available = fs::read_to_string(parent.join("cgroup.controllers")).unwrap_or_default();
        if let Some(missing) = CONTROLLERS.iter().find(|c| !available.split_whitespace().any(|a| a == **c)) {
            return Err(CgroupError::Unavailable(format!(
                "the {missing} controller is not delegated to {} (under systemd, run Slipway with Delegate=yes)",
                parent.display()
            )));
        }
        Ok(Self::V2 { base: parent.join(subtree), in_root: parent == root, parent })
    }

    /// Creates the subtree. On v2 a cgroup with processes cannot delegate
    /// controllers ("no internal processes"), so unless the platform sits in
    /// the root it first moves itself into a `supervisor` leaf beside it.
    pub fn prepare(&self) -> Result<(), CgroupError> {
        let Self::V2 { parent, base, in_root } = self else {
            for base in self.bases() {
                fs::create_dir_all(base).map_err(io_error("create", base))?;
            }
            return Ok(());
        };
        if !in_root {
            let leaf = parent.join(SUPERVISOR);
            fs::create_dir_all(&leaf).map_err(io_error("create", &leaf))?;
            let procs = leaf.join("cgroup.procs");
            fs::write(&procs, std::process::id().to_string()).map_err(io_error("join", &procs))?;
        }
        let enable = "+memory +pids +cpu";
        let control = parent.join("cgroup.subtree_control");
        fs::write(&control, enable).map_err(io_error("delegate controllers in", &control))?;
        fs::create_dir_all(base).map_err(io_error("create", base))?;
        let control = base.join("cgroup.subtree_control");
        fs::write(&control, enable).map_err(io_error("delegate controllers in", &control))
    }

    /// The subtree's directory in each hierarchy.
    fn bases(&self) -> Vec<&PathBuf> {
        match self {
            Self::V1 { memory, pids, cpu } => vec![memory, pids, cpu],
            Self::V2 { base, .. } => vec![base],
        }
    }

    /// The group `name` (not created).
    fn group(&self, name: &std::ffi::OsStr) -> Cgroup {
        let dirs = self.bases().iter().map(|base| base.join(name)).collect();
        Cgroup { dirs, v2: matches!(self, Self::V2 { .. }), oom_baseline: 0 }
    }

    /// Removes the groups that are left empty (their processes gone with a
    /// crashed agent or control plane); a group that still has processes
    /// cannot be removed and is left alone, and neither is one created in the
    /// last minute (another process may be about to start its sandbox in it).
    pub fn sweep(&self) {
        for base in self.bases() {
            for entry in fs::read_dir(base).into_iter().flatten().flatten() {
                let old = entry
                    .metadata()
                    .and_then(|meta| meta.modified())
                    .is_ok_and(|at| at.elapsed().is_ok_and(|age| age > std::time::Duration::from_secs(60)));
                if old && entry.file_name().to_string_lossy().starts_with("t-") {
                    let _ = fs::remove_dir(entry.path());
                }
            }
        }
    }

    /// Kills and removes every group whose name starts with `t-<prefix>`: the
    /// builds a killed control plane left running, at its next start.
    pub fn kill_groups(&self, prefix: &str) {
        let wanted = format!("t-{prefix}");
        let names: std::collections::BTreeSet<std::ffi::OsString> = self
            .bases()
            .into_iter()
            .flat_map(|base| fs::read_dir(base).into_iter().flatten().flatten())
            .map(|entry| entry.file_name())
            .filter(|name| name.to_string_lossy().starts_with(&wanted))
            .collect();
        for name in names {
            // Dropping a group kills what is in it and removes it.
            drop(self.group(&name));
        }
    }

    /// "cgroup v1 (memory, pids, cpu)" or "cgroup v2".
    pub fn describe(&self) -> String {
        match self {
            Self::V1 { .. } => "cgroup v1 (memory, pids, cpu controllers)".to_owned(),
            Self::V2 { .. } => "cgroup v2 (memory, pids, cpu controllers)".to_owned(),
        }
    }

    /// A new group `name` with `resources` as its limits.
    pub fn create(&self, name: &str, resources: &Resources) -> Result<Cgroup, CgroupError> {
        let memory = resources.memory.bytes();
        let millis = u64::from(resources.cpu.millis());
        let cpu_quota = millis * CPU_PERIOD_MICROS / 1000;
        let mut group = self.group(name.as_ref());
        group.make_dirs()?;
        match group.dirs.as_slice() {
            [m, p, c] => {
                write(m, "memory.limit_in_bytes", memory)?;
                // Without swap accounting the limit could be dodged into swap.
                if m.join("memory.memsw.limit_in_bytes").exists() {
                    write(m, "memory.memsw.limit_in_bytes", memory)?;
                }
                write(p, "pids.max", resources.max_processes)?;
                write(c, "cpu.cfs_period_us", CPU_PERIOD_MICROS)?;
                write(c, "cpu.cfs_quota_us", cpu_quota)?;
                write(c, "cpu.shares", (millis * 1024 / 1000).max(2))?;
            }
            [dir] => {
                write(dir, "memory.max", memory)?;
                if dir.join("memory.swap.max").exists() {
                    write(dir, "memory.swap.max", 0)?;
                }
                write(dir, "pids.max", resources.max_processes)?;
                write(dir, "cpu.max", format!("{cpu_quota} {CPU_PERIOD_MICROS}"))?;
                write(dir, "cpu.weight", (millis * 100 / 1000).clamp(1, 10_000))?;
            }
            // `group` gives three directories on v1 and one on v2.
            _ => return Err(CgroupError::Unavailable("an unknown cgroup layout".into())),
        }
        Ok(group)
    }
}

fn write(dir: &Path, file: &str, value: impl ToString) -> Result<(), CgroupError> {
    let path = dir.join(file);
    fs::write(&path, value.to_string()).map_err(io_error("write", &path))
}

/// One process tree's group (one directory per controller on v1).
#[derive(Debug)]
pub struct Cgroup {
    dirs: Vec<PathBuf>,
    v2: bool,
    /// OOM kills already counted when the group was (re)used: only newer ones are this run's.
    oom_baseline: u64,
}

impl Drop for Cgroup {
    /// A group dropped without [`Cgroup::remove`] (its owner was cancelled) takes its processes with it.
    fn drop(&mut self) {
        if self.dirs.iter().any(|dir| dir.exists()) {
            self.kill_all();
            for dir in &self.dirs {
                let _ = fs::remove_dir(dir);
            }
        }
    }
}

impl Cgroup {
    fn make_dirs(&mut self) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            match fs::create_dir(dir) {
                Ok(()) => {}
                // Left behind by a crashed agent under the same name: reuse it (and whatever
                // ran in it is killed first, so nothing of the old run counts as this one's).
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => self.kill_all(),
                Err(err) => return Err(io_error("create", dir)(err)),
            }
        }
        self.oom_baseline = self.oom_count();
        Ok(())
    }

    /// The files a process writes its pid to, to join the group.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|dir| dir.join("cgroup.procs")).collect()
    }

    /// How many times the kernel's OOM killer killed a process of this group since it was created.
    pub fn oom_kills(&self) -> u64 {
        self.oom_count().saturating_sub(self.oom_baseline)
    }

    fn oom_count(&self) -> u64 {
        let file = if self.v2 { "memory.events" } else { "memory.oom_control" };
        fs::read_to_string(self.dirs[0].join(file))
            .ok()
            .and_then(|text| {
                text.lines().find_map(|line| line.strip_prefix("oom_kill ").and_then(|n| n.trim().parse().ok()))
            })
            .unwrap_or(0)
    }

    /// Peak memory use in bytes, where the kernel tracks it.
    pub fn memory_peak(&self) -> Option<u64> {
        let file = if self.v2 { "memory.peak" } else { "memory.max_usage_in_bytes" };
        fs::read_to_string(self.dirs[0].join(file)).ok()?.trim().parse().ok()
    }

    /// Kills whatever is left in the group and removes it. The kernel frees a
    /// group only once its last process is reaped, so removal is retried briefly.
    pub async fn remove(self) {
        for _ in 0..50 {
            self.kill_all();
            if self.dirs.iter().all(|dir| fs::remove_dir(dir).is_ok() || !dir.exists()) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tracing::warn!(group = %self.dirs[0].display(), "a cgroup could not be removed; it is reused or removed at the next start");
    }

    /// Kills every process in the group (a sandbox whose outer stage was killed, or one left
    /// by a crashed control plane).
    pub fn kill_all(&self) {
        if self.v2 {
            let _ = fs::write(self.dirs[0].join("cgroup.kill"), "1");
            return;
        }
        for dir in &self.dirs {
            let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|line| line.trim().parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in cgroup v2 tree in a temporary directory: the files the
    /// kernel would offer, so the v2 code path (this host is v1) is at least
    /// checked for what it writes. Real v2 behaviour is not exercised here.
    #[test]
    fn v2_delegates_to_the_subtree_and_writes_the_limits() {
        let root = tempfile::tempdir().expect("tempdir");
        let parent = root.path().join("system.slice/slipway.service");
        fs::create_dir_all(&parent).expect("mkdir");
        fs::write(parent.join("cgroup.controllers"), "cpuset cpu io memory pids").expect("write");
        let layout = CgroupLayout::v2(root.path(), "0::/system.slice/slipway.service\n", "slipway-1").expect("v2");
        let base = parent.join("slipway-1");
        assert!(!parent.join("cgroup.subtree_control").exists(), "locating changes nothing");
        layout.prepare().expect("prepare");
        assert_eq!(layout, CgroupLayout::V2 { parent: parent.clone(), base: base.clone(), in_root: false });
        // The agent, started by the platform, begins in the supervisor leaf: same subtree.
        let agent = CgroupLayout::v2(root.path(), "0::/system.slice/slipway.service/supervisor\n", "slipway-1");
        assert_eq!(agent.expect("v2"), layout);
        assert_eq!(
            fs::read_to_string(parent.join("cgroup.subtree_control")).ok().as_deref(),
            Some("+memory +pids +cpu")
        );
        assert!(parent.join("supervisor/cgroup.procs").is_file(), "the supervisor moved itself into a leaf");

        let resources = Resources {
            memory: slipway_core::resources::Memory::from_mib(256),
            cpu: slipway_core::resources::Cpu::from_millis(500),
            max_processes: 64,
        };
        let group = layout.create("web-1", &resources).expect("create");
        let read = |file: &str| fs::read_to_string(base.join("web-1").join(file)).expect(file);
        assert_eq!(read("memory.max"), (256u64 << 20).to_string());
        assert_eq!(read("pids.max"), "64");
        assert_eq!(read("cpu.max"), "50000 100000");
        assert_eq!(group.procs_files(), vec![base.join("web-1/cgroup.procs")]);
        fs::write(base.join("web-1/memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n").expect("write");
        assert_eq!(group.oom_kills(), 1);
    }

    #[test]
    fn v2_without_delegated_controllers_says_what_is_missing() {
        let root = tempfile::tempdir().expect("tempdir");
        fs::write(root.path().join("cgroup.controllers"), "cpu io").expect("write");
        let err = CgroupLayout::v2(root.path(), "0::/\n", "slipway-1").expect_err("memory is missing");
        assert!(err.to_string().contains("memory controller is not delegated"), "{err}");
    }
}
