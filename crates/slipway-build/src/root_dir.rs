//! `root_dir` in the repository's `slipway.toml`: the app of a monorepo
//! lives in that directory, so only it is detected, built and shipped (the
//! rest of the repository is not part of the release, as on the peers'
//! platforms).
//!
//! ```toml
//! root_dir = "apps/web"
//! ```
//!
//! The path is relative, made of plain names only (no `.`, `..` or absolute
//! path), and every step of it must be a real directory of the checkout:
//! a symlink, even one pointing inside the repository, is refused, so the
//! app can never be read from outside the checkout.

use std::path::{Component, Path, PathBuf};

use crate::DetectError;

const FILE: &str = "slipway.toml";
const MAX_LEN: usize = 1024;

/// A checked `root_dir`: a relative path of plain names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootDir(PathBuf);

impl RootDir {
    pub fn as_path(&self) -> &Path {
        &self.0
    }

    fn parse(text: &str) -> Result<Self, DetectError> {
        let text = text.trim().trim_end_matches('/');
        let path = Path::new(text);
        let plain = !text.is_empty()
            && text.len() <= MAX_LEN
            && !text.contains(['\\', '\0'])
            && path.components().all(|c| matches!(c, Component::Normal(_)));
        if !plain {
            return Err(malformed(format!(
                "`root_dir` must be a directory of the repository named by a relative path of plain names, like \
                 \"apps/web\" (got {text:?})"
            )));
        }
        Ok(Self(path.to_owned()))
    }
}

impl std::fmt::Display for RootDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.display().fmt(f)
    }
}

fn malformed(problem: String) -> DetectError {
    DetectError::Malformed { file: FILE.to_owned(), problem }
}

/// The `root_dir` the checkout's own `slipway.toml` names, checked against the checkout.
pub fn root_dir(checkout: &Path) -> Result<Option<RootDir>, DetectError> {
    let manifest = checkout.join(FILE);
    let Ok(meta) = std::fs::symlink_metadata(&manifest) else { return Ok(None) };
    if !meta.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&manifest).map_err(|_| malformed("it is not UTF-8 text".to_owned()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| malformed(e.message().to_owned()))?;
    let root = match table.get("root_dir") {
        None => return Ok(None),
        Some(toml::Value::String(text)) => RootDir::parse(text)?,
        Some(other) => return Err(malformed(format!("`root_dir` must be a string, not a {}", other.type_str()))),
    };
    let mut at = checkout.to_owned();
    for step in root.0.components() {
        at.push(step);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) if meta.is_symlink() => {
                return Err(malformed(format!(
                    "`root_dir` {root} goes through the symlink {}; name the directory itself",
                    at.strip_prefix(checkout).unwrap_or(&at).display()
                )))
            }
            _ => return Err(malformed(format!("`root_dir` {root} is not a directory of the repository"))),
        }
    }
    Ok(Some(root))
}

/// Makes `checkout` hold only what its `root` held (moved, not copied).
pub fn narrow_to(checkout: &Path, root: &RootDir) -> std::io::Result<()> {
    let aside = checkout.with_file_name(format!(
        "{}.root",
        checkout.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    let _ = std::fs::remove_dir_all(&aside);
    std::fs::rename(checkout.join(root.as_path()), &aside)?;
    std::fs::remove_dir_all(checkout)?;
    std::fs::rename(&aside, checkout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkout(manifest: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join(FILE), manifest).expect("manifest");
        std::fs::create_dir_all(dir.path().join("apps/web")).expect("apps/web");
        std::fs::write(dir.path().join("apps/web/index.js"), "").expect("index.js");
        dir
    }

    #[test]
    fn a_plain_relative_directory_is_taken_and_becomes_the_checkout() {
        let dir = checkout("root_dir = \"apps/web/\"\n");
        let root = root_dir(dir.path()).expect("valid").expect("named");
        assert_eq!(root.as_path(), Path::new("apps/web"));
        narrow_to(dir.path(), &root).expect("narrowed");
        assert!(dir.path().join("index.js").is_file());
        assert!(!dir.path().join("apps").exists() && !dir.path().join(FILE).exists());
    }

    #[test]
    fn escapes_symlinks_and_missing_directories_are_refused() {
        for bad in ["../web", "/etc", "apps/../..", "./apps/web", "", "apps\\web"] {
            let dir = checkout(&format!("root_dir = {bad:?}\n"));
            let err = root_dir(dir.path()).expect_err(bad).to_string();
            assert!(err.contains("relative path of plain names"), "{bad}: {err}");
        }
        let dir = checkout("root_dir = \"apps/api\"\n");
        let err = root_dir(dir.path()).expect_err("missing").to_string();
        assert!(err.contains("`root_dir` apps/api is not a directory of the repository"), "{err}");
        let dir = checkout("root_dir = \"link/web\"\n");
        std::os::unix::fs::symlink("apps", dir.path().join("link")).expect("symlink");
        let err = root_dir(dir.path()).expect_err("symlink").to_string();
        assert!(err.contains("goes through the symlink link"), "{err}");
        let dir = checkout("root_dir = 3\n");
        assert!(root_dir(dir.path()).expect_err("number").to_string().contains("must be a string"));
        let dir = checkout("start = \"node x.js\"\n");
        assert_eq!(root_dir(dir.path()).expect("no root_dir"), None);
    }
}
