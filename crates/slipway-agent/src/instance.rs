//! One supervised instance: a process started with `sh -c "<command>"`
//! through the sandbox (its own uid, namespaces, read-only release under a
//! throw-away layer, cgroup limits) in its own process group, with a clean
//! environment (config vars, PORT, PATH — never the agent's own settings),
//! its output captured into the runtime log, restarted with exponential
//! backoff when it crashes (an OOM kill says so, with the limit), and
//! stopped with SIGTERM then SIGKILL after a grace period.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use slipway_core::layout::DataLayout;
use slipway_core::resources::{Resources, SandboxUid};
use slipway_logs::{LineReader, LogWriter};
use slipway_sandbox::{Files, Sandbox, Spawned, TenantProcess};
use tokio::io::AsyncRead;
use tokio::sync::watch;

/// Lines kept per instance for failure reports.
const RECENT_LINES: usize = 20;
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Tells apart the cgroups of instances that share a name.
static NEXT_START: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) struct InstanceSpec {
    /// `web.1`, `worker.2`, …
    pub name: String,
    pub command: String,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
    pub port: Option<u16>,
    /// The environment's runtime log.
    pub log: Arc<LogWriter>,
    /// Where the process group is recorded while it runs.
    pub pid_dir: PathBuf,
    pub sandbox: Sandbox,
    pub uid: SandboxUid,
    pub resources: Resources,
    /// Unique among running instances: names its cgroup.
    pub sandbox_name: String,
    /// Host paths outside the release its processes need, read-only (a virtualenv in the cache).
    pub read_only: Vec<PathBuf>,
}

/// What the supervisor shares with those watching the instance.
#[derive(Default)]
pub(crate) struct Observed {
    pub recent: Mutex<VecDeque<String>>,
    pub restarts: AtomicU32,
    /// Set when the process exited (and cleared when it is started again).
    pub exited: Mutex<Option<String>>,
    /// Why it last exited, kept across restarts (for `slipway ps`).
    pub last_exit: Mutex<Option<String>>,
}

impl Observed {
    pub(crate) fn last_lines(&self) -> Vec<String> {
        self.recent.lock().map(|lines| lines.iter().cloned().collect()).unwrap_or_default()
    }
}

