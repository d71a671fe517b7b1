//! Slipway's git side. Each project has a bare repository; pushes and
//! fetches are served by git's own `receive-pack` and `upload-pack` in
//! stateless-RPC mode (the smart-HTTP protocol), never by home-made pack
//! handling. A shared `post-receive` hook (`slipway hook post-receive`)
//! turns a push to the deploy branch into a deployment and streams its build
//! back to the pusher as `remote:` lines.
//!
//! Start at [`Repos`] (where repositories live, how they are created), then
//! [`smart_http`] (the two services) and [`source`] (checking out a commit,
//! fetching a tracked URL).

pub mod repos;
pub mod smart_http;
pub mod source;

pub use repos::Repos;

/// A git command failed or git is not installed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// `git` could not be started.
    #[error("cannot run git: {0}. Install git and make sure it is on PATH")]
    Spawn(#[source] std::io::Error),
    /// git ran and failed; `stderr` holds its own words.
    #[error("`git {command}` failed: {stderr}")]
    Failed { command: String, stderr: String },
    /// A name (branch, commit) that git must never see as an option.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs `git args…`, returning stdout; stderr becomes the error text.
pub(crate) async fn git(args: &[&str], dir: Option<&std::path::Path>) -> Result<String, GitError> {
    let mut command = tokio::process::Command::new("git");
    command.args(args).env("GIT_TERMINAL_PROMPT", "0").kill_on_drop(true);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.output().await.map_err(GitError::Spawn)?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(GitError::Failed {
            command: args.iter().filter(|a| !a.contains("://")).copied().collect::<Vec<_>>().join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().chars().take(2000).collect(),
        })
    }
}
