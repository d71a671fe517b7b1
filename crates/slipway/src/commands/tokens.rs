use anyhow::Result;
use clap::Args;
use slipway_core::api::{CreateTokenRequest, CreatedToken};

use crate::client::Client;
use crate::output;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name to recognise the token by.
    pub name: String,
    /// Lifetime in seconds (default: no expiry).
    #[arg(long)]
    pub expires_in: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn create(client: &Client, args: CreateArgs) -> Result<()> {
    client.require_login()?;
    let token: CreatedToken =
        client.post("/v1/tokens", &CreateTokenRequest { name: args.name, expires_in: args.expires_in }).await?;
    if args.json {
        return output::json(&token);
    }
    println!("{}", token.token);
    eprintln!("Token {} created; it is shown only this once.", token.id);
    Ok(())
}
