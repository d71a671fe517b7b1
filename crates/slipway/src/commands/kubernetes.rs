//! The Kubernetes target from the CLI: `env:set-target` switches where an
//! environment runs, `gitops render` prints the manifests a deployment of it
//! commits to the GitOps repository, and `gitops install` prints the manifests
//! that run Slipway's own control plane in a cluster (rendered locally, no API).

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use slipway_core::api::{Environment, UpdateEnvironmentRequest};
use slipway_gitops::{render_install, to_apply_stream, InstallSettings};

use super::config::Target;
use super::{encode, workspace};
use crate::client::Client;
use crate::output;

#[derive(Debug, Args)]
pub struct SetTargetArgs {
    /// `local` (this machine's agent) or `kubernetes` (image in the registry, manifests in GitOps).
    pub target: String,
    #[command(flatten)]
    pub app: Target,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum GitopsCommand {
    /// Print the manifests a deployment of WORKSPACE/PROJECT/ENV commits, for review.
    Render(RenderArgs),
    /// Print the manifests that install Slipway's control plane in a cluster (against
    /// PostgreSQL), for `| kubectl apply -f -`. Renders locally; needs no login.
    Install(InstallArgs),
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The Slipway image, pinned by digest: `registry/repository[:tag]@sha256:…`.
    #[arg(long)]
    pub image: String,
    /// Public hostname of the API, portal and git server, e.g. `slipway.example.com`.
    #[arg(long)]
    pub host: String,
    /// Ingress class of the cluster's ingress controller.
    #[arg(long, default_value = "nginx")]
    pub ingress_class: String,
    /// Namespace of the ingress controller (the only one let in by the NetworkPolicy).
    #[arg(long, default_value = "ingress-nginx")]
    pub ingress_namespace: String,
    /// cert-manager ClusterIssuer for the Ingress certificate.
    #[arg(long, default_value = "letsencrypt")]
    pub cert_issuer: String,
    /// Size of the data volume (repositories, builds, caches, logs).
    #[arg(long, default_value = "20Gi")]
    pub storage_size: String,
    /// StorageClass of the data volume (default: the cluster's default class).
    #[arg(long)]
    pub storage_class: Option<String>,
    /// Namespace of Argo CD, whose Applications the control plane reads for status read-back.
    #[arg(long, default_value = "argocd")]
    pub argocd_namespace: String,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// `workspace/project/environment`, e.g. `acme/web/production`.
    pub environment: String,
}

pub async fn set_target(client: &Client, args: SetTargetArgs) -> Result<()> {
    client.require_login()?;
    let ws = workspace(client, &args.app.workspace).await?;
    let path = format!("{}/environments/{}", super::apps::path(&ws, &args.app.app), encode(&args.app.env));
    let environment: Environment =
        client.patch(&path, &UpdateEnvironmentRequest { target: Some(args.target), ..Default::default() }).await?;
    if args.json {
        return output::json(&environment);
    }
    println!("{} ({}) now runs on the {} target", args.app.app, environment.name, environment.target.as_str());
    if environment.target.as_str() == "kubernetes" {
        println!("The next deployment exports an image and commits its manifests to GitOps; local instances stop.");
    }
    Ok(())
}

pub async fn gitops(client: &Client, command: GitopsCommand) -> Result<()> {
    match command {
        GitopsCommand::Render(args) => render(client, args).await,
        GitopsCommand::Install(args) => install(args),
    }
}

/// Prints the control plane's manifests; nothing is sent anywhere.
pub fn install(args: InstallArgs) -> Result<()> {
    let settings = InstallSettings {
        image: args.image,
        host: args.host,
        ingress_class: args.ingress_class,
        ingress_namespace: args.ingress_namespace,
        cert_issuer: args.cert_issuer,
        storage_size: args.storage_size,
        storage_class: args.storage_class,
        argocd_namespace: args.argocd_namespace,
    };
    print!("{}", to_apply_stream(&render_install(&settings)?));
    Ok(())
}

async fn render(client: &Client, args: RenderArgs) -> Result<()> {
    client.require_login()?;
    let parts: Vec<&str> = args.environment.split('/').collect();
    let [ws, project, env] = parts[..] else {
        bail!("expected WORKSPACE/PROJECT/ENV (e.g. acme/web/production), got `{}`", args.environment);
    };
    if [ws, project, env].iter().any(|part| part.is_empty()) {
        bail!("expected WORKSPACE/PROJECT/ENV (e.g. acme/web/production), got `{}`", args.environment);
    }
    let path = format!("{}/environments/{}/manifests", super::apps::path(ws, project), encode(env));
    print!("{}", client.get_text(&path).await?);
    Ok(())
}
