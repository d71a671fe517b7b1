//! The body of every response the router sends: a page of its own, or the upstream's body
//! streamed frame by frame. Streaming the upstream body also tells us when the exchange is over,
//! which is when the request stops counting as in flight and its connection goes back to the pool.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::backend::{InFlight, Sender};
use crate::errors::BoxError;
use crate::h1_client::H1Body;

pub(crate) struct ProxyBody {
    kind: Kind,
    /// The upstream's error, held back for one poll (see `poll_frame`).
    failed: Option<BoxError>,
}

enum Kind {
    Full(Option<Bytes>),
    /// From hyper's client.
    Upstream {
        body: Incoming,
        lease: Option<Lease>,
    },
    /// From our own client (`h1_client.rs`); the body holds its connection.
    Bodiless {
        body: H1Body,
        in_flight: Option<InFlight>,
    },
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

/// Ends an exchange of our own client: its connection is pooled if the body ended cleanly.
fn finish_bodiless(body: &mut H1Body, in_flight: InFlight) {
    if let Some(conn) = body.take_idle() {
        in_flight.backend().checkin_h1(conn);
    }
}

impl ProxyBody {
    pub(crate) fn full(data: Bytes) -> Self {
        ProxyBody { kind: Kind::Full(Some(data)), failed: None }
    }

    pub(crate) fn empty() -> Self {
        ProxyBody { kind: Kind::Full(None), failed: None }
    }

    pub(crate) fn upstream(body: Incoming, lease: Lease) -> Self {
        ProxyBody { kind: Kind::Upstream { body, lease: Some(lease) }, failed: None }
    }

    pub(crate) fn bodiless(body: H1Body, in_flight: InFlight) -> Self {
        ProxyBody { kind: Kind::Bodiless { body, in_flight: Some(in_flight) }, failed: None }
    }

    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.kind {
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
                polled.map_err(Into::into)
            }
            Kind::Bodiless { body, in_flight } => {
                let polled = Pin::new(&mut *body).poll_frame(cx);
                if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
                    if let Some(in_flight) = in_flight.take() {
                        finish_bodiless(body, in_flight);
                    }
                }
                polled.map_err(Into::into)
            }
        }
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(error) = this.failed.take() {
            return Poll::Ready(Some(Err(error)));
        }
        match this.poll_inner(cx) {
            // An error makes hyper drop the client connection without flushing, and the frames
            // before it may have come in the same poll: pausing once lets hyper send them (the
            // client sees the status and a short body, then the connection ends).
            Poll::Ready(Some(Err(error))) => {
                this.failed = Some(error);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            polled => polled,
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(data) => data.is_none(),
            Kind::Upstream { body, .. } => body.is_end_stream(),
            Kind::Bodiless { body, .. } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(Some(data)) => SizeHint::with_exact(data.len() as u64),
            Kind::Full(None) => SizeHint::with_exact(0),
            Kind::Upstream { body, .. } => body.size_hint(),
            Kind::Bodiless { body, .. } => body.size_hint(),
        }
    }
}

impl Drop for ProxyBody {
    fn drop(&mut self) {
        // hyper stops polling a body that reports its end (after the last Content-Length byte,
        // or at once for HEAD, 204 and 304), so the end is often only visible here.
        match &mut self.kind {
            Kind::Upstream { body, lease } => {
                if let Some(lease) = lease.take() {
                    lease.finish(body.is_end_stream());
                }
            }
            Kind::Bodiless { body, in_flight } => {
                if let Some(in_flight) = in_flight.take() {
                    finish_bodiless(body, in_flight);
                }
            }
            Kind::Full(_) => {}
        }
    }
}
