//! `slipway up`: the control plane on this machine — store, API and (in
//! later issues) git server, builder and agent.

use anyhow::{Context, Result};
use slipway_api::{bootstrap_admin, serve, ApiConfig};
use slipway_store::Store;
use tokio::net::TcpListener;

use crate::settings::{redact_url, UpSettings};

pub async fn run(settings: UpSettings) -> Result<()> {
    init_tracing();
    let resolved = settings.resolve()?;
    if settings.check {
        println!("{resolved:#?}");
        println!("settings are valid");
        return Ok(());
    }
    for (name, value) in [("SLIPWAY_REGISTRY", &settings.registry), ("SLIPWAY_GITOPS_REMOTE", &settings.gitops_remote)]
    {
        if value.is_some() {
            tracing::warn!("{name} is set, but the Kubernetes target is not part of this build yet; it has no effect");
        }
    }
    std::fs::create_dir_all(&resolved.data_dir)
        .with_context(|| format!("while creating the data dir {}", resolved.data_dir.display()))?;

    let store = Store::connect(&resolved.database_url, resolved.sealing_key.clone())
        .await
        .with_context(|| format!("while opening the store at {}", redact_url(&resolved.database_url)))?
        .with_public_urls(resolved.public_urls.clone());
    if let Some(password) = bootstrap_admin(&store, resolved.admin_password.as_deref()).await? {
        println!("Created the platform admin `admin` with password: {password}");
        println!("(shown once; log in with `slipway login --username admin`)");
    }

    let mut config = ApiConfig::new(resolved.domain.clone(), resolved.public_urls.clone());
    config.open_signup = resolved.open_signup;
    let listener = TcpListener::bind(resolved.api_addr)
        .await
        .with_context(|| format!("while binding the API to {}", resolved.api_addr))?;
    let local = listener.local_addr()?;
    println!("Slipway API listening on http://{local} (store: {:?})", store.backend());

    serve(listener, store.clone(), config, shutdown_signal()).await?;
    store.close().await;
    println!("Slipway stopped");
    Ok(())
}

/// Resolves on the first SIGTERM or Ctrl-C, so in-flight requests drain; a
/// second signal exits at once.
async fn shutdown_signal() {
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

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLIPWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}
