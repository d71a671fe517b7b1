use anyhow::Result;
use clap::Args;
use slipway_core::api::{AddDomainRequest, Environment, UpdateDomainRequest};

use super::config::Target;
use super::{encode, workspace};
use crate::client::Client;
use crate::output;

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DomainArgs {
    /// The domain, such as www.example.com.
    pub hostname: String,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Args)]
pub struct RedirectArgs {
    /// The hostname (generated or custom).
    pub hostname: String,
    /// Stop redirecting.
    #[arg(long)]
    pub off: bool,
    #[command(flatten)]
    pub target: Target,
}

async fn domains_path(client: &Client, target: &Target) -> Result<String> {
    let ws = workspace(client, &target.workspace).await?;
    Ok(format!("{}/environments/{}/domains", super::apps::path(&ws, &target.app), encode(&target.env)))
}

pub async fn list(client: &Client, args: ListArgs) -> Result<()> {
    client.require_login()?;
    let hostnames: Vec<String> = client.get(&domains_path(client, &args.target).await?).await?;
    if args.json {
        return output::json(&hostnames);
    }
    let app = super::apps::path(&workspace(client, &args.target.workspace).await?, &args.target.app);
    let project: slipway_core::api::Project = client.get(&app).await?;
    let redirects: Vec<String> = project
        .environments
        .into_iter()
        .find(|env| env.name.as_str() == args.target.env)
        .map(|env| env.https_redirects)
        .unwrap_or_default();
    for host in hostnames {
        if redirects.contains(&host) {
            println!("{host}  (HTTP redirects to HTTPS)");
        } else {
            println!("{host}");
        }
    }
    Ok(())
}

pub async fn https_redirect(client: &Client, args: RedirectArgs) -> Result<()> {
    client.require_login()?;
    let path = format!("{}/{}", domains_path(client, &args.target).await?, encode(&args.hostname));
    let _: Environment = client.patch(&path, &UpdateDomainRequest { https_redirect: !args.off }).await?;
    let state = if args.off { "no longer redirects" } else { "now redirects" };
    println!("HTTP for {} {state} to HTTPS", args.hostname);
    Ok(())
}

pub async fn add(client: &Client, args: DomainArgs) -> Result<()> {
    client.require_login()?;
    let path = domains_path(client, &args.target).await?;
    let environment: Environment = client.post(&path, &AddDomainRequest { hostname: args.hostname.clone() }).await?;
    println!("Added {} to {} ({}); URL: {}", args.hostname, args.target.app, args.target.env, environment.url);
    Ok(())
}

pub async fn remove(client: &Client, args: DomainArgs) -> Result<()> {
    client.require_login()?;
    let path = format!("{}/{}", domains_path(client, &args.target).await?, encode(&args.hostname));
    let environment: Environment = client.delete(&path).await?;
    println!("Removed {} from {} ({}); URL: {}", args.hostname, args.target.app, args.target.env, environment.url);
    Ok(())
}
