//! `bench-router`: Slipway's edge router on its own, for `bench/router.sh`.
//!
//! Routes `bench.localhost` (and, with `--routes N`, `N - 1` more hosts `app-K.localhost`) to
//! one upstream, with the access log off unless `--access-log DIR` asks for it as the agent
//! writes it (`bench` is the site's file, rotated by the default rule). Prints `listening on ADDR` once bound and serves
//! until SIGTERM or Ctrl-C.
//!
//! `--flavor workers` (the default) runs the router as the agent does: [`Router::start`], one
//! single-threaded runtime per core, each with its own `SO_REUSEPORT` sockets and upstream pool.
//! `--flavor multi-thread` runs `serve` once on a multi-threaded tokio runtime instead, for
//! comparison. With `--tls CERT KEY` (PEM files) the workers also serve HTTPS for every host on
//! `--tls-listen`, and print `listening tls on ADDR`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use slipway_logs::Rotation;
use slipway_router::{
    AccessLog, AccessLogMode, AccessLogName, CertStore, Challenges, RouteTable, RouteTarget, Router, RouterSettings,
    RouterSpec,
};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Flavor {
    Workers,
    MultiThread,
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
    #[arg(long, value_enum, default_value_t = Flavor::Workers)]
    flavor: Flavor,
    /// Worker threads (multi-thread) or runtimes (workers); 0 means one per core.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Certificate chain and key (PEM) to serve HTTPS with, for every host (workers only).
    #[arg(long, num_args = 2, value_names = ["CERT", "KEY"])]
    tls: Option<Vec<PathBuf>>,
    /// Address of the HTTPS listener.
    #[arg(long, default_value = "127.0.0.1:0")]
    tls_listen: SocketAddr,
    /// Write the access log into this directory (workers only).
    #[arg(long, value_name = "DIR")]
    access_log: Option<PathBuf>,
}

/// The allocator of the `slipway` binary, so the router is measured as the agent runs it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn route_table(args: &Args) -> Result<RouteTable> {
    let site = AccessLogName::parse("bench").map_err(anyhow::Error::msg)?;
    let mut routes = HashMap::with_capacity(args.routes.max(1));
    let bench = RouteTarget { backends: vec![args.upstream], access_log: Some(site) };
    routes.insert("bench.localhost".to_owned(), bench);
    for n in 1..args.routes {
        routes.insert(format!("app-{n}.localhost"), RouteTarget::from(vec![args.upstream]));
    }
    let table = RouteTable::default();
    table.replace(routes);
    Ok(table)
}

fn config(args: &Args) -> Result<RouterSettings> {
    let mut config = RouterSettings::default();
    if let Some(dir) = &args.access_log {
        config.access_log = AccessLog::start(dir.clone(), AccessLogMode::On, Rotation::DEFAULT, &config.metrics)
            .context("starting the access log")?;
    }
    Ok(config)
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
        Flavor::Workers => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(workers(&args, threads))
        }
    }
}

async fn until_signalled() -> Result<()> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

async fn multi_thread(args: &Args) -> Result<()> {
    let table = route_table(args)?;
    let listener = TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    println!("listening on {} ({} routes)", listener.local_addr()?, args.routes.max(1));
    let shutdown = async {
        let _ = until_signalled().await;
    };
    slipway_router::serve(listener, table, config(args)?, shutdown).await.context("serving")
}

async fn workers(args: &Args, threads: usize) -> Result<()> {
    let certs = CertStore::default();
    let mut routes = vec!["bench.localhost".to_owned()];
    routes.extend((1..args.routes).map(|n| format!("app-{n}.localhost")));
    if let Some([cert, key]) = args.tls.as_deref() {
        let (cert, key) = (std::fs::read(cert)?, std::fs::read(key)?);
        let key = slipway_router::certified_key_from_pem(&cert, &key).context("loading the TLS certificate")?;
        // `localhost` too: wrk sends the URL's host as SNI, and bench.localhost does not resolve.
        for host in routes.iter().map(String::as_str).chain(["localhost"]) {
            certs.insert(host, key.clone());
        }
    }
    let config = config(args)?;
    let access_log = config.access_log.clone();
    let router = Router::start(RouterSpec {
        http: args.listen,
        https: args.tls.is_some().then_some(args.tls_listen),
        table: route_table(args)?,
        config,
        certs,
        challenges: Challenges::default(),
        workers: threads,
    })
    .context("starting the router")?;
    println!("listening on {} ({} routes, {threads} workers)", router.http_addr(), routes.len());
    if let Some(addr) = router.https_addr() {
        println!("listening tls on {addr}");
    }
    until_signalled().await?;
    router.shutdown().await.context("serving")?;
    tokio::task::spawn_blocking(move || access_log.flush(std::time::Duration::from_secs(5))).await?;
    Ok(())
}
