//! The directory of a repository that holds a project's app (a monorepo's `apps/web`): a project
//! setting, or `root_dir` in the repository's `slipway.toml`. Only that directory is detected,
//! built and shipped.
//!
//! Here only its spelling is checked: a relative path of plain names (no `.`, `..`, absolute path
//! or backslash). That every step is a real directory of the checkout, never a symlink, is checked
//! against each checkout by the builder (`slipway_build::root_dir`).

use std::fmt;
use std::path::{Path, PathBuf};

/// A checked root directory: a relative path of plain names, without a trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RootDir(PathBuf);

/// Why a root directory was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`root_dir` must be a directory of the repository named by a relative path of plain names, like \"apps/web\" \
     (got {0:?})"
)]
pub struct InvalidRootDir(String);

impl RootDir {
    /// The longest accepted, in characters.
    pub const MAX_LEN: usize = 1024;
    /// [`RootDir::parse`]'s grammar as an ECMA regex, for the API's document: names split by `/`,
    /// none empty, `.` or `..`, none with a backslash or a control character.
    pub const PATTERN: &'static str = concat!(
        r"^(?:[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*|\.[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*|\.\.[^/\\\x00-\x1f\x7f]+)",
        r"(?:/(?:[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*|\.[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*|\.\.[^/\\\x00-\x1f\x7f]+))*$"
    );

    /// Exactly as written: the API takes nothing else (slipway.toml's reader forgives a trailing `/`).
    pub fn parse(text: &str) -> Result<Self, InvalidRootDir> {
        let name_ok =
            |name: &str| !matches!(name, "" | "." | "..") && !name.chars().any(|c| c == '\\' || c.is_ascii_control());
        if text.chars().count() > Self::MAX_LEN || !text.split('/').all(name_ok) {
            return Err(InvalidRootDir(text.chars().take(80).collect()));
        }
        Ok(Self(PathBuf::from(text)))
    }

    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// As written (it is UTF-8: it was parsed from a string).
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl fmt::Display for RootDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_names_are_taken_and_the_rest_refused() {
        for good in ["apps/web", "a", "...", ".env/x", "..x", "my app/web"] {
            let dir = RootDir::parse(good).expect(good);
            assert_eq!(dir.as_str(), good);
            assert!(dir.as_path().components().all(|c| matches!(c, std::path::Component::Normal(_))), "{good}");
        }
        for bad in ["", "/", "/etc", "apps/", "a//b", "../x", "apps/../..", "./apps", "a\\b", "a\0b", "a\nb", "a\x7f"] {
            let err = RootDir::parse(bad).expect_err(bad).to_string();
            assert!(err.contains("relative path of plain names"), "{bad:?}: {err}");
        }
        assert!(RootDir::parse(&"a/".repeat(600)[..1199]).is_err());
    }
}