pub(crate) struct Handle {
    pub name: String,
    pub port: Option<u16>,
    pub observed: Arc<Observed>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Handle {
    pub(crate) fn spawn(spec: InstanceSpec, grace: Duration) -> Self {
        let observed = Arc::new(Observed::default());
        let (stop, stopping) = watch::channel(false);
        let (name, port) = (spec.name.clone(), spec.port);
        let task = tokio::spawn(supervise(spec, observed.clone(), stopping, grace));
        Self { name, port, observed, stop, task }
    }

    /// Stops the instance: SIGTERM, then SIGKILL after the grace period.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn supervise(spec: InstanceSpec, observed: Arc<Observed>, mut stopping: watch::Receiver<bool>, grace: Duration) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let Some(Spawned { mut child, mut group, cgroup }) = start(&spec, &observed).await else {
            *observed.exited.lock().unwrap_or_else(|e| e.into_inner()) = Some("could not be started".into());
            return;
        };
        let pid_file = group.id().map(|pid| spec.pid_dir.join(pid.to_string()));
        if let Some(file) = &pid_file {
            let _ = tokio::fs::create_dir_all(&spec.pid_dir).await;
            let _ = tokio::fs::write(file, format!("{}\n{}\n", boot_id(), spec.name)).await;
        }
        let started = std::time::Instant::now();
        let outcome = tokio::select! {
            status = child.wait() => Some(status),
            _ = stopping.wait_for(|stop| *stop) => None,
        };
        match outcome {
            None => {
                group.signal(Signal::SIGTERM);
                if tokio::time::timeout(grace, child.wait()).await.is_err() {
                    let message = format!("did not stop within {}s; killing it", grace.as_secs());
                    spec.log.instance_line(&spec.name, &message).await;
                    group.kill();
                    let _ = child.wait().await;
                }
                remove(pid_file).await;
                if let Some(cgroup) = cgroup {
                    cgroup.remove().await;
                }
                return;
            }
            Some(status) => {
                // Whatever the process started in its group goes with it.
                group.kill();
                remove(pid_file).await;
                // A child killed for memory while the instance itself ended well is not its exit reason.
                let failed = !status.as_ref().is_ok_and(|status| status.success());
                let oom_killed = failed && cgroup.as_ref().is_some_and(|cgroup| cgroup.oom_kills() > 0);
                if let Some(cgroup) = cgroup {
                    cgroup.remove().await;
                }
                let status = match status {
                    _ if oom_killed => format!("out of memory (limit {})", spec.resources.memory),
                    Ok(status) => status.to_string(),
                    Err(err) => err.to_string(),
                };
                *observed.exited.lock().unwrap_or_else(|e| e.into_inner()) = Some(status.clone());
                *observed.last_exit.lock().unwrap_or_else(|e| e.into_inner()) = Some(status.clone());
                let restarts = observed.restarts.fetch_add(1, Ordering::SeqCst) + 1;
                if started.elapsed() > MAX_BACKOFF {
                    backoff = Duration::from_secs(1); // it ran well for a while: start over gently
                }
                let message = format!("exited ({status}); restart #{restarts} in {}s", backoff.as_secs());
                spec.log.instance_line(&spec.name, &message).await;
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopping.wait_for(|stop| *stop) => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn start(spec: &InstanceSpec, observed: &Arc<Observed>) -> Option<Spawned> {
    let argv = [OsString::from("/bin/sh"), OsString::from("-c"), OsString::from(&spec.command)];
    let env: Vec<(OsString, OsString)> = spec.env.iter().map(|(k, v)| (k.into(), v.into())).collect();
    // Unique per start: an old and a new generation of one release may run side by side.
    let name = format!("{}-{}-{}", spec.sandbox_name, std::process::id(), NEXT_START.fetch_add(1, Ordering::Relaxed));
    let process = TenantProcess {
        name: &name,
        uid: spec.uid,
        resources: &spec.resources,
        argv: &argv,
        cwd: &spec.dir,
        env: &env,
        // The layer on top of the release is as big as the memory it is charged to.
        files: Files {
            layered: Some((&spec.dir, spec.resources.memory.bytes())),
            read_only: spec.read_only.iter().map(PathBuf::as_path).collect(),
            ..Files::default()
        },
        bind_port: spec.port,
        // No file larger than the memory its layer is charged to (a sparse 3 GiB file included).
        max_file_size: Some(spec.resources.memory.bytes()),
    };
    let prepared = match spec.sandbox.command(&process) {
        Ok(prepared) => prepared,
        Err(err) => {
            spec.log.instance_line(&spec.name, &format!("could not be started: {err}")).await;
            return None;
        }
    };
    match prepared.spawn().await {
        Ok(mut spawned) => {
            *observed.exited.lock().unwrap_or_else(|e| e.into_inner()) = None;
            if let Some(out) = spawned.child.stdout.take() {
                tokio::spawn(capture(out, spec.name.clone(), spec.log.clone(), observed.clone()));
            }
            if let Some(err) = spawned.child.stderr.take() {
                tokio::spawn(capture(err, spec.name.clone(), spec.log.clone(), observed.clone()));
            }
            Some(spawned)
        }
        Err(err) => {
            spec.log.instance_line(&spec.name, &format!("could not be started: {err}")).await;
            None
        }
    }
}

async fn capture(stream: impl AsyncRead + Unpin, name: String, log: Arc<LogWriter>, observed: Arc<Observed>) {
    let mut lines = LineReader::new(stream, MAX_LINE_BYTES);
    while let Some(batch) = lines.next_lines().await {
        for line in batch {
            record(&name, line, &log, &observed).await;
        }
    }
}

/// The longest line kept whole: tenant output is untrusted, and a line with no
/// end must not grow the agent's memory (it is cut into pieces of this size).
const MAX_LINE_BYTES: usize = 16 * 1024;

async fn record(name: &str, line: String, log: &LogWriter, observed: &Observed) {
    log.instance_line(name, &line).await;
    if let Ok(mut recent) = observed.recent.lock() {
        if recent.len() == RECENT_LINES {
            recent.pop_front();
        }
        recent.push_back(line);
    }
}

async fn remove(file: Option<PathBuf>) {
    if let Some(file) = file {
        let _ = tokio::fs::remove_file(file).await;
    }
}

/// Kills the process groups a previous agent left behind (it was killed
/// without stopping its instances), so no orphaned app keeps a port.
pub(crate) async fn reap_leftovers(layout: &DataLayout) {
    let dir = layout.agent_instances();
    let Ok(mut entries) = tokio::fs::read_dir(&dir).await else { return };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let recorded = tokio::fs::read_to_string(entry.path()).await.unwrap_or_default();
        // After a reboot the numbers name other processes: only this boot's groups are ours.
        let this_boot = recorded.lines().next() == Some(boot_id().as_str());
        if let Some(pgid) = entry.file_name().to_str().and_then(|name| name.parse::<i32>().ok()).filter(|_| this_boot) {
            if killpg(Pid::from_raw(pgid), Signal::SIGKILL).is_ok() {
                tracing::info!(pgid, "stopped an instance left behind by a previous agent");
            }
        }
        let _ = tokio::fs::remove_file(entry.path()).await;
    }
}

/// The kernel's ID of this boot.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default().trim().to_owned()
}

pub(crate) fn pid_dir(layout: &DataLayout) -> PathBuf {
    layout.agent_instances()
}

#[cfg(test)]
mod tests {
    use super::MAX_LINE_BYTES;
    use slipway_logs::LineSplitter;

    #[test]
    fn lines_are_split_and_an_endless_one_is_cut_into_pieces() {
        let mut splitter = LineSplitter::new(MAX_LINE_BYTES);
        assert_eq!(splitter.push(b"one\r\ntwo\npart"), ["one", "two"]);
        assert_eq!(splitter.finish().as_deref(), Some("part"));
        let mut endless = LineSplitter::new(MAX_LINE_BYTES);
        let pieces = endless.push(&vec![b'x'; MAX_LINE_BYTES * 2 + 5]);
        assert_eq!(pieces.len(), 2);
        assert!(pieces.iter().all(|piece| piece.len() == MAX_LINE_BYTES));
        assert_eq!(endless.finish().map(|rest| rest.len()), Some(5), "the rest waits for more output");
    }
}
