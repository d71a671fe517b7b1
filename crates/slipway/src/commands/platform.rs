//! The platform's own processes: `slipway agent` (supervisor + edge router),
//! `slipway down` (stops the agent and with it every app) and
//! `slipway serve-static DIR` (what static-site releases run).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use nix::fcntl::{Flock, FlockArg};
use slipway_core::layout::DataLayout;
use slipway_router::{CertStore, LocalCa, Metrics, RouteTable, RouterConfig};
use slipway_runtime::{Agent, AgentConfig};
use slipway_store::Store;

use crate::settings::UpSettings;
use crate::up::{init_tracing, shutdown_signal};

/// The agent's lock: held (flock) for as long as the agent lives, with its pid inside.
pub struct AgentLock {
    _lock: Flock<File>,
}

fn open_lock(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("while creating {}", dir.display()))?;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("while opening {}", path.display()))
}

/// The agent that holds the lock: its pid and its router's address.
#[derive(Debug, Clone, Copy)]
pub struct RunningAgent {
    pub pid: i32,
    pub router: Option<std::net::SocketAddr>,
}

/// The running agent, if one holds the lock.
pub fn running_agent(layout: &DataLayout) -> Result<Option<RunningAgent>> {
    let path = layout.agent_lock();
    if !path.exists() {
        return Ok(None);
    }
    let file = open_lock(&path)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(_free) => Ok(None), // dropping the lock releases it again
        Err((mut file, _)) => {
            let mut text = String::new();
            file.read_to_string(&mut text)?;
            let mut fields = text.split_whitespace();
            let Some(pid) = fields.next().and_then(|pid| pid.parse().ok()) else { return Ok(None) };
            Ok(Some(RunningAgent { pid, router: fields.next().and_then(|addr| addr.parse().ok()) }))
        }
    }
}

impl AgentLock {
    /// Takes the lock and writes `<pid> <router address>` into it.
    fn acquire(layout: &DataLayout, router: std::net::SocketAddr) -> Result<Self> {
        let file = open_lock(&layout.agent_lock())?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err(_) => bail!("an agent already runs for {}; stop it with `slipway down`", layout.root().display()),
        };
        lock.set_len(0)?;
        lock.rewind()?;
        write!(lock, "{} {router}", std::process::id())?;
        lock.flush()?;
        Ok(Self { _lock: lock })
    }
}

pub async fn agent(settings: UpSettings) -> Result<()> {
    init_tracing();
    let resolved = settings.resolve()?;
    let layout = DataLayout::new(&resolved.data_dir);
    let listener = tokio::net::TcpListener::bind(settings.http_addr)
        .await
        .with_context(|| format!("while binding the edge router to {}", settings.http_addr))?;
    let _lock = AgentLock::acquire(&layout, listener.local_addr()?)?;
    let https = match settings.https_addr {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("while binding the edge router's TLS listener to {addr}"))?,
        ),
        None => None,
    };
    let store = Store::connect(&resolved.database_url, resolved.sealing_key.clone())
        .await
        .context("while opening the store")?
        .with_public_urls(resolved.public_urls.clone());
    println!("Slipway agent {}: edge router on http://{}", std::process::id(), listener.local_addr()?);
    if which("crun").is_none() {
        tracing::warn!("crun is not installed: app instances run as plain processes, without a sandbox");
    }
    let table = RouteTable::default();
    let config = AgentConfig {
        nudge_socket: Some(layout.agent_socket()),
        public_urls: resolved.public_urls.clone(),
        slipway_bin_dir: std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf)),
        health_timeout: Duration::from_secs(
            std::env::var("SLIPWAY_HEALTH_TIMEOUT").ok().and_then(|s| s.parse().ok()).unwrap_or(60),
        ),
        ..AgentConfig::default()
    };
    let agent = Agent::new(store.clone(), layout.clone(), table.clone(), config);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let metrics = Metrics::default();
    let publisher = tokio::spawn(publish_metrics(metrics.clone(), layout.router_metrics()));
    let router_config = RouterConfig { metrics, ..RouterConfig::default() };
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    let tls = match https {
        Some(listener) => {
            // Development TLS: a local CA signs a certificate per *.localhost app.
            let ca = LocalCa::load_or_create(&layout.root().join("tls")).context("while preparing the local CA")?;
            let certs = CertStore::default();
            ca.install(&certs);
            println!(
                "Slipway agent: TLS on https://{} (local CA: {})",
                listener.local_addr()?,
                ca.ca_cert_path().display()
            );
            let issuer = tokio::spawn(local_certificates(store.clone(), ca, certs.clone()));
            let server = tokio::spawn(slipway_router::serve_tls(
                listener,
                table.clone(),
                router_config.clone(),
                certs,
                until_stopped(),
            ));
            Some((issuer, server))
        }
        None => None,
    };
    let router = tokio::spawn(slipway_router::serve(listener, table, router_config, until_stopped()));
    agent.run(shutdown_signal()).await;
    let _ = stop.send(true);
    let _ = router.await;
    if let Some((issuer, server)) = tls {
        issuer.abort();
        let _ = server.await;
    }
    publisher.abort();
    store.close().await;
    println!("Slipway agent stopped");
    Ok(())
}

/// Gives every `*.localhost` hostname an exact certificate from the local
/// CA (TLS clients refuse a `*.localhost` wildcard), as apps appear.
async fn local_certificates(store: Store, ca: LocalCa, certs: CertStore) {
    loop {
        if let Ok(desired) = store.desired_state().await {
            let known = certs.hosts();
            for host in desired.iter().flat_map(|env| &env.hostnames) {
                if host.ends_with(".localhost") && !known.contains(host) {
                    if let Err(err) = ca.install_host(&certs, host) {
                        tracing::warn!(host, %err, "signing a local certificate failed");
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Rewrites the router's metrics file every few seconds (write, then rename,
/// so the control plane never reads half a file).
async fn publish_metrics(metrics: Metrics, path: PathBuf) {
    let temp = path.with_extension("prom.tmp");
    loop {
        if tokio::fs::write(&temp, metrics.render()).await.is_ok() {
            let _ = tokio::fs::rename(&temp, &path).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join(tool)).find(|path| path.is_file())
}

pub async fn down(settings: UpSettings) -> Result<()> {
    let resolved = settings.resolve()?;
    let layout = DataLayout::new(&resolved.data_dir);
    let Some(RunningAgent { pid, .. }) = running_agent(&layout)? else {
        println!("No agent runs for {}", layout.root().display());
        return Ok(());
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM)
        .with_context(|| format!("while stopping the agent (pid {pid})"))?;
    for _ in 0..600 {
        if running_agent(&layout)?.is_none() {
            println!("Stopped the agent and its apps");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the agent (pid {pid}) did not stop within 60 s")
}

#[derive(Debug, Args)]
pub struct ServeStaticArgs {
    /// The directory to serve.
    pub dir: PathBuf,
}

/// Serves a static site on 127.0.0.1:$PORT.
pub async fn serve_static(args: ServeStaticArgs) -> Result<()> {
    let port: u16 =
        std::env::var("PORT").ok().and_then(|p| p.parse().ok()).context("PORT must be set to a port number")?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    println!("Serving {} on http://{addr}", args.dir.display());
    slipway_build::serve_static(args.dir, addr, shutdown_signal()).await?;
    Ok(())
}
