use anyhow::Result;
use clap::Args;
use slipway_core::api::{AddMemberRequest, Member};

use super::{encode, workspace, WorkspaceArg};
use crate::client::Client;

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The user to add.
    pub username: String,
    /// owner, admin, developer or viewer.
    #[arg(long, default_value = "developer")]
    pub role: String,
    #[command(flatten)]
    pub workspace: WorkspaceArg,
}

pub async fn add(client: &Client, args: AddArgs) -> Result<()> {
    client.require_login()?;
    let ws = workspace(client, &args.workspace).await?;
    let body = AddMemberRequest { username: args.username, role: args.role };
    let member: Member = client.post(&format!("/v1/workspaces/{}/members", encode(&ws)), &body).await?;
    println!("Added {} to {ws} as {}", member.username, member.role);
    Ok(())
}
