//! `git` as Slipway runs it, wherever it runs it (this crate, the GitOps writer, the
//! pipeline): one environment, and one way to show a failure.

use std::process::Command;

/// `git`, in the environment of [`prepare`].
pub fn git() -> Command {
    let mut command = Command::new("git");
    prepare(&mut command);
    command
}

/// [`git`] for async callers, killed when its handle is dropped.
pub fn tokio_git() -> tokio::process::Command {
    let mut command = tokio::process::Command::from(git());
    command.kill_on_drop(true);
    command
}

/// Gives `command` (git, or a wrapper that runs git) the environment every git of Slipway's
/// runs in: no terminal prompt (nobody watches one, so a missing password fails at once),
/// English messages (some are matched), and nothing of an enclosing hook's repository
/// (`GIT_DIR` and its kin would point git at another one).
pub fn prepare(command: &mut Command) -> &mut Command {
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
}

/// git's stderr as it may be shown: trimmed, and at most 2,000 characters — enough to act
/// on, never a wall of text in a deployment's reason.
pub fn shown_stderr(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr).trim().chars().take(2000).collect()
}

/// A git command line as it may be shown: its leading `-c name=value` pairs and any URL
/// (which may carry credentials) left out.
pub fn shown_args(args: &[&str]) -> String {
    let mut rest = args;
    while let ["-c", _, after @ ..] = rest {
        rest = after;
    }
    rest.iter().filter(|arg| !arg.contains("://")).copied().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_shown_of_a_failure_holds_no_credentials_and_no_wall_of_text() {
        let args = ["-c", "http.extraHeader=Authorization: x", "fetch", "https://u:pw@host/r.git", "main"];
        assert_eq!(shown_args(&args), "fetch main");
        assert_eq!(shown_stderr(b"  fatal: no\n"), "fatal: no");
        assert_eq!(shown_stderr(&[b'x'; 5000]).len(), 2000);
    }
}
