//! Runs one build command: in its own process group, output forwarded line by
//! line to the build log, killed as a whole group on timeout or cancellation.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::Signal;
use slipway_logs::LineReader;
use tokio::io::AsyncRead;
use tokio::time::Instant;

use slipway_sandbox::{Files, Prepared, Spawned, TenantProcess};

use super::log::{BuildLog, MAX_LINE_BYTES};
use super::{BuildError, BuildRequest, Step};

/// When the whole build must be over, and the limit it came from (for messages).
#[derive(Clone, Copy)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) limit: Duration,
}

/// One program to run.
pub(crate) struct Run<'a> {
    pub(crate) step: Step,
    /// What the user sees in the log and in errors (the `sh -c` string).
    pub(crate) display: &'a str,
    pub(crate) program: &'a str,
    pub(crate) args: &'a [&'a OsString],
    pub(crate) cwd: &'a Path,
    /// The complete environment; nothing is inherited.
    pub(crate) env: &'a [(OsString, OsString)],
    /// Log `$ <display>` before running.
    pub(crate) echo: bool,
    /// Whom it runs as and what it sees.
    pub(crate) run_as: RunAs<'a>,
}

/// Whom a build's command runs as.
#[derive(Clone, Copy)]
pub(crate) enum RunAs<'a> {
    /// The tenant, in its sandbox, with this build's directory and cache writable.
    Tenant(Jail<'a>),
    /// The platform itself: only for the builder's own copies between the
    /// tenant's commands (hard links cannot cross the sandbox's mounts).
    Platform,
}

/// What a tenant's build command may touch: the build's directory and cache (writable) and
/// the runtime it got from the store (read-only).
#[derive(Clone, Copy)]
pub(crate) struct Jail<'a> {
    pub(crate) request: &'a BuildRequest,
    pub(crate) runtime: Option<&'a Path>,
}

/// `sh -c <command>` with the given environment.
pub(crate) async fn shell(
    step: Step,
    command: &str,
    cwd: &Path,
    env: &[(OsString, OsString)],
    log: &BuildLog,
    deadline: Deadline,
    jail: Jail<'_>,
) -> Result<(), BuildError> {
    let arg = OsString::from(command);
    let args = [&OsString::from("-c"), &arg];
    let run_as = RunAs::Tenant(jail);
    let run = Run { step, display: command, program: "/bin/sh", args: &args, cwd, env, echo: true, run_as };
    run.run(log, deadline).await
}

impl Run<'_> {
    pub(crate) async fn run(&self, log: &BuildLog, deadline: Deadline) -> Result<(), BuildError> {
        if self.echo {
            log.line(format!("$ {}", self.display)).await;
        }
        let prepared = self.run_as.command(self.program, self.args, self.cwd, self.env).map_err(|err| {
            BuildError::Io { context: format!("cannot sandbox `{}`", self.display), source: std::io::Error::other(err) }
        })?;
        // Its own process group, killed whole when `group` goes: a cancelled build leaves nothing running.
        let Spawned { mut child, mut group, cgroup } = prepared.spawn().await.map_err(|source| BuildError::Io {
            context: format!("cannot start `{}` in {}", self.display, self.cwd.display()),
            source,
        })?;
        let readers = [
            child.stdout.take().map(|out| tokio::spawn(forward(out, log.clone()))),
            child.stderr.take().map(|err| tokio::spawn(forward(err, log.clone()))),
        ];

        let started = Instant::now();
        let outcome = {
            let wait = child.wait();
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    status = &mut wait => break Some(status),
                    () = tokio::time::sleep_until(deadline.at) => break None,
                    // A long silent step (a cargo build compiling one big crate, a webpack
                    // bundle) says it is still alive, so a build log never looks hung.
                    () = tokio::time::sleep_until(log.progress_due()) => {
                        if Instant::now() >= log.progress_due() {
                            log.line(still_running(self.step, self.display, started.elapsed())).await;
                        }
                    }
                }
            }
        };
        // Whatever happened, nothing of this command may outlive it: a daemon
        // left behind would also keep the output pipes open.
        group.kill();
        let oom_killed = cgroup.as_ref().is_some_and(|cgroup| cgroup.oom_kills() > 0);
        if let Some(cgroup) = cgroup {
            cgroup.remove().await;
        }
        let status = match outcome {
            Some(status) => status
                .map_err(|source| BuildError::Io { context: format!("waiting for `{}`", self.display), source })?,
            None => {
                let _ = child.wait().await;
                drain(readers).await;
                return Err(BuildError::Timeout { step: self.step, limit: deadline.limit });
            }
        };
        drain(readers).await;
        if status.success() {
            Ok(())
        } else if let (true, RunAs::Tenant(jail)) = (oom_killed, self.run_as) {
            Err(BuildError::OutOfMemory { step: self.step, limit: jail.request.sandbox.resources.memory })
        } else {
            Err(BuildError::CommandFailed { step: self.step, command: self.display.to_owned(), exit_status: status })
        }
    }
}

