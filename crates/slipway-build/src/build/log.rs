//! The build log: lines to the caller's channel, capped in total bytes.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::Sender;

/// Longer lines are split into pieces of at most this many bytes.
pub(crate) const MAX_LINE_BYTES: usize = 4096;

/// A cheap handle shared by every reader of a build; the cap spans the whole build.
#[derive(Clone)]
pub(crate) struct BuildLog {
    tx: Sender<String>,
    state: Arc<Mutex<State>>,
}

struct State {
    sent: u64,
    max: u64,
    truncated: bool,
}

impl BuildLog {
    pub(crate) fn new(tx: Sender<String>, max_bytes: u64) -> Self {
        Self { tx, state: Arc::new(Mutex::new(State { sent: 0, max: max_bytes, truncated: false })) }
    }

    /// Sends one line, or the truncation notice once the cap is reached, or
    /// nothing after that. A receiver that went away does not stop the build.
    pub(crate) async fn line(&self, line: impl Into<String>) {
        let line = line.into();
        let to_send = {
            // A poisoned lock only means another reader panicked mid-update; the counters are still usable.
            let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
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
        let log = BuildLog::new(tx, 11);
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
}
