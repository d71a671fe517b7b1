//! The GitOps repository writer: keeps a persistent working clone, writes one
//! environment's folder plus its workspace's `bootstrap/` files, and lands
//! exactly one commit per deployment on the remote.
//!
//! Every attempt starts from the remote's branch (fetch, then a forced
//! checkout), so a failed attempt leaves nothing behind and a lost push race
//! is handled by re-applying the same change onto the new remote head — no
//! merge, no rebase conflict — a bounded number of times. An unchanged render
//! makes no commit: the current head is returned with `created: false`, so a
//! retried deployment never pushes twice.

mod git;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use slipway_core::deployment::BuildNumber;
use slipway_core::names::{EnvironmentName, ProjectSlug, WorkspaceSlug};

use crate::argo::{render_root, render_workspace, ArgoSettings};
use crate::error::{GitopsError, Result};
use crate::input::{AppEnvironment, ClusterSettings};
use crate::manifests::Manifests;
use crate::naming::namespace_name;
use crate::render::render_environment;
use git::{is_push_race, stderr_of, Git};

/// How a [`RepoWriter`] reaches its remote.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// The persistent working clone; created on first use. One writer per directory.
    pub workdir: PathBuf,
    /// Any URL or path `git` accepts (a local bare repository works).
    pub remote: String,
    /// What Argo CD is told (repository URL, branch); `argo.revision` is the branch we push.
    pub argo: ArgoSettings,
    /// Push attempts before giving up when other writers keep winning.
    pub max_attempts: u32,
}

impl WriterConfig {
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
    config: WriterConfig,
    git: Git,
    /// Writes in one working clone must not interleave.
    lock: Mutex<()>,
}

