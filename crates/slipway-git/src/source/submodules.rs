//! A commit's git submodules, written into its checkout: `git archive`
//! leaves each one an empty directory, so each is fetched from the URL that
//! `.gitmodules` names — under the same [`RepoPolicy`] as a project's own
//! repository URL, and only from the network (a local path or `file://`
//! would let a tenant read the host's repositories) — into a bare repository
//! kept in the project's (`modules/<hash of the URL>.git`, so the next build
//! fetches only what is new), and its commit exported into place with the
//! same bounds as the checkout itself.
//!
//! A submodule's own submodules are not fetched (the log says so). Relative
//! URLs (`../lib.git`) are refused: they mean "beside the repository this was
//! cloned from", which a pushed repository does not have.

use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};
use slipway_core::image_tag::CommitSha;
use slipway_core::names::RepoUrl;
use slipway_core::repo::{RepoPolicy, RepoTarget};

use super::{export, fetch, has_commit, CheckoutLimits};
use crate::{git, GitError};

/// The most submodules one commit may have fetched.
const MAX_SUBMODULES: usize = 20;

/// A submodule written into a checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submodule {
    pub path: String,
    pub url: RepoUrl,
    pub commit: CommitSha,
    /// Whether it has submodules of its own (not fetched).
    pub has_own_submodules: bool,
}

/// Fetches and writes the submodules of `commit` (in `repo`) into `dir`, its checkout.
pub async fn export_submodules(
    repo: &Path,
    commit: &CommitSha,
    dir: &Path,
    policy: &RepoPolicy,
    limits: &CheckoutLimits,
) -> Result<Vec<Submodule>, GitError> {
    let declared = declared(repo, commit).await?;
    if declared.len() > MAX_SUBMODULES {
        return Err(GitError::Invalid(format!(
            "the commit has {} submodules; at most {MAX_SUBMODULES} are fetched",
            declared.len()
        )));
    }
    let mut written = Vec::new();
    for (name, path, url) in declared {
        let refuse = |problem: String| GitError::Invalid(format!("submodule {name} ({path}): {problem}"));
        let Some(target) = gitlink(repo, commit, &path).await? else {
            // Declared in .gitmodules but not in the tree: git itself ignores it too.
            continue;
        };
        let url = RepoUrl::parse(&url).map_err(|err| {
            refuse(format!(
                "its URL {}: {err}; write an https URL of the repository",
                url.chars().take(200).collect::<String>()
            ))
        })?;
        if matches!(url.target(), RepoTarget::Local(_)) {
            return Err(refuse(format!(
                "its URL {url} is a path on this machine; submodules are fetched from the network only"
            )));
        }
        policy.check(&url).map_err(|err| refuse(err.to_string()))?;
        let into = place(dir, &path).map_err(refuse)?;

        let modules = modules_repo(repo, &url).await?;
        if !has_commit(&modules, &target).await? {
            fetch::fetch_refspecs(&modules, &url, &[target.as_str()], policy).await.ok();
        }
        if !has_commit(&modules, &target).await? {
            // Servers that do not serve a commit by its ID serve it through a branch or tag.
            fetch::fetch_refspecs(&modules, &url, &["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"], policy)
                .await
                .map_err(|err| refuse(format!("cannot fetch {url}: {err}")))?;
        }
        if !has_commit(&modules, &target).await? {
            return Err(refuse(format!(
                "{url} has no commit {}; push it there, or update the submodule",
                target.short()
            )));
        }
        export(&modules, &target, &into, limits).await?;
        let has_own_submodules = into.join(".gitmodules").is_file();
        written.push(Submodule { path, url, commit: target, has_own_submodules });
    }
    Ok(written)
}

/// `(name, path, url)` of each submodule `.gitmodules` declares at `commit`.
async fn declared(repo: &Path, commit: &CommitSha) -> Result<Vec<(String, String, String)>, GitError> {
    let blob = format!("{commit}:.gitmodules");
    if git(&["cat-file", "-e", &blob], Some(repo)).await.is_err() {
        return Ok(Vec::new());
    }
    let listed =
        match git(&["config", "--blob", &blob, "--null", "--get-regexp", r"^submodule\..*\.(path|url)$"], Some(repo))
            .await
        {
            Ok(listed) => listed,
            // Nothing matched: a .gitmodules without submodules.
            Err(GitError::Failed { .. }) => return Ok(Vec::new()),
            Err(err) => return Err(err),
        };
    let mut entries: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for item in listed.split('\0').filter(|item| !item.is_empty()) {
        let (key, value) = item.split_once('\n').unwrap_or((item, ""));
        let Some(rest) = key.strip_prefix("submodule.") else { continue };
        let (name, field) = match rest.rsplit_once('.') {
            Some(split) => split,
            None => continue,
        };
        let index = match entries.iter().position(|(n, _, _)| n == name) {
            Some(index) => index,
            None => {
                entries.push((name.to_owned(), None, None));
                entries.len() - 1
            }
        };
        match field {
            "path" => entries[index].1 = Some(value.to_owned()),
            "url" => entries[index].2 = Some(value.to_owned()),
            _ => {}
        }
    }
    Ok(entries.into_iter().filter_map(|(name, path, url)| Some((name, path?, url?))).collect())
}

