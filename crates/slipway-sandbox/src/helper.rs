//! The helper: the `slipway` binary started again as `slipway __sandbox-exec
//! <stage>`, so that no namespace, mount or privilege work ever happens in
//! the multi-threaded agent (forking a threaded process and then doing more
//! than exec is unsound). Three stages, each a fresh single-threaded process:
//!
//! 1. `outer` (a child of the agent, root): joins the cgroup, unshares the
//!    PID, mount, IPC and UTS namespaces, starts `init`, then forwards
//!    signals to it and exits with its status.
//! 2. `init` (PID 1 of the new PID namespace): builds the filesystem view,
//!    mounts `/proc`, starts `app`, drops to the tenant uid itself, then
//!    reaps every orphan and forwards signals to every process of the
//!    sandbox (as Heroku does to a dyno's processes). When it exits, the
//!    kernel kills whatever the app left behind — nothing escapes.
//! 3. `app`: sets rlimits, drops every capability and becomes the tenant
//!    uid, sets `no_new_privs`, applies Landlock then seccomp, and execs the
//!    tenant's program.
//!
//! A stage that fails says why on stderr (the instance's log) with the
//! prefix `sandbox:` and exits with [`SETUP_FAILED`].

use std::convert::Infallible;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus};

use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{Gid, Pid, Uid};

use crate::policy::{Mount, Policy, POLICY_VAR};

/// The first argument that makes the `slipway` binary act as the helper.
pub const HELPER_ARG: &str = "__sandbox-exec";
/// Exit status of a helper stage that could not set the sandbox up.
pub const SETUP_FAILED: i32 = 125;

/// Signals passed on to the tenant's processes.
const FORWARDED: [Signal; 6] =
    [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2];

/// Runs the helper stage named by the arguments after [`HELPER_ARG`] and exits.
pub fn run(stage: &str) -> ! {
    let result = match stage {
        "outer" => outer(),
        "init" => init(),
        "app" => app().map(|never| match never {}),
        other => Err(format!("unknown stage {other:?}")),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(reason) => {
            eprintln!("sandbox: {reason}");
            std::process::exit(SETUP_FAILED)
        }
    }
}

fn policy() -> Result<(String, Policy), String> {
    let text = std::env::var(POLICY_VAR).map_err(|_| format!("{POLICY_VAR} is not set"))?;
    let policy = Policy::decode(&text).map_err(|err| format!("the policy does not decode: {err}"))?;
    Ok((text, policy))
}

fn next_stage(policy: &Policy, text: &str, stage: &str) -> Command {
    let mut command = Command::new(&policy.helper);
    command.arg(HELPER_ARG).arg(stage).env_clear().env(POLICY_VAR, text);
    command
}

/// Blocks the signals a stage waits for with `sigwait` (children get a clean mask from std).
fn blocked_signals() -> Result<SigSet, String> {
    let mut set = SigSet::empty();
    for signal in FORWARDED {
        set.add(signal);
    }
    set.add(Signal::SIGCHLD);
    set.thread_block().map_err(|err| format!("cannot block signals: {err}"))?;
    Ok(set)
}

