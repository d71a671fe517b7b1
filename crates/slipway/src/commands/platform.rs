//! The platform's own processes: `slipway agent` (supervisor + edge router),
//! `slipway down` (stops the agent and with it every app),
//! `slipway serve-static DIR` (what static-site releases run) and `slipway serve-php DIR` (what PHP
//! releases run).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use slipway_agent::{
    keep_certificates, publish_metrics, running_agent, AcmeSettings, Agent, AgentLock, AgentSettings,
    CertificateSources, RunningAgent,
};
use slipway_core::layout::DataLayout;
use slipway_router::{
    AccessLog, AccessLogMode, AcmeClientSettings, CertStore, Challenges, LocalCa, Metrics, RouteTable, Router,
    RouterSettings, RouterSpec,
};
use slipway_store::Store;

use crate::settings::UpSettings;
use crate::up::shutdown_signal;

pub async fn agent(settings: UpSettings) -> Result<()> {
    crate::log_file::init_tracing(settings.log_file.clone(), settings.log_rotation());
    let resolved = settings.resolve()?;
    let layout = DataLayout::new(crate::up::private_data_dir(&resolved.data_dir)?);
    let mut lock = AgentLock::acquire(&layout)?;
    let sandbox = crate::sandbox::prepare(&settings, &layout, "agent")?;
    let table = RouteTable::default();
    let (certs, challenges) = (CertStore::default(), Challenges::default());
    let metrics = Metrics::default();
    let access_log = AccessLog::start(layout.access_logs(), settings.access_log, settings.log_rotation(), &metrics)
        .context("while starting the access-log writer")?;
    let router = Router::start(RouterSpec {
        http: settings.http_addr,
        https: settings.https_addr,
        table: table.clone(),
        config: RouterSettings {
            metrics: metrics.clone(),
            access_log: access_log.clone(),
            ..RouterSettings::default()
        },
        certs: certs.clone(),
        challenges: challenges.clone(),
        workers: 0,
    })
    .with_context(|| format!("while binding the edge router to {}", settings.http_addr))?;
    lock.record(router.http_addr())?;
    let store = Store::connect(&resolved.database_url, resolved.sealing_key.clone())
        .await
        .context("while opening the store")?
        .with_public_urls(resolved.public_urls.clone());
    println!("Slipway agent {}: edge router on http://{}", std::process::id(), router.http_addr());
    let config = AgentSettings {
        nudge_socket: Some(layout.agent_socket()),
        public_urls: resolved.public_urls.clone(),
        slipway_bin_dir: std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf)),
        health_timeout: Duration::from_secs(
            std::env::var("SLIPWAY_HEALTH_TIMEOUT").ok().and_then(|s| s.parse().ok()).unwrap_or(60),
        ),
        sandbox,
        ..AgentSettings::default()
    };
    let agent = Agent::new(store.clone(), layout.clone(), table, config);
    let publisher = tokio::spawn(publish_metrics(metrics, layout.router_metrics()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let keeper = match router.https_addr() {
        Some(addr) => {
            let sources = certificate_sources(&settings, &layout, &certs)?;
            println!("Slipway agent: TLS on https://{addr}");
            let mut stopped = stopped.clone();
            let until_stopped = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            Some(tokio::spawn(keep_certificates(store.clone(), certs, challenges, sources, until_stopped)))
        }
        None => None,
    };
    agent.run(shutdown_signal()).await;
    let _ = stop.send(true);
    if let Some(keeper) = keeper {
        let _ = keeper.await;
    }
    if let Err(error) = router.shutdown().await {
        tracing::warn!(%error, "the edge router stopped with an error");
    }
    publisher.abort();
    let flushed = tokio::task::spawn_blocking(move || access_log.flush(Duration::from_secs(5))).await;
    if settings.access_log != AccessLogMode::Off && !matches!(flushed, Ok(true)) {
        tracing::warn!("the access log's last lines could not be written before stopping");
    }
    store.close().await;
    println!("Slipway agent stopped");
    Ok(())
}

/// The local CA for `*.localhost` (always, for development) and the ACME CA if configured.
fn certificate_sources(settings: &UpSettings, layout: &DataLayout, certs: &CertStore) -> Result<CertificateSources> {
    let tls_dir = layout.root().join("tls");
    let ca = LocalCa::load_or_create(&tls_dir).context("while preparing the local CA")?;
    // `localhost` and the `*.localhost` wildcard; exact per-app leaves follow as apps appear.
    ca.install(certs);
    println!("Slipway agent: local CA for *.localhost at {}", ca.ca_cert_path().display());
    let acme = settings.acme_directory.as_ref().map(|url| {
        let mut config = AcmeClientSettings::new(url.clone());
        config.contact = settings.acme_email.iter().map(|email| format!("mailto:{email}")).collect();
        config.api_root_pem.clone_from(&settings.acme_ca_root);
        // One account per directory: a file name from the URL's letters and digits.
        let name: String = url.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        println!("Slipway agent: certificates from the ACME directory {url}");
        AcmeSettings {
            config,
            account_path: tls_dir.join("acme").join(format!("{name}.json")),
            renew_before: settings.acme_renew_before,
        }
    });
    Ok(CertificateSources { local_ca: Some(ca), acme })
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
    slipway_agent::serve_static(args.dir, addr, shutdown_signal()).await?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct ServePhpArgs {
    /// The document root: its files are served as they are, every other path goes to its index.php.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

/// Serves a PHP app with php-fpm behind nginx on 127.0.0.1:$PORT; exits when either of them does.
pub async fn serve_php(args: ServePhpArgs) -> Result<()> {
    let port: u16 =
        std::env::var("PORT").ok().and_then(|p| p.parse().ok()).context("PORT must be set to a port number")?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    slipway_agent::serve_php(args.dir, addr, shutdown_signal()).await?;
    Ok(())
}
