//! The one error type of the crate. Every variant says what failed and, where
//! the user can act, what to do; none is raised after a partial push of the
//! final manifest (blobs may be left behind, which registries garbage-collect
//! and a retry reuses).

/// Everything that can go wrong while exporting an image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A setting (`SLIPWAY_REGISTRY…`) could not be parsed.
    #[error("{setting}: {problem}")]
    InvalidConfig { setting: String, problem: String },
    /// An image reference or digest is malformed.
    #[error("`{reference}` is not a valid image reference: {problem}")]
    InvalidReference { reference: String, problem: String },
    /// The base image is named by tag only. Tags move, so a release could not
    /// be rebuilt identically; the base must be pinned by digest.
    #[error(
        "the base image `{reference}` is not pinned by digest; tags can move, so Slipway only builds on \
         `name[:tag]@sha256:<digest>` (find the digest with `crane digest {reference}` or \
         `docker buildx imagetools inspect {reference}`)"
    )]
    BaseNotPinned { reference: String },
    /// The build plan has nothing to run as the image's command.
    #[error("the build plan has no `web` process, so the image would have no command; add one to the Procfile or slipway.toml")]
    NoWebProcess,
    /// The target tag already exists; tags are immutable and never overwritten.
    #[error(
        "the image `{reference}` already exists in the registry; image tags are immutable and are never pushed twice"
    )]
    TagExists { reference: String },
    /// The registry could not be reached at all.
    #[error("the registry {registry} is unreachable ({url}): {source}; check SLIPWAY_REGISTRY and that the registry is running")]
    Unreachable {
        registry: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The registry refused the credentials (or anonymous access).
    #[error(
        "the registry {registry} refused access to {repository} ({status}): {detail}; check \
         SLIPWAY_REGISTRY_USERNAME and SLIPWAY_REGISTRY_PASSWORD and that the account may push there"
    )]
    Unauthorized { registry: String, repository: String, status: u16, detail: String },
    /// A manifest or blob that must exist does not.
    #[error("{what} was not found in the registry {registry}")]
    NotFound { registry: String, what: String },
    /// The registry answered something Slipway does not understand or did not expect.
    #[error("the registry {registry} answered {status} to {operation}: {detail}")]
    Registry { registry: String, operation: String, status: u16, detail: String },
    /// Content did not hash to the digest it was fetched by.
    #[error("{what} has digest {actual}, expected {expected}; the registry served other content than asked for")]
    DigestMismatch { what: String, expected: String, actual: String },
    /// The base manifest is of a kind or platform Slipway cannot build on.
    #[error("the base image `{reference}` cannot be used: {problem}")]
    UnsupportedBase { reference: String, problem: String },
    /// Reading the build directory or writing the layer failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl ImageError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}