fn outer() -> Result<i32, String> {
    let (text, policy) = policy()?;
    let pid = std::process::id().to_string();
    for procs in &policy.cgroup_procs {
        std::fs::write(procs, &pid).map_err(|err| format!("cannot join {}: {err}", procs.display()))?;
    }
    let namespaces =
        CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS;
    unshare(namespaces).map_err(|err| format!("cannot create namespaces: {err}"))?;
    let signals = blocked_signals()?;
    // Its own process group: a signal to this stage's group reaches the app once, through init.
    let mut init = next_stage(&policy, &text, "init")
        .process_group(0)
        .spawn()
        .map_err(|err| format!("cannot start the init stage: {err}"))?;
    let init_pid = Pid::from_raw(init.id() as i32);
    loop {
        match signals.wait().map_err(|err| format!("sigwait: {err}"))? {
            Signal::SIGCHLD => {
                if let Some(status) = init.try_wait().map_err(|err| format!("wait: {err}"))? {
                    return Ok(exit_code(status));
                }
            }
            signal => {
                let _ = kill(init_pid, signal);
            }
        }
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

fn init() -> Result<i32, String> {
    // If the outer stage dies (the agent killed it), the whole sandbox goes with it.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|err| format!("prctl: {err}"))?;
    let (text, policy) = policy()?;
    crate::mounts::build_view(&policy).map_err(|err| format!("cannot build the filesystem view: {err}"))?;
    crate::mounts::mount_proc().map_err(|err| err.to_string())?;
    nix::unistd::sethostname(&policy.hostname).map_err(|err| format!("sethostname: {err}"))?;
    let signals = blocked_signals()?;
    let app = next_stage(&policy, &text, "app").spawn().map_err(|err| format!("cannot start the app stage: {err}"))?;
    let app_pid = Pid::from_raw(app.id() as i32);
    drop(text);
    // From here on init needs no privilege: it only reaps and signals the tenant's own processes.
    drop_privileges(policy.uid)?;
    nix::sys::prctl::set_no_new_privs().map_err(|err| format!("no_new_privs: {err}"))?;
    // Changing uid cleared the parent-death signal: set it again.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|err| format!("prctl: {err}"))?;
    loop {
        match signals.wait().map_err(|err| format!("sigwait: {err}"))? {
            Signal::SIGCHLD => {
                if let Some(code) = reap(app_pid) {
                    return Ok(code);
                }
            }
            // -1: every process of the sandbox but init itself.
            signal => {
                let _ = kill(Pid::from_raw(-1), signal);
            }
        }
    }
}

/// Reaps every exited child; the app's exit status once the app is among them.
fn reap(app: Pid) -> Option<i32> {
    let mut app_status = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == app => app_status = Some(code),
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == app => app_status = Some(128 + signal as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return app_status,
            Ok(_) => {}
        }
    }
}

fn app() -> Result<Infallible, String> {
    let (_, policy) = policy()?;
    // A session of its own: no controlling terminal of whoever started Slipway (TIOCSTI, job control).
    nix::unistd::setsid().map_err(|err| format!("setsid: {err}"))?;
    close_inherited_descriptors()?;
    limits(&policy)?;
    drop_privileges(policy.uid)?;
    nix::sys::prctl::set_no_new_privs().map_err(|err| format!("no_new_privs: {err}"))?;
    let writable: Vec<&Path> = policy
        .mounts
        .iter()
        .filter_map(|mount| match mount {
            Mount::Writable(path) | Mount::Layered { path, .. } | Mount::Scratch { path, .. } => Some(path.as_path()),
            Mount::ReadOnly(_) | Mount::Symlink { .. } => None,
        })
        .chain([Path::new("/tmp"), Path::new("/dev"), Path::new("/proc")])
        .collect();
    crate::landlock::restrict(&writable, policy.bind_port).map_err(|err| err.to_string())?;
    std::env::set_current_dir(&policy.cwd).map_err(|err| format!("cannot enter {}: {err}", policy.cwd.display()))?;
    crate::seccomp::apply().map_err(|err| err.to_string())?;
    let (program, args) = policy.argv.split_first().ok_or("the policy has no program")?;
    let err = Command::new(program).args(args).env_clear().envs(policy.env.iter().map(|(k, v)| (k, v))).exec();
    Err(format!("cannot run {}: {err}", Path::new(program).display()))
}

/// Closes every descriptor above stderr: whatever the platform inherited
/// (a lock, a jobserver pipe, a socket) must not reach tenant code.
fn close_inherited_descriptors() -> Result<(), String> {
    let open: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map_err(|err| format!("cannot list /proc/self/fd: {err}"))?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str().and_then(|name| name.parse().ok()))
        .filter(|fd| *fd > 2)
        .collect();
    for fd in open {
        // The directory listing's own descriptor is among them and already closed: EBADF is expected.
        let _ = nix::unistd::close(fd);
    }
    Ok(())
}

fn limits(policy: &Policy) -> Result<(), String> {
    use nix::sys::resource::{setrlimit, Resource};
    let set = |resource, value: u64| {
        setrlimit(resource, value, value).map_err(|err| format!("setrlimit {resource:?}: {err}"))
    };
    set(Resource::RLIMIT_CORE, 0)?;
    // Never above the hard limit the platform itself got (raising it may be refused).
    let (_, hard) =
        nix::sys::resource::getrlimit(Resource::RLIMIT_NOFILE).map_err(|err| format!("getrlimit: {err}"))?;
    set(Resource::RLIMIT_NOFILE, policy.max_open_files.min(hard))?;
    if let Some(bytes) = policy.max_file_size {
        set(Resource::RLIMIT_FSIZE, bytes)?;
    }
    Ok(())
}

/// Becomes `uid` (and gid `uid`) with no supplementary groups and no capabilities, for good.
fn drop_privileges(uid: u32) -> Result<(), String> {
    use caps::CapSet;
    for cap in caps::all() {
        caps::drop(None, CapSet::Bounding, cap)
            .map_err(|err| format!("cannot drop {cap} from the bounding set: {err}"))?;
    }
    caps::clear(None, CapSet::Ambient).map_err(|err| format!("cannot clear ambient capabilities: {err}"))?;
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(uid));
    nix::unistd::setgroups(&[gid]).map_err(|err| format!("setgroups: {err}"))?;
    nix::unistd::setresgid(gid, gid, gid).map_err(|err| format!("setresgid: {err}"))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(|err| format!("setresuid: {err}"))?;
    // Leaving uid 0 clears the permitted and effective sets; make sure nothing is left anyway.
    for set in [CapSet::Effective, CapSet::Permitted, CapSet::Inheritable] {
        caps::clear(None, set).map_err(|err| format!("cannot clear capabilities: {err}"))?;
    }
    if Uid::current().is_root() || Uid::effective().is_root() {
        return Err("still root after dropping privileges".into());
    }
    Ok(())
}
