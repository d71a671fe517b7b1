//! The build log: lines to the caller's channel, capped in total bytes. It
//! also knows when it last had a line, so a command that stays silent for a
//! long time gets a "still running" line now and then (`command.rs`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tokio::time::Instant;

/// Longer lines are split into pieces of at most this many bytes.
pub(crate) const MAX_LINE_BYTES: usize = 4096;

/// A cheap handle shared by every reader of a build; the cap spans the whole build.
#[derive(Clone)]
pub(crate) struct BuildLog {
    tx: Sender<String>,
    state: Arc<Mutex<State>>,
    /// After this long without a line, a running command gets a progress line.
    quiet: Duration,
}

struct State {
    sent: u64,
    max: u64,
    truncated: bool,
    /// When the last line was logged (or dropped past the cap: silence is not the point then).
    last_line: Instant,
}

impl BuildLog {
    pub(crate) fn new(tx: Sender<String>, max_bytes: u64, quiet: Duration) -> Self {
        let state = State { sent: 0, max: max_bytes, truncated: false, last_line: Instant::now() };
        Self { tx, state: Arc::new(Mutex::new(state)), quiet }
    }

    /// When a progress line is due if nothing else is logged meanwhile.
    pub(crate) fn progress_due(&self) -> Instant {
        self.lock().last_line + self.quiet
    }

    // A poisoned lock only means another reader panicked mid-update; the counters are still usable.
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends one line, or the truncation notice once the cap is reached, or
    /// nothing after that. A receiver that went away does not stop the build.
    pub(crate) async fn line(&self, line: impl Into<String>) {
        let line = line.into();
        let to_send = {
            let mut state = self.lock();
            state.last_line = Instant::now();
            let cost = line.len() as u64 + 1;
            if state.truncated {
                None
            } else if state.sent + cost > state.max {
                state.truncated = true;
                Some(format!("… build log truncated at {} bytes", state.max))
            } else {
                state.sent += cost;
                Some(line)
            }
        };
        if let Some(line) = to_send {
            let _ = self.tx.send(line).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cap_sends_one_notice_then_nothing() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(100);
        let log = BuildLog::new(tx, 11, Duration::from_secs(60));
        for line in ["12345", "1234", "x", "y"] {
            log.line(line).await;
        }
        drop(log);
        let mut lines = Vec::new();
        while let Some(line) = rx.recv().await {
            lines.push(line);
        }
        assert_eq!(lines, ["12345", "1234", "… build log truncated at 11 bytes"]);
    }

    #[tokio::test]
    async fn progress_is_due_a_quiet_period_after_the_last_line() {
        let (tx, _rx) = tokio::sync::mpsc::channel(100);
        let start = Instant::now();
        let log = BuildLog::new(tx, 1 << 20, Duration::from_secs(60));
        let first = log.progress_due();
        assert!(first >= start + Duration::from_secs(60) && first <= Instant::now() + Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(20)).await;
        log.line("output").await;
        assert!(log.progress_due() >= first + Duration::from_millis(20));
    }
}
