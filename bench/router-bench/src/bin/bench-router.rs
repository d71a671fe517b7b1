//! `bench-router`: Slipway's edge router on its own, for `bench/router.sh`.
//!
//! Routes `bench.localhost` (and, with `--routes N`, `N - 1` more hosts `app-K.localhost`) to
//! one upstream, with the access log off. Prints `listening on ADDR` once bound and serves
//! until SIGTERM or Ctrl-C.
//!
//! `--flavor multi-thread` (the default) runs `serve` once on a multi-threaded tokio runtime,
//! as the agent does. `--flavor per-core` is an experiment: one current-thread runtime per
//! core, each with its own SO_REUSEPORT listener and its own `RouteTable` (so its own upstream
//! pool), which is how nginx's workers are laid out.

use std::collections::HashMap;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use slipway_router::{RouteTable, RouterConfig};
use tokio::net::{TcpListener, TcpSocket};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Flavor {
    MultiThread,
    PerCore,
}

#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The upstream every host is routed to.
    #[arg(long)]
    upstream: SocketAddr,
    /// Hosts in the route table, `bench.localhost` included.
    #[arg(long, default_value_t = 1)]
    routes: usize,
    /// How the router's threads are laid out.
    #[arg(long, value_enum, default_value_t = Flavor::MultiThread)]
    flavor: Flavor,
    /// Worker threads (multi-thread) or runtimes (per-core); 0 means one per core.
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

fn route_table(args: &Args) -> RouteTable {
    let mut routes = HashMap::with_capacity(args.routes.max(1));
    routes.insert("bench.localhost".to_owned(), vec![args.upstream]);
    for n in 1..args.routes {
        routes.insert(format!("app-{n}.localhost"), vec![args.upstream]);
    }
    let table = RouteTable::default();
    table.replace(routes);
    table
}

fn config() -> RouterConfig {
    RouterConfig { access_log: false, ..RouterConfig::default() }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let threads = match args.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    match args.flavor {
        Flavor::MultiThread => {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?;
            runtime.block_on(multi_thread(&args))
        }
        Flavor::PerCore => per_core(&args, threads),
    }
}

async fn multi_thread(args: &Args) -> Result<()> {
    let table = route_table(args);
    let listener = TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    println!("listening on {} ({} routes)", listener.local_addr()?, args.routes.max(1));
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    slipway_router::serve(listener, table, config(), shutdown).await.context("serving")
}

fn reuseport_listener(addr: SocketAddr) -> Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseport(true)?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr).with_context(|| format!("binding {addr}"))?;
    Ok(socket.listen(1024)?)
}

fn per_core(args: &Args, threads: usize) -> Result<()> {
    let control = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut addr = args.listen;
    let mut workers = Vec::with_capacity(threads);
    for _ in 0..threads {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        // Bound here so the next runtime binds the same (possibly just picked) port.
        let listener = runtime.block_on(async { reuseport_listener(addr) })?;
        addr = listener.local_addr()?;
        let table = route_table(args);
        let mut stop = stop_rx.clone();
        workers.push(std::thread::spawn(move || {
            runtime.block_on(async move {
                let shutdown = async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                };
                slipway_router::serve(listener, table, config(), shutdown).await
            })
        }));
    }
    println!("listening on {addr} ({} routes, {threads} runtimes)", args.routes.max(1));
    control.block_on(async {
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        anyhow::Ok(())
    })?;
    let _ = stop_tx.send(true);
    for worker in workers {
        match worker.join() {
            Ok(result) => result.context("serving")?,
            Err(_) => anyhow::bail!("a router thread panicked"),
        }
    }
    Ok(())
}
