//! Following a request to its end for the metrics and the access log: a [`Record`] is opened
//! when the request arrives (the host's in-flight gauge goes up) and closed when the response
//! body has been sent or dropped (the gauge goes down, the status class and latency are
//! counted and the access-log line is written). Dropping a record whose request never got a
//! response (the client went away) only lowers the gauge and logs a null status.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;

use crate::access_log::Entry;
use crate::body::ProxyBody;
use crate::errors::BoxError;
use crate::metrics::HostStats;
use crate::proxy::Shared;

pub(crate) struct Record {
    stats: Arc<HostStats>,
    started: Instant,
    status: Option<u16>,
    bytes: u64,
    /// The access-log line, with the worker's state that holds the log (per worker, so keeping
    /// it costs no shared counter).
    log: Option<(Box<Entry>, Arc<Shared>)>,
}

impl Record {
    pub(crate) fn open(stats: Arc<HostStats>, started: Instant, log: Option<(Box<Entry>, Arc<Shared>)>) -> Self {
        stats.enter();
        Record { stats, started, status: None, bytes: 0, log }
    }

    pub(crate) fn entry_mut(&mut self) -> Option<&mut Entry> {
        self.log.as_mut().map(|(entry, _)| &mut **entry)
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        self.stats.leave();
        if let Some(status) = self.status {
            self.stats.record(status, elapsed);
        }
        if let Some((entry, shared)) = self.log.take() {
            shared.config.access_log.finish(entry, self.status, elapsed, self.bytes);
        }
    }
}

/// The response body the client gets: the router's page or the upstream's stream, followed to
/// its end.
pub(crate) struct ObservedBody {
    body: ProxyBody,
    record: Record,
}

impl ObservedBody {
    pub(crate) fn new(body: ProxyBody, status: u16, mut record: Record) -> Self {
        record.status = Some(status);
        ObservedBody { body, record }
    }
}

impl Body for ObservedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                this.record.bytes += data.len() as u64;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
