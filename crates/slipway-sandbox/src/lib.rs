//! The sandbox for tenant code on one machine. Every process that runs code
//! a tenant brought — each build step and each app instance — starts through
//! [`Sandbox::command`], the one seam: it gets its own unprivileged uid, its
//! own PID, mount, IPC and UTS namespaces with a minimal filesystem view,
//! cgroup limits, no capabilities, `no_new_privs`, Landlock and seccomp, and
//! network rules that keep it away from the host's own services.
//!
//! Start at [`Sandbox`] (what callers use), then `helper.rs` (the stages
//! that set a process up, run as `slipway-sandbox-helper __sandbox-exec`), `mounts.rs`
//! (the filesystem view), `cgroup.rs`, `seccomp.rs`, `landlock.rs`,
//! `network.rs` and `host.rs` (what this host can enforce, for `--check`).

mod cgroup;
mod helper;
mod host;
mod landlock;
mod mounts;
mod network;
mod policy;
mod seccomp;
mod spawn;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use slipway_core::resources::{Resources, SandboxUid};

pub use cgroup::{Cgroup, CgroupError, CgroupLayout};
pub use helper::{run as run_helper, HELPER_ARG, SETUP_FAILED};
pub use host::{HostReport, Protection};
pub use network::{grant, revoke, NetworkError, NetworkPolicy};
pub use spawn::{ProcessGroup, Spawned};

use policy::{Mount, Policy};

/// Host directories every sandbox sees read-only (or as the symlinks they are).
const SYSTEM_PATHS: [&str; 8] = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];
/// Names of build sandboxes start with this (see [`Sandbox::kill_leftover_builds`]).
pub const BUILD_PREFIX: &str = "build-";
/// Open files per process.
const MAX_OPEN_FILES: u64 = 65_536;

/// How tenant code is started on this machine. Cheap to clone.
#[derive(Clone)]
pub struct Sandbox(Arc<Mode>);

enum Mode {
    Enforced(Enforced),
    /// `SLIPWAY_SANDBOX=off`: tenant code runs as the platform's own user (a single-user laptop).
    Off,
}

struct Enforced {
    helper: PathBuf,
    root: PathBuf,
    cgroups: CgroupLayout,
    /// System directories and toolchains, computed once.
    system: Vec<Mount>,
}

/// What the operator set for the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// The binary that runs the helper stages (`slipway-sandbox-helper`, or `slipway` itself).
    pub helper: PathBuf,
    /// A directory of the platform's own (mode 0700) where each sandbox's root is mounted privately.
    pub scratch: PathBuf,
    /// More host paths every sandbox sees read-only: toolchains outside `/usr` (rustup, pyenv, …).
    pub read_only: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The host cannot sandbox (not root, no cgroups…); tenant code must not run.
    #[error("this host cannot sandbox tenant code: {0}")]
    Unsupported(String),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("the sandbox policy could not be encoded: {0}")]
    Policy(#[from] serde_json::Error),
}

/// One process of tenant code to start.
pub struct TenantProcess<'a> {
    /// Unique among running sandboxes (it names the cgroup): `web.1-<env>-r7`, `build-<deployment>`.
    pub name: &'a str,
    pub uid: SandboxUid,
    pub resources: &'a Resources,
    /// The program (absolute path) and its arguments.
    pub argv: &'a [OsString],
    pub cwd: &'a Path,
    /// The whole environment; nothing of the platform's is inherited.
    pub env: &'a [(OsString, OsString)],
    pub files: Files<'a>,
    /// The one TCP port it may bind.
    pub bind_port: Option<u16>,
    /// The largest single file it may write (builds: the artifact size limit).
    pub max_file_size: Option<u64>,
}

