//! One supervised instance: a process started with `sh -c "<command>"`
//! in its own process group, with a clean environment (config vars, PORT,
//! PATH — never the agent's own settings), its output captured into the
//! runtime log, restarted with exponential backoff when it crashes, and
//! stopped with SIGTERM then SIGKILL after a grace period.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use slipway_core::layout::DataLayout;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::watch;

use crate::applog::AppLog;

/// Lines kept per instance for failure reports.
const RECENT_LINES: usize = 20;
const MAX_BACKOFF: Duration = Duration::from_secs(60);

pub(crate) struct InstanceSpec {
    /// `web.1`, `worker.2`, …
    pub name: String,
    pub command: String,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
    pub port: Option<u16>,
    pub log: Arc<AppLog>,
    /// Where the process group is recorded while it runs.
    pub pid_dir: PathBuf,
}

/// What the supervisor shares with those watching the instance.
#[derive(Default)]
pub(crate) struct Observed {
    pub recent: Mutex<VecDeque<String>>,
    pub restarts: AtomicU32,
    /// Set when the process exited (and cleared when it is started again).
    pub exited: Mutex<Option<String>>,
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
        let child = start(&spec, &observed).await;
        let Some(mut child) = child else {
            *observed.exited.lock().unwrap_or_else(|e| e.into_inner()) = Some("could not be started".into());
            return;
        };
        let pgid = child.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw);
        let pid_file = pgid.map(|pid| spec.pid_dir.join(pid.to_string()));
        if let Some(file) = &pid_file {
            let _ = tokio::fs::create_dir_all(&spec.pid_dir).await;
            let _ = tokio::fs::write(file, &spec.name).await;
        }
        let started = std::time::Instant::now();
        let outcome = tokio::select! {
            status = child.wait() => Some(status),
            _ = stopping.wait_for(|stop| *stop) => None,
        };
        match outcome {
            None => {
                if let Some(pgid) = pgid {
                    let _ = killpg(pgid, Signal::SIGTERM);
                    if tokio::time::timeout(grace, child.wait()).await.is_err() {
                        spec.log
                            .line(&spec.name, &format!("did not stop within {}s; killing it", grace.as_secs()))
                            .await;
                        let _ = killpg(pgid, Signal::SIGKILL);
                        let _ = child.wait().await;
                    }
                }
                remove(pid_file).await;
                return;
            }
            Some(status) => {
                // Whatever the process started in its group goes with it.
                if let Some(pgid) = pgid {
                    let _ = killpg(pgid, Signal::SIGKILL);
                }
                remove(pid_file).await;
                let status = status.map(|s| s.to_string()).unwrap_or_else(|err| err.to_string());
                *observed.exited.lock().unwrap_or_else(|e| e.into_inner()) = Some(status.clone());
                let restarts = observed.restarts.fetch_add(1, Ordering::SeqCst) + 1;
                if started.elapsed() > MAX_BACKOFF {
                    backoff = Duration::from_secs(1); // it ran well for a while: start over gently
                }
                spec.log
                    .line(&spec.name, &format!("exited ({status}); restart #{restarts} in {}s", backoff.as_secs()))
                    .await;
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopping.wait_for(|stop| *stop) => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn start(spec: &InstanceSpec, observed: &Arc<Observed>) -> Option<tokio::process::Child> {
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(&spec.command)
        .current_dir(&spec.dir)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    match command.spawn() {
        Ok(mut child) => {
            *observed.exited.lock().unwrap_or_else(|e| e.into_inner()) = None;
            if let Some(out) = child.stdout.take() {
                tokio::spawn(capture(out, spec.name.clone(), spec.log.clone(), observed.clone()));
            }
            if let Some(err) = child.stderr.take() {
                tokio::spawn(capture(err, spec.name.clone(), spec.log.clone(), observed.clone()));
            }
            Some(child)
        }
        Err(err) => {
            spec.log.line(&spec.name, &format!("could not be started: {err}")).await;
            None
        }
    }
}

async fn capture(stream: impl AsyncRead + Unpin, name: String, log: Arc<AppLog>, observed: Arc<Observed>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        log.line(&name, &line).await;
        if let Ok(mut recent) = observed.recent.lock() {
            if recent.len() == RECENT_LINES {
                recent.pop_front();
            }
            recent.push_back(line);
        }
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
        if let Some(pgid) = entry.file_name().to_str().and_then(|name| name.parse::<i32>().ok()) {
            if killpg(Pid::from_raw(pgid), Signal::SIGKILL).is_ok() {
                tracing::info!(pgid, "stopped an instance left behind by a previous agent");
            }
        }
        let _ = tokio::fs::remove_file(entry.path()).await;
    }
}

pub(crate) fn pid_dir(layout: &DataLayout) -> PathBuf {
    layout.agent_instances()
}
