//! Streaming a log file as Server-Sent Events: what is there, then (when
//! following) every new line as it is appended, until a stop condition says
//! the writer is done. Files are written by other processes (the pipeline,
//! the agent), so this polls the file rather than sharing a channel.

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::future::BoxFuture;
use futures::Stream;
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, BufReader};

const POLL: Duration = Duration::from_millis(100);

/// Decides, when the file has no new lines, whether the stream ends; the
/// string is sent as a final `end` event.
pub(crate) type Done = Box<dyn FnMut() -> BoxFuture<'static, Option<String>> + Send>;

/// The last `lines` lines of `path` (all when `None`), then new ones until `done`.
pub(crate) fn follow(
    path: PathBuf,
    lines: Option<usize>,
    mut done: Done,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Event>(256);
    tokio::spawn(async move {
        let mut log = LogFile { path, offset: 0, identity: None };
        let mut first = true;
        loop {
            let mut fresh = log.read(false).await;
            if first {
                if let Some(keep) = lines {
                    let skip = fresh.len().saturating_sub(keep);
                    fresh.drain(..skip);
                }
                first = false;
            }
            let idle = fresh.is_empty();
            if !send_lines(&sender, fresh).await {
                return; // the client went away
            }
            if idle {
                if let Some(end) = done().await {
                    // Writers log before they record the end, so lines added
                    // since the read above are there now; and a last line
                    // without its newline is as complete as it will get.
                    if send_lines(&sender, log.read(true).await).await {
                        let _ = sender.send(Event::default().event("end").data(end)).await;
                    }
                    return;
                }
                // A quiet log sends nothing, so notice a client that left while waiting.
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    () = sender.closed() => return,
                }
            }
        }
    });
    let stream = futures::stream::poll_fn(move |cx| receiver.poll_recv(cx).map(|event| event.map(Ok)));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Sends each line as a `data` event; false when the client went away.
async fn send_lines(sender: &tokio::sync::mpsc::Sender<Event>, lines: Vec<String>) -> bool {
    for line in lines {
        if sender.send(Event::default().data(line)).await.is_err() {
            return false;
        }
    }
    true
}

/// A log file read bit by bit as it grows.
struct LogFile {
    path: PathBuf,
    /// How far it has been read.
    offset: u64,
    /// Device and inode of the file read so far: a rotated log is a new file.
    identity: Option<(u64, u64)>,
}

impl LogFile {
    /// The lines added since the last read. A line without its newline is
    /// still being written and waits, unless the writer has `finished`.
    async fn read(&mut self, finished: bool) -> Vec<String> {
        use std::os::unix::fs::MetadataExt;
        let mut fresh = Vec::new();
        let Ok(mut file) = tokio::fs::File::open(&self.path).await else {
            return fresh;
        };
        if let Ok(meta) = file.metadata().await {
            let identity = (meta.dev(), meta.ino());
            // Rotated (renamed away and started anew) or truncated: start over.
            if self.identity.is_some_and(|seen| seen != identity) || meta.len() < self.offset {
                self.offset = 0;
            }
            self.identity = Some(identity);
        }
        if file.seek(std::io::SeekFrom::Start(self.offset)).await.is_err() {
            return fresh;
        }
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        while let Ok(read) = reader.read_line(&mut line).await {
            if read == 0 || (!line.ends_with('\n') && !finished) {
                break;
            }
            self.offset += read as u64;
            fresh.push(line.trim_end_matches(['\n', '\r']).to_owned());
            line.clear();
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    #[tokio::test]
    async fn lines_written_just_before_the_end_are_sent() {
        let dir = std::env::temp_dir().join(format!("slipway-tail-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("deployment.log");
        std::fs::write(&path, "first\n").unwrap();
        // The writer adds its last lines, the last without a newline, and
        // records the end after the stream's first read, before its check.
        let writer = path.clone();
        let done: Done = Box::new(move || {
            let writer = writer.clone();
            Box::pin(async move {
                use std::io::Write;
                let mut file = std::fs::OpenOptions::new().append(true).open(&writer).ok()?;
                file.write_all(b"last\nno newline").ok()?;
                Some("FAILED".to_owned())
            })
        });
        let body = follow(path, None, done).into_response().into_body();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            "data: first\n\ndata: last\n\ndata: no newline\n\nevent: end\ndata: FAILED\n\n"
        );
    }
}