/// What a process sees of the host besides the system directories.
#[derive(Default)]
pub struct Files<'a> {
    /// Read-only with a throw-away writable layer on top, sized in bytes (an instance's release).
    pub layered: Option<(&'a Path, u64)>,
    /// Writable (a build's directory and cache).
    pub writable: Vec<&'a Path>,
    /// Read-only.
    pub read_only: Vec<&'a Path>,
    /// Empty, private and writable (a build's home).
    pub scratch: Vec<(&'a Path, u64)>,
}

/// A command ready to [`spawn`](Prepared::spawn), and the cgroup to read and remove after it exits.
pub struct Prepared {
    pub command: tokio::process::Command,
    pub cgroup: Option<Cgroup>,
}

impl Sandbox {
    /// Tenant code runs unsandboxed, as the platform's own user.
    pub fn off() -> Self {
        Self(Arc::new(Mode::Off))
    }

    /// Checks that this host can sandbox and prepares it (cgroup subtree,
    /// scratch directory). Fails closed with what is missing.
    pub fn enforce(settings: SandboxSettings) -> Result<Self, SandboxError> {
        if !nix::unistd::Uid::effective().is_root() {
            return Err(SandboxError::Unsupported(
                "Slipway must run as root to give tenant code uids of its own, namespaces and cgroups \
                 (or set SLIPWAY_SANDBOX=off on a single-user machine)"
                    .into(),
            ));
        }
        let cgroups = CgroupLayout::locate(&subtree_name(&settings.scratch))?;
        cgroups.prepare()?;
        cgroups.sweep();
        // Mounted at the same path inside: it must be absolute and free of symlinks.
        let helper = settings.helper.canonicalize().map_err(|err| {
            SandboxError::Unsupported(format!("the helper {} cannot be found: {err}", settings.helper.display()))
        })?;
        std::fs::create_dir_all(&settings.scratch)
            .map_err(|err| SandboxError::Unsupported(format!("cannot create {}: {err}", settings.scratch.display())))?;
        let mut system: Vec<Mount> = SYSTEM_PATHS.iter().filter_map(|path| host_mount(Path::new(path))).collect();
        let shown =
            settings.read_only.iter().filter(|path| !SYSTEM_PATHS.iter().any(|system| path.starts_with(system)));
        // Each path once: a second bind of the same file fails, its mount point being read-only by
        // then (`slipway` installed alone is its own helper and is on the read-only list too).
        for mount in shown.chain([&helper]).filter_map(|path| host_mount(path)) {
            if !system.contains(&mount) {
                system.push(mount);
            }
        }
        Ok(Self(Arc::new(Mode::Enforced(Enforced { helper, root: settings.scratch, cgroups, system }))))
    }

    pub fn is_enforced(&self) -> bool {
        matches!(*self.0, Mode::Enforced(_))
    }

    /// Kills the builds a previous control plane left running (their cgroups
    /// outlive it when it is killed); the control plane calls it at start.
    pub fn kill_leftover_builds(&self) {
        if let Mode::Enforced(enforced) = &*self.0 {
            enforced.cgroups.kill_groups(BUILD_PREFIX);
        }
    }

    /// The cgroup layout in use, when enforced.
    pub fn cgroups(&self) -> Option<&CgroupLayout> {
        match &*self.0 {
            Mode::Enforced(enforced) => Some(&enforced.cgroups),
            Mode::Off => None,
        }
    }

    /// The command that starts `process`: in the sandbox when enforced (its
    /// cgroup created with the process's limits), directly otherwise. The
    /// caller starts it with [`Prepared::spawn`].
    pub fn command(&self, process: &TenantProcess<'_>) -> Result<Prepared, SandboxError> {
        let enforced = match &*self.0 {
            Mode::Off => {
                let (program, args) = process.argv.split_first().map(|(p, a)| (p.as_os_str(), a)).unwrap_or_default();
                let mut command = tokio::process::Command::new(program);
                command.args(args).current_dir(process.cwd).env_clear().envs(process.env.iter().map(|(k, v)| (k, v)));
                return Ok(Prepared { command, cgroup: None });
            }
            Mode::Enforced(enforced) => enforced,
        };
        let cgroup = enforced.cgroups.create(&cgroup_name(process.name), process.resources)?;
        let mut mounts = enforced.system.clone();
        mounts.extend(process.files.read_only.iter().map(|path| Mount::ReadOnly(path.to_path_buf())));
        mounts.extend(process.files.writable.iter().map(|path| Mount::Writable(path.to_path_buf())));
        mounts.extend(
            process
                .files
                .scratch
                .iter()
                .map(|(path, bytes)| Mount::Scratch { path: path.to_path_buf(), bytes: *bytes }),
        );
        if let Some((path, layer_bytes)) = process.files.layered {
            mounts.push(Mount::Layered { path: path.to_path_buf(), layer_bytes });
        }
        let policy = Policy {
            helper: enforced.helper.clone(),
            uid: process.uid.get(),
            cgroup_procs: cgroup.procs_files(),
            root: enforced.root.clone(),
            mounts,
            hostname: hostname(process.name),
            cwd: process.cwd.to_path_buf(),
            argv: process.argv.to_vec(),
            env: process.env.to_vec(),
            bind_port: process.bind_port,
            max_file_size: process.max_file_size,
            max_open_files: MAX_OPEN_FILES,
        };
        let mut command = tokio::process::Command::new(&enforced.helper);
        command.arg(HELPER_ARG).arg("outer").env_clear().env(policy::POLICY_VAR, policy.encode()?);
        Ok(Prepared { command, cgroup: Some(cgroup) })
    }
}

/// A host path as the sandbox should see it, if the host has it.
fn host_mount(path: &Path) -> Option<Mount> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).ok()?;
        return Some(Mount::Symlink { path: path.to_path_buf(), target });
    }
    // Below a symlinked directory: bound where it really is (binds take canonical paths only).
    Some(Mount::ReadOnly(std::fs::canonicalize(path).ok()?))
}

