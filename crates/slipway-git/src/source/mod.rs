//! Getting source out of git: resolving a branch, fetching a tracked
//! repository URL into the project's repository (`fetch.rs`: only what the
//! [`RepoPolicy`](slipway_core::repo::RepoPolicy) allows, pinned to the
//! addresses checked), and exporting one commit into a build directory
//! (`export.rs`: `git archive`, bounded by the unpacked size of the tree)
//! with its submodules (`submodules.rs`: fetched under the same policy).

mod export;
mod fetch;
mod submodules;
mod tree;

pub use export::{export, CheckoutLimits};
pub use fetch::fetch;
pub use submodules::{export_submodules, Submodule};

use std::path::Path;

use slipway_core::image_tag::CommitSha;
use slipway_core::names::Branch;

use crate::{git, GitError};

/// Starts `git args…` in `repo` with stdout and stderr piped, for the
/// commands whose output is read as it comes (killed when dropped).
fn spawn_git(repo: &Path, args: &[&str]) -> Result<tokio::process::Child, GitError> {
    crate::command::tokio_git()
        .args(args)
        .current_dir(repo)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(GitError::Spawn)
}

/// The commit a branch points at, if the branch exists.
pub async fn branch_head(repo: &Path, branch: &Branch) -> Result<Option<CommitSha>, GitError> {
    let reference = format!("refs/heads/{branch}^{{commit}}");
    match git(&["rev-parse", "--verify", "--quiet", "--end-of-options", &reference], Some(repo)).await {
        Ok(sha) => CommitSha::parse(sha.trim()).map(Some).map_err(|err| GitError::Invalid(err.to_string())),
        Err(GitError::Failed { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Whether `commit` exists in `repo` as a commit.
pub async fn has_commit(repo: &Path, commit: &CommitSha) -> Result<bool, GitError> {
    let object = format!("{commit}^{{commit}}");
    match git(&["cat-file", "-e", &object], Some(repo)).await {
        Ok(_) => Ok(true),
        Err(GitError::Failed { .. }) => Ok(false),
        Err(err) => Err(err),
    }
}
