//! Appending to a log file. The pipeline and the agent (two processes) append to one
//! deployment log; only the agent writes runtime logs, which it rotates.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use slipway_core::redact::Redactor;

use crate::rotate::{rotate_files, Rotation};
use time::format_description::well_known::Rfc3339;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

/// A runtime log grows to 10 MiB, then is rotated to `<file>.1` (one previous file kept).
pub const RUNTIME_LOG_ROTATION: Rotation = Rotation { max_bytes: 10 * 1024 * 1024, keep: 1 };

/// What starts a step line, in the style people know from Heroku.
pub const STEP_MARK: &str = "-----> ";

/// An open log file. Writing never fails the caller: a log that cannot be written must not
/// stop a deployment or an app, so failures are traced (once per writer) and the line dropped.
pub struct LogWriter {
    path: PathBuf,
    file: Mutex<Appending>,
    redactor: Redactor,
    limit: Limit,
    warned: AtomicBool,
}

/// What a writer does when its file is full.
#[derive(Clone, Copy)]
enum Limit {
    /// It grows: a deployment log, bounded by what is written to it (the build caps its output).
    None,
    Rotate(Rotation),
}

struct Appending {
    /// `None` when the file could not be (re)opened.
    file: Option<tokio::fs::File>,
    /// The file's size as far as this writer knows.
    written: u64,
}

impl LogWriter {
    /// Opens `path` for appending, creating it and its directory.
    pub async fn open(path: &Path, redactor: Redactor) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let file = tokio::fs::OpenOptions::new().create(true).append(true).open(path).await?;
        let written = file.metadata().await.map(|meta| meta.len()).unwrap_or(0);
        Ok(Self::new(path, Some(file), written, redactor))
    }

    /// Like [`LogWriter::open`], for a writer that goes on without its log (the agent): a log
    /// that cannot be opened is traced, and its lines are dropped.
    pub async fn open_or_warn(path: &Path, redactor: Redactor) -> Self {
        match Self::open(path, redactor.clone()).await {
            Ok(writer) => writer,
            Err(err) => {
                tracing::warn!(path = %path.display(), %err, "cannot open a log file");
                Self::new(path, None, 0, redactor)
            }
        }
    }

    fn new(path: &Path, file: Option<tokio::fs::File>, written: u64, redactor: Redactor) -> Self {
        let file = Mutex::new(Appending { file, written });
        Self { path: path.to_owned(), file, redactor, limit: Limit::None, warned: AtomicBool::new(false) }
    }

    /// Rotates the file when a line would take it past the rotation's size.
    pub fn rotating(mut self, rotation: Rotation) -> Self {
        self.limit = Limit::Rotate(rotation);
        self
    }

    /// Appends one line, redacted.
    pub async fn line(&self, text: impl AsRef<str>) {
        let mut line = self.redactor.redact(text.as_ref()).into_owned();
        line.push('\n');
        self.append(line).await;
    }

    /// Appends a step line: `-----> text`.
    pub async fn step(&self, text: impl AsRef<str>) {
        self.line(format!("{STEP_MARK}{}", text.as_ref())).await;
    }

    /// Appends a runtime log's line: `<RFC 3339 time> <instance>: <text>`, the text redacted.
    pub async fn instance_line(&self, instance: &str, text: &str) {
        let stamp = time::OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
        self.append(format!("{stamp} {instance}: {}\n", self.redactor.redact(text))).await;
    }

    async fn append(&self, line: String) {
        let mut appending = self.file.lock().await;
        match self.limit {
            Limit::None => {}
            Limit::Rotate(rotation) => {
                if appending.written > 0 && appending.written + line.len() as u64 > rotation.max_bytes {
                    let path = self.path.clone();
                    let rotated = tokio::task::spawn_blocking(move || rotate_files(&path, rotation.keep)).await;
                    if let Ok(Err(err)) = rotated {
                        // The full file stays; its lines are dropped until a rotation succeeds.
                        self.warn(&err);
                        return;
                    }
                    appending.file = tokio::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&self.path)
                        .await
                        .map_err(|err| self.warn(&err))
                        .ok();
                    appending.written = 0;
                }
            }
        }
        appending.written += line.len() as u64;
        if let Some(file) = appending.file.as_mut() {
            // Flushed, so the line is in the file when this returns: readers stop at a status
            // the writer records after its last line (tokio's `File` writes in the background).
            if let Err(err) = async {
                file.write_all(line.as_bytes()).await?;
                file.flush().await
            }
            .await
            {
                self.warn(&err);
            }
        }
    }

    fn warn(&self, err: &io::Error) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(path = %self.path.display(), %err, "writing a log file failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_redacted_and_steps_marked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("logs").join("deployment.log");
        let log = LogWriter::open(&path, Redactor::new([("TOKEN", "s3cr3t-value")])).await.expect("open");
        log.step("Building shop #1").await;
        log.line("token=s3cr3t-value").await;
        log.instance_line("web.1", "listening with s3cr3t-value").await;
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..2], ["-----> Building shop #1", "token=[secret TOKEN]"]);
        let (stamp, rest) = lines[2].split_once(' ').expect("a stamp");
        assert!(time::OffsetDateTime::parse(stamp, &Rfc3339).is_ok(), "{stamp}");
        assert_eq!(rest, "web.1: listening with [secret TOKEN]");
        assert!(text.ends_with('\n'));
    }

    #[tokio::test]
    async fn a_rotating_log_keeps_one_previous_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("app.log");
        std::fs::write(&path, "0123456789\n").expect("write");
        let log = LogWriter::open(&path, Redactor::default())
            .await
            .expect("open")
            .rotating(Rotation { max_bytes: 30, keep: 1 });
        log.line("abcdefghij").await; // 22 bytes: fits
        log.line("klmnopqrst").await; // 33: rotates first
        log.line("uvwxyz").await;
        let rotated = crate::rotated_nth(&path, 1);
        assert_eq!(std::fs::read_to_string(rotated).expect("read"), "0123456789\nabcdefghij\n");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "klmnopqrst\nuvwxyz\n");
    }

    #[tokio::test]
    async fn a_log_that_cannot_be_opened_drops_its_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("file");
        std::fs::write(&file, "").expect("write");
        let log = LogWriter::open_or_warn(&file.join("below-a-file.log"), Redactor::default()).await;
        log.line("nowhere to go").await;
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "");
    }
}
