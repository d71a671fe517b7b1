//! The verbs, Heroku style. Reads take `--json`; the workspace comes from
//! `-w`, `SLIPWAY_WORKSPACE`, the saved default, or the caller's only one.

mod apps;
mod auth;
mod config;
mod deploy;
mod detect;
mod domains;
mod hook;
mod kubernetes;
mod members;
pub mod platform;
mod resources;
mod tokens;
mod workspaces;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use slipway_core::api::{Page, Workspace};

use crate::client::Client;
use crate::settings::UpSettings;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the platform on this machine (embedded SQLite unless SLIPWAY_DATABASE_URL says otherwise).
    Up(UpSettings),
    /// Run the agent alone: app supervisor and edge router (`up` starts it for you).
    Agent(UpSettings),
    /// Stop the agent, and with it every app on this machine.
    Down(UpSettings),
    /// Deploy the head of the app's branch and stream the build.
    Deploy(deploy::DeployArgs),
    /// Show an app's runtime log, or a build log with --build [N].
    Logs(deploy::LogsArgs),
    /// List an app's releases.
    Releases(deploy::ReleasesArgs),
    /// Re-activate an earlier release (default: the one before the active one).
    Rollback(deploy::RollbackArgs),
    /// List an app's hostnames, generated first.
    Domains(domains::ListArgs),
    /// Route a custom domain to an app.
    #[command(name = "domains:add")]
    DomainsAdd(domains::DomainArgs),
    /// Stop routing a custom domain to an app.
    #[command(name = "domains:remove")]
    DomainsRemove(domains::DomainArgs),
    /// Redirect plain-HTTP requests for a hostname to HTTPS (or stop, with --off).
    #[command(name = "domains:https-redirect")]
    DomainsHttpsRedirect(domains::RedirectArgs),
    /// List an app's running instances with their memory limit and restart counts.
    Ps(deploy::PsArgs),
    /// Set instances per process type: web=2 worker=1.
    #[command(name = "ps:scale")]
    PsScale(deploy::ScaleArgs),
    /// Set what each instance of an app may use: --memory 512M --cpu 0.5 --max-processes 128.
    #[command(name = "ps:resize")]
    PsResize(resources::ResizeArgs),
    /// Show a workspace's quota and what it uses.
    Quotas(resources::QuotasArgs),
    /// Set a workspace's quota (platform admins): --memory 8G --instances 20 --projects 10.
    #[command(name = "quotas:set")]
    QuotasSet(resources::SetQuotasArgs),
    /// Print the build plan Slipway would use for a source tree.
    Detect(detect::DetectArgs),
    /// Switch where an environment runs: local or kubernetes.
    #[command(name = "env:set-target")]
    EnvSetTarget(kubernetes::SetTargetArgs),
    /// The Kubernetes target's GitOps repository.
    #[command(subcommand)]
    Gitops(kubernetes::GitopsCommand),
    /// Serve a static site on 127.0.0.1:$PORT (what static releases run).
    #[command(name = "serve-static", hide = true)]
    ServeStatic(platform::ServeStaticArgs),
    /// Serve a PHP app with php-fpm behind nginx on 127.0.0.1:$PORT (what PHP releases run).
    #[command(name = "serve-php", hide = true)]
    ServePhp(platform::ServePhpArgs),
    /// Git hooks, run by Slipway's git server.
    #[command(hide = true, subcommand)]
    Hook(HookCommand),
    /// Log in and save a session token.
    Login(auth::LoginArgs),
    /// Revoke the saved session and forget it.
    Logout,
    /// Show who you are logged in as.
    Whoami(JsonFlag),
    /// List your workspaces.
    Workspaces(JsonFlag),
    /// Create a workspace (and make it your default).
    #[command(name = "workspaces:create")]
    WorkspacesCreate(workspaces::CreateArgs),
    /// List the apps (projects) of a workspace.
    Apps(WorkspaceJson),
    /// Create an app; prints its URL.
    #[command(name = "apps:create")]
    AppsCreate(apps::CreateArgs),
    /// Show an app: environments, URLs, repository.
    #[command(name = "apps:info")]
    AppsInfo(apps::InfoArgs),
    /// Change an app's settings: --build-timeout 30m.
    #[command(name = "apps:update")]
    AppsUpdate(apps::UpdateArgs),
    /// Delete an app with everything in it.
    #[command(name = "apps:destroy")]
    AppsDestroy(apps::DestroyArgs),
    /// Show an app's config vars (secrets masked).
    Config(config::ShowArgs),
    /// Set config vars: KEY=VALUE ...
    #[command(name = "config:set")]
    ConfigSet(config::SetArgs),
    /// Remove config vars: KEY ...
    #[command(name = "config:unset")]
    ConfigUnset(config::UnsetArgs),
    /// Add a user to a workspace with a role.
    #[command(name = "members:add")]
    MembersAdd(members::AddArgs),
    /// Create a personal API token (shown once).
    #[command(name = "tokens:create")]
    TokensCreate(tokens::CreateArgs),
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    #[command(name = "post-receive")]
    PostReceive,
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WorkspaceArg {
    /// Workspace slug (default: SLIPWAY_WORKSPACE, the saved default, or your only workspace).
    #[arg(short, long, env = "SLIPWAY_WORKSPACE")]
    pub workspace: Option<String>,
}

