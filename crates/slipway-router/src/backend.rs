//! One upstream instance (a loopback port): its in-flight count and its pools of idle keep-alive
//! connections. A `Backend` lives as long as a route or an in-flight request refers to it, so
//! taking a backend out of the table closes its idle connections once its last request ends.
//!
//! There is one pool per router worker (`workers.rs`): a connection's socket is registered with
//! the reactor of the worker that opened it (and a hyper connection's driver task runs there),
//! so handing it only to requests of that same worker keeps every request on one thread. Outside the workers (tests, `serve` on a multi-threaded runtime)
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
use crate::h1_client::H1Conn;

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
    /// Idle connections of hyper's client (requests with a body, upgrades).
    idle: Pools<Sender>,
    /// Idle connections of our own client (requests without a body, see `h1_client.rs`).
    idle_h1: Pools<H1Conn>,
}

/// Idle connections, one pool per router worker, oldest first.
#[derive(Debug)]
struct Pools<T>(Box<[Mutex<Vec<Idle<T>>>]>);

#[derive(Debug)]
struct Idle<T> {
    conn: T,
    since: Instant,
}

impl<T> Pools<T> {
    fn new() -> Self {
        Pools((0..crate::workers::default_workers()).map(|_| Mutex::new(Vec::new())).collect())
    }

    /// The pool of the worker running on this thread.
    fn here(&self) -> std::sync::MutexGuard<'_, Vec<Idle<T>>> {
        let pool = &self.0[crate::workers::current_worker() % self.0.len()];
        // A panic while holding this lock cannot leave the Vec inconsistent, so poisoning is ignored.
        pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The newest idle connection that `usable` accepts and that has not been idle too long.
    fn checkout(&self, idle_timeout: Duration, usable: impl Fn(&T) -> bool) -> Option<T> {
        let max_idle = idle_timeout.min(MAX_POOLED_IDLE);
        let mut idle = self.here();
        while let Some(conn) = idle.pop() {
            if conn.since.elapsed() < max_idle && usable(&conn.conn) {
                return Some(conn.conn);
            }
        }
        None
    }

    fn push(&self, conn: T) {
        let mut idle = self.here();
        // Connections of our own client are not watched while idle, so one the upstream closed
        // keeps its socket until taken out; the oldest go once they are too old to hand out.
        let stale = idle.iter().take_while(|conn| conn.since.elapsed() >= MAX_POOLED_IDLE).count();
        idle.drain(..stale);
        if idle.len() < MAX_IDLE_PER_BACKEND {
            idle.push(Idle { conn, since: Instant::now() });
        }
    }
}

impl Backend {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Backend { addr, in_flight: Gauge::default(), idle: Pools::new(), idle_h1: Pools::new() }
    }

    /// An idle pooled hyper connection that is ready for a request, newest first.
    pub(crate) fn checkout(&self, idle_timeout: Duration) -> Option<Sender> {
        self.idle.checkout(idle_timeout, SendRequest::is_ready)
    }

    /// An idle pooled connection of our own client that is still open, newest first.
    pub(crate) fn checkout_h1(&self, idle_timeout: Duration) -> Option<H1Conn> {
        self.idle_h1.checkout(idle_timeout, H1Conn::is_open)
    }

    /// Returns a hyper connection whose response has been read to the end.
    pub(crate) fn checkin(self: Arc<Self>, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        if sender.is_ready() {
            self.idle.push(sender);
            return;
        }
        // The connection task may not have marked itself idle yet (it runs on another worker),
        // or the upstream answered before reading the whole request body. Wait for it off the
        // request path; this is the rare case, the common one takes the branch above.
        tokio::spawn(async move {
            let mut sender = sender;
            if let Ok(Ok(())) = tokio::time::timeout(MAX_POOLED_IDLE, sender.ready()).await {
                self.idle.push(sender);
            }
        });
    }

    /// Returns a connection of our own client whose response ended where its framing said.
    pub(crate) fn checkin_h1(&self, conn: H1Conn) {
        self.idle_h1.push(conn);
    }

    /// Opens a new hyper HTTP/1.1 connection; its driver task ends when the connection closes.
    pub(crate) async fn connect(&self, connect_timeout: Duration) -> Result<Sender, ProxyError> {
        let backend = self.addr;
        let stream = self.dial(connect_timeout).await?;
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

    /// Opens a new connection for our own client.
    pub(crate) async fn connect_h1(&self, connect_timeout: Duration) -> Result<H1Conn, ProxyError> {
        Ok(H1Conn::new(self.dial(connect_timeout).await?))
    }

    async fn dial(&self, connect_timeout: Duration) -> Result<TcpStream, ProxyError> {
        let backend = self.addr;
        let stream = match tokio::time::timeout(connect_timeout, TcpStream::connect(backend)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(ProxyError::Connect { backend, source }),
            Err(_) => return Err(ProxyError::ConnectTimeout { backend, timeout: connect_timeout }),
        };
        // Nagle would delay the small writes of request heads behind unacknowledged ones.
        let _ = stream.set_nodelay(true);
        Ok(stream)
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
