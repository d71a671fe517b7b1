//! Where a monorepo's app lives: the project's `root_dir` setting, or else
//! `root_dir` in the repository's `slipway.toml`. Only that directory is
//! detected, built and shipped (the rest of the repository is not part of the
//! release, as on the peers' platforms).
//!
//! ```toml
//! root_dir = "apps/web"
//! ```
//!
//! The path is relative, made of plain names only (no `.`, `..` or absolute
//! path; `slipway_core::root_dir`), and every step of it must be a real
//! directory of the checkout: a symlink, even one pointing inside the
//! repository, is refused, so the app can never be read from outside the
//! checkout.

use std::path::Path;

pub use slipway_core::root_dir::RootDir;

use crate::DetectError;

const FILE: &str = "slipway.toml";

fn malformed(problem: String) -> DetectError {
    DetectError::Malformed { file: FILE.to_owned(), problem }
}

/// The app's directory in `checkout` and who named it: the project's `setting` when it has one,
/// else the checkout's own `slipway.toml`; checked against the checkout.
pub fn app_root(checkout: &Path, setting: Option<&RootDir>) -> Result<Option<AppRoot>, DetectError> {
    let (dir, named_by) = match setting {
        Some(dir) => (dir.clone(), NamedBy::Project),
        None => match in_manifest(checkout)? {
            Some(dir) => (dir, NamedBy::Manifest),
            None => return Ok(None),
        },
    };
    let refused = |problem: String| match named_by {
        NamedBy::Project => DetectError::Malformed { file: "the project's root_dir setting".to_owned(), problem },
        NamedBy::Manifest => malformed(problem),
    };
    let mut at = checkout.to_owned();
    for step in dir.as_path().components() {
        at.push(step);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) if meta.is_symlink() => {
                return Err(refused(format!(
                    "`root_dir` {dir} goes through the symlink {}; name the directory itself",
                    at.strip_prefix(checkout).unwrap_or(&at).display()
                )))
            }
            _ => return Err(refused(format!("`root_dir` {dir} is not a directory of the repository"))),
        }
    }
    Ok(Some(AppRoot { dir, named_by }))
}

/// A build's app directory in its checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRoot {
    pub dir: RootDir,
    pub named_by: NamedBy,
}

/// Who named an [`AppRoot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedBy {
    /// The project's setting (`slipway apps:update --root-dir`), which wins.
    Project,
    /// `root_dir` in the repository's `slipway.toml`.
    Manifest,
}

impl std::fmt::Display for NamedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Project => "the project's root_dir setting",
            Self::Manifest => "root_dir in slipway.toml",
        })
    }
}

/// The `root_dir` the checkout's own `slipway.toml` names, as written.
fn in_manifest(checkout: &Path) -> Result<Option<RootDir>, DetectError> {
    let manifest = checkout.join(FILE);
    let Ok(meta) = std::fs::symlink_metadata(&manifest) else { return Ok(None) };
    if !meta.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&manifest).map_err(|_| malformed("it is not UTF-8 text".to_owned()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| malformed(e.message().to_owned()))?;
    match table.get("root_dir") {
        None => Ok(None),
        Some(toml::Value::String(text)) => {
            RootDir::parse(text.trim().trim_end_matches('/')).map(Some).map_err(|err| malformed(err.to_string()))
        }
        Some(other) => Err(malformed(format!("`root_dir` must be a string, not a {}", other.type_str()))),
    }
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
        let root = app_root(dir.path(), None).expect("valid").expect("named");
        assert_eq!((root.dir.as_path(), root.named_by), (Path::new("apps/web"), NamedBy::Manifest));
        narrow_to(dir.path(), &root.dir).expect("narrowed");
        assert!(dir.path().join("index.js").is_file());
        assert!(!dir.path().join("apps").exists() && !dir.path().join(FILE).exists());
    }

    #[test]
    fn escapes_symlinks_and_missing_directories_are_refused() {
        for bad in ["../web", "/etc", "apps/../..", "./apps/web", "", "apps\\web"] {
            let dir = checkout(&format!("root_dir = {bad:?}\n"));
            let err = app_root(dir.path(), None).expect_err(bad).to_string();
            assert!(err.contains("relative path of plain names"), "{bad}: {err}");
        }
        let dir = checkout("root_dir = \"apps/api\"\n");
        let err = app_root(dir.path(), None).expect_err("missing").to_string();
        assert!(err.contains("`root_dir` apps/api is not a directory of the repository"), "{err}");
        let dir = checkout("root_dir = \"link/web\"\n");
        std::os::unix::fs::symlink("apps", dir.path().join("link")).expect("symlink");
        let err = app_root(dir.path(), None).expect_err("symlink").to_string();
        assert!(err.contains("goes through the symlink link"), "{err}");
        let dir = checkout("root_dir = 3\n");
        assert!(app_root(dir.path(), None).expect_err("number").to_string().contains("must be a string"));
        let dir = checkout("start = \"node x.js\"\n");
        assert_eq!(app_root(dir.path(), None).expect("no root_dir"), None);
    }

    #[test]
    fn the_projects_setting_wins_and_is_checked_the_same_way() {
        let dir = checkout("root_dir = \"../elsewhere\"\n");
        let setting = RootDir::parse("apps/web").expect("plain");
        let root = app_root(dir.path(), Some(&setting)).expect("valid").expect("named");
        assert_eq!(root, AppRoot { dir: setting, named_by: NamedBy::Project });
        std::os::unix::fs::symlink("/etc", dir.path().join("apps/etc")).expect("symlink");
        let err = app_root(dir.path(), Some(&RootDir::parse("apps/etc").expect("plain"))).expect_err("symlink");
        assert_eq!(
            err.to_string(),
            "the project's root_dir setting is malformed: `root_dir` apps/etc goes through the symlink apps/etc; \
             name the directory itself"
        );
    }
}
