//! `slipway up`: the control plane on this machine — store, API, git server
//! and deploy pipeline — plus the agent (supervisor and edge router), which
//! it starts as a separate process unless one already runs. Stopping `up`
//! leaves the agent and the apps serving; `slipway down` stops them.

use anyhow::{Context, Result};
use std::os::unix::process::CommandExt;

use slipway_agent::running_agent;
use slipway_api::{bootstrap_admin, ApiSettings, PlatformPaths};
use slipway_core::layout::DataLayout;
use slipway_core::redact::redact_url;
use slipway_pipeline::{KubernetesSettings, Pipeline, PipelineSettings};
use slipway_store::Store;
use tokio::net::TcpListener;

use crate::settings::UpSettings;

pub async fn run(mut settings: UpSettings) -> Result<()> {
    crate::log_file::init_tracing(settings.log_file.clone(), settings.log_rotation());
    let data_dir = settings.resolve()?.data_dir;
    match running_agent(&DataLayout::new(&data_dir))?.and_then(|agent| agent.router) {
        // App URLs must name the router that actually serves them.
        Some(router) => settings.http_addr = router,
        // The agent binds the router, but app URLs need its port now.
        None if settings.http_addr.port() == 0 => {
            settings.http_addr = std::net::TcpListener::bind(settings.http_addr)?.local_addr()?;
        }
        None => {}
    }
    if let Some(addr) = settings.https_addr.filter(|addr| addr.port() == 0) {
        settings.https_addr = Some(std::net::TcpListener::bind(addr)?.local_addr()?);
    }
    let mut resolved = settings.resolve()?;
    if settings.check {
        println!("{resolved:#?}");
        println!("settings are valid");
        crate::sandbox::print_check(&settings);
        return Ok(());
    }
    resolved.data_dir = private_data_dir(&resolved.data_dir)?;
    let sandbox = crate::sandbox::prepare(&settings, &DataLayout::new(&resolved.data_dir), "control plane")?;

    let store = Store::connect(&resolved.database_url, resolved.sealing_key.clone())
        .await
        .with_context(|| format!("while opening the store at {}", redact_url(&resolved.database_url)))?
        .with_public_urls(resolved.public_urls.clone());
    // The store resolves every environment's unset figures against these, for every process
    // that reads it (this one, the agent, the pipeline).
    store.set_default_resources(&resolved.resources.default).await.context("while recording the default resources")?;
    if let Some(password) = bootstrap_admin(&store, resolved.admin_password.as_deref()).await? {
        println!("Created the platform admin `admin` with password: {password}");
        println!("(shown once; log in with `slipway login --username admin`)");
    }

    let layout = DataLayout::new(&resolved.data_dir);
    ensure_agent(&settings, &layout).await?;
    let socket = layout.agent_socket();
    let store = store.with_change_notifier(std::sync::Arc::new(move || slipway_agent::nudge(&socket)));

    let listener = TcpListener::bind(resolved.api_addr)
        .await
        .with_context(|| format!("while binding the API to {}", resolved.api_addr))?;
    let local = listener.local_addr()?;
    let mut config = ApiSettings::new(resolved.domain.clone(), resolved.public_urls.clone());
    config.open_signup = resolved.open_signup;
    config.platform = Some(PlatformPaths {
        layout: layout.clone(),
        slipway_bin: std::env::current_exe().context("while locating the slipway executable")?,
        api_url: format!("http://{local}"),
    });
    config.registry = resolved.registry.clone();
    config.sandboxed = sandbox.is_enforced();
    config.repo_policy = resolved.repo_policy.clone();
    config.resources = resolved.resources;
    let kubernetes = KubernetesSettings {
        registry: resolved.registry.clone(),
        base_image: resolved.base_image.clone(),
        gitops_remote: resolved.gitops_remote.clone(),
        // Argo CD reads Slipway's own repository where the git server serves it.
        argo_repo_url: match &resolved.gitops_remote {
            Some(remote) => Some(remote.clone()),
            None => Some(format!("http://{local}/git/_platform/gitops.git")),
        },
        cluster: config.cluster.clone(),
        read_back: resolved.read_back.clone(),
    };
    let pipeline_config = PipelineSettings {
        repo_policy: resolved.repo_policy.clone(),
        checkout_limits: resolved.checkout_limits,
        release_retention: resolved.release_retention,
        runtime_mirrors: resolved.runtime_mirrors.clone(),
        sandbox,
        ..PipelineSettings::default()
    };
    let pipeline = Pipeline::new(store.clone(), layout, pipeline_config).with_kubernetes(kubernetes);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let pipeline = tokio::spawn(pipeline.run(async move {
        let mut stopped = stopped;
        let _ = stopped.wait_for(|stop| *stop).await;
    }));
    println!("Slipway API listening on http://{local} (store: {:?})", store.backend());

    // The web portal answers at `/` and hands `/v1`, `/git`, … to the API.
    slipway_portal::serve(listener, slipway_api::app(store.clone(), config), shutdown_signal()).await?;
    let _ = stop.send(true);
    let _ = pipeline.await;
    store.close().await;
    println!("Slipway stopped");
    Ok(())
}

