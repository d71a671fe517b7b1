//! The accept loops (plain HTTP and TLS) and the shutdown contract.
//!
//! Shutdown: when the `shutdown` future resolves, the listener is closed at once; each client
//! connection finishes the request it is on and closes (no further keep-alive requests), and
//! upgraded connections go on. `serve` returns when all of those are done, or when
//! [`SHUTDOWN_GRACE`] has passed, at which point what is left is closed. A second signal that
//! must force exit is the caller's to handle (drop the `serve` future).
//!
//! A plain listener ([`serve`], [`serve_http`]) speaks HTTP/1.1 and answers ACME HTTP-01
//! challenges and per-host HTTPS redirects itself (`tls_edge.rs`); a TLS listener
//! ([`serve_tls`]) picks the certificate by SNI and speaks HTTP/2 or HTTP/1.1 as ALPN agreed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Either;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::acme::Challenges;
use crate::config::RouterSettings;
use crate::gauge::{raised, Entered, Gauge};
use crate::headers::RequestIds;
use crate::proxy::{self, Conn, Shared};
use crate::stop::{Stop, StopSignals};
use crate::table::RouteTable;
use crate::timers::Timers;
use crate::tls::CertStore;

/// How long shutdown waits for in-flight requests and upgraded connections before closing them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How long a client may take to complete the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause after an accept error that is about resources (out of file descriptors, memory), so
/// the loop does not spin while they are short.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves plain HTTP until `shutdown` resolves, then stops accepting and lets in-flight
/// requests (and upgraded connections, up to [`SHUTDOWN_GRACE`]) finish.
///
/// The same as [`serve_http`] with no certificates (so no HTTPS redirects) and no ACME challenges.
///
/// # Errors
///
/// Only if the listener itself is unusable (accepting fails with `InvalidInput`); errors of
/// single connections are logged and serving goes on.
pub async fn serve(
    listener: TcpListener,
    table: RouteTable,
    config: RouterSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_http(listener, table, config, CertStore::default(), Challenges::default(), shutdown).await
}

/// Serves plain HTTP like [`serve`], and also answers, before routing:
/// `GET /.well-known/acme-challenge/<token>` for tokens pending in `challenges`, and any request
/// for a host that `certs` marks HTTPS-only with a 308 to the same path on `https://`.
///
/// # Errors
///
/// As [`serve`].
pub async fn serve_http(
    listener: TcpListener,
    table: RouteTable,
    config: RouterSettings,
    certs: CertStore,
    challenges: Challenges,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run(listener, table, config, Mode::Plain(Arc::new(crate::tls_edge::Edge { certs, challenges })), shutdown).await
}

/// Serves HTTPS: the certificate for each connection comes from `certs` by SNI (read at every
/// handshake, so inserted or replaced certificates apply to the next connection), HTTP/2 or
/// HTTP/1.1 as ALPN agreed, and apps see `X-Forwarded-Proto: https`. A handshake for a name
/// with no certificate (or without SNI) fails with a TLS alert; other connections go on.
///
/// Shutdown as [`serve`].
///
/// # Errors
///
/// As [`serve`].
pub async fn serve_tls(
    listener: TcpListener,
    table: RouteTable,
    config: RouterSettings,
    certs: CertStore,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(crate::tls::server_config(certs));
    run(listener, table, config, Mode::Tls(acceptor), shutdown).await
}

enum Mode {
    Plain(Arc<crate::tls_edge::Edge>),
    Tls(TlsAcceptor),
}

/// What each connection task needs from the loop.
struct Stops {
    stop: Stop,
    kill: watch::Receiver<bool>,
}

