//! The access log: one JSON object per line, per request, written when the response has been
//! sent (or abandoned), so it carries the whole duration and the body bytes sent.
//!
//! Fields: `time` (RFC 3339, UTC, when the request arrived), `host`, `method`, `path` (without
//! the query, which often carries tokens), `status` (null when the client left before an
//! answer), `duration_ms`, `bytes` (response body bytes sent), `request_id`, `backend` (null
//! when the router answered itself) and `client` (the peer's IP address); a request hyper
//! refused before the router saw it also has `error`. Long values are cut at a limit and end in
//! `…`; bytes that are not UTF-8 become U+FFFD; every line is valid JSON.
//!
//! A request costs the proxy a small allocation and a non-blocking send: formatting and writing
//! happen on the writer's own thread (`access_writer.rs`), which sorts the lines into one file
//! per site ([`AccessLogName`]) and one for requests no site took (`_unrouted.log`). When its
//! queue is full the line is dropped and counted, never waited for.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderValue, Method};
use slipway_logs::Rotation;

use crate::access_writer::{self, Msg};
use crate::metrics::Metrics;

/// Lines waiting for the writer, at most: a burst the writer cannot keep up with holds ~2 MiB
/// typically (a few hundred bytes a line) and ~20 MiB at worst (every value at its limit below).
const QUEUE: usize = 8192;

/// The longest host and path a line keeps, in bytes.
const MAX_HOST: usize = 256;
const MAX_PATH: usize = 2048;
const MAX_ERROR: usize = 256;

/// Which requests get a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessLogMode {
    /// Every request.
    #[default]
    On,
    Off,
    /// One in N requests, and every request answered with 5xx or left without an answer.
    Sample(NonZeroU32),
}

impl FromStr for AccessLogMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "on" => Ok(AccessLogMode::On),
            "off" => Ok(AccessLogMode::Off),
            _ => value
                .strip_prefix("sample:")
                .and_then(|n| n.parse::<NonZeroU32>().ok())
                .map(AccessLogMode::Sample)
                .ok_or_else(|| format!("`{value}` is not on, off or sample:N (N a whole number from 1)")),
        }
    }
}

impl std::fmt::Display for AccessLogMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccessLogMode::On => f.write_str("on"),
            AccessLogMode::Off => f.write_str("off"),
            AccessLogMode::Sample(n) => write!(f, "sample:{n}"),
        }
    }
}

/// The name of a site's access-log file (`<name>.log`): 1 to 64 ASCII letters, digits, `-`
/// or `_`, not starting with `_` (names starting with `_` are the router's own).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccessLogName(Arc<str>);

impl AccessLogName {
    /// The file of requests no site took, named like their metrics' host label.
    pub(crate) const UNROUTED: &'static str = crate::metrics::UNROUTED_HOST;

    /// # Errors
    ///
    /// When `name` is not a safe file name as described above.
    pub fn parse(name: &str) -> Result<Self, String> {
        let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if name.is_empty() || name.len() > 64 || name.starts_with('_') || !name.chars().all(safe) {
            return Err(format!("`{name}` is not an access-log name (1-64 letters, digits, - or _)"));
        }
        Ok(AccessLogName(name.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where access lines go. Cheap to clone; [`AccessLog::off`] writes nothing.
#[derive(Clone, Default)]
pub struct AccessLog {
    sink: Option<Arc<Sink>>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sink {
            Some(sink) => write!(f, "AccessLog({})", sink.mode),
            None => f.write_str("AccessLog(off)"),
        }
    }
}

struct Sink {
    queue: SyncSender<Msg>,
    mode: AccessLogMode,
    metrics: Metrics,
    /// Set once the writer is found gone (said once in the agent's log).
    gone: AtomicBool,
}

impl AccessLog {
    /// No access log.
    pub fn off() -> Self {
        AccessLog::default()
    }

    /// Starts the writer thread: lines go to `dir/<name>.log` for sites with an
    /// [`AccessLogName`] and `dir/_unrouted.log` for the rest, each rotated by `rotation`.
    /// Written and dropped lines are counted in `metrics`. With [`AccessLogMode::Off`] nothing
    /// starts.
    ///
    /// # Errors
    ///
    /// When the thread cannot be started.
    pub fn start(
        dir: PathBuf,
        mode: AccessLogMode,
        rotation: Rotation,
        metrics: &Metrics,
    ) -> std::io::Result<AccessLog> {
        if mode == AccessLogMode::Off {
            return Ok(AccessLog::off());
        }
        let (queue, lines) = std::sync::mpsc::sync_channel(QUEUE);
        access_writer::spawn(lines, dir, rotation, metrics.clone())?;
        let sink = Sink { queue, mode, metrics: metrics.clone(), gone: AtomicBool::new(false) };
        Ok(AccessLog { sink: Some(Arc::new(sink)) })
    }

    pub(crate) fn is_on(&self) -> bool {
        self.sink.is_some()
    }

    /// Writes out every line queued so far, waiting at most `timeout` (blocking: call it off
    /// an async runtime); returns whether it did (false also when the log is off). Call it
    /// before exiting.
    pub fn flush(&self, timeout: Duration) -> bool {
        let Some(sink) = &self.sink else { return false };
        let deadline = std::time::Instant::now() + timeout;
        let (done, flushed) = std::sync::mpsc::sync_channel(1);
        let mut msg = Msg::Flush(done);
        // The queue may be full: retry until the deadline rather than wait on it unbounded.
        loop {
            match sink.queue.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) if std::time::Instant::now() < deadline => {
                    msg = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return false,
            }
        }
        flushed.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())).is_ok()
    }

