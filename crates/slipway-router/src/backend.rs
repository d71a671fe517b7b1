//! One upstream instance (a loopback port): its in-flight count and its pools of idle keep-alive
//! connections. A `Backend` lives as long as a route or an in-flight request refers to it, so
//! taking a backend out of the table closes its idle connections once its last request ends.
//!
//! There is one pool per router worker (`workers.rs`): a connection's driver task runs on the
//! worker that opened it, so handing it only to requests of that same worker keeps every
//! request on one thread. Outside the workers (tests, `serve` on a multi-threaded runtime)
//! everything uses pool 0.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::errors::ProxyError;
use crate::gauge::Gauge;

/// Idle connections kept per backend; more than this are closed when their response ends.
const MAX_IDLE_PER_BACKEND: usize = 256;

/// How long a pooled connection may sit idle before we stop trusting it. Kept below the 5 s
/// keep-alive timeout of Node's HTTP server (the most common app server), so we close first
/// instead of racing the app's close with a new request.
const MAX_POOLED_IDLE: Duration = Duration::from_secs(4);

/// The request body is the client's, cut off at the configured size limit (see `limits.rs`).
pub(crate) type Sender = SendRequest<crate::limits::RequestBody>;

#[derive(Debug)]
pub(crate) struct Backend {
    pub(crate) addr: SocketAddr,
    pub(crate) in_flight: Gauge,
    /// Idle connections, one pool per router worker.
    idle: Box<[Mutex<Vec<Idle>>]>,
}

#[derive(Debug)]
struct Idle {
    sender: Sender,
    since: Instant,
}

impl Backend {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        let pools = (0..crate::workers::default_workers()).map(|_| Mutex::new(Vec::new())).collect();
        Backend { addr, in_flight: Gauge::default(), idle: pools }
    }

    /// The pool of the worker running on this thread.
    fn pool(&self) -> &Mutex<Vec<Idle>> {
        &self.idle[crate::workers::current_worker() % self.idle.len()]
    }

    /// An idle pooled connection that is ready for a request, newest first.
    pub(crate) fn checkout(&self, idle_timeout: Duration) -> Option<Sender> {
        let max_idle = idle_timeout.min(MAX_POOLED_IDLE);
        // A panic while holding this lock cannot leave the Vec inconsistent, so poisoning is ignored.
        let mut idle = self.pool().lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(conn) = idle.pop() {
            if conn.sender.is_ready() && conn.since.elapsed() < max_idle {
                return Some(conn.sender);
            }
        }
        None
    }

    /// Returns a connection whose response has been read to the end.
    pub(crate) fn checkin(self: Arc<Self>, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        if sender.is_ready() {
            self.push(sender);
            return;
        }
        // The connection task may not have marked itself idle yet (it runs on another worker),
        // or the upstream answered before reading the whole request body. Wait for it off the
        // request path; this is the rare case, the common one takes the branch above.
        tokio::spawn(async move {
            let mut sender = sender;
            if let Ok(Ok(())) = tokio::time::timeout(MAX_POOLED_IDLE, sender.ready()).await {
                self.push(sender);
            }
        });
    }

    fn push(&self, sender: Sender) {
        let mut idle = self.pool().lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_PER_BACKEND {
            idle.push(Idle { sender, since: Instant::now() });
        }
    }

    /// Opens a new HTTP/1.1 connection; its driver task ends when the connection closes.
    pub(crate) async fn connect(&self, connect_timeout: Duration) -> Result<Sender, ProxyError> {
        let backend = self.addr;
        let stream = match tokio::time::timeout(connect_timeout, TcpStream::connect(backend)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(ProxyError::Connect { backend, source }),
            Err(_) => return Err(ProxyError::ConnectTimeout { backend, timeout: connect_timeout }),
        };
        // Nagle would delay the small writes of request heads behind unacknowledged ones.
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|source| ProxyError::Handshake { backend, source })?;
        tokio::spawn(async move {
            if let Err(error) = conn.with_upgrades().await {
                tracing::debug!(%backend, %error, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }
}

/// Counts one request as in flight to a backend until dropped.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Backend>);

impl InFlight {
    pub(crate) fn enter(backend: &Arc<Backend>) -> Self {
        backend.in_flight.enter();
        InFlight(backend.clone())
    }

    pub(crate) fn backend(&self) -> &Arc<Backend> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.leave();
    }
}
