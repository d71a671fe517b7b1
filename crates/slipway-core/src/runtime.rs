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

/// The Java feature release (8, 17, 21) a version as Java projects write it names: `17`,
/// `17.0.2`, `1.8` and `1.8.0_392` (the old spelling: 8), `JavaVersion.VERSION_1_8`,
/// `temurin-21.0.1+12.0.LTS` (asdf), `zulu64-17.0.2` (jenv), `17.0.9-tem` (SDKMAN!). The first
/// run of digits that starts a word counts, so a vendor's `64` does not. `None` when there is none.
pub fn java_major(version: &str) -> Option<u32> {
    let bytes = version.as_bytes();
    let start =
        (0..bytes.len()).find(|&i| bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()))?;
    let digits = |from: usize| {
        let end = bytes[from..].iter().position(|b| !b.is_ascii_digit()).map_or(bytes.len(), |n| from + n);
        (version[from..end].parse::<u32>().ok(), end)
    };
    let (first, end) = digits(start);
    let first = first?;
    // `1.8`, `1_8`: the feature release is the second number.
    if first == 1 && matches!(bytes.get(end), Some(b'.' | b'_')) && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
        return digits(end + 1).0;
    }
    (first > 0).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::java_major;

    #[test]
    fn java_versions_name_their_feature_release() {
        for (written, major) in [
            ("17", Some(17)),
            ("17.0.2", Some(17)),
            ("1.8", Some(8)),
            ("1.8.0_392", Some(8)),
            ("JavaVersion.VERSION_1_8", Some(8)),
            ("JavaVersion.VERSION_17", Some(17)),
            ("temurin-21.0.1+12.0.LTS", Some(21)),
            ("openjdk-17.0.2", Some(17)),
            ("zulu64-17.0.2", Some(17)),
            ("17.0.9-tem", Some(17)),
            ("11", Some(11)),
            ("latest", None),
            ("0", None),
        ] {
            assert_eq!(java_major(written), major, "{written}");
        }
    }
}