/// The platform's cgroup subtree, `slipway-<FNV-1a of the scratch path>`: one
/// per data dir, stable across restarts and Rust versions.
fn subtree_name(scratch: &Path) -> String {
    let hash = scratch
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3));
    format!("slipway-{:08x}", hash as u32)
}

/// cgroup directory names: no `/`, nothing hidden, bounded.
fn cgroup_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
        .take(200)
        .collect();
    format!("t-{cleaned}")
}

/// The sandbox's hostname: the process name, as a DNS label.
fn hostname(name: &str) -> String {
    let label: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).take(63).collect();
    let label = label.trim_matches('-');
    if label.is_empty() {
        "sandbox".to_owned()
    } else {
        label.to_owned()
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            Mode::Enforced(enforced) => write!(f, "Sandbox(enforced, {})", enforced.cgroups.describe()),
            Mode::Off => f.write_str("Sandbox(off)"),
        }
    }
}

/// Makes `uid` (and its gid) the owner of everything under `root`, so a tree
/// the platform wrote (a checkout) becomes the tenant's to build in. The walk
/// goes by directory descriptor and never follows a symlink (each link
/// itself changes owner): a directory swapped for a link meanwhile is not
/// entered, so nothing outside `root` can be handed over.
pub fn give_tree(root: &Path, uid: SandboxUid) -> std::io::Result<()> {
    use nix::fcntl::{open, OFlag};
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let dir = open(root, flags, nix::sys::stat::Mode::empty())?;
    let (owner, group) = (nix::unistd::Uid::from_raw(uid.get()), nix::unistd::Gid::from_raw(uid.get()));
    nix::unistd::fchown(&dir, Some(owner), Some(group))?;
    give_entries(dir, owner, group)
}

fn give_entries(dir: std::os::fd::OwnedFd, owner: nix::unistd::Uid, group: nix::unistd::Gid) -> std::io::Result<()> {
    use nix::dir::{Dir, Type};
    use nix::fcntl::{openat, AtFlags, OFlag};
    use std::os::fd::AsFd;
    let mut listing = Dir::from_fd(dir)?;
    let names: Vec<(std::ffi::CString, Option<Type>)> = listing
        .iter()
        .flatten()
        .filter(|entry| ![&b"."[..], &b".."[..]].contains(&entry.file_name().to_bytes()))
        .map(|entry| (entry.file_name().to_owned(), entry.file_type()))
        .collect();
    let parent = listing.as_fd();
    for (name, kind) in names {
        nix::unistd::fchownat(parent, name.as_c_str(), Some(owner), Some(group), AtFlags::AT_SYMLINK_NOFOLLOW)?;
        if matches!(kind, Some(Type::Directory) | None) {
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            match openat(parent, name.as_c_str(), flags, nix::sys::stat::Mode::empty()) {
                Ok(child) => give_entries(child, owner, group)?,
                // Replaced by a link or removed since it was listed: not ours to follow.
                Err(nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR | nix::errno::Errno::ENOENT) => {}
                Err(err) => return Err(err.into()),
            }
        }
    }
    Ok(())
}
