//! The filesystem view, built by the helper's init stage inside the
//! sandbox's own mount namespace: a fresh tmpfs as the root, the policy's
//! paths mounted into it at the same places they have on the host, a private
//! `/dev` with the harmless devices only, a private `/tmp`, then `pivot_root`
//! so nothing else of the host is reachable, and the root made read-only.
//! `/proc` is mounted by the init stage afterwards (it must be the new PID
//! namespace's).

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chown, pivot_root, Gid, Uid};

use crate::policy::{Mount, Policy};

/// Host devices bound into the private `/dev`: none of them reaches hardware or the kernel's memory.
/// Not `tty`: the controlling terminal of whoever started Slipway must stay out of reach.
const DEVICES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];

#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {source}", path.display())]
pub(crate) struct MountError {
    what: &'static str,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

fn fail<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> MountError + 'a {
    move |source| MountError { what, path: path.to_owned(), source }
}

fn errno<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(nix::Error) -> MountError + 'a {
    move |err| MountError { what, path: path.to_owned(), source: err.into() }
}

/// `path` inside the new root (which is still mounted at `root`).
fn inside(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

const NONE: Option<&str> = None;

/// Builds the view and pivots into it. Runs as root in the sandbox's mount namespace.
pub(crate) fn build_view(policy: &Policy) -> Result<(), MountError> {
    let root = policy.root.as_path();
    let (uid, gid) = (Uid::from_raw(policy.uid), Gid::from_raw(policy.uid));
    // The platform runs with umask 077; the view's directories must be traversable by the
    // tenant, and its programs start with the usual umask.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    // Nothing mounted from here on may propagate back to the host.
    mount(NONE, "/", NONE, MsFlags::MS_REC | MsFlags::MS_PRIVATE, NONE).map_err(errno("make private", root))?;
    tmpfs(root, "mode=0755,size=16m", MsFlags::MS_NOSUID | MsFlags::MS_NODEV)?;
    // `/dev` and `/tmp` first: a policy path below `/tmp` (tests keep data dirs there) then shows on top.
    devices(root)?;
    let tmp = root.join("tmp");
    fs::create_dir_all(&tmp).map_err(fail("create", &tmp))?;
    tmpfs(&tmp, "mode=1777,size=512m", MsFlags::MS_NOSUID | MsFlags::MS_NODEV)?;

    for entry in &policy.mounts {
        match entry {
            Mount::ReadOnly(path) => bind(root, path, true)?,
            Mount::Writable(path) => bind(root, path, false)?,
            Mount::Symlink { path, target } => {
                let at = inside(root, path);
                parent_dirs(&at)?;
                symlink(target, &at).map_err(fail("link", &at))?;
            }
            Mount::Scratch { path, bytes } => {
                let at = inside(root, path);
                fs::create_dir_all(&at).map_err(fail("create", &at))?;
                tmpfs(&at, &format!("mode=0700,size={bytes}"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV)?;
                chown(&at, Some(uid), Some(gid)).map_err(errno("chown", &at))?;
            }
            Mount::Layered { path, layer_bytes } => layered(root, path, *layer_bytes, uid, gid)?,
        }
    }
    let proc = root.join("proc");
    fs::create_dir_all(&proc).map_err(fail("create", &proc))?;

    // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the view.
    chdir(root).map_err(errno("enter", root))?;
    pivot_root(".", ".").map_err(errno("pivot into", root))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(errno("detach the host's root from", root))?;
    chdir("/").map_err(errno("enter", Path::new("/")))?;
    let flags = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(NONE, "/", NONE, flags, NONE).map_err(errno("make read-only", Path::new("/")))?;
    Ok(())
}

/// Files of `/proc` that tell about the host rather than the sandbox (kernel
/// memory, keys, timers): hidden behind `/dev/null`, as container runtimes do.
/// `/proc/<pid>/net` cannot be masked this way (it is per process); it shows
/// the host's network namespace, which sandboxes share (docs/sandbox.md).
const PROC_MASKED: [&str; 4] = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"];

/// A private `/proc` of the sandbox's PID namespace: it lists only the
/// sandbox's own processes; host-wide files are masked and `/proc/sys` is read-only.
pub(crate) fn mount_proc() -> Result<(), MountError> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), "/proc", Some("proc"), flags, NONE).map_err(errno("mount", Path::new("/proc")))?;
    for file in PROC_MASKED.iter().map(Path::new).filter(|file| file.exists()) {
        mount(Some("/dev/null"), file, NONE, MsFlags::MS_BIND, NONE).map_err(errno("mask", file))?;
    }
    let sys = Path::new("/proc/sys");
    mount(Some(sys), sys, NONE, MsFlags::MS_BIND | MsFlags::MS_REC, NONE).map_err(errno("bind", sys))?;
    let read_only = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags;
    mount(NONE, sys, NONE, read_only, NONE).map_err(errno("make read-only", sys))
}

