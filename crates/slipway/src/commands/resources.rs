//! What apps may use: `ps:resize` sets the memory, CPU and processes of each
//! instance of an app's environment; `quotas` shows a workspace's quota and
//! use, and `quotas:set` (platform admins) changes it.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::Value;
use slipway_core::api::{Environment, QuotaReport, ResourcesPatch, SetQuotaRequest, UpdateEnvironmentRequest};
use slipway_core::quota::Bytes;
use slipway_core::resources::{Cpu, Memory};

use super::config::Target;
use super::{encode, workspace, WorkspaceArg};
use crate::client::Client;
use crate::output;

/// A figure given on the command line: a value, or `default` for the platform's.
const DEFAULT: &str = "default";
/// A quota figure meaning "no limit".
const UNLIMITED: &str = "unlimited";

#[derive(Debug, Args)]
pub struct ResizeArgs {
    #[command(flatten)]
    pub target: Target,
    /// Memory of each instance: 512M, 1G, 1.5G (`default`: the platform's). Above it the
    /// instance is killed and restarted.
    #[arg(long)]
    pub memory: Option<String>,
    /// CPU of each instance, in cores: 0.5, 2, 250m (`default`: the platform's).
    #[arg(long)]
    pub cpu: Option<String>,
    /// Processes and threads of each instance together (`default`: the platform's).
    #[arg(long)]
    pub max_processes: Option<String>,
    /// Print the environment as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct QuotasArgs {
    #[command(flatten)]
    pub workspace: WorkspaceArg,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SetQuotasArgs {
    #[command(flatten)]
    pub workspace: WorkspaceArg,
    /// Memory of all instances of the workspace together: 8G (`unlimited` for none).
    #[arg(long)]
    pub memory: Option<String>,
    /// Instances of all environments together (`unlimited` for none).
    #[arg(long)]
    pub instances: Option<String>,
    /// Projects (`unlimited` for none).
    #[arg(long)]
    pub projects: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// `Some(None)` for `default`, else the figure checked by `parse` and sent as typed.
fn patch_figure<T>(text: &Option<String>, parse: impl Fn(&str) -> Result<T>) -> Result<Option<Option<String>>> {
    match text.as_deref() {
        None => Ok(None),
        Some(DEFAULT) => Ok(Some(None)),
        Some(text) => parse(text).map(|_| Some(Some(text.to_owned()))),
    }
}

pub async fn resize(client: &Client, args: ResizeArgs) -> Result<()> {
    client.require_login()?;
    if args.memory.is_none() && args.cpu.is_none() && args.max_processes.is_none() {
        bail!("name what to change: --memory 512M, --cpu 0.5 or --max-processes 128");
    }
    // Checked here too, so that a typo fails before any request.
    let memory = patch_figure(&args.memory, |text| Ok(Memory::parse(text)?))?;
    let cpu = patch_figure(&args.cpu, |text| Ok(Cpu::parse(text)?))?;
    let max_processes = match args.max_processes.as_deref() {
        None => None,
        Some(DEFAULT) => Some(None),
        Some(text) => Some(Some(text.parse::<i64>().with_context(|| format!("`{text}` is not a process count"))?)),
    };
    let ws = workspace(client, &args.target.workspace).await?;
    let path = format!("{}/environments/{}", super::apps::path(&ws, &args.target.app), encode(&args.target.env));
    let body = UpdateEnvironmentRequest {
        resources: Some(ResourcesPatch { memory, cpu, max_processes }),
        ..UpdateEnvironmentRequest::default()
    };
    let environment: Environment = client.patch(&path, &body).await?;
    if args.json {
        return output::json(&environment);
    }
    println!("Resized {} ({}): {} per instance", args.target.app, environment.name, environment.resources);
    Ok(())
}

fn quotas_path(ws: &str) -> String {
    format!("/v1/workspaces/{}/quotas", encode(ws))
}

fn print_report(ws: &str, report: &QuotaReport) {
    let limit = |value: Option<String>| value.unwrap_or_else(|| UNLIMITED.to_owned());
    let (quota, usage) = (&report.quota, &report.usage);
    let rows = vec![
        vec!["memory".to_owned(), limit(quota.memory.map(|m| m.to_string())), Bytes(usage.memory).to_string()],
        vec!["instances".to_owned(), limit(quota.instances.map(|n| n.to_string())), usage.instances.to_string()],
        vec!["projects".to_owned(), limit(quota.projects.map(|n| n.to_string())), usage.projects.to_string()],
    ];
    println!("Quota of workspace {ws}:");
    output::table(&["", "QUOTA", "IN USE"], &rows);
}

pub async fn show(client: &Client, args: QuotasArgs) -> Result<()> {
    client.require_login()?;
    let ws = workspace(client, &args.workspace).await?;
    let report: QuotaReport = client.get(&quotas_path(&ws)).await?;
    if args.json {
        return output::json(&report);
    }
    print_report(&ws, &report);
    Ok(())
}

/// `None` leaves a figure as it is, `unlimited` clears it.
fn count(what: &str, text: Option<&str>, current: Option<u32>) -> Result<Option<i64>> {
    match text {
        None => Ok(current.map(i64::from)),
        Some(UNLIMITED) => Ok(None),
        Some(text) => {
            let count: u32 =
                text.parse().with_context(|| format!("--{what} `{text}` is not a count (or `unlimited`)"))?;
            Ok(Some(i64::from(count)))
        }
    }
}

pub async fn set(client: &Client, args: SetQuotasArgs) -> Result<()> {
    client.require_login()?;
    if args.memory.is_none() && args.instances.is_none() && args.projects.is_none() {
        bail!("name what to change: --memory 8G, --instances 20 or --projects 10 (or `unlimited`)");
    }
    let memory = match args.memory.as_deref() {
        None | Some(UNLIMITED) => None,
        Some(text) => Some(Memory::parse(text)?),
    };
    let ws = workspace(client, &args.workspace).await?;
    // The API replaces the whole quota: figures not named keep their current value.
    let current: QuotaReport = client.get(&quotas_path(&ws)).await?;
    let body = SetQuotaRequest {
        memory: match args.memory {
            None => current.quota.memory.map(|memory| memory.bytes().to_string()),
            Some(_) => memory.map(|memory| memory.bytes().to_string()),
        },
        instances: count("instances", args.instances.as_deref(), current.quota.instances)?,
        projects: count("projects", args.projects.as_deref(), current.quota.projects)?,
    };
    let report: QuotaReport = client.put(&quotas_path(&ws), &body).await?;
    if args.json {
        return output::json(&report);
    }
    print_report(&ws, &report);
    Ok(())
}

/// Each instance as JSON with its environment's memory limit beside it (`memory_limit`, bytes).
pub fn instances_with_memory(instances: &[slipway_core::api::Instance], memory: Memory) -> Result<Vec<Value>> {
    instances
        .iter()
        .map(|instance| {
            let mut value = serde_json::to_value(instance)?;
            if let Some(object) = value.as_object_mut() {
                object.insert("memory_limit".into(), memory.bytes().into());
            }
            Ok(value)
        })
        .collect()
}
