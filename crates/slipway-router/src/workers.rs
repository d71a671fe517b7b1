//! The router as the agent runs it: one thread per core, each with its own single-threaded tokio
//! runtime and its own `SO_REUSEPORT` listening sockets on the shared addresses, the way nginx
//! lays out its workers.
//!
//! Why not one multi-threaded runtime: there, a client connection, the upstream connection it
//! borrows from the pool and the tasks driving both land on whichever threads are free, so
//! every request crosses threads several times (wake-ups, cache lines, the pool's lock). Here the
//! kernel spreads connections over the workers, and each request is accepted, proxied and
//! answered on one thread with an upstream connection from that thread's own pool
//! (`backend.rs`). The route table, certificates, ACME challenges and metrics stay shared.
//!
//! `SO_REUSEPORT` lets another process of the *same user* bind the same port and take a share
//! of the connections. The agent's lock keeps a second agent from starting. App instances run
//! today as plain processes of the agent's user (there is no sandbox yet), so they could join the
//! group — but they can already read the agent's data directory, so this adds no exposure of its
//! own; a sandbox that gives apps their own user closes both, as the kernel groups only sockets
//! of one user.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::sync::{mpsc, OnceLock};
use std::thread::JoinHandle;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

use crate::acme::Challenges;
use crate::config::RouterSettings;
use crate::server::{serve_http, serve_tls};
use crate::table::RouteTable;
use crate::tls::CertStore;

/// Pending connections the kernel queues per worker socket.
const BACKLOG: u32 = 4096;

thread_local! {
    /// The index of the worker this thread is; 0 on threads that are not router workers.
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// The index of the router worker running on this thread (0 elsewhere).
pub(crate) fn current_worker() -> usize {
    WORKER.with(Cell::get)
}

/// How many workers [`Router::start`] runs when asked for 0: one per core.
pub(crate) fn default_workers() -> usize {
    // Asking the OS reads cgroup files; backends ask for every route change.
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// What the router serves and where.
#[derive(Clone)]
pub struct RouterSpec {
    /// The plain-HTTP address (port 0 picks a free port, the same for every worker).
    pub http: SocketAddr,
    /// The TLS address, if HTTPS is served (port 0 as above).
    pub https: Option<SocketAddr>,
    pub table: RouteTable,
    pub config: RouterSettings,
    /// Certificates by SNI for the TLS listener, and the hosts the plain listener redirects.
    pub certs: CertStore,
    /// ACME HTTP-01 challenges the plain listener answers.
    pub challenges: Challenges,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
}

/// The running router: its worker threads and the addresses they share.
pub struct Router {
    http: SocketAddr,
    https: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    threads: Vec<JoinHandle<io::Result<()>>>,
}

impl Router {
    /// Starts the workers one after the other, each binding its sockets on its own thread (the
    /// first one resolves port 0 for the rest), and returns once all of them listen, so a bind
    /// error is returned here, before anything serves.
    ///
    /// # Errors
    ///
    /// When an address cannot be bound, or a thread or runtime cannot be made.
    pub fn start(spec: RouterSpec) -> io::Result<Router> {
        let count = if spec.workers == 0 { default_workers() } else { spec.workers };
        let (stop, stopped) = watch::channel(false);
        let (mut http, mut https) = (spec.http, spec.https);
        let mut threads = Vec::with_capacity(count);
        for index in 0..count {
            let (ready, listening) = mpsc::sync_channel(1);
            let (spec, stopped) = (spec.clone(), stopped.clone());
            let addrs = (http, https);
            let started = std::thread::Builder::new()
                .name(format!("router-{index}"))
                .spawn(move || worker(index, addrs, spec, stopped, &ready))
                .and_then(|thread| match listening.recv() {
                    Ok(Ok(addrs)) => Ok((thread, addrs)),
                    Ok(Err(error)) => Err(error),
                    Err(_) => Err(io::Error::other("a router worker ended before it listened")),
                });
            match started {
                Ok((thread, addrs)) => {
                    (http, https) = addrs;
                    threads.push(thread);
                }
                Err(error) => {
                    // The workers already serving have no connection yet: they stop at once.
                    let _ = stop.send(true);
                    for thread in threads {
                        let _ = thread.join();
                    }
                    return Err(error);
                }
            }
        }
        Ok(Router { http, https, stop, threads })
    }

    /// The plain-HTTP address every worker listens on.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// The TLS address, if HTTPS is served.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https
    }

    /// Stops accepting and waits until every worker has finished its in-flight requests (the
    /// contract of [`serve_http`](crate::serve_http)).
    ///
    /// # Errors
    ///
    /// The first error a worker's listener ended with, or a panicked worker.
    pub async fn shutdown(self) -> io::Result<()> {
        let _ = self.stop.send(true);
        let threads = self.threads;
        tokio::task::spawn_blocking(move || {
            let mut result = Ok(());
            for thread in threads {
                let outcome = thread.join().unwrap_or_else(|_| Err(io::Error::other("a router worker panicked")));
                result = result.and(outcome);
            }
            result
        })
        .await
        .unwrap_or_else(|error| Err(io::Error::other(error)))
    }
}

type Addrs = (SocketAddr, Option<SocketAddr>);

/// One worker: binds its sockets, reports their addresses on `ready`, serves until `stopped`.
fn worker(
    index: usize,
    (http, https): Addrs,
    spec: RouterSpec,
    stopped: watch::Receiver<bool>,
    ready: &mpsc::SyncSender<io::Result<Addrs>>,
) -> io::Result<()> {
    WORKER.with(|worker| worker.set(index));
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = ready.send(Err(error));
            return Ok(());
        }
    };
    runtime.block_on(async move {
        // Sockets register with the reactor of the runtime that drives them, so bind in here.
        let bound = reuseport_listener(http).and_then(|plain| {
            let tls = https.map(reuseport_listener).transpose()?;
            let addrs = (plain.local_addr()?, tls.as_ref().map(TcpListener::local_addr).transpose()?);
            Ok((plain, tls, addrs))
        });
        let (plain, tls) = match bound {
            Ok((plain, tls, addrs)) => {
                let _ = ready.send(Ok(addrs));
                (plain, tls)
            }
            Err(error) => {
                let _ = ready.send(Err(error));
                return Ok(());
            }
        };
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        let RouterSpec { table, config, certs, challenges, .. } = spec;
        let https = tls.map(|listener| {
            let (table, config, certs) = (table.clone(), config.clone(), certs.clone());
            tokio::spawn(serve_tls(listener, table, config, certs, until_stopped()))
        });
        let http = serve_http(plain, table, config, certs, challenges, until_stopped()).await;
        let https = match https {
            Some(task) => task.await.unwrap_or_else(|error| Err(io::Error::other(error))),
            None => Ok(()),
        };
        http.and(https)
    })
}

fn reuseport_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}