fn tmpfs(at: &Path, options: &str, flags: MsFlags) -> Result<(), MountError> {
    mount(Some("tmpfs"), at, Some("tmpfs"), flags, Some(options)).map_err(errno("mount a tmpfs on", at))
}

fn parent_dirs(at: &Path) -> Result<(), MountError> {
    match at.parent() {
        Some(parent) => fs::create_dir_all(parent).map_err(fail("create", parent)),
        None => Ok(()),
    }
}

/// Binds host `path` at the same place in the view; read-only ones also lose setuid and devices.
fn bind(root: &Path, path: &Path, read_only: bool) -> Result<(), MountError> {
    let (source, meta) = open_no_symlinks(path)?;
    let at = inside(root, path);
    parent_dirs(&at)?;
    if meta.is_dir() {
        fs::create_dir_all(&at).map_err(fail("create", &at))?;
    } else {
        fs::write(&at, b"").map_err(fail("create", &at))?;
    }
    mount(Some(&source.path()), &at, NONE, MsFlags::MS_BIND | MsFlags::MS_REC, NONE).map_err(errno("bind", path))?;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    if read_only {
        flags |= MsFlags::MS_RDONLY;
    }
    mount(NONE, &at, NONE, flags, NONE).map_err(errno("restrict", path))
}

/// A host path opened without following any symlink on the way (a tenant can
/// swap a directory it owns, such as its cache, for a link at any moment), to
/// be mounted through `/proc/self/fd`: what is bound is what was opened.
struct Opened(std::os::fd::OwnedFd);

impl Opened {
    fn path(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!("/proc/self/fd/{}", self.0.as_raw_fd()))
    }
}

fn open_no_symlinks(path: &Path) -> Result<(Opened, fs::Metadata), MountError> {
    use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = openat2(nix::fcntl::AT_FDCWD, path, how).map_err(|err| MountError {
        what: "open (refusing symlinks)",
        path: path.to_owned(),
        source: err.into(),
    })?;
    let opened = Opened(fd);
    let meta = fs::metadata(opened.path()).map_err(fail("find", path))?;
    Ok((opened, meta))
}

/// An overlay of a throw-away tmpfs layer over read-only `path`. The layer's
/// tmpfs is detached from the view once the overlay holds it, so only the
/// merged directory is visible; its memory counts against the instance.
fn layered(root: &Path, path: &Path, bytes: u64, uid: Uid, gid: Gid) -> Result<(), MountError> {
    let (lower, lower_meta) = open_no_symlinks(path)?;
    let lower_path = lower.path();
    let layer = root.join(".layer");
    fs::create_dir_all(&layer).map_err(fail("create", &layer))?;
    tmpfs(&layer, &format!("mode=0755,size={bytes}"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV)?;
    let (upper, work) = (layer.join("upper"), layer.join("work"));
    for dir in [&upper, &work] {
        fs::create_dir(dir).map_err(fail("create", dir))?;
    }
    // The merged directory takes the upper layer's owner and mode.
    let lower_mode = lower_meta.permissions().mode();
    fs::set_permissions(&upper, fs::Permissions::from_mode(lower_mode & 0o7777)).map_err(fail("chmod", &upper))?;
    chown(&upper, Some(uid), Some(gid)).map_err(errno("chown", &upper))?;
    let at = inside(root, path);
    fs::create_dir_all(&at).map_err(fail("create", &at))?;
    let options = format!("lowerdir={},upperdir={},workdir={}", lower_path.display(), upper.display(), work.display());
    mount(Some("overlay"), &at, Some("overlay"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some(options.as_str()))
        .map_err(errno("mount the writable layer over", path))?;
    umount2(&layer, MntFlags::MNT_DETACH).map_err(errno("detach", &layer))?;
    fs::remove_dir(&layer).map_err(fail("remove", &layer))
}

fn devices(root: &Path) -> Result<(), MountError> {
    let dev = root.join("dev");
    fs::create_dir_all(&dev).map_err(fail("create", &dev))?;
    tmpfs(&dev, "mode=0755,size=64k", MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC)?;
    for device in DEVICES {
        let host = Path::new("/dev").join(device);
        if host.exists() {
            let at = dev.join(device);
            fs::write(&at, b"").map_err(fail("create", &at))?;
            mount(Some(&host), &at, NONE, MsFlags::MS_BIND, NONE).map_err(errno("bind", &host))?;
        }
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let at = dev.join(name);
        symlink(target, &at).map_err(fail("link", &at))?;
    }
    let shm = dev.join("shm");
    fs::create_dir(&shm).map_err(fail("create", &shm))?;
    tmpfs(&shm, "mode=1777,size=64m", MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC)
}
