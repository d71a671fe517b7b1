//! Runtime logs: one file per environment across all its releases (so the
//! lines of earlier releases stay readable after a redeploy), every line
//! redacted and stamped, rotated at a size cap. And the agent's lines in the
//! deployment log, which the pusher sees.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use slipway_core::redact::Redactor;
use slipway_store::ConfigValue;
use time::format_description::well_known::Rfc3339;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

/// A runtime log file grows to this size, then is rotated to `<file>.1`.
pub(crate) const MAX_APP_LOG_BYTES: u64 = 10 * 1024 * 1024;

pub(crate) fn redactor(config: &[ConfigValue]) -> Redactor {
    Redactor::new(config.iter().filter(|v| v.secret).map(|v| (v.name.as_str(), v.value.as_str())))
}

pub(crate) struct AppLog {
    path: PathBuf,
    file: Mutex<Option<tokio::fs::File>>,
    written: AtomicU64,
    redactor: Redactor,
}

impl AppLog {
    pub(crate) async fn open(path: PathBuf, redactor: Redactor) -> Self {
        let written = tokio::fs::metadata(&path).await.map(|m| m.len()).unwrap_or(0);
        let file = open_append(&path).await;
        Self { path, file: Mutex::new(file), written: AtomicU64::new(written), redactor }
    }

    /// Appends `<time> <instance>: <line>`, redacted.
    pub(crate) async fn line(&self, instance: &str, text: &str) {
        let stamp = time::OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
        let line = format!("{stamp} {instance}: {}\n", self.redactor.redact(text));
        let mut file = self.file.lock().await;
        if self.written.fetch_add(line.len() as u64, Ordering::Relaxed) + line.len() as u64 > MAX_APP_LOG_BYTES {
            // Rotate: the previous file is kept once, so the total stays under two caps.
            *file = None;
            let _ = tokio::fs::rename(&self.path, self.path.with_extension("log.1")).await;
            *file = open_append(&self.path).await;
            self.written.store(line.len() as u64, Ordering::Relaxed);
        }
        if let Some(file) = file.as_mut() {
            let _ = file.write_all(line.as_bytes()).await;
        }
    }
}

async fn open_append(path: &Path) -> Option<tokio::fs::File> {
    if let Some(dir) = path.parent() {
        let _ = tokio::fs::create_dir_all(dir).await;
    }
    match tokio::fs::OpenOptions::new().create(true).append(true).open(path).await {
        Ok(file) => Some(file),
        Err(err) => {
            tracing::warn!(path = %path.display(), %err, "cannot open a log file");
            None
        }
    }
}

/// The agent's part of a deployment's log.
pub(crate) struct DeploymentLog {
    file: Mutex<Option<tokio::fs::File>>,
    redactor: Redactor,
}

impl DeploymentLog {
    pub(crate) async fn open(path: &Path, config: &[ConfigValue]) -> Self {
        Self { file: Mutex::new(open_append(path).await), redactor: redactor(config) }
    }

    pub(crate) async fn line(&self, text: impl AsRef<str>) {
        let line = format!("{}\n", self.redactor.redact(text.as_ref()));
        if let Some(file) = self.file.lock().await.as_mut() {
            let _ = file.write_all(line.as_bytes()).await;
        }
    }

    pub(crate) async fn step(&self, text: impl AsRef<str>) {
        self.line(format!("-----> {}", text.as_ref())).await;
    }
}
