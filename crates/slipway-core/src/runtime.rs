//! Language runtimes in the versions apps ask for: where a tree asks
//! ([`VersionAsk`], found by detection) and the version a build used
//! ([`RuntimeVersion`], recorded on the release).

use serde::{Deserialize, Serialize};

/// A runtime Slipway can provide in the version an app asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Node,
    Python,
    Go,
}

impl Language {
    /// Every language the runtimes store holds.
    pub const ALL: [Language; 3] = [Self::Node, Self::Python, Self::Go];

    /// The directory name in the runtimes store and the serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Node => "node",
            Self::Python => "python",
            Self::Go => "go",
        }
    }

    /// The name people write: `Node.js`, `Python`, `Go`.
    pub fn title(self) -> &'static str {
        match self {
            Self::Node => "Node.js",
            Self::Python => "Python",
            Self::Go => "Go",
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.title())
    }
}

/// One place a tree asks for its runtime's version, and what it says there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionAsk {
    /// Where: `engines.node in package.json`, `.nvmrc`, `go.mod`, `.python-version`, ….
    pub source: String,
    /// What, as written there: `>=20 <23`, `22`, `1.25`, `3.12.1`, `lts/iron`.
    pub version: String,
}

impl VersionAsk {
    pub fn new(source: impl Into<String>, version: impl Into<String>) -> Self {
        Self { source: source.into(), version: version.into() }
    }
}

/// The runtime a release was built and runs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuntimeVersion {
    pub language: Language,
    /// The concrete version: `22.12.0`, `1.25.5`, `3.12.1`.
    pub version: String,
    /// Whether it is the build machine's own toolchain (which satisfied what the app asks)
    /// rather than one installed into the runtimes store.
    #[serde(default)]
    pub host: bool,
}

impl std::fmt::Display for RuntimeVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.language, self.version)?;
        if self.host {
            f.write_str(" (the build machine's own)")?;
        }
        Ok(())
    }
}