    /// Queues the line of a finished request, unless sampling leaves it out.
    pub(crate) fn finish(&self, mut entry: Box<Entry>, status: Option<u16>, duration: Duration, bytes: u64) {
        let Some(sink) = &self.sink else { return };
        if let AccessLogMode::Sample(n) = sink.mode {
            let failed = status.is_none_or(|status| status >= 500);
            if !failed && !sampled(n) {
                return;
            }
        }
        (entry.status, entry.duration, entry.bytes) = (status, duration, bytes);
        sink.send(Msg::Line(entry));
    }

    /// Queues the line of a request hyper refused before the router saw it (it could not be
    /// parsed, so there is no host, method or path): the status hyper answered and why.
    pub(crate) fn refused(&self, client: SocketAddr, status: u16, request_id: HeaderValue, reason: &str) {
        let Some(sink) = &self.sink else { return };
        let client = HeaderValue::from_str(&client.ip().to_string()).unwrap_or(HeaderValue::from_static("unknown"));
        let mut entry = Entry::new(None, None, None, request_id, client);
        entry.status = Some(status);
        entry.set_error(Some(reason.to_owned()));
        sink.send(Msg::Line(entry));
    }
}

impl Sink {
    fn send(&self, msg: Msg) {
        match self.queue.try_send(msg) {
            Ok(()) => {}
            // The writer is behind (a slow or full disk): it says so itself.
            Err(TrySendError::Full(_)) => self.metrics.access_log_dropped(1),
            Err(TrySendError::Disconnected(_)) => {
                self.metrics.access_log_dropped(1);
                if !self.gone.swap(true, Ordering::Relaxed) {
                    tracing::error!("the access-log writer has stopped; every access-log line is dropped");
                }
            }
        }
    }
}

/// 1 in `n`, counted per thread (a router worker counts its own requests).
fn sampled(n: NonZeroU32) -> bool {
    thread_local!(static SEEN: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });
    SEEN.with(|seen| {
        let count = seen.get().wrapping_add(1);
        seen.set(count);
        count % n == 0
    })
}

/// One request's line: what is known when it arrives, completed when it ends.
pub(crate) struct Entry {
    time: SystemTime,
    host: Option<String>,
    method: Option<Method>,
    path: Option<String>,
    request_id: HeaderValue,
    client: HeaderValue,
    pub(crate) backend: Option<SocketAddr>,
    /// The file the line goes to; `None` for requests no site took.
    pub(crate) site: Option<AccessLogName>,
    status: Option<u16>,
    duration: Duration,
    bytes: u64,
    error: Option<String>,
}