/// The commit the tree records at `path` (a gitlink), if it records one there.
async fn gitlink(repo: &Path, commit: &CommitSha, path: &str) -> Result<Option<CommitSha>, GitError> {
    let listed = git(&["ls-tree", "-z", commit.as_str(), "--", path], Some(repo)).await?;
    let entry = listed.split('\0').find(|entry| entry.starts_with("160000 commit "));
    let sha = entry.and_then(|entry| entry.split_whitespace().nth(2));
    Ok(sha.and_then(|sha| CommitSha::parse(sha).ok()))
}

/// The empty directory at `path` inside the checkout `dir`; every step of the way must be a real
/// directory of the checkout (a symlink committed beside the submodule must not lead the export out).
fn place(dir: &Path, path: &str) -> Result<PathBuf, String> {
    let relative = Path::new(path);
    if path.is_empty() || !relative.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(format!("its path {path:?} is not a plain relative path"));
    }
    let mut at = dir.to_owned();
    for step in relative.components() {
        at.push(step);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "{} in the checkout is not a directory",
                    at.strip_prefix(dir).unwrap_or(&at).display()
                ))
            }
            Err(_) => std::fs::create_dir(&at).map_err(|err| format!("cannot create {}: {err}", at.display()))?,
        }
    }
    let empty = std::fs::read_dir(&at).map_err(|err| err.to_string())?.next().is_none();
    if !empty {
        return Err(format!("{path} in the checkout already has files"));
    }
    Ok(at)
}

/// The bare repository that keeps the submodule at `url` for the project whose repository is `repo`.
async fn modules_repo(repo: &Path, url: &RepoUrl) -> Result<PathBuf, GitError> {
    let hash = hex::encode(Sha256::digest(url.as_str().as_bytes()));
    let path = repo.join("modules").join(format!("{}.git", &hash[..16]));
    if !path.join("HEAD").is_file() {
        tokio::fs::create_dir_all(&path).await?;
        git(&["init", "--quiet", "--bare"], Some(&path)).await?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git_in(dir: &Path, args: &[&str]) -> String {
        let output = std::process::Command::new("git")
            .args(["-c", "user.name=T", "-c", "user.email=t@slipway.invalid", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("git");
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// A commit whose `.gitmodules` names `url` for a gitlink at `path`; returns (repo, commit).
    fn commit_with_submodule(root: &Path, path: &str, url: &str) -> (PathBuf, CommitSha) {
        let repo = root.join("repo");
        std::fs::create_dir_all(repo.join(path)).expect("submodule dir");
        git_in(&repo, &["init", "-q", "-b", "main"]);
        git_in(&repo, &["config", "-f", ".gitmodules", "submodule.s.path", path]);
        git_in(&repo, &["config", "-f", ".gitmodules", "submodule.s.url", url]);
        git_in(&repo, &["update-index", "--add", "--cacheinfo", &format!("160000,{},{path}", "1".repeat(40))]);
        git_in(&repo, &["add", ".gitmodules"]);
        git_in(&repo, &["commit", "-q", "-m", "submodule"]);
        let commit = CommitSha::parse(&git_in(&repo, &["rev-parse", "HEAD"])).expect("sha");
        (repo, commit)
    }

    async fn refusal(path: &str, url: &str, prepare: impl FnOnce(&Path)) -> String {
        let root = tempfile::tempdir().expect("dir");
        let (repo, commit) = commit_with_submodule(root.path(), path, url);
        let checkout = root.path().join("checkout");
        std::fs::create_dir_all(&checkout).expect("checkout");
        prepare(&checkout);
        let policy = RepoPolicy::default();
        let err = export_submodules(&repo, &commit, &checkout, &policy, &CheckoutLimits::default())
            .await
            .expect_err("refused");
        // Nothing was fetched for it.
        assert!(!repo.join("modules").exists(), "a modules repository was made");
        err.to_string()
    }

    #[tokio::test]
    async fn submodules_that_would_read_the_host_or_climb_out_are_refused_before_any_fetch() {
        let err = refusal("lib", "../lib.git", |_| {}).await;
        assert!(err.contains("submodule s (lib): its URL ../lib.git"), "{err}");
        let err = refusal("lib", "/var/lib/slipway/repos/other.git", |_| {}).await;
        assert!(err.contains("is a path on this machine"), "{err}");
        // Loopback and private addresses follow the repository URL policy (refused by default).
        let err = refusal("lib", "http://127.0.0.1:9/lib.git", |_| {}).await;
        assert!(err.starts_with("submodule s (lib): "), "{err}");
        assert!(err.contains("127.0.0.1"), "{err}");
        // A symlink committed on the way to the submodule's directory must not lead the export out.
        let outside = tempfile::tempdir().expect("outside");
        let target = outside.path().to_owned();
        let err = refusal("vendor/lib", "https://example.invalid/lib.git", move |checkout| {
            std::os::unix::fs::symlink(&target, checkout.join("vendor")).expect("symlink");
        })
        .await;
        assert!(err.contains("vendor in the checkout is not a directory"), "{err}");
        assert_eq!(std::fs::read_dir(outside.path()).expect("outside").count(), 0);
    }
}