impl RepoWriter {
    /// Opens (or creates) the working clone and fetches once, so a remote pointing nowhere
    /// is reported now rather than at the first deployment.
    pub fn open(config: WriterConfig) -> Result<Self> {
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
        if !config.workdir.join(".git").exists() {
            git.run(&["init", "--quiet", &format!("--initial-branch={branch}")])?;
            git.run(&["remote", "add", "origin", &config.remote])?;
        } else {
            git.run(&["remote", "set-url", "origin", &config.remote])?;
        }
        let writer = Self { config, git, lock: Mutex::new(()) };
        writer.fetch()?;
        Ok(writer)
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
    pub fn rollback(&self, path: &AppPath, release_commit: &str, deployment: BuildNumber) -> Result<Commit> {
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
        let _guard = self.lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let attempts = self.config.max_attempts.max(1);
        for attempt in 1..=attempts {
            let has_remote_branch = self.fetch()?;
            self.reset_to_remote(has_remote_branch, path)?;
            self.write_folder(path, manifests)?;
            self.write_bootstrap(path)?;
            self.git.run(&["add", "--all", "--", &path.folder(), "bootstrap"])?;
            if self.git.succeeds(&["diff", "--cached", "--quiet"])? {
                let sha = self.git.run(&["rev-parse", "HEAD"])?.trim().to_owned();
                return Ok(Commit { sha, created: false });
            }
            self.git.run(&["commit", "--quiet", "--no-verify", "-m", message])?;
            let sha = self.git.run(&["rev-parse", "HEAD"])?.trim().to_owned();
            let refspec = format!("HEAD:refs/heads/{}", self.config.argo.revision);
            let push = self.git.raw(&["push", "--quiet", "origin", &refspec])?;
            if push.status.success() {
                tracing::info!(app = %path, sha, attempt, "GitOps commit pushed");
                return Ok(Commit { sha, created: true });
            }
            let stderr = stderr_of(&push);
            if !is_push_race(&stderr) {
                return Err(GitopsError::Remote { remote: self.config.remote.clone(), action: "push", stderr });
            }
            tracing::debug!(app = %path, attempt, "push lost a race; re-applying onto the new head");
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
        let output = self.git.raw(&["fetch", "--quiet", "--no-tags", "origin", &refspec])?;
        if output.status.success() {
            return Ok(true);
        }
        let stderr = stderr_of(&output);
        if stderr.contains("couldn't find remote ref") {
            return Ok(false);
        }
        Err(GitopsError::Remote { remote: self.config.remote.clone(), action: "fetch", stderr })
    }

    /// Makes the working tree exactly the remote branch (or empty), dropping any earlier attempt.
    fn reset_to_remote(&self, has_remote_branch: bool, path: &AppPath) -> Result<()> {
        let branch = &self.config.argo.revision;
        if has_remote_branch {
            self.git.run(&["checkout", "--quiet", "--force", "-B", branch, &self.remote_ref()])?;
            self.git.run(&["clean", "--quiet", "-d", "--force", "--", &path.folder(), "bootstrap"])?;
        } else {
            self.git.run(&["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")])?;
            if self.git.succeeds(&["rev-parse", "--verify", "--quiet", "HEAD"])? {
                self.git.run(&["update-ref", "-d", &format!("refs/heads/{branch}")])?;
            }
            self.git.run(&["read-tree", "--empty"])?;
            self.git.run(&["clean", "--quiet", "-d", "-x", "--force"])?;
        }
        Ok(())
    }

    fn write_folder(&self, path: &AppPath, manifests: &Manifests) -> Result<()> {
        let folder = self.workdir().join(path.folder());
        self.check_namespace_free(path)?;
        if folder.exists() {
            std::fs::remove_dir_all(&folder).map_err(|err| GitopsError::io(&folder, err))?;
        }
        write_files(&folder, manifests)
    }

    /// Refuses a folder whose namespace another folder already owns (`a-b/c` and `a/b-c`).
    fn check_namespace_free(&self, path: &AppPath) -> Result<()> {
        let wanted = namespace_name(path.workspace.as_str(), path.project.as_str(), path.environment.as_str())?;
        for (workspace, project, environment) in app_folders(&self.workdir().join("apps"), None)? {
            let same_folder = workspace == path.workspace.as_str()
                && project == path.project.as_str()
                && environment == path.environment.as_str();
            if !same_folder && format!("{workspace}-{project}-{environment}") == wanted {
                return Err(GitopsError::NamespaceTaken {
                    namespace: wanted,
                    app: path.to_string(),
                    other: format!("{workspace}/{project}/{environment}"),
                });
            }
        }
        Ok(())
    }

    /// Rewrites the root Application and the workspace's AppProject/ApplicationSet from the
    /// folders now in the tree, so the AppProject lists exactly the workspace's namespaces.
    fn write_bootstrap(&self, path: &AppPath) -> Result<()> {
        let root = self.workdir().join("bootstrap");
        write_files(&root, &render_root(&self.config.argo)?)?;
        let apps = self.workdir().join("apps");
        let mut namespaces: Vec<String> = app_folders(&apps, Some(path.workspace.as_str()))?
            .into_iter()
            .filter_map(|(workspace, project, environment)| namespace_name(&workspace, &project, &environment).ok())
            .collect();
        namespaces.sort();
        let folder = root.join("workspaces").join(path.workspace.as_str());
        if folder.exists() {
            std::fs::remove_dir_all(&folder).map_err(|err| GitopsError::io(&folder, err))?;
        }
        write_files(&folder, &render_workspace(&path.workspace, &namespaces, &self.config.argo)?)
    }
}

fn write_files(folder: &Path, manifests: &Manifests) -> Result<()> {
    std::fs::create_dir_all(folder).map_err(|err| GitopsError::io(folder, err))?;
    for (name, text) in manifests.files() {
        let file = folder.join(name);
        std::fs::write(&file, text).map_err(|err| GitopsError::io(&file, err))?;
    }
    Ok(())
}

/// `(workspace, project, environment)` of every `apps/*/*/*` folder, optionally of one workspace.
fn app_folders(apps: &Path, only: Option<&str>) -> Result<Vec<(String, String, String)>> {
    let mut found = Vec::new();
    let workspaces = match only {
        Some(workspace) => vec![workspace.to_owned()],
        None => subdirectories(apps)?,
    };
    for workspace in workspaces {
        let workspace_dir = apps.join(&workspace);
        for project in subdirectories(&workspace_dir)? {
            for environment in subdirectories(&workspace_dir.join(&project))? {
                found.push((workspace.clone(), project.clone(), environment));
            }
        }
    }
    Ok(found)
}

fn subdirectories(dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(GitopsError::io(dir, err)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| GitopsError::io(dir, err))?;
        if entry.file_type().map_err(|err| GitopsError::io(entry.path(), err))?.is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(names)
}
