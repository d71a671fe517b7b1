//! A checkout is bounded by the unpacked size of the commit's tree, not by
//! what git stores: zeros compress to almost nothing.

use std::path::{Path, PathBuf};

use slipway_core::ids::{ProjectId, WorkspaceId};
use slipway_core::image_tag::CommitSha;
use slipway_core::names::{Branch, RepoUrl};
use slipway_git::source::CheckoutLimits;
use slipway_git::{source, GitError, Repos};

use super::{allow_paths, git, git_input, work_tree};

/// The project's bare repository with `upstream`'s `main` fetched into it.
async fn fetched(root: &Path, upstream: &Path) -> PathBuf {
    let repo = Repos::new(root.join("repos")).ensure(&WorkspaceId::generate(), &ProjectId::generate()).await.unwrap();
    let url = RepoUrl::parse(upstream.to_str().unwrap()).unwrap();
    source::fetch(&repo, &url, &Branch::parse("main").unwrap(), &allow_paths(root)).await.unwrap();
    repo
}

fn empty_dir(path: &Path) -> PathBuf {
    std::fs::create_dir_all(path).unwrap();
    path.to_owned()
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

fn head(dir: &Path) -> CommitSha {
    CommitSha::parse(&git(dir, &["rev-parse", "HEAD"])).unwrap()
}

#[tokio::test]
async fn a_commit_over_the_unpacked_limit_is_refused_before_anything_is_written() {
    let root = tempfile::tempdir().unwrap();
    let upstream = root.path().join("upstream");
    work_tree(&upstream, &[("index.html", "<h1>hi</h1>")]);
    // A sparse file of zeros: 50 MiB unpacked, about 50 KiB in git. The real
    // attack is 3 GiB against the 1 GiB default; committing 3 GiB takes git
    // about 30 s here, so a 10 MiB limit proves the same arithmetic quickly.
    let zeros = std::fs::File::create(upstream.join("zeros.bin")).unwrap();
    zeros.set_len(50 << 20).unwrap();
    drop(zeros);
    git(&upstream, &["add", "-A"]);
    git(&upstream, &["commit", "-q", "-m", "zeros"]);
    let commit = head(&upstream);
    let repo = fetched(root.path(), &upstream).await;
    let stored: u64 = walk_size(&repo);
    assert!(stored < 5 << 20, "git stores the zeros in {stored} bytes");

    let out = empty_dir(&root.path().join("out"));
    let limits = CheckoutLimits { max_bytes: 10 << 20, ..CheckoutLimits::default() };
    let err = source::export(&repo, &commit, &out, &limits).await.unwrap_err();
    assert!(matches!(err, GitError::CheckoutTooLarge { largest_bytes: 52_428_800, .. }), "{err}");
    let message = err.to_string();
    for part in ["50.0 MiB", "10.0 MiB", "`zeros.bin`", "SLIPWAY_MAX_CHECKOUT_SIZE"] {
        assert!(message.contains(part), "{part} in: {message}");
    }
    assert!(entries(&out).is_empty(), "nothing was written: {:?}", entries(&out));

    // The same commit within a larger limit is checked out whole.
    source::export(&repo, &commit, &out, &CheckoutLimits::default()).await.unwrap();
    assert_eq!(std::fs::metadata(out.join("zeros.bin")).unwrap().len(), 50 << 20);
    assert_eq!(std::fs::read_to_string(out.join("index.html")).unwrap(), "<h1>hi</h1>");
}

#[tokio::test]
async fn a_commit_with_too_many_files_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let upstream = root.path().join("upstream");
    let files: Vec<(String, &str)> = (0..5).map(|n| (format!("f{n}.txt"), "x")).collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(name, content)| (name.as_str(), *content)).collect();
    let commit = work_tree(&upstream, &files);
    let repo = fetched(root.path(), &upstream).await;
    let out = empty_dir(&root.path().join("out"));
    let limits = CheckoutLimits { max_files: 3, ..CheckoutLimits::default() };
    let err = source::export(&repo, &commit, &out, &limits).await.unwrap_err();
    assert!(matches!(err, GitError::TooManyFiles { limit: 3 }), "{err}");
    assert!(err.to_string().contains("SLIPWAY_MAX_CHECKOUT_FILES"), "{err}");
    assert!(entries(&out).is_empty());
}

#[tokio::test]
async fn export_subst_cannot_grow_a_checkout_past_its_measured_size() {
    let root = tempfile::tempdir().unwrap();
    let upstream = root.path().join("upstream");
    // Each placeholder would expand to the whole 100 KB commit message: 1 000
    // of them make 100 MB out of an 11 KB file.
    let bomb = "$Format:%B$".repeat(1000);
    work_tree(&upstream, &[("bomb.txt", &bomb), (".gitattributes", "bomb.txt export-subst\n")]);
    std::fs::write(upstream.join("message"), "m".repeat(100_000)).unwrap();
    git(&upstream, &["commit", "-q", "--allow-empty", "-F", "message"]);
    let commit = head(&upstream);
    let repo = fetched(root.path(), &upstream).await;
    let out = empty_dir(&root.path().join("out"));
    let limits = CheckoutLimits { max_bytes: 1 << 20, ..CheckoutLimits::default() };
    source::export(&repo, &commit, &out, &limits).await.unwrap();
    assert_eq!(std::fs::read_to_string(out.join("bomb.txt")).unwrap(), bomb, "written as committed");
}

#[tokio::test]
async fn a_crafted_tree_with_a_file_beneath_a_symlink_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let repo =
        Repos::new(root.path().join("repos")).ensure(&WorkspaceId::generate(), &ProjectId::generate()).await.unwrap();
    let target = root.path().join("outside");
    std::fs::create_dir_all(&target).unwrap();
    // `a` is a symlink to `outside`, and the same tree also has a directory `a`
    // holding `passwd`: git's own tools never write this, and a push's fsck
    // refuses it, but a tracked repository is fetched without fsck.
    let link = git_input(&repo, &["hash-object", "-w", "--stdin"], target.to_str().unwrap());
    let file = git_input(&repo, &["hash-object", "-w", "--stdin"], "pwned");
    let mktree = |entries: String| git_input(&repo, &["mktree"], &entries);
    let sub = mktree(format!("100644 blob {file}\tpasswd\n"));
    let tree = mktree(format!("120000 blob {link}\ta\n040000 tree {sub}\ta\n"));
    let commit = CommitSha::parse(&git(&repo, &["commit-tree", &tree, "-m", "crafted"])).unwrap();

    let out = empty_dir(&root.path().join("out"));
    let err = source::export(&repo, &commit, &out, &CheckoutLimits::default()).await.unwrap_err();
    assert!(matches!(err, GitError::UnsafeTree { .. }), "{err}");
    assert!(entries(&out).is_empty());
    assert!(entries(&target).is_empty(), "nothing was written through the link");
}

/// Bytes of all files under `dir`.
fn walk_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                walk_size(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}
