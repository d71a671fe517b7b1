//! The access log's writer thread: takes finished requests off the queue, formats them, and
//! appends them to their site's file in large writes — a site's lines are buffered up to
//! [`BUFFER`] bytes or [`FLUSH_AFTER`], like nginx's `access_log … buffer=64k flush=…`.
//!
//! Nothing here can slow a request down: the proxy only ever `try_send`s. What cannot be
//! written (a full disk, an unwritable directory) is dropped, counted in the metrics and said
//! once in the agent's log per episode, and writing resumes by itself when it can.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::time::{Duration, Instant};

use slipway_logs::{RotatingFile, Rotation};

use crate::access_log::{AccessLogName, Entry};
use crate::metrics::Metrics;

/// A site's lines are written once they reach this many bytes…
const BUFFER: usize = 64 * 1024;
/// …or have waited this long.
const FLUSH_AFTER: Duration = Duration::from_millis(200);
/// How often the writer takes what the queue holds: at 100,000 requests a second, 5,000 lines,
/// within the queue's bound.
const TICK: Duration = Duration::from_millis(50);
/// A site without a line for this long has its file closed and its buffer freed.
const IDLE_CLOSE: Duration = Duration::from_secs(60);

pub(crate) enum Msg {
    Line(Box<Entry>),
    /// Write out everything queued before this, then answer.
    Flush(SyncSender<()>),
}

pub(crate) fn spawn(lines: Receiver<Msg>, dir: PathBuf, rotation: Rotation, metrics: Metrics) -> std::io::Result<()> {
    let writer = Writer { dir, rotation, metrics, sites: HashMap::new(), dropped_seen: 0, dropping: false };
    std::thread::Builder::new().name("access-log".into()).spawn(move || writer.run(&lines))?;
    Ok(())
}

struct Writer {
    dir: PathBuf,
    rotation: Rotation,
    metrics: Metrics,
    /// By site; `None` is the file of requests no site took.
    sites: HashMap<Option<AccessLogName>, SiteLog>,
    /// The dropped-lines count at the last check, and whether lines were being dropped then.
    dropped_seen: u64,
    dropping: bool,
}

struct SiteLog {
    file: RotatingFile,
    buffer: String,
    /// Lines in `buffer`.
    lines: u64,
    last_line: Instant,
    /// Whether the last write failed (said once until a write succeeds again).
    failing: bool,
}

impl Writer {
    fn run(mut self, lines: &Receiver<Msg>) {
        let mut last_flush = Instant::now();
        loop {
            // Asleep, not waiting on the queue: a sender wakes a waiting receiver (a system call
            // and a context switch per request); this way a request only ever adds to the queue.
            std::thread::sleep(TICK);
            let now = Instant::now();
            loop {
                match lines.try_recv() {
                    Ok(Msg::Line(entry)) => self.add(&entry, now),
                    Ok(Msg::Flush(done)) => {
                        self.flush_all();
                        last_flush = Instant::now();
                        let _ = done.send(());
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.flush_all();
                        return;
                    }
                }
            }
            if last_flush.elapsed() >= FLUSH_AFTER {
                self.flush_all();
                last_flush = Instant::now();
                self.sites.retain(|_, site| site.last_line.elapsed() < IDLE_CLOSE);
            }
        }
    }

    fn add(&mut self, entry: &Entry, now: Instant) {
        let site = self.sites.entry(entry.site.clone()).or_insert_with(|| {
            let name = entry.site.as_ref().map_or(AccessLogName::UNROUTED, AccessLogName::as_str);
            SiteLog {
                file: RotatingFile::new(self.dir.join(format!("{name}.log")), self.rotation),
                buffer: String::new(),
                lines: 0,
                last_line: now,
                failing: false,
            }
        });
        entry.write_json(&mut site.buffer);
        site.lines += 1;
        site.last_line = now;
        if site.buffer.len() >= BUFFER {
            site.write(&self.metrics);
        }
    }

    fn flush_all(&mut self) {
        for site in self.sites.values_mut() {
            if site.lines > 0 {
                site.write(&self.metrics);
            } else {
                // Nothing since the last flush: the buffer goes back (the agent keeps little per
                // quiet site); a busy site keeps its buffer between writes.
                site.buffer = String::new();
            }
        }
        self.check_drops();
    }

    /// Says once when lines start being dropped (a full queue or an unwritable file) and once
    /// when they stop.
    fn check_drops(&mut self) {
        let dropped = self.metrics.access_log_dropped_total();
        let new = dropped - self.dropped_seen;
        if new > 0 && !self.dropping {
            tracing::warn!(
                dropped = new,
                "access-log lines are being dropped (the writer cannot keep up or cannot write); \
                 see slipway_router_access_log_lines_total"
            );
        } else if new == 0 && self.dropping {
            tracing::info!(dropped_total = dropped, "access-log lines are written again");
        }
        self.dropping = new > 0;
        self.dropped_seen = dropped;
    }
}

impl SiteLog {
    fn write(&mut self, metrics: &Metrics) {
        match self.file.write(self.buffer.as_bytes()) {
            Ok(_) => {
                metrics.access_log_written(self.lines);
                if std::mem::take(&mut self.failing) {
                    tracing::info!(path = %self.file.path().display(), "the access log can be written again");
                }
            }
            Err(error) => {
                metrics.access_log_dropped(self.lines);
                if !std::mem::replace(&mut self.failing, true) {
                    tracing::warn!(path = %self.file.path().display(), %error,
                        "cannot write the access log; dropping its lines until it can");
                }
            }
        }
        self.buffer.clear();
        self.lines = 0;
    }
}
