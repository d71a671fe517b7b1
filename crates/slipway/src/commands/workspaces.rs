use anyhow::Result;
use clap::Args;
use slipway_core::api::{CreateWorkspaceRequest, Page, Workspace};

use crate::client::Client;
use crate::credentials::{self, Credentials};
use crate::output;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// DNS-safe slug: lower-case letters, digits and `-`.
    pub slug: String,
    /// Display name (default: the slug).
    #[arg(long)]
    pub name: Option<String>,
}

pub async fn list(client: &Client, json: bool) -> Result<()> {
    client.require_login()?;
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v1/workspaces?limit=200&cursor={}", super::encode(cursor)),
            None => "/v1/workspaces?limit=200".to_owned(),
        };
        let page: Page<Workspace> = client.get(&path).await?;
        all.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    if json {
        return output::json(&all);
    }
    let default = client.saved.workspace.as_deref();
    let rows = all
        .iter()
        .map(|w| {
            let mark = if Some(w.slug.as_str()) == default { "*" } else { "" };
            vec![format!("{}{mark}", w.slug), w.name.clone(), w.role.map_or("-".into(), |r| r.to_string())]
        })
        .collect::<Vec<_>>();
    output::table(&["WORKSPACE", "NAME", "ROLE"], &rows);
    Ok(())
}

pub async fn create(client: Client, args: CreateArgs) -> Result<()> {
    client.require_login()?;
    let workspace: Workspace =
        client.post("/v1/workspaces", &CreateWorkspaceRequest { slug: args.slug, name: args.name }).await?;
    if client.saved.workspace.is_none() && client.saved.token.is_some() {
        credentials::save(&Credentials { workspace: Some(workspace.slug.to_string()), ..client.saved.clone() })?;
    }
    println!("Created workspace {}", workspace.slug);
    Ok(())
}