#[derive(Debug, Args)]
pub struct WorkspaceJson {
    #[command(flatten)]
    pub workspace: WorkspaceArg,
    #[command(flatten)]
    pub json: JsonFlag,
}

pub async fn run(command: Command) -> Result<()> {
    let command = match command {
        Command::Up(settings) => return crate::up::run(settings).await,
        Command::Agent(settings) => return platform::agent(settings).await,
        Command::Down(settings) => return platform::down(settings).await,
        Command::Detect(args) => return detect::detect(args),
        Command::ServeStatic(args) => return platform::serve_static(args).await,
        Command::ServePhp(args) => return platform::serve_php(args).await,
        Command::Hook(HookCommand::PostReceive) => return hook::post_receive().await,
        // Renders locally: no login, no API, so a broken credentials file cannot get in the way.
        Command::Gitops(kubernetes::GitopsCommand::Install(args)) => return kubernetes::install(args),
        client_command => client_command,
    };
    let client = Client::from_env()?;
    match command {
        Command::Up(_)
        | Command::Agent(_)
        | Command::Down(_)
        | Command::Detect(_)
        | Command::ServeStatic(_)
        | Command::ServePhp(_)
        | Command::Hook(_) => unreachable!("handled above"),
        Command::Deploy(args) => deploy::deploy(&client, args).await,
        Command::Logs(args) => deploy::logs(&client, args).await,
        Command::Releases(args) => deploy::releases(&client, args).await,
        Command::Rollback(args) => deploy::rollback(&client, args).await,
        Command::Ps(args) => deploy::ps(&client, args).await,
        Command::Domains(args) => domains::list(&client, args).await,
        Command::DomainsAdd(args) => domains::add(&client, args).await,
        Command::DomainsRemove(args) => domains::remove(&client, args).await,
        Command::DomainsHttpsRedirect(args) => domains::https_redirect(&client, args).await,
        Command::PsScale(args) => deploy::scale(&client, args).await,
        Command::PsResize(args) => resources::resize(&client, args).await,
        Command::Quotas(args) => resources::show(&client, args).await,
        Command::QuotasSet(args) => resources::set(&client, args).await,
        Command::EnvSetTarget(args) => kubernetes::set_target(&client, args).await,
        Command::Gitops(command) => kubernetes::gitops(&client, command).await,
        Command::Login(args) => auth::login(client, args).await,
        Command::Logout => auth::logout(client).await,
        Command::Whoami(flag) => auth::whoami(&client, flag.json).await,
        Command::Workspaces(flag) => workspaces::list(&client, flag.json).await,
        Command::WorkspacesCreate(args) => workspaces::create(client, args).await,
        Command::Apps(args) => apps::list(&client, args).await,
        Command::AppsCreate(args) => apps::create(&client, args).await,
        Command::AppsInfo(args) => apps::info(&client, args).await,
        Command::AppsUpdate(args) => apps::update(&client, args).await,
        Command::AppsDestroy(args) => apps::destroy(&client, args).await,
        Command::Config(args) => config::show(&client, args).await,
        Command::ConfigSet(args) => config::set(&client, args).await,
        Command::ConfigUnset(args) => config::unset(&client, args).await,
        Command::MembersAdd(args) => members::add(&client, args).await,
        Command::TokensCreate(args) => tokens::create(&client, args).await,
    }
}

/// The workspace a command acts on.
pub async fn workspace(client: &Client, arg: &WorkspaceArg) -> Result<String> {
    if let Some(slug) = arg.workspace.clone().or_else(|| client.saved.workspace.clone()) {
        return Ok(slug);
    }
    client.require_login()?;
    let page: Page<Workspace> = client.get("/v1/workspaces?limit=2").await?;
    match page.items.as_slice() {
        [only] => Ok(only.slug.to_string()),
        [] => bail!("you have no workspace yet; create one with `slipway workspaces:create SLUG`"),
        _ => {
            bail!("you belong to several workspaces; choose one with -w SLUG or SLIPWAY_WORKSPACE")
        }
    }
}

/// Percent-encodes one path segment or query value.
pub use slipway_core::percent::encode;
