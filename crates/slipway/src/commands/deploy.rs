//! Deploys, releases, rollback and logs.

use anyhow::{bail, Result};
use clap::Args;
use slipway_core::api::{
    CreateDeploymentRequest, Deployment, Environment, Instance, Page, Project, Release, RollbackRequest, ScaleRequest,
};
use slipway_core::deployment::DeploymentStatus;

use super::config::Target;
use super::{encode, workspace};
use crate::client::Client;
use crate::output;

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: Target,
    /// Deploy this commit (already pushed to Slipway or fetched from the app's repository) instead
    /// of the branch head: how a release too old to roll back to is built again.
    #[arg(long)]
    pub commit: Option<String>,
    /// Return once queued instead of streaming the build.
    #[arg(long)]
    pub no_follow: bool,
}

#[derive(Debug, Args)]
pub struct ReleasesArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The release to re-activate (default: the one before the active one).
    pub release: Option<u64>,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub target: Target,
    /// Keep streaming new lines.
    #[arg(short, long)]
    pub follow: bool,
    /// Show a build log instead: the latest, or deployment N.
    #[arg(long, num_args = 0..=1, default_missing_value = "latest", conflicts_with = "access")]
    pub build: Option<String>,
    /// Show the edge router's access log instead: a JSON line per request the app was sent.
    #[arg(long)]
    pub access: bool,
    /// How many recent runtime lines to show first.
    #[arg(short = 'n', long, default_value_t = 100)]
    pub lines: usize,
}

async fn environment_path(client: &Client, target: &Target) -> Result<String> {
    let ws = workspace(client, &target.workspace).await?;
    Ok(format!("{}/environments/{}", super::apps::path(&ws, &target.app), encode(&target.env)))
}

/// Streams a deployment's log until it ends, then prints the outcome.
/// Returns an error when the deployment did not go live.
pub async fn follow_deployment(client: &Client, env_path: &str, app_path: &str, deployment: &Deployment) -> Result<()> {
    let logs = format!("{env_path}/deployments/{}/logs", deployment.number);
    client.follow_events(&logs, |line| println!("{line}")).await?;
    let finished: Deployment = client.get(&format!("{env_path}/deployments/{}", deployment.number)).await?;
    match finished.status {
        // The Kubernetes target: live once Argo CD syncs the commit, not at this machine's URL.
        DeploymentStatus::Deployed if finished.gitops_commit.is_some() => {
            let commit = finished.gitops_commit.as_deref().unwrap_or_default();
            let image = finished.image.as_deref().unwrap_or("no image");
            println!("-----> Deployed #{}: GitOps commit {commit}, image {image}", finished.number);
            Ok(())
        }
        DeploymentStatus::Deployed => {
            let project: Project = client.get(app_path).await?;
            println!("-----> Deployed #{}: {}", finished.number, project.url);
            Ok(())
        }
        status => bail!(
            "deployment #{} ended {status}: {}",
            finished.number,
            finished.failure_reason.as_deref().unwrap_or("no reason was recorded")
        ),
    }
}

pub async fn deploy(client: &Client, args: DeployArgs) -> Result<()> {
    client.require_login()?;
    let env_path = environment_path(client, &args.target).await?;
    let deployment: Deployment =
        client.post(&format!("{env_path}/deployments"), &CreateDeploymentRequest { commit: args.commit }).await?;
    eprintln!("Deployment #{} queued", deployment.number);
    if args.no_follow {
        return Ok(());
    }
    let ws = workspace(client, &args.target.workspace).await?;
    follow_deployment(client, &env_path, &super::apps::path(&ws, &args.target.app), &deployment).await
}

pub async fn releases(client: &Client, args: ReleasesArgs) -> Result<()> {
    client.require_login()?;
    let env_path = environment_path(client, &args.target).await?;
    let page: Page<Release> = client.get(&format!("{env_path}/releases?limit=200")).await?;
    if args.json {
        return output::json(&page.items);
    }
    let rows: Vec<Vec<String>> = page
        .items
        .iter()
        .map(|r| {
            vec![
                format!("#{}{}", r.number, if r.active { " (active)" } else { "" }),
                r.kind.as_str().to_owned(),
                r.commit_sha.as_ref().map(|c| c.short().to_owned()).unwrap_or_default(),
                r.processes.keys().map(|p| p.as_str()).collect::<Vec<_>>().join(","),
                r.created_at.to_string(),
                match (r.rollback_available, r.artifact_pruned_at) {
                    (true, _) => "yes".to_owned(),
                    (false, Some(_)) => "no (pruned)".to_owned(),
                    (false, None) => "no".to_owned(),
                },
            ]
        })
        .collect();
    output::table(&["RELEASE", "KIND", "COMMIT", "PROCESSES", "CREATED", "ROLLBACK"], &rows);
    // The reason once, not per row: they differ only by commit.
    if let Some(reason) = page.items.iter().find_map(|r| r.rollback_unavailable_reason.as_deref()) {
        println!();
        println!("Releases marked no cannot be rolled back to. The oldest: {reason}");
    }
    Ok(())
}

