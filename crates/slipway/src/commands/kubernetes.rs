//! The Kubernetes target from the CLI: `env:set-target` switches where an
//! environment runs, `gitops render` prints the manifests a deployment of it
//! commits to the GitOps repository.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use slipway_core::api::{Environment, UpdateEnvironmentRequest};

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
    let environment: Environment = client.patch(&path, &UpdateEnvironmentRequest { target: args.target }).await?;
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
    }
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
