//! Where project repositories live: `<root>/<workspace id>/<project id>.git`.
//! IDs, not slugs, so a path can never be steered by a name, and every
//! repository shares one hooks directory (`core.hooksPath`).

use std::path::{Path, PathBuf};

use slipway_core::ids::{ProjectId, WorkspaceId};

use crate::{git, GitError};

/// The hook every repository runs after a push. `SLIPWAY_BIN` is set by the
/// git server to the running `slipway` executable.
const POST_RECEIVE: &str = "#!/bin/sh\nexec \"$SLIPWAY_BIN\" hook post-receive\n";

/// The largest pack a push may send (and a fetch may bring): 1 GiB.
pub(crate) const MAX_PUSH_BYTES: u64 = 1 << 30;

#[derive(Debug, Clone)]
pub struct Repos {
    root: PathBuf,
}

impl Repos {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn path(&self, workspace: &WorkspaceId, project: &ProjectId) -> PathBuf {
        self.root.join(workspace.as_str()).join(format!("{project}.git"))
    }

    fn hooks_dir(&self) -> PathBuf {
        self.root.join("hooks")
    }

    /// The project's bare repository, created on first use.
    pub async fn ensure(&self, workspace: &WorkspaceId, project: &ProjectId) -> Result<PathBuf, GitError> {
        let path = self.path(workspace, project);
        if path.join("HEAD").exists() {
            return Ok(path);
        }
        self.write_hooks().await?;
        init_bare(&path, "main").await?;
        let hooks = self.hooks_dir().to_string_lossy().into_owned();
        git(&["config", "core.hooksPath", &hooks], Some(&path)).await?;
        // Reject pushes whose objects are broken, as a hosting service does,
        // and packs over the size limit, with git's own message to the pusher.
        git(&["config", "receive.fsckObjects", "true"], Some(&path)).await?;
        git(&["config", "receive.maxInputSize", &MAX_PUSH_BYTES.to_string()], Some(&path)).await?;
        Ok(path)
    }

    async fn write_hooks(&self) -> Result<(), GitError> {
        let dir = self.hooks_dir();
        tokio::fs::create_dir_all(&dir).await?;
        let hook = dir.join("post-receive");
        if tokio::fs::read_to_string(&hook).await.ok().as_deref() != Some(POST_RECEIVE) {
            let temp = dir.join("post-receive.tmp");
            tokio::fs::write(&temp, POST_RECEIVE).await?;
            set_executable(&temp).await?;
            tokio::fs::rename(&temp, &hook).await?;
        }
        Ok(())
    }

    /// Whether the repository exists yet.
    pub fn exists(&self, workspace: &WorkspaceId, project: &ProjectId) -> bool {
        self.path(workspace, project).join("HEAD").exists()
    }
}

/// Creates a bare repository at `path` (and the directories above it) whose first branch is
/// `branch`, unless one is there already.
pub async fn init_bare(path: &Path, branch: &str) -> Result<(), GitError> {
    if path.join("HEAD").exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let text = path.to_string_lossy();
    git(&["init", "--bare", "--quiet", &format!("--initial-branch={branch}"), &text], None).await?;
    Ok(())
}

async fn set_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).await
}
