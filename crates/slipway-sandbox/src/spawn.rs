//! Starting a [`Prepared`] process, the same for a build step and an app instance: in a
//! process group of its own (so one signal reaches everything it starts), stdin closed,
//! stdout and stderr piped to the caller, and killed — the whole group — when its handle goes.

use std::process::Stdio;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::{Cgroup, Prepared};

/// A started tenant process.
pub struct Spawned {
    pub child: tokio::process::Child,
    pub group: ProcessGroup,
    /// The cgroup to read (OOM kills) and remove once the process has exited.
    pub cgroup: Option<Cgroup>,
}

/// The process group a [`Spawned`] process leads (its pid is the group's ID). Dropping it
/// kills the group unless [`ProcessGroup::kill`] did already, so nothing a cancelled build
/// step or a stopped instance started outlives it (a daemon left behind would also keep the
/// output pipes open).
pub struct ProcessGroup(Option<Pid>);

impl ProcessGroup {
    /// The group's ID, while it has not been killed.
    pub fn id(&self) -> Option<i32> {
        self.0.map(Pid::as_raw)
    }

    /// Sends `signal` to every process of the group.
    pub fn signal(&self, signal: Signal) {
        if let Some(pgid) = self.0 {
            // ESRCH (the group is already gone) is the expected, harmless case.
            let _ = killpg(pgid, signal);
        }
    }

    /// SIGKILL to every process of the group, once.
    pub fn kill(&mut self) {
        self.signal(Signal::SIGKILL);
        self.0 = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Prepared {
    /// Starts the process (see the module's doc). When it cannot start, its cgroup is removed.
    pub async fn spawn(self) -> std::io::Result<Spawned> {
        let Prepared { mut command, cgroup } = self;
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).kill_on_drop(true);
        match command.spawn() {
            Ok(child) => {
                let group = ProcessGroup(child.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw));
                Ok(Spawned { child, group, cgroup })
            }
            Err(err) => {
                if let Some(cgroup) = cgroup {
                    cgroup.remove().await;
                }
                Err(err)
            }
        }
    }
}
