//! The GitOps repository writer: keeps a persistent (bare) working clone and
//! lands exactly one commit per deployment on the remote, holding the
//! environment's folder and its workspace's `bootstrap/` files.
//!
//! Every attempt fetches the remote branch and builds the commit with `git
//! fast-import` from the fetched head's tree plus the changed folders, so the
//! cost of a deployment does not grow with the number of apps, and a failed
//! attempt leaves nothing behind but an unpushed ref that the next attempt
//! overwrites. A lost push race is handled by re-applying the same change onto
//! the new remote head — no merge, no rebase conflict — a bounded number of
//! times. An unchanged render makes no commit: the current head is returned
//! with `created: false`, so a retried deployment never pushes twice.

mod git;
mod stream;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use slipway_core::deployment::DeploymentNumber;
use slipway_core::names::{EnvironmentName, ProjectSlug, WorkspaceSlug};

use crate::argo::{render_root, render_workspace, ArgoSettings};
use crate::error::{GitopsError, Result};
use crate::input::{AppEnvironment, ClusterSettings};
use crate::manifests::Manifests;
use crate::naming::namespace_name;
use crate::render::render_environment;
use git::{is_push_race, stderr_of, Git};
use stream::{commit_stream, FolderChange, PENDING_REF};

/// How many commits between two `git gc --auto` checks.
const GC_EVERY: u64 = 50;

/// How a [`RepoWriter`] reaches its remote.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// The persistent working clone; created on first use. One writer per directory.
    pub workdir: PathBuf,
    /// Any URL or path `git` accepts (a local bare repository works).
    pub remote: String,
    /// What Argo CD is told (repository URL, branch); `argo.revision` is the branch we push.
    pub argo: ArgoSettings,
    /// Push attempts before giving up when other writers keep winning.
    pub max_attempts: u32,
}

impl WriterSettings {
    pub fn new(workdir: impl Into<PathBuf>, remote: impl Into<String>, argo: ArgoSettings) -> Self {
        Self { workdir: workdir.into(), remote: remote.into(), argo, max_attempts: 10 }
    }
}

/// Which folder of the repository: `apps/<workspace>/<project>/<environment>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPath {
    pub workspace: WorkspaceSlug,
    pub project: ProjectSlug,
    pub environment: EnvironmentName,
}

impl AppPath {
    pub fn of(app: &AppEnvironment) -> Self {
        Self { workspace: app.workspace.clone(), project: app.project.clone(), environment: app.environment.clone() }
    }

    pub fn folder(&self) -> String {
        format!("apps/{}/{}/{}", self.workspace, self.project, self.environment)
    }

    /// The Argo CD Application the workspace's ApplicationSet makes of this folder; it is named
    /// like the environment's namespace, `<workspace>-<project>-<environment>` (see
    /// `argo::render_workspace`).
    pub fn application_name(&self) -> String {
        format!("{}-{}-{}", self.workspace, self.project, self.environment)
    }
}

impl std::fmt::Display for AppPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.workspace, self.project, self.environment)
    }
}

/// The result of a write: the commit that holds the change (the deployment records it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    /// `false` when the render matched what was already there and no commit was made.
    pub created: bool,
}

/// One commit of an app's folder history, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub sha: String,
    pub subject: String,
}

pub struct RepoWriter {
    config: WriterSettings,
    git: Git,
    /// Writes in one working clone must not interleave.
    lock: Mutex<()>,
    commits: AtomicU64,
}

impl RepoWriter {
    /// Opens (or creates) the working clone and fetches once, so a remote pointing nowhere
    /// is reported now rather than at the first deployment.
    pub fn open(config: WriterSettings) -> Result<Self> {
        let branch = &config.argo.revision;
        let branch_ok = !branch.is_empty()
            && !branch.starts_with('-')
            && !branch.contains("..")
            && branch.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_/.".contains(&b));
        if !branch_ok {
            return Err(GitopsError::invalid_name("branch", branch, "use a plain branch name such as `main`"));
        }
        std::fs::create_dir_all(&config.workdir).map_err(|err| GitopsError::io(&config.workdir, err))?;
        let git = Git::new(&config.workdir);
        // A bare clone: commits are built from trees, never checked out, so nothing scales with
        // the number of files in the repository.
        if !config.workdir.join("HEAD").exists() {
            git.run(&["init", "--quiet", "--bare", &format!("--initial-branch={branch}")])?;
            git.run(&["remote", "add", "origin", &config.remote])?;
        } else {
            git.run(&["remote", "set-url", "origin", &config.remote])?;
        }
        let writer = Self { config, git, lock: Mutex::new(()), commits: AtomicU64::new(0) };
        writer.fetch()?;
        Ok(writer)
    }

