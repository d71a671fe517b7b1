//! Runs the system `git` in the working clone. Real git, not a library: the
//! remote may be anything git can reach (a local bare repo, HTTPS, SSH) with
//! the credentials helpers the operator already configured. Started as every
//! git of Slipway's is (`slipway_git::command`), with Slipway's identity.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::error::{GitopsError, Result};

/// Identity of Slipway's commits; the deployment is named in the message.
const AUTHOR_NAME: &str = "Slipway";
const AUTHOR_EMAIL: &str = "gitops@slipway.invalid";

pub(crate) struct Git {
    workdir: PathBuf,
}

impl Git {
    pub(crate) fn new(workdir: &Path) -> Self {
        Self { workdir: workdir.to_owned() }
    }

    pub(crate) fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// Runs git and returns its output whatever the exit status.
    pub(crate) fn raw(&self, args: &[&str]) -> Result<Output> {
        self.command(args).stdin(Stdio::null()).output().map_err(GitopsError::GitMissing)
    }

    fn raw_with_input(&self, args: &[&str], input: &[u8]) -> Result<Output> {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(GitopsError::GitMissing)?;
        // `git fast-import --quiet` prints almost nothing, so writing all input before reading cannot deadlock.
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input).map_err(|err| GitopsError::io(&self.workdir, err))?;
        }
        child.wait_with_output().map_err(|err| GitopsError::io(&self.workdir, err))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = slipway_git::command::git();
        command
            .current_dir(&self.workdir)
            .args(["-c", &format!("user.name={AUTHOR_NAME}"), "-c", &format!("user.email={AUTHOR_EMAIL}")])
            .args(["-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"])
            // Housekeeping in the background of a deployment would only add latency; see `RepoWriter::open`.
            .args(["-c", "maintenance.auto=false", "-c", "gc.autoDetach=true"])
            .args(args);
        command
    }

    /// Runs git and returns stdout, or a [`GitopsError::Git`] naming the command.
    pub(crate) fn run(&self, args: &[&str]) -> Result<String> {
        self.run_with_input(args, None)
    }

    /// Like [`Git::run`], feeding `input` on stdin.
    pub(crate) fn run_with_input(&self, args: &[&str], input: Option<&[u8]>) -> Result<String> {
        let output = match input {
            None => self.raw(args)?,
            Some(input) => self.raw_with_input(args, input)?,
        };
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            let args = slipway_git::command::shown_args(args);
            Err(GitopsError::Git { args, workdir: self.workdir.clone(), stderr: stderr_of(&output) })
        }
    }

    /// Whether `git <args>` exits 0 (for questions such as "does this ref exist").
    pub(crate) fn succeeds(&self, args: &[&str]) -> Result<bool> {
        Ok(self.raw(args)?.status.success())
    }
}

pub(crate) fn stderr_of(output: &Output) -> String {
    slipway_git::command::shown_stderr(&output.stderr)
}

/// Whether a failed push lost a race (retry after a fetch) rather than failed outright.
pub(crate) fn is_push_race(stderr: &str) -> bool {
    ["non-fast-forward", "fetch first", "[rejected]", "cannot lock ref", "failed to update ref", "stale info"]
        .iter()
        .any(|needle| stderr.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::is_push_race;

    #[test]
    fn races_are_told_apart_from_refusals() {
        assert!(is_push_race(" ! [rejected]        main -> main (fetch first)"));
        assert!(is_push_race("error: cannot lock ref 'refs/heads/main': is at 1 but expected 2"));
        assert!(!is_push_race(
            "remote: pushes are frozen\n ! [remote rejected] main -> main (pre-receive hook declined)"
        ));
        assert!(!is_push_race("fatal: Authentication failed for 'https://git.example.com/gitops.git/'"));
    }
}
