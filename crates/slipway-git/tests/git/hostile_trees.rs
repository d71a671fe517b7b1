//! What a tenant's tree cannot make the platform do when it is fetched and
//! checked out: run a filter or rewrite bytes through `.gitattributes`, or
//! reach another repository through `.gitmodules`.

use std::path::Path;

use slipway_core::ids::{ProjectId, WorkspaceId};
use slipway_core::image_tag::CommitSha;
use slipway_core::names::{Branch, RepoUrl};
use slipway_git::source::CheckoutLimits;
use slipway_git::{source, Repos};

use super::{allow_paths, git, work_tree};

/// `upstream`'s `main` fetched into a new project repository, allowing every
/// local path under `root`, and `commit` exported into `root/out`.
async fn fetch_and_export(root: &Path, upstream: &Path, commit: &CommitSha) -> std::path::PathBuf {
    let repo = Repos::new(root.join("repos")).ensure(&WorkspaceId::generate(), &ProjectId::generate()).await.unwrap();
    let url = RepoUrl::parse(upstream.to_str().unwrap()).unwrap();
    assert_eq!(&source::fetch(&repo, &url, &Branch::parse("main").unwrap(), &allow_paths(root)).await.unwrap(), commit);
    repo
}

#[tokio::test]
async fn gitattributes_cannot_run_a_filter_or_rewrite_the_committed_bytes() {
    let root = tempfile::tempdir().unwrap();
    let upstream = root.path().join("upstream");
    let committed = "$Id$\nline\n".repeat(3);
    let commit =
        work_tree(&upstream, &[(".gitattributes", "* ident text eol=crlf filter=evil\n"), ("id.txt", &committed)]);
    let repo = fetch_and_export(root.path(), &upstream, &commit).await;
    // A filter driver the platform's git knows (git-lfs installs one globally):
    // here in the repository's config, which `git archive` reads the same way.
    let marker = root.path().join("filter-ran");
    let smudge = format!("sh -c 'touch {}; cat'", marker.display());
    git(&repo, &["config", "filter.evil.smudge", &smudge]);

    let out = root.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    source::export(&repo, &commit, &out, &CheckoutLimits::default()).await.unwrap();
    assert_eq!(std::fs::read_to_string(out.join("id.txt")).unwrap(), committed, "no `$Id$` expansion, no CRLF");
    assert!(!marker.exists(), "the tenant-named filter did not run");
}

#[tokio::test]
async fn submodules_are_neither_fetched_nor_checked_out() {
    let root = tempfile::tempdir().unwrap();
    // A repository the policy would allow on its own (it is under the allowed
    // prefix): only the submodule entry points at it.
    let secret = root.path().join("secret");
    let secret_commit = work_tree(&secret, &[("secret.txt", "TOP SECRET")]);
    let marker = root.path().join("helper-ran");
    let gitmodules = format!(
        "[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = {}\n\
         [submodule \"evil\"]\n\tpath = vendor/evil\n\turl = ext::sh -c touch% {}\n",
        secret.display(),
        marker.display()
    );
    let upstream = root.path().join("upstream");
    work_tree(&upstream, &[("index.html", "<h1>hi</h1>"), (".gitmodules", &gitmodules)]);
    for path in ["vendor/lib", "vendor/evil"] {
        let gitlink = format!("160000,{secret_commit},{path}");
        git(&upstream, &["update-index", "--add", "--cacheinfo", &gitlink]);
    }
    git(&upstream, &["commit", "-q", "-m", "submodules"]);
    let commit = CommitSha::parse(&git(&upstream, &["rev-parse", "HEAD"])).unwrap();

    let repo = fetch_and_export(root.path(), &upstream, &commit).await;
    assert!(!source::has_commit(&repo, &secret_commit).await.unwrap(), "the submodule's commit was not fetched");
    let out = root.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    source::export(&repo, &commit, &out, &CheckoutLimits::default()).await.unwrap();
    assert_eq!(std::fs::read_to_string(out.join("index.html")).unwrap(), "<h1>hi</h1>");
    for path in ["vendor/lib", "vendor/evil"] {
        assert_eq!(std::fs::read_dir(out.join(path)).unwrap().count(), 0, "{path} is an empty directory");
    }
    assert!(!marker.exists(), "no transport helper ran");
}
