//! The body of every response the router sends: a page of its own, or the upstream's body
//! streamed frame by frame. Streaming the upstream body also tells us when the exchange is over,
//! which is when the request stops counting as in flight and its connection goes back to the pool.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::backend::{InFlight, Sender};

pub(crate) struct ProxyBody {
    kind: Kind,
}

enum Kind {
    Full(Option<Bytes>),
    Upstream { body: Incoming, lease: Option<Lease> },
}

/// What an upstream response holds on to until its body has been read to the end.
pub(crate) struct Lease {
    pub(crate) in_flight: InFlight,
    /// The connection, to return to the pool once the body is done; `None` if it must not be reused.
    pub(crate) conn: Option<Sender>,
}

impl Lease {
    /// Ends the exchange: the connection is pooled only if its response was read completely.
    fn finish(mut self, complete: bool) {
        if let (true, Some(conn)) = (complete, self.conn.take()) {
            self.in_flight.backend().clone().checkin(conn);
        }
    }
}

impl ProxyBody {
    pub(crate) fn full(data: Bytes) -> Self {
        ProxyBody { kind: Kind::Full(Some(data)) }
    }

    pub(crate) fn empty() -> Self {
        ProxyBody { kind: Kind::Full(None) }
    }

    pub(crate) fn upstream(body: Incoming, lease: Lease) -> Self {
        ProxyBody { kind: Kind::Upstream { body, lease: Some(lease) } }
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match &mut self.get_mut().kind {
            Kind::Full(data) => Poll::Ready(data.take().map(|data| Ok(Frame::data(data)))),
            Kind::Upstream { body, lease } => {
                let polled = Pin::new(body).poll_frame(cx);
                match &polled {
                    Poll::Ready(None) => {
                        if let Some(lease) = lease.take() {
                            lease.finish(true);
                        }
                    }
                    Poll::Ready(Some(Err(_))) => {
                        if let Some(lease) = lease.take() {
                            lease.finish(false);
                        }
                    }
                    Poll::Ready(Some(Ok(_))) | Poll::Pending => {}
                }
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(data) => data.is_none(),
            Kind::Upstream { body, .. } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(Some(data)) => SizeHint::with_exact(data.len() as u64),
            Kind::Full(None) => SizeHint::with_exact(0),
            Kind::Upstream { body, .. } => body.size_hint(),
        }
    }
}

impl Drop for ProxyBody {
    fn drop(&mut self) {
        // hyper stops polling a body that reports its end (after the last Content-Length byte,
        // or at once for HEAD, 204 and 304), so the end is often only visible here.
        if let Kind::Upstream { body, lease } = &mut self.kind {
            if let Some(lease) = lease.take() {
                lease.finish(body.is_end_stream());
            }
        }
    }
}
