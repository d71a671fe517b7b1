//! One error type for the crate, so callers (the deploy pipeline, the API) can
//! map each failure to a deployment's reason without parsing strings.

use std::path::PathBuf;

use slipway_core::image_ref::InvalidImageRef;

/// Everything that can go wrong while rendering or committing.
#[derive(Debug, thiserror::Error)]
pub enum GitopsError {
    /// A name cannot become a Kubernetes object name, namespace or label value.
    #[error("{what} `{value}` cannot be used in Kubernetes: {reason}")]
    InvalidName { what: &'static str, value: String, reason: String },

    /// The image is malformed, or not pinned as it must be (an app's to its immutable tag, the
    /// control plane's to a digest).
    #[error("image `{image}` is refused: {reason}")]
    MutableImage { image: String, reason: String },

    /// A setting of the environment is out of range or malformed.
    #[error("invalid {what}: {reason}")]
    InvalidInput { what: &'static str, reason: String },

    /// Two workspaces would share one namespace (`a-b` + `c` and `a` + `b-c`).
    #[error(
        "namespace `{namespace}` of {app} is already used by {other} in the GitOps repository; \
         rename the project or environment"
    )]
    NamespaceTaken { namespace: String, app: String, other: String },

    /// A manifest could not be serialised (a bug, not user input).
    #[error("could not serialise {what} to YAML")]
    Serialize {
        what: String,
        #[source]
        source: serde_norway::Error,
    },

    /// The `git` executable could not be started.
    #[error("could not run `git` (is git installed and on PATH?)")]
    GitMissing(#[source] std::io::Error),

    /// The GitOps remote could not be reached or refused us.
    #[error(
        "GitOps remote `{remote}` failed during {action}: {stderr}; check SLIPWAY_GITOPS_REMOTE and its credentials"
    )]
    Remote { remote: String, action: &'static str, stderr: String },

    /// A local git command failed.
    #[error("`git {args}` failed in {}: {stderr}", workdir.display())]
    Git { args: String, workdir: PathBuf, stderr: String },

    /// Other writers kept winning the race to the remote.
    #[error("push to `{remote}` was rejected {attempts} times (non-fast-forward); nothing was committed")]
    RetriesExhausted { remote: String, attempts: u32 },

    /// A rollback target does not hold the app's folder.
    #[error("commit `{commit}` holds no manifests for {app}")]
    NoSuchRelease { commit: String, app: String },

    /// Reading or writing the working clone failed.
    #[error("file system error at {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Every image requirement (an immutable tag, a digest) is checked in `slipway_core`; a refusal is a
/// [`GitopsError::MutableImage`] here.
impl From<InvalidImageRef> for GitopsError {
    fn from(err: InvalidImageRef) -> Self {
        GitopsError::MutableImage { image: err.value().to_owned(), reason: err.problem().to_owned() }
    }
}

impl GitopsError {
    pub(crate) fn invalid_name(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        // Echo at most a screenful of hostile input back.
        Self::InvalidName { what, value: value.chars().take(80).collect(), reason: reason.into() }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

pub type Result<T, E = GitopsError> = std::result::Result<T, E>;
