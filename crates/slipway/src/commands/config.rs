use anyhow::{bail, Result};
use clap::Args;
use slipway_core::api::{ConfigVar, SetConfigRequest};

use super::{encode, workspace, WorkspaceArg};
use crate::client::Client;
use crate::output;

#[derive(Debug, Args)]
pub struct Target {
    /// The app.
    #[arg(short, long, env = "SLIPWAY_APP")]
    pub app: String,
    /// The environment.
    #[arg(short, long, default_value = "production")]
    pub env: String,
    #[command(flatten)]
    pub workspace: WorkspaceArg,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub target: Target,
    /// Print JSON (secrets are `null`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// KEY=VALUE pairs.
    #[arg(required = true)]
    pub pairs: Vec<String>,
    #[command(flatten)]
    pub target: Target,
    /// Store as secrets: never shown again.
    #[arg(long)]
    pub secret: bool,
}

#[derive(Debug, Args)]
pub struct UnsetArgs {
    /// Names to remove.
    #[arg(required = true)]
    pub names: Vec<String>,
    #[command(flatten)]
    pub target: Target,
}

async fn config_path(client: &Client, target: &Target) -> Result<String> {
    let ws = workspace(client, &target.workspace).await?;
    Ok(format!("{}/environments/{}/config", super::apps::path(&ws, &target.app), encode(&target.env)))
}

fn print(vars: &[ConfigVar]) {
    let rows: Vec<Vec<String>> = vars
        .iter()
        .map(|v| vec![v.name.to_string(), v.value.clone().unwrap_or_else(|| "******** (secret)".into())])
        .collect();
    output::table(&["NAME", "VALUE"], &rows);
}

pub async fn show(client: &Client, args: ShowArgs) -> Result<()> {
    client.require_login()?;
    let vars: Vec<ConfigVar> = client.get(&config_path(client, &args.target).await?).await?;
    if args.json {
        return output::json(&vars);
    }
    print(&vars);
    Ok(())
}

pub async fn set(client: &Client, args: SetArgs) -> Result<()> {
    client.require_login()?;
    let mut vars = std::collections::BTreeMap::new();
    for pair in &args.pairs {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("`{pair}` is not KEY=VALUE");
        };
        vars.insert(name.to_owned(), value.to_owned());
    }
    let names: Vec<String> = vars.keys().cloned().collect();
    let _: Vec<ConfigVar> =
        client.put(&config_path(client, &args.target).await?, &SetConfigRequest { vars, secret: args.secret }).await?;
    println!("Set {} on {} ({})", names.join(", "), args.target.app, args.target.env);
    Ok(())
}

pub async fn unset(client: &Client, args: UnsetArgs) -> Result<()> {
    client.require_login()?;
    let path = format!("{}?names={}", config_path(client, &args.target).await?, encode(&args.names.join(",")));
    let _: Vec<ConfigVar> = client.delete(&path).await?;
    println!("Unset {} on {} ({})", args.names.join(", "), args.target.app, args.target.env);
    Ok(())
}
