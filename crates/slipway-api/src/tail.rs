//! Streaming a log file as Server-Sent Events: `slipway_logs::follow` reads it (what is
//! there, then every new line until the writer is done), each line becomes a `data` event and
//! the end an `end` event.

use std::convert::Infallible;
use std::path::PathBuf;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
pub(crate) use slipway_logs::Done;
use slipway_logs::Followed;

/// The last `lines` lines of `path` (all when `None`), then new ones until `done`.
pub(crate) fn follow(
    path: PathBuf,
    lines: Option<usize>,
    done: Done,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let events = slipway_logs::follow(path, lines, done).map(|followed| {
        Ok(match followed {
            Followed::Line(line) => Event::default().data(line),
            Followed::End(end) => Event::default().event("end").data(end),
        })
    });
    Sse::new(events).keep_alive(KeepAlive::default())
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