/// The data dir and everything Slipway writes are its own: mode 0700 for the
/// directory, and a umask of 077 so files (the store, the sealing key, logs,
/// repositories, caches) are never readable by another uid of this host.
/// Returns the directory's canonical path: sandboxes bind release and build
/// paths under it, and bind only canonical paths.
pub(crate) fn private_data_dir(dir: &std::path::Path) -> Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    std::fs::create_dir_all(dir).with_context(|| format!("while creating the data dir {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("while making the data dir {} private", dir.display()))?;
    dir.canonicalize().with_context(|| format!("while resolving the data dir {}", dir.display()))
}

/// Starts `slipway agent` in the background (its own process group, so a
/// Ctrl-C of `up` does not reach it) unless one already runs, and waits
/// until it holds its lock.
async fn ensure_agent(settings: &UpSettings, layout: &DataLayout) -> Result<()> {
    if let Some(agent) = running_agent(layout)? {
        println!("Edge router on http://{} (agent {} already runs)", settings.http_addr, agent.pid);
        return Ok(());
    }
    // The agent writes its log there itself, rotated; until it runs, what it prints goes there too.
    let log_path = layout.agent_log();
    std::fs::create_dir_all(layout.root().join("logs"))?;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .arg("agent")
        .env("SLIPWAY_DATA_DIR", layout.root())
        .env("SLIPWAY_HTTP_ADDR", settings.http_addr.to_string())
        .env("SLIPWAY_DOMAIN", &settings.domain)
        .env("SLIPWAY_LOG_FILE", &log_path)
        .env("SLIPWAY_ACCESS_LOG", settings.access_log.to_string())
        .env("SLIPWAY_LOG_MAX_SIZE", settings.log_max_size.to_string())
        .env("SLIPWAY_LOG_KEEP", settings.log_keep.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    let read_only = Some(settings.sandbox_read_only.iter().map(|p| p.display().to_string()).collect::<Vec<_>>())
        .filter(|paths| !paths.is_empty())
        .map(|paths| paths.join(","));
    for (name, value) in [
        ("SLIPWAY_DATABASE_URL", &settings.database_url),
        ("SLIPWAY_SECRET_KEY", &settings.secret_key),
        ("SLIPWAY_HTTPS_ADDR", &settings.https_addr.map(|a| a.to_string())),
        ("SLIPWAY_ACME_DIRECTORY", &settings.acme_directory),
        ("SLIPWAY_ACME_EMAIL", &settings.acme_email),
        ("SLIPWAY_ACME_CA_ROOT", &settings.acme_ca_root.as_ref().map(|p| p.display().to_string())),
        ("SLIPWAY_ACME_RENEW_BEFORE", &Some(format!("{}s", settings.acme_renew_before.as_secs()))),
        ("SLIPWAY_SANDBOX", &Some(format!("{:?}", settings.sandbox).to_lowercase())),
        ("SLIPWAY_SANDBOX_EGRESS", &Some(settings.sandbox_egress.to_string())),
        ("SLIPWAY_SANDBOX_READ_ONLY", &read_only),
    ] {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let mut child = command.spawn().context("while starting the agent")?;
    for _ in 0..200 {
        if let Some(agent) = running_agent(layout)? {
            println!(
                "Edge router on http://{} (agent {}; `slipway down` stops it and the apps)",
                settings.http_addr, agent.pid
            );
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("the agent exited ({status}); see {}", log_path.display());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    anyhow::bail!("the agent did not start within 10 s; see {}", log_path.display())
}

/// Resolves on the first SIGTERM or Ctrl-C, so in-flight requests drain; a
/// second signal exits at once.
pub(crate) async fn shutdown_signal() {
    wait_for_signal().await;
    tracing::info!("shutting down: finishing in-flight requests (signal again to force)");
    tokio::spawn(async {
        wait_for_signal().await;
        eprintln!("forced exit");
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
