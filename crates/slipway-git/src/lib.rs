//! Slipway's git side. Each project has a bare repository; pushes and
//! fetches are served by git's own `receive-pack` and `upload-pack` in
//! stateless-RPC mode (the smart-HTTP protocol), never by home-made pack
//! handling. A shared `post-receive` hook (`slipway hook post-receive`)
//! turns a push to the deploy branch into a deployment and streams its build
//! back to the pusher as `remote:` lines.
//!
//! Start at [`Repos`] (where repositories live, how they are created), then
//! [`smart_http`] (the two services) and [`source`] (checking out a commit
//! within its size limits, fetching a tracked URL the platform's policy allows).

pub mod command;
pub mod repos;
pub mod smart_http;
pub mod source;

pub use repos::Repos;

/// A git command failed, git is not installed, or what a tenant handed the
/// platform (a repository URL, a commit's tree) is refused.
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
    /// The platform's [`RepoPolicy`](slipway_core::repo::RepoPolicy) refuses
    /// the repository URL or what it resolves to; git did not run.
    #[error("{0}")]
    Refused(#[from] slipway_core::repo::RepoRefused),
    /// The host of a repository URL does not resolve.
    #[error("cannot resolve the repository host {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
    /// An allowed local repository path cannot be opened.
    #[error("cannot open the local repository {}: {source}", path.display())]
    NoLocalRepository {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A commit's files are larger, unpacked, than a checkout may be; nothing was written.
    #[error(
        "the commit's files take {} unpacked, over the checkout limit of {}; the largest is `{largest}` ({}). \
         Remove large files from the repository, or ask the platform admin to raise SLIPWAY_MAX_CHECKOUT_SIZE",
        Size(*bytes), Size(*limit), Size(*largest_bytes)
    )]
    CheckoutTooLarge { bytes: u64, limit: u64, largest: String, largest_bytes: u64 },
    /// A commit has more files than a checkout may hold; nothing was written.
    #[error(
        "the commit has more than {limit} files, the checkout limit; ask the platform admin to raise \
         SLIPWAY_MAX_CHECKOUT_FILES"
    )]
    TooManyFiles { limit: u64 },
    /// A commit's tree holds a path that could write outside the checkout
    /// (only a crafted tree does); nothing was written.
    #[error("the commit's tree has the path `{path}`, which {reason}; it is not checked out")]
    UnsafeTree { path: String, reason: &'static str },
    /// `git archive` wrote more than the measured tree can take; the partial
    /// checkout was removed.
    #[error("git archive wrote more than the {} its tree allows; the checkout was stopped and removed", Size(*budget))]
    ArchiveOverBudget { budget: u64 },
}

/// A byte count as people read it: `3.0 GiB`, `12 bytes`.
struct Size(u64);

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
        if self.0 < 1024 {
            return write!(f, "{} bytes", self.0);
        }
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit < UNITS.len() - 1 {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
}

/// Runs `git args…`, returning stdout; stderr becomes the error text.
pub(crate) async fn git(args: &[&str], dir: Option<&std::path::Path>) -> Result<String, GitError> {
    git_env(args, dir, &[]).await
}

/// [`git`] with `env` added to git's environment. Errors show the command as
/// [`command::shown_args`] does: without `-c` pairs and URLs.
pub(crate) async fn git_env(
    args: &[&str],
    dir: Option<&std::path::Path>,
    env: &[(&str, &str)],
) -> Result<String, GitError> {
    let mut command = command::tokio_git();
    command.args(args);
    run(command, args, dir, env).await
}

/// What a git process that talks to a server the tenant chose may spend: a
/// pack larger than `max_file_bytes` kills it (RLIMIT_FSIZE, through
/// `prlimit`), and it may run for `timeout` at most.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) max_file_bytes: u64,
    pub(crate) timeout: std::time::Duration,
}

/// [`git_env`] within `bounds`.
pub(crate) async fn git_bounded(
    args: &[&str],
    dir: Option<&std::path::Path>,
    env: &[(&str, &str)],
    bounds: Bounds,
) -> Result<String, GitError> {
    let mut command = std::process::Command::new("prlimit");
    command::prepare(&mut command).arg(format!("--fsize={}", bounds.max_file_bytes)).arg("--").arg("git").args(args);
    let command = tokio::process::Command::from(command);
    let limit = bounds.max_file_bytes;
    match tokio::time::timeout(bounds.timeout, run(command, args, dir, env)).await {
        Err(_) => Err(GitError::Invalid(format!(
            "git did not finish within {} s; the repository server is too slow or sends too much",
            bounds.timeout.as_secs()
        ))),
        // SIGXFSZ (signal 25) or EFBIG: a file grew past the limit.
        Ok(Err(GitError::Failed { stderr, .. }))
            if stderr.contains("signal 25") || stderr.contains("File too large") =>
        {
            Err(GitError::Invalid(format!(
                "the repository sends more than {} of objects; fetches are limited to that",
                Size(limit)
            )))
        }
        Ok(result) => result,
    }
}

async fn run(
    mut command: tokio::process::Command,
    args: &[&str],
    dir: Option<&std::path::Path>,
    env: &[(&str, &str)],
) -> Result<String, GitError> {
    command.envs(env.iter().copied()).kill_on_drop(true);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.output().await.map_err(GitError::Spawn)?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(GitError::Failed {
            command: crate::command::shown_args(args),
            stderr: crate::command::shown_stderr(&output.stderr),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Size;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(Size(12).to_string(), "12 bytes");
        assert_eq!(Size(10 << 20).to_string(), "10.0 MiB");
        assert_eq!(Size(3 << 30).to_string(), "3.0 GiB");
        assert_eq!(Size(1536).to_string(), "1.5 KiB");
    }
}