pub async fn rollback(client: &Client, args: RollbackArgs) -> Result<()> {
    client.require_login()?;
    let env_path = environment_path(client, &args.target).await?;
    let deployment: Deployment =
        client.post(&format!("{env_path}/rollback"), &RollbackRequest { release: args.release }).await?;
    eprintln!("Rolling back as deployment #{}", deployment.number);
    let ws = workspace(client, &args.target.workspace).await?;
    follow_deployment(client, &env_path, &super::apps::path(&ws, &args.target.app), &deployment).await
}

pub async fn logs(client: &Client, args: LogsArgs) -> Result<()> {
    client.require_login()?;
    let env_path = environment_path(client, &args.target).await?;
    match &args.build {
        Some(which) => {
            let number = if which == "latest" {
                let page: Page<Deployment> = client.get(&format!("{env_path}/deployments?limit=1")).await?;
                match page.items.first() {
                    Some(latest) => latest.number.get(),
                    None => bail!("{} has no deployments yet", args.target.app),
                }
            } else {
                which.parse().map_err(|_| anyhow::anyhow!("--build takes a deployment number"))?
            };
            let end = client
                .follow_events(&format!("{env_path}/deployments/{number}/logs"), |line| println!("{line}"))
                .await?;
            if let Some(status) = end {
                eprintln!("(deployment #{number}: {status})");
            }
        }
        None => {
            let log = if args.access { "access-log" } else { "logs" };
            let path = format!("{env_path}/{log}?lines={}&follow={}", args.lines, args.follow);
            client.follow_events(&path, |line| println!("{line}")).await?;
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct PsArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// TYPE=COUNT pairs, such as web=2 worker=1.
    #[arg(required = true)]
    pub pairs: Vec<String>,
    #[command(flatten)]
    pub target: Target,
}

pub async fn ps(client: &Client, args: PsArgs) -> Result<()> {
    client.require_login()?;
    let env_path = environment_path(client, &args.target).await?;
    let instances: Vec<Instance> = client.get(&format!("{env_path}/instances")).await?;
    // Every instance of an environment gets its memory limit.
    let environment: Environment = client.get(&env_path).await?;
    let memory = environment.resources.memory;
    if args.json {
        return output::json(&super::resources::instances_with_memory(&instances, memory)?);
    }
    let rows: Vec<Vec<String>> = instances
        .iter()
        .map(|i| {
            vec![
                i.name.clone(),
                format!("#{}", i.release),
                i.state.clone(),
                memory.to_string(),
                i.port.map(|p| p.to_string()).unwrap_or_default(),
                i.restarts.to_string(),
                i.last_exit.clone().unwrap_or_default(),
            ]
        })
        .collect();
    output::table(&["INSTANCE", "RELEASE", "STATE", "MEMORY", "PORT", "RESTARTS", "LAST EXIT"], &rows);
    Ok(())
}

pub async fn scale(client: &Client, args: ScaleArgs) -> Result<()> {
    client.require_login()?;
    let mut processes = std::collections::BTreeMap::new();
    for pair in &args.pairs {
        let Some((process, count)) = pair.split_once('=') else { bail!("`{pair}` is not TYPE=COUNT") };
        let count: u32 = count.parse().map_err(|_| anyhow::anyhow!("`{count}` is not a count"))?;
        processes.insert(process.to_owned(), count);
    }
    let env_path = environment_path(client, &args.target).await?;
    let scale: std::collections::BTreeMap<String, u32> =
        client.put(&format!("{env_path}/scale"), &ScaleRequest { processes }).await?;
    let summary: Vec<String> = scale.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("Scaled {} to {}", args.target.app, summary.join(" "));
    Ok(())
}