/// `still running the build step (`cargo build --release`), 3 min so far`.
fn still_running(step: Step, command: &str, elapsed: Duration) -> String {
    const SHOWN: usize = 60;
    let mut shown: String = command.chars().take(SHOWN).collect();
    if command.chars().nth(SHOWN).is_some() {
        shown.push('…');
    }
    let seconds = elapsed.as_secs();
    let so_far = if seconds < 60 { format!("{seconds} s") } else { format!("{} min", seconds / 60) };
    format!("… still running the {step} step (`{shown}`), {so_far} so far")
}

/// Waits for the readers to reach end of file, but not forever: a process that
/// left the group (setsid) could hold a pipe open.
async fn drain(readers: [Option<tokio::task::JoinHandle<()>>; 2]) {
    for reader in readers.into_iter().flatten() {
        let abort = reader.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), reader).await.is_err() {
            abort.abort();
        }
    }
}

async fn forward(stream: impl AsyncRead + Unpin, log: BuildLog) {
    let mut lines = LineReader::new(stream, MAX_LINE_BYTES);
    while let Some(batch) = lines.next_lines().await {
        for line in batch {
            log.line(line).await;
        }
    }
}

impl RunAs<'_> {
    /// The command that runs `program`: for the tenant sandboxed with the
    /// build directory and cache writable, a private home, and no port to bind.
    pub(crate) fn command(
        self,
        program: &str,
        args: &[&OsString],
        cwd: &Path,
        env: &[(OsString, OsString)],
    ) -> Result<Prepared, slipway_sandbox::SandboxError> {
        let argv: Vec<OsString> =
            std::iter::once(OsString::from(program)).chain(args.iter().map(|a| (*a).clone())).collect();
        let RunAs::Tenant(Jail { request, runtime }) = self else {
            let mut command = tokio::process::Command::new(program);
            command.args(args).current_dir(cwd).env_clear().envs(env.iter().map(|(k, v)| (k, v)));
            return Ok(Prepared { command, cgroup: None });
        };
        let jail = &request.sandbox;
        let mut env = env.to_vec();
        if jail.sandbox.is_enforced() {
            // The platform's own home is not in the view; tools get a private, throw-away one.
            env.retain(|(name, _)| name != "HOME");
            env.push(("HOME".into(), BUILD_HOME.into()));
        }
        let run = NEXT_RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{}{}-{run}", slipway_sandbox::BUILD_PREFIX, jail.name);
        let process = TenantProcess {
            name: &name,
            uid: jail.uid,
            resources: &jail.resources,
            argv: &argv,
            cwd,
            env: &env,
            files: Files {
                writable: vec![&request.app_dir, &request.cache_dir],
                read_only: runtime.into_iter().collect(),
                scratch: vec![(Path::new(BUILD_HOME), 1 << 30)],
                ..Files::default()
            },
            bind_port: None,
            max_file_size: Some(jail.max_file_size),
        };
        jail.sandbox.command(&process)
    }
}

/// The home directory of build commands in the sandbox.
const BUILD_HOME: &str = "/home/build";
/// Tells apart the cgroups of the commands of one build.
static NEXT_RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// "exit status 1", "signal 9 (SIGKILL)".
pub(crate) fn describe_status(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(127), _) => "exit status 127 (a program it runs was not found)".to_owned(),
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => match Signal::try_from(signal) {
            Ok(name) => format!("signal {signal} ({name})"),
            Err(_) => format!("signal {signal}"),
        },
        (None, None) => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_name_the_step_the_command_and_the_time_so_far() {
        let line = still_running(Step::Build, "cargo build --release", Duration::from_secs(185));
        assert_eq!(line, "… still running the build step (`cargo build --release`), 3 min so far");
        let line = still_running(Step::Install, "npm ci", Duration::from_millis(1500));
        assert_eq!(line, "… still running the install step (`npm ci`), 1 s so far");
        let long = format!("echo {}", "x".repeat(100));
        let line = still_running(Step::Build, &long, Duration::from_secs(60));
        assert!(line.contains(&format!("`echo {}…`", "x".repeat(55))) && line.ends_with("1 min so far"), "{line}");
    }
}
