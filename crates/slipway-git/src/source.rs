//! Getting source out of git: resolving a branch, fetching a tracked
//! repository URL into the project's repository, and exporting one commit
//! into a build directory (`git archive`, so no shared index or worktree).

use std::path::Path;
use std::process::Stdio;

use slipway_core::image_tag::CommitSha;
use slipway_core::names::{Branch, RepoUrl};

use crate::{git, GitError};

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

/// Fetches `branch` of `url` into `repo` (as the same branch) and returns its head.
pub async fn fetch(repo: &Path, url: &RepoUrl, branch: &Branch) -> Result<CommitSha, GitError> {
    let refspec = format!("+refs/heads/{branch}:refs/heads/{branch}");
    git(&["fetch", "--quiet", "--no-tags", "--end-of-options", url.as_str(), &refspec], Some(repo)).await?;
    branch_head(repo, branch).await?.ok_or_else(|| GitError::Invalid(format!("branch {branch} was not found in {url}")))
}

/// Writes the tree of `commit` into `dir` (which must exist and be empty).
pub async fn export(repo: &Path, commit: &CommitSha, dir: &Path) -> Result<(), GitError> {
    let mut archive = tokio::process::Command::new("git")
        .args(["archive", "--format=tar", commit.as_str()])
        .current_dir(repo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(GitError::Spawn)?;
    let archive_out: Stdio =
        archive.stdout.take().ok_or_else(|| GitError::Invalid("git archive has no output pipe".into()))?.try_into()?;
    let tar = tokio::process::Command::new("tar")
        .args(["-x", "-f", "-", "-C"])
        .arg(dir)
        .stdin(archive_out)
        .kill_on_drop(true)
        .output();
    let (archived, extracted) = tokio::join!(archive.wait_with_output(), tar);
    let archived = archived?;
    if !archived.status.success() {
        return Err(GitError::Failed {
            command: format!("archive {commit}"),
            stderr: String::from_utf8_lossy(&archived.stderr).into_owned(),
        });
    }
    let extracted = extracted?;
    if !extracted.status.success() {
        return Err(GitError::Failed {
            command: "tar -x".into(),
            stderr: String::from_utf8_lossy(&extracted.stderr).into_owned(),
        });
    }
    Ok(())
}
