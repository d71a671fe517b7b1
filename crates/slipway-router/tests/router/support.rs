//! Real sockets on 127.0.0.1 for the router tests: a router bound to port 0, small hyper
//! upstreams whose behaviour depends on the path, a WebSocket echo upstream and a keep-alive
//! HTTP/1.1 client.

#![allow(dead_code)] // Not every test binary module uses every helper.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Channel, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use slipway_router::{RouteTable, RouterSettings};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};
use tokio::task::{JoinHandle, JoinSet};

pub type Body = BoxBody<Bytes, Infallible>;

pub const BIG: usize = 10 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into()).boxed()
}

/// A router serving `table` on 127.0.0.1:0 until `stop` is called.
pub struct Router {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl Router {
    pub async fn start(table: RouteTable, config: RouterSettings) -> Router {
        slipway_testkit::init_logs();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind router");
        let addr = listener.local_addr().expect("router addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(slipway_router::serve(listener, table, config, async move {
            let _ = rx.await;
        }));
        Router { addr, shutdown: Some(tx), task }
    }

    /// Signals shutdown without waiting for `serve` to return.
    pub fn signal_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub async fn get(&self, host: &str, path: &str) -> Reply {
        let mut client = Client::connect(self.addr).await;
        client.get(host, path).await
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn config() -> RouterSettings {
    RouterSettings {
        connect_timeout: Duration::from_secs(5),
        upstream_header_timeout: Duration::from_secs(30),
        ..Default::default()
    }
}

pub fn routes(entries: &[(&str, &[SocketAddr])]) -> HashMap<String, Vec<SocketAddr>> {
    entries.iter().map(|(host, addrs)| (host.to_string(), addrs.to_vec())).collect()
}

/// A response read to the end.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Client {
    sender: hyper::client::conn::http1::SendRequest<Body>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Self::try_connect(addr).await.expect("connect to router")
    }

    pub async fn try_connect(addr: SocketAddr) -> std::io::Result<Client> {
        let stream = TcpStream::connect(addr).await?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(std::io::Error::other)?;
        tokio::spawn(conn.with_upgrades());
        Ok(Client { sender })
    }

    pub async fn get(&mut self, host: &str, path: &str) -> Reply {
        let request = Request::get(path).header("host", host).body(full(Bytes::new())).expect("request");
        self.send(request).await.expect("response")
    }

    /// Sends a request; the response head comes back with the body still streaming.
    pub async fn send_streaming(&mut self, request: Request<Body>) -> hyper::Result<Response<Incoming>> {
        self.sender.ready().await?;
        self.sender.send_request(request).await
    }

    pub async fn send(&mut self, request: Request<Body>) -> hyper::Result<Reply> {
        let response = self.send_streaming(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply { status: parts.status, headers: parts.headers, body })
    }
}

/// What an upstream has seen, and the switches tests use to hold it at a known point.
#[derive(Default)]
pub struct UpstreamState {
    pub requests: AtomicUsize,
    pub connections: AtomicUsize,
    /// Connections that have ended (closed by either side).
    pub closed: AtomicUsize,
    /// Notified when a request to `/wait` has arrived.
    pub arrived: Notify,
    /// `/wait` and `/big` wait for this before going on.
    pub gate: Notify,
    /// Notified when `/upload` has received its first body frame.
    pub first_frame: Notify,
    /// Set when `/wait` has produced its response.
    pub answered: AtomicUsize,
    /// Headers of the last request to `/`.
    pub last_headers: Mutex<Option<HeaderMap>>,
}

/// A hyper HTTP/1.1 server on 127.0.0.1:0; what it does depends on the path:
/// `/` answers its name, `/wait` waits for the gate, `/hang` never answers, `/big` streams
/// 10 MB (pausing after the first chunk until the gate opens), `/upload` counts the request body.
pub struct Upstream {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub state: Arc<UpstreamState>,
    task: JoinHandle<()>,
}

impl Upstream {
    pub async fn start(name: &'static str) -> Upstream {
        Self::start_with_idle_timeout(name, None).await
    }

    /// With `idle`, the upstream closes connections idle for that long, as app servers do
    /// (Node's keep-alive timeout, gunicorn's keepalive).
    pub async fn start_with_idle_timeout(name: &'static str, idle: Option<Duration>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind upstream");
        let addr = listener.local_addr().expect("upstream addr");
        let state = Arc::new(UpstreamState::default());
        let task = tokio::spawn({
            let state = state.clone();
            async move {
                // Dropping the set (when this task is aborted) aborts every connection: a killed
                // upstream drops its open connections too, like a killed process.
                let mut connections = JoinSet::new();
                loop {
                    while connections.try_join_next().is_some() {}
                    let Ok((stream, _)) = listener.accept().await else { continue };
                    state.connections.fetch_add(1, Ordering::SeqCst);
                    let state = state.clone();
                    connections.spawn(async move {
                        let service = {
                            let state = state.clone();
                            service_fn(move |request| respond(name, state.clone(), request))
                        };
                        let mut http = hyper::server::conn::http1::Builder::new();
                        if let Some(idle) = idle {
                            http.timer(TokioTimer::new()).header_read_timeout(idle);
                        }
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        state.closed.fetch_add(1, Ordering::SeqCst);
                    });
                }
            }
        });
        Upstream { name, addr, state, task }
    }

    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn respond(
    name: &'static str,
    state: Arc<UpstreamState>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let response = match request.uri().path() {
        "/wait" => {
            state.arrived.notify_one();
            state.gate.notified().await;
            state.answered.fetch_add(1, Ordering::SeqCst);
            Response::new(full(name))
        }
        "/hang" => std::future::pending().await,
        "/big" => {
            let (mut tx, body) = Channel::<Bytes, Infallible>::new(4);
            let state = state.clone();
            tokio::spawn(async move {
                let chunk = Bytes::from(vec![b'x'; CHUNK]);
                if tx.send_data(chunk.clone()).await.is_err() {
                    return;
                }
                state.gate.notified().await;
                for _ in 1..BIG / CHUNK {
                    if tx.send_data(chunk.clone()).await.is_err() {
                        return;
                    }
                }
            });
            Response::new(body.boxed())
        }
        "/upload" => {
            let mut body = request.into_body();
            let mut received = 0usize;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { break };
                if let Some(data) = frame.data_ref() {
                    if received == 0 && !data.is_empty() {
                        state.first_frame.notify_one();
                    }
                    received += data.len();
                }
            }
            Response::new(full(received.to_string()))
        }
        _ => {
            *state.last_headers.lock().expect("headers lock") = Some(request.headers().clone());
            Response::new(full(name))
        }
    };
    Ok(response)
}

/// A WebSocket echo server on 127.0.0.1:0 (tokio-tungstenite's own handshake).
pub async fn start_ws_echo() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind ws upstream");
    let addr = listener.local_addr().expect("ws addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                // tungstenite answers a Close itself while we keep reading; the stream then ends.
                while let Some(Ok(message)) = ws.next().await {
                    if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, task)
}

/// An address on 127.0.0.1 where nothing listens (bound, then closed).
pub async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr")
}
