//! The git side against the real `git`: repositories, branch heads, fetching
//! a tracked repository by URL (and refusing what the policy does not allow),
//! exporting a commit within its size limits and as committed (attributes
//! and submodules of the tree ignored), and the push size limit.

#![allow(clippy::unwrap_used)] // the fixtures are helpers, not #[test] functions

use std::path::Path;
use std::process::Command;

use slipway_core::ids::{ProjectId, WorkspaceId};
use slipway_core::image_tag::CommitSha;
use slipway_core::names::{Branch, RepoUrl};
use slipway_core::repo::{AllowedHosts, AllowedPaths, RepoPolicy};
use slipway_git::source::CheckoutLimits;
use slipway_git::{source, Repos};

mod export_limits;
mod fetch_policy;
mod hostile_trees;

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// [`git`] with `input` on its stdin.
fn git_input(dir: &Path, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("git runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A policy that allows local repositories under `dir` only.
fn allow_paths(dir: &Path) -> RepoPolicy {
    RepoPolicy::new(AllowedPaths::parse(dir.to_str().unwrap()).unwrap(), AllowedHosts::default())
}

/// A work tree with one commit on `main` holding `files`.
fn work_tree(dir: &Path, files: &[(&str, &str)]) -> CommitSha {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "first"]);
    CommitSha::parse(&git(dir, &["rev-parse", "HEAD"])).unwrap()
}

#[tokio::test]
async fn repositories_are_created_once_with_the_shared_hook_and_limits() {
    let root = tempfile::tempdir().unwrap();
    let repos = Repos::new(root.path().join("repos"));
    let (workspace, project) = (WorkspaceId::generate(), ProjectId::generate());
    assert!(!repos.exists(&workspace, &project));
    let path = repos.ensure(&workspace, &project).await.unwrap();
    assert_eq!(repos.ensure(&workspace, &project).await.unwrap(), path, "a second ensure changes nothing");
    assert!(path.starts_with(root.path().join("repos").join(workspace.as_str())));
    assert_eq!(git(&path, &["config", "receive.maxInputSize"]), "1073741824");
    let hooks = git(&path, &["config", "core.hooksPath"]);
    let hook = std::fs::read_to_string(Path::new(&hooks).join("post-receive")).unwrap();
    assert!(hook.contains("hook post-receive"));
}

#[tokio::test]
async fn fetch_by_url_then_export_a_commit() {
    let root = tempfile::tempdir().unwrap();
    let upstream = root.path().join("upstream");
    let commit = work_tree(&upstream, &[("index.html", "<h1>hi</h1>"), ("README.md", "readme")]);
    let repos = Repos::new(root.path().join("repos"));
    let repo = repos.ensure(&WorkspaceId::generate(), &ProjectId::generate()).await.unwrap();
    let main = Branch::parse("main").unwrap();
    assert_eq!(source::branch_head(&repo, &main).await.unwrap(), None, "nothing pushed yet");

    let url = RepoUrl::parse(&format!("file://{}", upstream.display())).unwrap();
    let policy = allow_paths(root.path());
    assert_eq!(source::fetch(&repo, &url, &main, &policy).await.unwrap(), commit);
    assert_eq!(source::branch_head(&repo, &main).await.unwrap(), Some(commit.clone()));
    assert!(source::has_commit(&repo, &commit).await.unwrap());
    assert!(!source::has_commit(&repo, &CommitSha::parse(&"a".repeat(40)).unwrap()).await.unwrap());

    let out = root.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    source::export(&repo, &commit, &out, &CheckoutLimits::default()).await.unwrap();
    assert_eq!(std::fs::read_to_string(out.join("index.html")).unwrap(), "<h1>hi</h1>");
    assert!(!out.join(".git").exists(), "an export is the tree only");

    let missing = Branch::parse("nope").unwrap();
    let err = source::fetch(&repo, &url, &missing, &policy).await.unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[tokio::test]
async fn a_push_over_the_size_limit_is_refused_by_git_with_its_message() {
    let root = tempfile::tempdir().unwrap();
    let repos = Repos::new(root.path().join("repos"));
    let repo = repos.ensure(&WorkspaceId::generate(), &ProjectId::generate()).await.unwrap();
    // The real limit is 1 GiB; a small one proves the same mechanism quickly.
    git(&repo, &["config", "receive.maxInputSize", "2048"]);
    let work = root.path().join("work");
    // xorshift noise: incompressible, so the pack really is larger than the limit.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: String = (0..40_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    work_tree(&work, &[("big.txt", &noise)]);
    let output =
        Command::new("git").args(["push", repo.to_str().unwrap(), "main"]).current_dir(&work).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("exceeds maximum allowed size"), "{stderr}");
}
