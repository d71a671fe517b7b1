//! Cutting a process's output into log lines: on `\n` (a trailing `\r` dropped), and a line
//! with no end into pieces at a UTF-8 boundary, so tenant output cannot grow the memory of
//! whoever reads it (the builder, the agent) without bound.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Splits a byte stream into lines of at most `max_line_bytes` bytes each.
pub struct LineSplitter {
    max_line_bytes: usize,
    pending: Vec<u8>,
}

impl LineSplitter {
    /// `max_line_bytes` must leave room for a character: at least 4.
    pub fn new(max_line_bytes: usize) -> Self {
        Self { max_line_bytes: max_line_bytes.max(4), pending: Vec::new() }
    }

    /// The lines that `bytes` completes (and the pieces of an overlong one).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
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
                if self.pending.len() > self.max_line_bytes {
                    lines.push(self.split_long());
                }
            }
        }
        lines
    }

    /// What is left at the end of the stream.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        (!rest.is_empty()).then(|| String::from_utf8_lossy(&rest).into_owned())
    }

    fn split_long(&mut self) -> String {
        // Back off to the start of a UTF-8 character (at most 3 continuation bytes).
        let max = self.max_line_bytes;
        let mut cut = max;
        while cut > max - 3 && (self.pending[cut] & 0b1100_0000) == 0b1000_0000 {
            cut -= 1;
        }
        let rest = self.pending.split_off(cut);
        let line = std::mem::replace(&mut self.pending, rest);
        String::from_utf8_lossy(&line).into_owned()
    }
}

/// Reads a process's output stream to its end, a chunk at a time, as lines.
pub struct LineReader<R> {
    stream: R,
    splitter: LineSplitter,
    buffer: Vec<u8>,
    ended: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(stream: R, max_line_bytes: usize) -> Self {
        Self { stream, splitter: LineSplitter::new(max_line_bytes), buffer: vec![0; 16 * 1024], ended: false }
    }

    /// The lines the next chunk completes (at the end: the last, unfinished one); `None` once
    /// the stream has ended or failed.
    pub async fn next_lines(&mut self) -> Option<Vec<String>> {
        if self.ended {
            return None;
        }
        match self.stream.read(&mut self.buffer).await {
            Ok(0) | Err(_) => {
                self.ended = true;
                Some(self.splitter.finish().into_iter().collect())
            }
            Ok(read) => Some(self.splitter.push(&self.buffer[..read])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX_LINE_BYTES: usize = 4096;

    #[test]
    fn splits_lines_across_chunks_and_drops_carriage_returns() {
        let mut splitter = LineSplitter::new(MAX_LINE_BYTES);
        assert_eq!(splitter.push(b"one\r\ntw"), ["one"]);
        assert_eq!(splitter.push(b"o\n\nthree"), ["two", ""]);
        assert_eq!(splitter.finish().as_deref(), Some("three"));
        assert_eq!(splitter.finish(), None);
    }

    #[test]
    fn long_lines_are_split_at_the_cap_on_a_character_boundary() {
        let mut splitter = LineSplitter::new(MAX_LINE_BYTES);
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
        let mut splitter = LineSplitter::new(MAX_LINE_BYTES);
        assert_eq!(splitter.push(b"ok \xff\xfe\n"), ["ok \u{fffd}\u{fffd}"]);
    }

    #[tokio::test]
    async fn a_reader_yields_every_line_and_then_the_unfinished_one() {
        let mut reader = LineReader::new(&b"one\ntwo\nthree"[..], 16);
        let mut lines = Vec::new();
        while let Some(batch) = reader.next_lines().await {
            lines.extend(batch);
        }
        assert_eq!(lines, ["one", "two", "three"]);
        assert_eq!(reader.next_lines().await, None);
    }
}