impl Entry {
    /// `host` is the Host as sent (not UTF-8 → U+FFFD); host and path are cut to their limits.
    pub(crate) fn new(
        host: Option<&[u8]>,
        method: Option<Method>,
        path: Option<&str>,
        request_id: HeaderValue,
        client: HeaderValue,
    ) -> Box<Entry> {
        Box::new(Entry {
            time: SystemTime::now(),
            host: host.map(|host| cut(&String::from_utf8_lossy(host), MAX_HOST).into_owned()),
            method,
            path: path.map(|path| cut(path, MAX_PATH).into_owned()),
            request_id,
            client,
            backend: None,
            site: None,
            status: None,
            duration: Duration::ZERO,
            bytes: 0,
            error: None,
        })
    }

    /// Why the router answered the request itself (a failed upstream, a refused request).
    pub(crate) fn set_error(&mut self, error: Option<String>) {
        self.error = error.map(|error| cut(&error, MAX_ERROR).into_owned());
    }

    /// Appends the line, newline included, to `out`. Formatted by hand rather than with
    /// `write!`: this runs once per request, and `core::fmt`'s padding and float printing made
    /// the line cost more than proxying the request (callgrind, `bench/router-instructions.sh`).
    pub(crate) fn write_json(&self, out: &mut String) {
        let mut number = itoa::Buffer::new();
        out.push_str("{\"time\":\"");
        push_rfc3339(out, self.time);
        out.push_str("\",\"host\":");
        json_str_or_null(out, self.host.as_deref());
        out.push_str(",\"method\":");
        json_str_or_null(out, self.method.as_ref().map(Method::as_str));
        out.push_str(",\"path\":");
        json_str_or_null(out, self.path.as_deref());
        out.push_str(",\"status\":");
        match self.status {
            Some(status) => out.push_str(number.format(status)),
            None => out.push_str("null"),
        }
        let micros = u64::try_from(self.duration.as_micros()).unwrap_or(u64::MAX);
        out.push_str(",\"duration_ms\":");
        out.push_str(number.format(micros / 1000));
        out.push('.');
        push_padded(out, micros % 1000, 3);
        out.push_str(",\"bytes\":");
        out.push_str(number.format(self.bytes));
        out.push_str(",\"request_id\":");
        json_str(out, &header_text(&self.request_id));
        out.push_str(",\"backend\":");
        match self.backend {
            Some(SocketAddr::V4(backend)) => {
                let [a, b, c, d] = backend.ip().octets();
                for (part, sep) in [(a, '"'), (b, '.'), (c, '.'), (d, '.')] {
                    out.push(sep);
                    out.push_str(number.format(part));
                }
                out.push(':');
                out.push_str(number.format(backend.port()));
                out.push('"');
            }
            Some(backend) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\"{backend}\"");
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"client\":");
        json_str(out, &header_text(&self.client));
        if let Some(error) = &self.error {
            out.push_str(",\"error\":");
            json_str(out, error);
        }
        out.push_str("}\n");
    }
}

/// `value` cut to at most `max` bytes (on a character boundary), ending in `…` if it was cut.
fn cut(value: &str, max: usize) -> Cow<'_, str> {
    if value.len() <= max {
        return value.into();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &value[..end]).into()
}

fn json_str_or_null(out: &mut String, value: Option<&str>) {
    match value {
        Some(value) => json_str(out, value),
        None => out.push_str("null"),
    }
}

/// How each byte is written in a JSON string: 0 as itself, else `\` and this byte (`u`: `\u00XX`).
const ESCAPES: [u8; 256] = {
    let mut escapes = [0; 256];
    let mut byte = 0;
    while byte < 0x20 {
        escapes[byte] = b'u';
        byte += 1;
    }
    escapes[0x7f] = b'u';
    escapes[b'"' as usize] = b'"';
    escapes[b'\\' as usize] = b'\\';
    escapes[b'\n' as usize] = b'n';
    escapes[b'\r' as usize] = b'r';
    escapes[b'\t' as usize] = b't';
    escapes
};

/// Appends `value` as a JSON string. Only ASCII bytes are escaped, so the runs between them
/// are copied whole (they start and end on character boundaries).
fn json_str(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut run = 0;
    for (at, &byte) in value.as_bytes().iter().enumerate() {
        let escape = ESCAPES[usize::from(byte)];
        if escape == 0 {
            continue;
        }
        out.push_str(&value[run..at]);
        out.push('\\');
        out.push(char::from(escape));
        if escape == b'u' {
            out.push_str("00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 15)]));
        }
        run = at + 1;
    }
    out.push_str(&value[run..]);
    out.push('"');
}

/// A header value as text: as it is when it is visible ASCII (nearly always, and quick to
/// check), else with each invalid UTF-8 sequence replaced by U+FFFD.
fn header_text(value: &HeaderValue) -> Cow<'_, str> {
    value.to_str().map_or_else(|_| String::from_utf8_lossy(value.as_bytes()), Cow::Borrowed)
}

