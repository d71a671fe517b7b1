//! Following a log file: what is there, then (when following) every new line as it is
//! appended, until a stop condition says the writer is done. Files are written by other
//! processes (the pipeline, the agent), so this polls the file rather than sharing a channel.

use std::path::PathBuf;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::Stream;
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, BufReader};

const POLL: Duration = Duration::from_millis(100);

/// Decides, when the file has no new lines, whether following ends; the string is the
/// final [`Followed::End`].
pub type Done = Box<dyn FnMut() -> BoxFuture<'static, Option<String>> + Send>;

/// What following a log yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// A line, without its newline.
    Line(String),
    /// The writer is done (the [`Done`] answer); nothing follows.
    End(String),
}

/// The last `lines` lines of `path` (all when `None`), then new ones until `done`. Dropping
/// the stream stops the reading, also while the log is quiet.
pub fn follow(path: PathBuf, lines: Option<usize>, mut done: Done) -> impl Stream<Item = Followed> + Send {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Followed>(256);
    tokio::spawn(async move {
        let mut log = LogReader::new(path);
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
                return; // the reader went away
            }
            if idle {
                if let Some(end) = done().await {
                    // Writers log before they record the end, so lines added
                    // since the read above are there now; and a last line
                    // without its newline is as complete as it will get.
                    if send_lines(&sender, log.read(true).await).await {
                        let _ = sender.send(Followed::End(end)).await;
                    }
                    return;
                }
                // A quiet log sends nothing, so notice a reader that left while waiting.
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    () = sender.closed() => return,
                }
            }
        }
    });
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// Sends each line; false when the reader went away.
async fn send_lines(sender: &tokio::sync::mpsc::Sender<Followed>, lines: Vec<String>) -> bool {
    for line in lines {
        if sender.send(Followed::Line(line)).await.is_err() {
            return false;
        }
    }
    true
}

/// A log file read bit by bit as it grows.
pub struct LogReader {
    path: PathBuf,
    /// How far it has been read.
    offset: u64,
    /// Device and inode of the file read so far: a rotated log is a new file.
    identity: Option<(u64, u64)>,
}

impl LogReader {
    pub fn new(path: PathBuf) -> Self {
        Self { path, offset: 0, identity: None }
    }

    /// The lines added since the last read. A line without its newline is
    /// still being written and waits, unless the writer has `finished`.
    pub async fn read(&mut self, finished: bool) -> Vec<String> {
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
    use super::*;

    #[tokio::test]
    async fn a_reader_starts_over_on_a_rotated_file_and_waits_for_a_whole_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("app.log");
        std::fs::write(&path, "one\ntw").expect("write");
        let mut reader = LogReader::new(path.clone());
        assert_eq!(reader.read(false).await, ["one"]);
        std::fs::write(&path, "one\ntwo\n").expect("write");
        assert_eq!(reader.read(false).await, ["two"]);
        std::fs::rename(&path, crate::rotated_nth(&path, 1)).expect("rotate");
        std::fs::write(&path, "three\nfour").expect("write");
        assert_eq!(reader.read(false).await, ["three"]);
        assert_eq!(reader.read(true).await, ["four"]);
    }
}
