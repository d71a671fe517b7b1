//! `slipway hook post-receive`: run by git inside the server after a push
//! (see `slipway-git`). A push to the deploy branch becomes a deployment
//! whose log streams back to the pusher as `remote:` lines; a push to any
//! other branch is stored and says so. Its settings come from the git
//! server in `SLIPWAY_*` variables.

use std::io::BufRead;

use anyhow::{Context, Result};
use slipway_core::api::{CreateDeploymentRequest, Deployment};

use super::encode;
use crate::client::Client;
use crate::credentials::Credentials;

const ZERO: &str = "0000000000000000000000000000000000000000";

fn setting(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set; this command is run by Slipway's git server"))
}

pub async fn post_receive() -> Result<()> {
    let client = Client::new(setting("SLIPWAY_API_URL")?, Some(setting("SLIPWAY_TOKEN")?), Credentials::default())?;
    let (workspace, app, branch) = (setting("SLIPWAY_WORKSPACE")?, setting("SLIPWAY_APP")?, setting("SLIPWAY_BRANCH")?);
    let deploy_ref = format!("refs/heads/{branch}");
    let updates: Vec<(String, String, String)> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| {
            let mut parts = line.split_whitespace().map(str::to_owned);
            Some((parts.next()?, parts.next()?, parts.next()?))
        })
        .collect();
    let app_path = super::apps::path(&workspace, &app);
    let env_path = format!("{app_path}/environments/production");
    for (_old, new, reference) in updates {
        if reference != deploy_ref {
            let name = reference.strip_prefix("refs/heads/").unwrap_or(&reference);
            println!("-----> Stored {name}. Only pushes to {branch} deploy {app}.");
            continue;
        }
        if new == ZERO {
            println!("-----> {branch} was deleted; nothing to deploy, the running release stays.");
            continue;
        }
        let request = CreateDeploymentRequest { commit: Some(new.clone()) };
        let deployment: Deployment = match client.post(&format!("{env_path}/deployments"), &request).await {
            Ok(deployment) => deployment,
            Err(err) => {
                println!(" !     Could not start a deployment: {err:#}");
                continue;
            }
        };
        println!("-----> Deploying {app} #{} ({}) to production", deployment.number, &new[..new.len().min(12)]);
        if let Err(err) = super::deploy::follow_deployment(&client, &env_path, &app_path, &deployment).await {
            println!(" !     {err:#}");
            println!(
                " !     The previous release keeps serving. Logs: slipway logs --build {} -a {}",
                deployment.number,
                encode(&app)
            );
        }
    }
    Ok(())
}
