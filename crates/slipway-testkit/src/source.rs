//! App sources as a developer has them: a copy of one of `examples/` (or a
//! tree written by the test) in a git repository on branch `main`, pushed
//! with the system `git`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");

pub struct Source {
    pub dir: PathBuf,
}

/// The outcome of a `git push`: its exit status and everything it printed
/// (git writes the `remote:` lines to stderr).
#[derive(Debug)]
pub struct Push {
    pub success: bool,
    pub output: String,
}

impl Push {
    /// Asserts the push deployed and returns the deployment number it printed.
    #[track_caller]
    pub fn deployed(&self) -> u64 {
        assert!(self.success, "git push failed:\n{}", self.output);
        let number = self
            .output
            .lines()
            .find_map(|line| line.split("-----> Deployed #").nth(1))
            .and_then(|rest| rest.split(':').next())
            .and_then(|n| n.parse().ok());
        number.unwrap_or_else(|| panic!("the push did not end with `Deployed #N`:\n{}", self.output))
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating the source dir");
    for entry in std::fs::read_dir(from).unwrap_or_else(|err| panic!("reading {}: {err}", from.display())) {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copying a file");
        }
    }
}

/// `git` with no user or system configuration and never a prompt.
fn git(dir: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("git");
    command
        .current_dir(dir)
        .args(["-c", "user.name=Slipway Test", "-c", "user.email=test@slipway.invalid"])
        .args(["-c", "commit.gpgsign=false", "-c", "credential.helper="])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

async fn run_git(dir: &Path, args: &[&str]) {
    let output = git(dir).args(args).output().await.expect("running git");
    assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

impl Source {
    /// A repository with a copy of `examples/<example>`, committed on `main`.
    pub async fn example(home: &Path, example: &str, label: &str) -> Source {
        let dir = home.join("src").join(label);
        copy_tree(&Path::new(EXAMPLES).join(example), &dir);
        let source = Source { dir };
        run_git(&source.dir, &["init", "-q", "-b", "main"]).await;
        source.commit("first").await;
        source
    }

    pub fn write(&self, path: &str, contents: &str) {
        let path = self.dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("creating a directory");
        }
        std::fs::write(path, contents).expect("writing a source file");
    }

    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.join(path)).expect("reading a source file")
    }

    /// Replaces the whole tree (but not `.git`) with `files`.
    pub fn replace_all(&self, files: &[(&str, &str)]) {
        for entry in std::fs::read_dir(&self.dir).expect("reading the source dir").flatten() {
            if entry.file_name() == ".git" {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(path).expect("removing a directory");
            } else {
                std::fs::remove_file(path).expect("removing a file");
            }
        }
        for (path, contents) in files {
            self.write(path, contents);
        }
    }

    /// Commits everything (an empty commit when nothing changed).
    pub async fn commit(&self, message: &str) {
        run_git(&self.dir, &["add", "-A"]).await;
        run_git(&self.dir, &["commit", "-q", "--allow-empty", "-m", message]).await;
    }

    /// `git args…` in the source's directory; its standard output.
    pub async fn run(&self, args: &[&str]) -> String {
        let output = git(&self.dir).args(args).output().await.expect("running git");
        assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Records a submodule at `path` (its `.gitmodules` entry and the gitlink to `commit`) for the
    /// next commit, without cloning it.
    pub async fn add_submodule(&self, path: &str, url: &str, commit: &str) {
        // An empty directory, as an unpopulated submodule has: without it `git add -A` drops the gitlink.
        std::fs::create_dir_all(self.dir.join(path)).expect("the submodule's directory");
        self.run(&["config", "-f", ".gitmodules", &format!("submodule.{path}.path"), path]).await;
        self.run(&["config", "-f", ".gitmodules", &format!("submodule.{path}.url"), url]).await;
        self.run(&["update-index", "--add", "--cacheinfo", &format!("160000,{commit},{path}")]).await;
    }

    /// The `git push` command, for a push to run in the background.
    pub fn push_command(&self, remote: &str, refspec: &str) -> tokio::process::Command {
        let mut command = git(&self.dir);
        command.args(["push", remote, refspec]).stdout(Stdio::piped()).stderr(Stdio::piped());
        command
    }

    /// `git push REMOTE REFSPEC`, to completion.
    pub async fn push(&self, remote: &str, refspec: &str) -> Push {
        let output = self.push_command(remote, refspec).output().await.expect("running git push");
        Push {
            success: output.status.success(),
            output: format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
        }
    }

    /// `git ls-remote REMOTE` (a fetch-side call), whether it succeeded.
    pub async fn ls_remote(&self, remote: &str) -> bool {
        git(&self.dir).args(["ls-remote", remote]).output().await.expect("running git ls-remote").status.success()
    }
}
