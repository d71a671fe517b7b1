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
        let mut offset = 0u64;
        let mut first = true;
        loop {
            let mut fresh = Vec::new();
            if let Ok(mut file) = tokio::fs::File::open(&path).await {
                if file.seek(std::io::SeekFrom::Start(offset)).await.is_ok() {
                    let mut reader = BufReader::new(file);
                    let mut line = String::new();
                    while let Ok(read) = reader.read_line(&mut line).await {
                        // A line without its newline is still being written.
                        if read == 0 || !line.ends_with('\n') {
                            break;
                        }
                        offset += read as u64;
                        fresh.push(line.trim_end_matches(['\n', '\r']).to_owned());
                        line.clear();
                    }
                }
            }
            if first {
                if let Some(keep) = lines {
                    let skip = fresh.len().saturating_sub(keep);
                    fresh.drain(..skip);
                }
                first = false;
            }
            let idle = fresh.is_empty();
            for line in fresh {
                if sender.send(Event::default().data(line)).await.is_err() {
                    return; // the client went away
                }
            }
            if idle {
                if let Some(end) = done().await {
                    let _ = sender.send(Event::default().event("end").data(end)).await;
                    return;
                }
                tokio::time::sleep(POLL).await;
            }
        }
    });
    let stream = futures::stream::poll_fn(move |cx| receiver.poll_recv(cx).map(|event| event.map(Ok)));
    Sse::new(stream).keep_alive(KeepAlive::default())
}