    /// Whether `revision` of the branch (say, the one Argo CD synced) includes `commit`: it is
    /// that commit or a later one. A revision not known here yet (another writer pushed it) is
    /// fetched once; one that is still unknown, or is not a commit SHA, does not include it.
    pub fn includes(&self, revision: &str, commit: &str) -> Result<bool> {
        let is_sha = |text: &str| text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_sha(revision) || !is_sha(commit) {
            return Ok(false);
        }
        let is_ancestor = || self.git.raw(&["merge-base", "--is-ancestor", commit, revision]);
        let output = is_ancestor()?;
        match output.status.code() {
            Some(0) => return Ok(true),
            Some(1) => return Ok(false),
            _ => {}
        }
        {
            let _guard = self.lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            self.fetch()?;
        }
        Ok(is_ancestor()?.status.code() == Some(0))
    }

    pub fn workdir(&self) -> &Path {
        self.git.workdir()
    }

    /// Renders `app` and commits it as deployment `app.deployment`.
    pub fn deploy(&self, app: &AppEnvironment, settings: &ClusterSettings) -> Result<Commit> {
        let manifests = render_environment(app, settings)?;
        let path = AppPath::of(app);
        let message = format!(
            "deploy {path} #{number}: {image}\n\nworkspace: {ws}\nproject: {project}\nenvironment: {env}\n\
             deployment: {number}\nimage: {image}\n",
            number = app.deployment.get(),
            image = app.image,
            ws = app.workspace,
            project = app.project,
            env = app.environment,
        );
        self.commit(&path, &manifests, &message)
    }

    /// Restores the folder as it was in `release_commit` with a new commit (history is kept).
    pub fn rollback(&self, path: &AppPath, release_commit: &str, deployment: DeploymentNumber) -> Result<Commit> {
        let manifests = self.read_release(path, release_commit)?;
        let message = format!(
            "rollback {path} #{number}: restore {release_commit}\n\nworkspace: {}\nproject: {}\nenvironment: {}\n\
             deployment: {number}\nrestores: {release_commit}\n",
            path.workspace,
            path.project,
            path.environment,
            number = deployment.get(),
        );
        self.commit(path, &manifests, &message)
    }

