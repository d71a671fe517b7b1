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

/// Splits a byte stream into log lines: on `\n` (a trailing `\r` dropped),
/// and every [`MAX_LINE_BYTES`] within a long line, at a UTF-8 boundary.
#[derive(Default)]
pub(crate) struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for &byte in bytes {
            if byte == b'\n' {
                if self.pending.last() == Some(&b'\r') {
                    self.pending.pop();
                }
                lines.push(String::from_utf8_lossy(&self.pending).into_owned());
                self.pending.clear();
            } else {
                self.pending.push(byte);
                if self.pending.len() > MAX_LINE_BYTES {
                    lines.push(self.split_long());
                }
            }
        }
        lines
    }

    /// What is left at the end of the stream.
    pub(crate) fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        (!rest.is_empty()).then(|| String::from_utf8_lossy(&rest).into_owned())
    }

    fn split_long(&mut self) -> String {
        // Back off to the start of a UTF-8 character (at most 3 continuation bytes).
        let mut cut = MAX_LINE_BYTES;
        while cut > MAX_LINE_BYTES - 3 && (self.pending[cut] & 0b1100_0000) == 0b1000_0000 {
            cut -= 1;
        }
        let rest = self.pending.split_off(cut);
        let line = std::mem::replace(&mut self.pending, rest);
        String::from_utf8_lossy(&line).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_across_chunks_and_drops_carriage_returns() {
        let mut splitter = LineSplitter::default();
        assert_eq!(splitter.push(b"one\r\ntw"), ["one"]);
        assert_eq!(splitter.push(b"o\n\nthree"), ["two", ""]);
        assert_eq!(splitter.finish().as_deref(), Some("three"));
        assert_eq!(splitter.finish(), None);
    }

    #[test]
    fn long_lines_are_split_at_4_kib_on_a_character_boundary() {
        let mut splitter = LineSplitter::default();
        let mut input = "a".repeat(MAX_LINE_BYTES - 1).into_bytes();
        input.extend("é".repeat(3).as_bytes());
        input.push(b'\n');
        let lines = splitter.push(&input);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE_BYTES - 1);
        assert_eq!(lines[1], "ééé");
        let lines = splitter.push(&vec![b'x'; 3 * MAX_LINE_BYTES + 5]);
        assert_eq!(lines.iter().map(String::len).collect::<Vec<_>>(), [MAX_LINE_BYTES; 3]);
        assert_eq!(splitter.finish().map(|l| l.len()), Some(5));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let mut splitter = LineSplitter::default();
        assert_eq!(splitter.push(b"ok \xff\xfe\n"), ["ok \u{fffd}\u{fffd}"]);
    }

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
