//! Reading Server-Sent Events, written once for every client of the API's streams (the CLI's
//! `logs` and `deploy`, the post-receive hook, the portal's pass-through): an incremental parser,
//! bytes in and complete events out, with a bound on how much one event may buffer.

/// One event of an SSE body.
#[derive(Debug, PartialEq)]
pub struct SseEvent {
    /// The `event:` name; `None` for a plain message.
    pub event: Option<String>,
    /// The `data:` lines, joined by newlines.
    pub data: String,
}

/// An incremental SSE parser: bytes in, complete events out.
#[derive(Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    /// Where the search for the next blank line resumes (what lies before has none).
    scan_from: usize,
    /// Dropping the rest of an event that outgrew [`MAX_EVENT_BYTES`].
    skipping: bool,
}

/// The largest event passed on; a build printing a longer line gets a notice in its place, so a
/// tenant's output cannot grow a reader's memory (the control plane's, the CLI's) without bound.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

impl SseParser {
    /// The events that `chunk` completes.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some((end, next)) = find_blank_line(&self.buffer, self.scan_from.max(start)) {
            if self.skipping {
                self.skipping = false;
            } else if let Some(event) = parse_block(&self.buffer[start..end]) {
                events.push(event);
            }
            start = next;
        }
        // One drain per chunk, and the next search starts where this one stopped (less the two
        // bytes a separator split across chunks may begin with).
        self.buffer.drain(..start);
        self.scan_from = self.buffer.len().saturating_sub(2);
        if self.buffer.len() > MAX_EVENT_BYTES {
            if !self.skipping {
                let data = format!("[a log line longer than {} KiB was left out]", MAX_EVENT_BYTES / 1024);
                events.push(SseEvent { event: None, data });
            }
            self.skipping = true;
            self.buffer = self.buffer.split_off(self.buffer.len() - 2);
            self.scan_from = 0;
        }
        events
    }
}

/// One event block: its `event:` name and its `data:` lines joined by newlines.
fn parse_block(block: &[u8]) -> Option<SseEvent> {
    let text = String::from_utf8_lossy(block);
    let mut event = None;
    let mut data: Option<String> = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => event = Some(value.to_owned()),
            "data" => match &mut data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => data = Some(value.to_owned()),
            },
            _ => {} // comments (keep-alives), ids and retries of the API are not passed on
        }
    }
    data.map(|data| SseEvent { event, data })
}

/// From `from` on: the end of the first block and the end of its blank-line separator.
fn find_blank_line(buffer: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i + 1 < buffer.len() {
        if buffer[i] == b'\n' && buffer[i + 1] == b'\n' {
            return Some((i, i + 2));
        }
        if buffer[i] == b'\n' && buffer[i + 1] == b'\r' && buffer.get(i + 2) == Some(&b'\n') {
            return Some((i, i + 3));
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_split_across_chunks() {
        let mut parser = SseParser::default();
        assert!(parser.push(b"data: one\n\ndata: t").len() == 1);
        let rest = parser.push(b"wo\n\n:\n\nevent: end\ndata: DEPLOYED\n\n");
        assert_eq!(
            rest,
            vec![
                SseEvent { event: None, data: "two".into() },
                SseEvent { event: Some("end".into()), data: "DEPLOYED".into() },
            ]
        );
    }

    #[test]
    fn separators_split_across_chunks_and_overlong_lines_are_handled() {
        let mut parser = SseParser::default();
        assert!(parser.push(b"data: a\n").is_empty());
        assert_eq!(parser.push(b"\ndata: b\n\r").len(), 1);
        assert_eq!(parser.push(b"\n"), vec![SseEvent { event: None, data: "b".into() }]);

        // A line over the cap becomes one notice; what follows it is parsed as usual.
        let long = vec![b'x'; MAX_EVENT_BYTES + 10];
        let mut events = parser.push(b"data: ");
        events.extend(parser.push(&long));
        events.extend(parser.push(&long));
        events.extend(parser.push(b"\n\ndata: after\n\n"));
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events[0].data.contains("was left out"), "{:?}", events[0]);
        assert_eq!(events[1].data, "after");
        assert!(parser.buffer.len() < 16, "the buffer does not keep the long line");
    }
}
