use std::io::IsTerminal;

use anyhow::{bail, Result};
use clap::Args;
use slipway_core::api::{CreateProjectRequest, Page, Project, UpdateProjectRequest};
use slipway_core::build_timeout::BuildTimeout;
use slipway_core::root_dir::RootDir;

use super::{encode, workspace, WorkspaceArg, WorkspaceJson};
use crate::client::Client;
use crate::output;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// DNS-safe app name, unique in the workspace.
    pub name: String,
    #[command(flatten)]
    pub workspace: WorkspaceArg,
    /// Track this git repository instead of pushes to Slipway.
    #[arg(long)]
    pub repo: Option<String>,
    /// Deploy branch (default main).
    #[arg(long)]
    pub branch: Option<String>,
    /// Your own domain as the primary URL.
    #[arg(long)]
    pub domain: Option<String>,
    /// Print the created app as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The app.
    pub app: String,
    #[command(flatten)]
    pub workspace: WorkspaceJson,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The app.
    #[arg(short, long, env = "SLIPWAY_APP")]
    pub app: String,
    #[command(flatten)]
    pub workspace: WorkspaceArg,
    /// How long one build may take: 90s, 20m, 1h or 1h30m, from 1 minute to 2 hours
    /// (`default`: the platform's, 15 minutes). A build already running keeps its limit.
    #[arg(long)]
    pub build_timeout: Option<String>,
    /// The directory of the repository that holds the app, like `apps/web` (a monorepo); only it
    /// is built and shipped. It wins over `root_dir` in the repository's slipway.toml (`default`:
    /// that, or the repository's root). Takes effect at the next deploy.
    #[arg(long)]
    pub root_dir: Option<String>,
    /// Print the app as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The app.
    pub app: String,
    #[command(flatten)]
    pub workspace: WorkspaceArg,
    /// The app's name again, to confirm without a prompt.
    #[arg(long)]
    pub confirm: Option<String>,
}

pub fn path(ws: &str, app: &str) -> String {
    format!("/v1/workspaces/{}/projects/{}", encode(ws), encode(app))
}

pub async fn list(client: &Client, args: WorkspaceJson) -> Result<()> {
    client.require_login()?;
    let ws = workspace(client, &args.workspace).await?;
    let mut apps = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/workspaces/{}/projects?limit=200", encode(&ws));
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", encode(cursor)));
        }
        let page: Page<Project> = client.get(&path).await?;
        apps.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    if args.json.json {
        return output::json(&apps);
    }
    let rows: Vec<Vec<String>> = apps.iter().map(|a| vec![a.slug.to_string(), a.url.clone()]).collect();
    output::table(&["APP", "URL"], &rows);
    Ok(())
}

pub async fn create(client: &Client, args: CreateArgs) -> Result<()> {
    client.require_login()?;
    let ws = workspace(client, &args.workspace).await?;
    let body =
        CreateProjectRequest { slug: args.name, repo_url: args.repo, branch: args.branch, custom_domain: args.domain };
    let project: Project = client.post(&format!("/v1/workspaces/{}/projects", encode(&ws)), &body).await?;
    if args.json {
        return output::json(&project);
    }
    println!("Created {} in workspace {}", project.slug, project.workspace);
    println!("URL (live after the first deploy): {}", project.url);
    Ok(())
}

pub async fn info(client: &Client, args: InfoArgs) -> Result<()> {
    client.require_login()?;
    let ws = workspace(client, &args.workspace.workspace).await?;
    let project: Project = client.get(&path(&ws, &args.app)).await?;
    if args.workspace.json.json {
        return output::json(&project);
    }
    println!("=== {} ({})", project.slug, project.workspace);
    println!("URL:        {}", project.url);
    println!("Repository: {}", project.repo_url.as_deref().unwrap_or("git push to Slipway"));
    println!("Branch:     {}", project.branch);
    println!("Build time: at most {}", describe_build_timeout(project.build_timeout));
    if let Some(dir) = &project.root_dir {
        println!("App dir:    {dir}/");
    }
    println!("Created:    {}", project.created_at);
    println!();
    let rows: Vec<Vec<String>> = project
        .environments
        .iter()
        .map(|e| vec![e.name.to_string(), e.url.clone(), e.hostnames.join(", "), e.target.as_str().to_owned()])
        .collect();
    output::table(&["ENVIRONMENT", "URL", "HOSTNAMES", "TARGET"], &rows);
    if let Some(usage) = &project.disk_usage {
        let at_least = if usage.complete { "" } else { "at least " };
        println!();
        println!("Disk use on the server, {at_least}{} (measured {}):", output::bytes(usage.total), usage.measured_at);
        for (what, bytes) in [
            ("repository", usage.repository),
            ("builds (kept releases)", usage.builds),
            ("build cache", usage.build_cache),
            ("build logs", usage.build_logs),
            ("runtime logs", usage.runtime_logs),
            ("access logs", usage.access_logs),
        ] {
            println!("  {what:<24}{}", output::bytes(bytes));
        }
    }
    Ok(())
}

/// `15m`, or the seconds as given when a newer server allows what this client does not know.
fn describe_build_timeout(seconds: u64) -> String {
    BuildTimeout::from_secs(seconds).map_or_else(|_| format!("{seconds}s"), |timeout| timeout.to_string())
}

pub async fn update(client: &Client, args: UpdateArgs) -> Result<()> {
    client.require_login()?;
    if args.build_timeout.is_none() && args.root_dir.is_none() {
        bail!("name what to change: --build-timeout 30m or --root-dir apps/web (or `default`)");
    }
    // Checked here too, so that a typo fails before any request.
    let build_timeout = match args.build_timeout.as_deref() {
        None => None,
        Some("default") => Some(None),
        Some(text) => Some(Some(i64::try_from(BuildTimeout::parse(text)?.as_secs())?)),
    };
    let root_dir = match args.root_dir.as_deref() {
        None => None,
        Some("default") => Some(None),
        Some(text) => Some(Some(RootDir::parse(text.trim_end_matches('/'))?.to_string())),
    };
    let ws = workspace(client, &args.workspace).await?;
    let body = UpdateProjectRequest { build_timeout, root_dir, ..UpdateProjectRequest::default() };
    let project: Project = client.patch(&path(&ws, &args.app), &body).await?;
    if args.json {
        return output::json(&project);
    }
    if args.build_timeout.is_some() {
        println!("Builds of {} now stop after {}", project.slug, describe_build_timeout(project.build_timeout));
    }
    if args.root_dir.is_some() {
        match &project.root_dir {
            Some(dir) => println!("{} is built from {dir}/ of its repository from the next deploy on", project.slug),
            None => println!("{} is built from its repository's root (or slipway.toml's root_dir)", project.slug),
        }
    }
    Ok(())
}

pub async fn destroy(client: &Client, args: DestroyArgs) -> Result<()> {
    client.require_login()?;
    let ws = workspace(client, &args.workspace).await?;
    let confirmed = match args.confirm {
        Some(confirm) => confirm == args.app,
        None if std::io::stdin().is_terminal() => {
            eprint!("This deletes {} with its environments, config and history. Type its name to confirm: ", args.app);
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim() == args.app
        }
        None => bail!("pass --confirm {} to delete it without a prompt", args.app),
    };
    if !confirmed {
        bail!("confirmation did not match `{}`; nothing was deleted", args.app);
    }
    client.delete::<()>(&path(&ws, &args.app)).await?;
    println!("Destroyed {}", args.app);
    Ok(())
}
