//! The accept loop and the shutdown contract.
//!
//! Shutdown: when the `shutdown` future resolves, the listener is closed at once; each client
//! connection finishes the request it is on and closes (no further keep-alive requests), and
//! upgraded connections go on. `serve` returns when all of those are done, or when
//! [`SHUTDOWN_GRACE`] has passed, at which point what is left is closed. A second signal that
//! must force exit is the caller's to handle (drop the `serve` future).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::RouterConfig;
use crate::gauge::{raised, Entered, Gauge};
use crate::headers::RequestIds;
use crate::proxy::{self, Conn, Shared};
use crate::table::RouteTable;

/// How long shutdown waits for in-flight requests and upgraded connections before closing them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Pause after an accept error that is about resources (out of file descriptors, memory), so
/// the loop does not spin while they are short.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests (and
/// upgraded connections, up to [`SHUTDOWN_GRACE`]) finish.
///
/// # Errors
///
/// Only if the listener itself is unusable (accepting fails with `InvalidInput`); errors of
/// single connections are logged and serving goes on.
pub async fn serve(
    listener: TcpListener,
    table: RouteTable,
    config: RouterConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (kill_tx, kill_rx) = watch::channel(false);
    let connections = Arc::new(Gauge::default());

    let mut http = hyper::server::conn::http1::Builder::new();
    // The header-read timer starts when a connection waits for the next request head, so it is
    // the keep-alive idle timeout as well as the guard against slow headers.
    http.timer(TokioTimer::new()).header_read_timeout(config.idle_timeout).keep_alive(true);
    let http = Arc::new(http);

    let shared = Arc::new(Shared {
        table,
        config,
        ids: RequestIds::new(),
        tunnels: Arc::new(Gauge::default()),
        kill: kill_rx.clone(),
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
        let conn = Arc::new(Conn::new(shared.clone(), peer));
        let http = http.clone();
        let (mut stop, mut kill) = (stop_rx.clone(), kill_rx.clone());
        tokio::spawn(async move {
            let _open = open;
            let service = service_fn(move |request| proxy::handle(conn.clone(), request));
            let connection = http.serve_connection(TokioIo::new(stream), service).with_upgrades();
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = raised(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    tokio::select! {
                        result = connection.as_mut() => result,
                        () = raised(&mut kill) => Ok(()),
                    }
                }
            };
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "client connection ended with an error");
            }
        });
    };

    drop(listener);
    let _ = stop_tx.send(true);
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

/// Accept errors that concern only the connection being accepted (it was reset before we got
/// to it); the next accept is fine.
fn is_per_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted, WouldBlock};
    matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted | WouldBlock)
}
