//! Runs one build command: in its own process group, output forwarded line by
//! line to the build log, killed as a whole group on timeout or cancellation.

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use super::log::{BuildLog, LineSplitter};
use super::{BuildError, Step};

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
}

/// `sh -c <command>` with the given environment.
pub(crate) async fn shell(
    step: Step,
    command: &str,
    cwd: &Path,
    env: &[(OsString, OsString)],
    log: &BuildLog,
    deadline: Deadline,
) -> Result<(), BuildError> {
    let arg = OsString::from(command);
    let run = Run { step, display: command, program: "sh", args: &[&OsString::from("-c"), &arg], cwd, env, echo: true };
    run.run(log, deadline).await
}

/// Kills the process group when dropped, so a cancelled build leaves nothing running.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // ESRCH (the group is already gone) is the expected, harmless case.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Run<'_> {
    pub(crate) async fn run(&self, log: &BuildLog, deadline: Deadline) -> Result<(), BuildError> {
        if self.echo {
            log.line(format!("$ {}", self.display)).await;
        }
        let mut command = tokio::process::Command::new(self.program);
        command
            .args(self.args)
            .current_dir(self.cwd)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|source| BuildError::Io {
            context: format!("cannot start `{}` in {}", self.display, self.cwd.display()),
            source,
        })?;
        // The child leads its own group (process_group(0)), so its pid is the group id.
        let mut group = GroupGuard(child.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw));
        let readers = [
            child.stdout.take().map(|out| tokio::spawn(forward(out, log.clone()))),
            child.stderr.take().map(|err| tokio::spawn(forward(err, log.clone()))),
        ];

        let outcome = tokio::time::timeout_at(deadline.at, child.wait()).await;
        // Whatever happened, nothing of this command may outlive it: a daemon
        // left behind would also keep the output pipes open.
        group.kill();
        let status = match outcome {
            Ok(status) => status
                .map_err(|source| BuildError::Io { context: format!("waiting for `{}`", self.display), source })?,
            Err(_elapsed) => {
                let _ = child.wait().await;
                drain(readers).await;
                return Err(BuildError::Timeout { step: self.step, limit: deadline.limit });
            }
        };
        drain(readers).await;
        if status.success() {
            Ok(())
        } else {
            Err(BuildError::CommandFailed { step: self.step, command: self.display.to_owned(), exit_status: status })
        }
    }
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

async fn forward(mut stream: impl AsyncRead + Unpin, log: BuildLog) {
    let mut splitter = LineSplitter::default();
    let mut buffer = vec![0; 16 * 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                for line in splitter.push(&buffer[..n]) {
                    log.line(line).await;
                }
            }
        }
    }
    if let Some(line) = splitter.finish() {
        log.line(line).await;
    }
}

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
