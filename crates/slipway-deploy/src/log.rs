//! The deployment log: a file per deployment that the pipeline (and later
//! the agent, another process) append lines to, with every secret config
//! value redacted before it is written.

use std::path::Path;

use slipway_core::redact::Redactor;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

pub(crate) struct DeployLog {
    file: Mutex<tokio::fs::File>,
    redactor: Redactor,
}

impl DeployLog {
    pub(crate) async fn open(path: &Path, redactor: Redactor) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let file = tokio::fs::OpenOptions::new().create(true).append(true).open(path).await?;
        Ok(Self { file: Mutex::new(file), redactor })
    }

    /// Appends one line (redacted). A log that cannot be written must not
    /// stop the deployment, so failures are only traced.
    pub(crate) async fn line(&self, line: impl AsRef<str>) {
        let mut text = self.redactor.redact(line.as_ref()).into_owned();
        text.push('\n');
        if let Err(err) = self.file.lock().await.write_all(text.as_bytes()).await {
            tracing::warn!(%err, "writing the deployment log failed");
        }
    }

    /// A step header, in the style people know from Heroku.
    pub(crate) async fn step(&self, text: impl AsRef<str>) {
        self.line(format!("-----> {}", text.as_ref())).await;
    }
}