/// Appends `value` in decimal with leading zeros to at least `width` digits.
fn push_padded(out: &mut String, value: u64, width: usize) {
    let mut number = itoa::Buffer::new();
    let digits = number.format(value);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

/// Appends a time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn push_rfc3339(out: &mut String, time: SystemTime) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    let fields = [(year, 4, '-'), (month, 2, '-'), (day, 2, 'T'), (rest / 3600, 2, ':'), (rest % 3600 / 60, 2, ':')];
    for (value, width, sep) in fields {
        push_padded(out, value, width);
        out.push(sep);
    }
    push_padded(out, rest % 60, 2);
    out.push('.');
    push_padded(out, u64::from(since.subsec_millis()), 3);
    out.push('Z');
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(entry: &Entry) -> String {
        let mut out = String::new();
        entry.write_json(&mut out);
        out
    }

    #[test]
    fn formats_one_json_line() {
        let mut entry = Entry::new(
            Some(b"shop.example"),
            Some(Method::GET),
            Some("/a\"b\\c"),
            HeaderValue::from_static("abc"),
            HeaderValue::from_static("127.0.0.1"),
        );
        entry.time = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        entry.backend = Some(([127, 0, 0, 1], 8000).into());
        (entry.status, entry.duration, entry.bytes) = (Some(200), Duration::from_micros(1500), 42);
        assert_eq!(
            line(&entry),
            "{\"time\":\"2023-11-14T22:13:20.123Z\",\"host\":\"shop.example\",\"method\":\"GET\",\
             \"path\":\"/a\\\"b\\\\c\",\"status\":200,\"duration_ms\":1.500,\"bytes\":42,\
             \"request_id\":\"abc\",\"backend\":\"127.0.0.1:8000\",\"client\":\"127.0.0.1\"}\n"
        );
        let mut out = String::new();
        push_rfc3339(&mut out, UNIX_EPOCH + Duration::from_secs(951_782_400));
        assert_eq!(out, "2000-02-29T00:00:00.000Z");
        out.clear();
        json_str(&mut out, "\u{1}\u{7f}\u{1f}é\"\t–\\");
        assert_eq!(out, "\"\\u0001\\u007f\\u001fé\\\"\\t–\\\\\"");
        assert_eq!(serde_json::from_str::<String>(&out).expect("valid JSON"), "\u{1}\u{7f}\u{1f}é\"\t–\\");
    }

    #[test]
    fn long_and_broken_values_are_cut_and_replaced() {
        let host = [b"h\xffst".as_slice(), &[b'a'; 8192]].concat();
        let path = format!("/{}", "é".repeat(4096));
        let entry = Entry::new(
            Some(&host),
            Some(Method::GET),
            Some(&path),
            HeaderValue::from_static("id"),
            HeaderValue::from_static("::1"),
        );
        let text = line(&entry);
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let host = value["host"].as_str().expect("host");
        assert!(host.starts_with("h\u{fffd}st") && host.ends_with('…') && host.len() <= MAX_HOST, "{host}");
        let path = value["path"].as_str().expect("path");
        assert!(path.ends_with('…') && path.len() <= MAX_PATH, "{} bytes", path.len());
        assert!(text.len() < MAX_HOST + MAX_PATH + 300);
    }

    #[test]
    fn modes_parse_and_print() {
        for text in ["on", "off", "sample:10"] {
            assert_eq!(text.parse::<AccessLogMode>().expect(text).to_string(), text);
        }
        for bad in ["", "yes", "sample:0", "sample:", "sample:-1", "sample:x", "ON"] {
            assert!(bad.parse::<AccessLogMode>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn names_are_safe_file_names() {
        assert_eq!(AccessLogName::parse("env_01HZX-abc").expect("valid").as_str(), "env_01HZX-abc");
        for bad in ["", "_unrouted", "../x", "a/b", "a.b", "é", &"a".repeat(65)] {
            assert!(AccessLogName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