    /// The files of an app's folder at `commit`.
    pub fn read_release(&self, path: &AppPath, commit: &str) -> Result<Manifests> {
        let no_release =
            || GitopsError::NoSuchRelease { commit: commit.chars().take(80).collect(), app: path.to_string() };
        // Hex only: a value starting with `-` would be read as an option by git.
        if commit.len() < 7 || commit.len() > 64 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(no_release());
        }
        let _guard = self.lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !self.git.succeeds(&["cat-file", "-e", &format!("{commit}^{{commit}}")])? {
            self.fetch()?;
        }
        let folder = path.folder();
        let listing = self
            .git
            .run(&["ls-tree", "-r", "--name-only", commit, "--", &format!("{folder}/")])
            .map_err(|_| no_release())?;
        let mut manifests = Manifests::new();
        for file in listing.lines() {
            let text = self.git.run(&["show", &format!("{commit}:{file}")])?;
            let name = file.rsplit('/').next().unwrap_or(file);
            manifests.extend_raw(name, &text);
        }
        if manifests.is_empty() {
            return Err(no_release());
        }
        Ok(manifests)
    }

    /// Commits that touched the app's folder on the remote branch, newest first.
    pub fn history(&self, path: &AppPath) -> Result<Vec<HistoryEntry>> {
        let _guard = self.lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !self.fetch()? {
            return Ok(Vec::new());
        }
        let log = self.git.run(&["log", "--format=%H%x1f%s", &self.remote_ref(), "--", &path.folder()])?;
        Ok(log
            .lines()
            .filter_map(|line| line.split_once('\u{1f}'))
            .map(|(sha, subject)| HistoryEntry { sha: sha.to_owned(), subject: subject.to_owned() })
            .collect())
    }

    /// Writes `manifests` as the whole content of the app's folder and lands one commit.
    pub fn commit(&self, path: &AppPath, manifests: &Manifests, message: &str) -> Result<Commit> {
        self.commit_apps(&[(path.clone(), manifests.clone())], message)
    }

    /// Writes several apps' folders in one commit (a re-render of every app after a platform
    /// setting changed, say). Each folder is replaced wholesale.
    pub fn commit_apps(&self, apps: &[(AppPath, Manifests)], message: &str) -> Result<Commit> {
        self.land(apps, &[], message)
    }

    /// Removes an environment's folder (the project or environment was deleted, or moved
    /// back to the local target); Argo CD then prunes its objects. Nothing to remove is
    /// `created: false`.
    pub fn remove(&self, path: &AppPath, message: &str) -> Result<Commit> {
        self.land(&[], std::slice::from_ref(path), message)
    }

    fn land(&self, apps: &[(AppPath, Manifests)], removals: &[AppPath], message: &str) -> Result<Commit> {
        let empty = Manifests::new();
        let _guard = self.lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let attempts = self.config.max_attempts.max(1);
        for attempt in 1..=attempts {
            let parent = if self.fetch()? {
                Some(self.git.run(&["rev-parse", &self.remote_ref()])?.trim().to_owned())
            } else {
                None
            };
            let by_workspace = self.workspace_namespaces(parent.as_deref(), apps, removals)?;
            let root = render_root(&self.config.argo)?;
            let mut bootstrap = Vec::with_capacity(by_workspace.len());
            for (workspace, namespaces) in &by_workspace {
                let namespaces: Vec<String> = namespaces.iter().cloned().collect();
                bootstrap.push((workspace, render_workspace(workspace, &namespaces, &self.config.argo)?));
            }
            let mut changes: Vec<FolderChange<'_>> = apps
                .iter()
                .map(|(path, files)| FolderChange { folder: path.folder(), replace_whole_folder: true, files })
                .chain(removals.iter().map(|path| FolderChange {
                    folder: path.folder(),
                    replace_whole_folder: true,
                    files: &empty,
                }))
                .collect();
            changes.extend(bootstrap.iter().map(|(workspace, files)| FolderChange {
                folder: format!("bootstrap/workspaces/{workspace}"),
                replace_whole_folder: true,
                files,
            }));
            changes.push(FolderChange { folder: "bootstrap".into(), replace_whole_folder: false, files: &root });
            // A stale pending ref would become the parent of a root commit; it is ours to drop.
            self.git.run(&["update-ref", "-d", PENDING_REF])?;
            let stream = commit_stream(parent.as_deref(), message, &changes);
            self.git.run_with_input(&["fast-import", "--quiet", "--force", "--date-format=now"], Some(&stream))?;
            let sha = self.git.run(&["rev-parse", PENDING_REF])?.trim().to_owned();
            if let Some(parent) = &parent {
                let trees = self.git.run(&["rev-parse", &format!("{sha}^{{tree}}"), &format!("{parent}^{{tree}}")])?;
                let mut trees = trees.lines();
                if trees.next() == trees.next() {
                    return Ok(Commit { sha: parent.clone(), created: false });
                }
            }
            let refspec = format!("{sha}:refs/heads/{}", self.config.argo.revision);
            let push = self.git.raw(&["push", "--quiet", "--no-verify", "origin", &refspec])?;
            if push.status.success() {
                tracing::info!(apps = apps.len(), first = ?apps.first().map(|(path, _)| path.to_string()), sha, attempt, "GitOps commit pushed");
                self.after_commit(&sha);
                return Ok(Commit { sha, created: true });
            }
            let stderr = stderr_of(&push);
            if !is_push_race(&stderr) {
                return Err(GitopsError::Remote { remote: self.config.remote.clone(), action: "push", stderr });
            }
            tracing::debug!(attempt, "push lost a race; re-applying onto the new head");
            // Spread competing writers apart so they do not collide again in lockstep.
            std::thread::sleep(Duration::from_millis(u64::from(attempt) * 15 + u64::from(std::process::id() % 17)));
        }
        Err(GitopsError::RetriesExhausted { remote: self.config.remote.clone(), attempts })
    }

    fn remote_ref(&self) -> String {
        format!("refs/remotes/origin/{}", self.config.argo.revision)
    }

    /// Fetches the branch; `false` when the remote does not have it yet (a new, empty repository).
    fn fetch(&self) -> Result<bool> {
        let branch = &self.config.argo.revision;
        let refspec = format!("+refs/heads/{branch}:{}", self.remote_ref());
        let output = self.git.raw(&["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "origin", &refspec])?;
        if output.status.success() {
            return Ok(true);
        }
        let stderr = stderr_of(&output);
        if stderr.contains("couldn't find remote ref") {
            return Ok(false);
        }
        Err(GitopsError::Remote { remote: self.config.remote.clone(), action: "fetch", stderr })
    }

    /// Namespaces of each touched workspace once `apps` are written and `removals` gone, read
    /// from the parent commit's tree. Refuses a new folder whose namespace another folder
    /// already owns (`a-b/c` and `a/b-c`); clashes already in the repository are not ours.
    fn workspace_namespaces(
        &self,
        parent: Option<&str>,
        apps: &[(AppPath, Manifests)],
        removals: &[AppPath],
    ) -> Result<BTreeMap<WorkspaceSlug, BTreeSet<String>>> {
        let listing = match parent {
            Some(parent) => self.git.run(&["ls-tree", "-r", "-d", "--name-only", parent, "--", "apps/"])?,
            None => String::new(),
        };
        let mut by_workspace: BTreeMap<WorkspaceSlug, BTreeSet<String>> = BTreeMap::new();
        let mut new_owners: BTreeMap<String, &AppPath> = BTreeMap::new();
        for (path, _) in apps {
            let namespace = namespace_name(path.workspace.as_str(), path.project.as_str(), path.environment.as_str())?;
            if let Some(other) = new_owners.insert(namespace.clone(), path) {
                if other != path {
                    return Err(namespace_taken(namespace, path, &other.folder()));
                }
            }
            by_workspace.entry(path.workspace.clone()).or_default().insert(namespace);
        }
        for path in removals {
            by_workspace.entry(path.workspace.clone()).or_default();
        }
        let removed: BTreeSet<String> = removals.iter().map(AppPath::folder).collect();
        for folder in listing.lines() {
            let parts: Vec<&str> = folder.split('/').collect();
            let [_, workspace, project, environment] = parts[..] else { continue };
            if removed.contains(folder) {
                continue;
            }
            let namespace = format!("{workspace}-{project}-{environment}");
            if let Some(path) = new_owners.get(&namespace) {
                if path.folder() != folder {
                    return Err(namespace_taken(namespace, path, folder));
                }
            }
            if let Some(namespaces) = by_workspace.iter_mut().find(|(slug, _)| slug.as_str() == workspace) {
                namespaces.1.insert(namespace);
            }
        }
        Ok(by_workspace)
    }

    /// Loose objects pile up one deployment at a time; `gc --auto` packs them when git thinks
    /// it is worth it, in the background, every so often rather than after every commit.
    fn after_commit(&self, sha: &str) {
        let count = self.commits.fetch_add(1, Ordering::Relaxed) + 1;
        if count.is_multiple_of(GC_EVERY) {
            if let Err(err) = self.git.run(&["gc", "--auto", "--quiet"]) {
                tracing::warn!(%err, sha, "git gc --auto failed; the next deployment will try again");
            }
        }
    }
}

fn namespace_taken(namespace: String, path: &AppPath, other_folder: &str) -> GitopsError {
    GitopsError::NamespaceTaken {
        namespace,
        app: path.to_string(),
        other: other_folder.strip_prefix("apps/").unwrap_or(other_folder).to_owned(),
    }
}