async fn run(
    listener: TcpListener,
    table: RouteTable,
    config: RouterSettings,
    mode: Mode,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stop_signals = Arc::new(StopSignals::default());
    let (kill_tx, kill_rx) = watch::channel(false);
    let connections = Arc::new(Gauge::default());

    let timers = Timers::default();
    let mut http1 = hyper::server::conn::http1::Builder::new();
    // Timeouts and size limits on clients live in `limits.rs`.
    crate::limits::configure_http1(&mut http1, &config, timers.clone());
    let http1 = Arc::new(http1);
    let auto = Arc::new(auto_builder(&config, timers.clone()));

    let shared = Arc::new(Shared {
        table,
        config,
        ids: RequestIds::new(),
        tunnels: Arc::new(Gauge::default()),
        kill: kill_rx.clone(),
        timers,
    });

    tokio::pin!(shutdown);
    let result = loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if error.kind() == std::io::ErrorKind::InvalidInput => break Err(error),
                Err(error) => {
                    if !is_per_connection(&error) {
                        tracing::warn!(%error, "accepting a connection failed; pausing");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let open = Entered::new(&connections);
        let stops = Stops { stop: stop_signals.subscribe(), kill: kill_rx.clone() };
        match &mode {
            Mode::Plain(edge) => {
                let shared = shared.clone();
                let conn = Arc::new(Conn::new(shared.clone(), peer));
                let (http1, edge) = (http1.clone(), edge.clone());
                tokio::spawn(async move {
                    let _open = open;
                    let service = service_fn(move |request| {
                        let answer = edge.answer(&request);
                        let conn = conn.clone();
                        async move {
                            match answer {
                                Some(response) => Ok(response.map(Either::Right)),
                                None => proxy::handle(conn, request).await.map(|response| response.map(Either::Left)),
                            }
                        }
                    });
                    let connection = http1.serve_connection(TokioIo::new(stream), service).with_upgrades();
                    drive(connection, stops, peer, &shared).await;
                });
            }
            Mode::Tls(acceptor) => {
                let shared = shared.clone();
                let conn = Arc::new(Conn::new(shared.clone(), peer).over_tls());
                let (auto, acceptor) = (auto.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let _open = open;
                    let mut stops = stops;
                    let Some(tls) = handshake(&acceptor, stream, &mut stops.stop, peer).await else { return };
                    let service = service_fn(move |request| proxy::handle(conn.clone(), request));
                    let connection = auto.serve_connection_with_upgrades(TokioIo::new(tls), service);
                    drive(connection, stops, peer, &shared).await;
                });
            }
        }
    };

    drop(listener);
    stop_signals.stop_all();
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    let drained = connections.wait_zero(SHUTDOWN_GRACE).await
        && shared.tunnels.wait_zero(deadline.saturating_duration_since(Instant::now())).await;
    if !drained {
        tracing::warn!(
            connections = connections.get(),
            upgraded = shared.tunnels.get(),
            "shutdown grace period over; closing what is left"
        );
    }
    let _ = kill_tx.send(true);
    result
}

/// HTTP/1.1 and HTTP/2 (by ALPN) for TLS connections, with the plain listener's timeouts.
fn auto_builder(config: &RouterSettings, timers: Timers) -> hyper_util::server::conn::auto::Builder<TokioExecutor> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let head_timeout = config.header_read_timeout.min(config.idle_timeout);
    builder
        .http1()
        .timer(timers)
        .header_read_timeout(head_timeout)
        .keep_alive(true)
        .max_buf_size(config.max_header_bytes.saturating_mul(2).max(16 * 1024) + 8192);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256)
        .keep_alive_interval(config.idle_timeout / 3)
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// The TLS handshake, bounded by [`TLS_HANDSHAKE_TIMEOUT`] and abandoned at shutdown.
async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    stop: &mut Stop,
    peer: std::net::SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    tokio::select! {
        result = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => match result {
            Ok(Ok(tls)) => Some(tls),
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "TLS handshake failed");
                None
            }
            Err(_elapsed) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                None
            }
        },
        () = stop => None,
    }
}

/// A client connection that can be asked to finish its current request and close.
trait Graceful: Future {
    fn graceful(self: Pin<&mut Self>);
}

impl<I, S, B> Graceful for hyper::server::conn::http1::UpgradeableConnection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, B, E> Graceful for hyper_util::server::conn::auto::UpgradeableConnection<'_, I, S, E>
where
    S: hyper::service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>,
    S::Future: 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn graceful(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Runs a connection to its end; at shutdown asks it to finish, and at the end of the grace
/// period drops it. A request hyper refused before the router saw it is counted and logged here.
async fn drive<C, E>(connection: C, mut stops: Stops, peer: std::net::SocketAddr, shared: &Shared)
where
    C: Graceful<Output = Result<(), E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = &mut stops.stop => {
            connection.as_mut().graceful();
            tokio::select! {
                result = connection.as_mut() => result,
                () = raised(&mut stops.kill) => Ok(()),
            }
        }
    };
    if let Err(error) = result {
        let error = error.into();
        if let Some(status) = refused_status(&*error) {
            shared.config.metrics.refused(status);
            if shared.config.access_log.is_on() {
                shared.config.access_log.refused(peer, status, shared.ids.next(), &error.to_string());
            }
        }
        tracing::debug!(%peer, %error, "client connection ended with an error");
    }
}

/// The status hyper answered a request with that it could not parse (and so never handed to
/// the router): 414 for a URI too long, 431 for a head too large, 400 for the rest.
fn refused_status(error: &(dyn std::error::Error + 'static)) -> Option<u16> {
    let error = error.downcast_ref::<hyper::Error>()?;
    if !error.is_parse() {
        return None;
    }
    Some(if !error.is_parse_too_large() {
        400
    } else if error.to_string().contains("URI") {
        414
    } else {
        431
    })
}

/// Accept errors that concern only the connection being accepted (it was reset before we got
/// to it); the next accept is fine.
fn is_per_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted, WouldBlock};
    matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted | WouldBlock)
}
