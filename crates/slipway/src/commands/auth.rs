use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context, Result};
use clap::Args;
use slipway_core::api::{LoginRequest, LoginResponse, User};

use crate::client::Client;
use crate::credentials::{self, Credentials};
use crate::output;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Your username (asked for when omitted).
    #[arg(short, long)]
    pub username: Option<String>,
    /// Read the password from standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
    /// API URL to log in to (default: SLIPWAY_API_URL or http://127.0.0.1:8080).
    #[arg(long)]
    pub api_url: Option<String>,
}

fn read_line(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("while reading standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub async fn login(client: Client, args: LoginArgs) -> Result<()> {
    let base = args.api_url.clone().unwrap_or_else(|| client.base.clone());
    let username = match args.username {
        Some(username) => username,
        None => read_line("Username: ")?,
    };
    let password = if args.password_stdin || !std::io::stdin().is_terminal() {
        read_line("")?
    } else {
        rpassword::prompt_password("Password: ").context("while reading the password")?
    };
    if password.is_empty() {
        bail!("no password given");
    }
    let anonymous = Client::new(base.clone(), None, Credentials::default())?;
    let session: LoginResponse = anonymous.post("/v1/auth/login", &LoginRequest { username, password }).await?;
    let saved = Credentials {
        api_url: Some(base.clone()),
        token: Some(session.token),
        username: Some(session.user.username.to_string()),
        // A different user or server keeps no stale default workspace.
        workspace: client
            .saved
            .workspace
            .filter(|_| client.saved.username.as_deref() == Some(session.user.username.as_str())),
    };
    credentials::save(&saved)?;
    eprintln!("Logged in to {base} as {}", session.user.username);
    Ok(())
}

pub async fn logout(client: Client) -> Result<()> {
    if client.token().is_some() {
        // The session may already be gone; forgetting it locally is what matters.
        if let Err(err) = client.post::<_, ()>("/v1/auth/logout", &serde_json::json!({})).await {
            eprintln!("warning: the server did not revoke the session: {err:#}");
        }
    }
    let saved = Credentials { token: None, ..client.saved.clone() };
    credentials::save(&saved)?;
    eprintln!("Logged out");
    Ok(())
}

pub async fn whoami(client: &Client, json: bool) -> Result<()> {
    client.require_login()?;
    let user: User = client.get("/v1/me").await?;
    if json {
        return output::json(&user);
    }
    let role = if user.is_admin { " (platform admin)" } else { "" };
    println!("{}{role} on {}", user.username, client.base);
    Ok(())
}
