//! A Composer repository on disk that stands in for Packagist, which the
//! machines these tests run on cannot reach: `packages.json` and a tar archive
//! of psr/log made from Debian's `php-psr-log` package (its sources in
//! /usr/share/php/Psr/Log; .ci/run installs it). Tests name it with the
//! operator setting `SLIPWAY_COMPOSER_MIRROR`, as production names a Packagist
//! mirror, so a build takes the same path through the builder.

use std::path::Path;
use std::process::Command;

/// A Composer repository in a directory: `packages.json` and the archives it names.
pub struct LocalRepository {
    pub dir: tempfile::TempDir,
    /// psr/log's version, as Debian ships it (`1.1.4`).
    pub psr_log: String,
}

impl LocalRepository {
    /// psr/log from Debian's php-psr-log, as a Composer package: a tar archive of
    /// /usr/share/php/Psr/Log and its entry in packages.json. Readable by every user, so a
    /// sandboxed build (another uid) reads it too when the directory is shown to it.
    pub fn debian() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let sources = Path::new("/usr/share/php/Psr/Log");
        assert!(sources.join("LoggerInterface.php").is_file(), "apt-get install php-psr-log (Debian's psr/log)");
        let version =
            Command::new("dpkg-query").args(["-W", "-f=${Version}", "php-psr-log"]).output().expect("dpkg-query");
        let version = String::from_utf8_lossy(&version.stdout).into_owned();
        // `1.1.4-2` → `1.1.4`: the upstream version, without an epoch or Debian's revision.
        let version = version.rsplit(':').next().unwrap_or_default().split(['-', '+']).next().unwrap_or_default();
        assert!(!version.is_empty(), "php-psr-log's version");
        let staging = dir.path().join("staging/log/Psr");
        std::fs::create_dir_all(&staging).expect("mkdir");
        let copied = Command::new("cp").arg("-r").arg(sources).arg(&staging).status().expect("cp");
        assert!(copied.success());
        let archive = dir.path().join(format!("dist/psr-log-{version}.tar"));
        std::fs::create_dir_all(archive.parent().expect("parent")).expect("mkdir");
        let tar = Command::new("tar")
            .arg("-cf")
            .arg(&archive)
            .arg("-C")
            .arg(dir.path().join("staging"))
            .arg("log")
            .status()
            .expect("tar");
        assert!(tar.success());
        std::fs::remove_dir_all(dir.path().join("staging")).expect("rm staging");
        let packages = serde_json::json!({
            "packages": {
                "psr/log": {
                    version: {
                        "name": "psr/log",
                        "version": version,
                        "type": "library",
                        "license": ["MIT"],
                        "require": {"php": ">=5.3.0"},
                        "autoload": {"psr-4": {"Psr\\Log\\": "Psr/Log/"}},
                        "dist": {"type": "tar", "url": format!("file://{}", archive.display())},
                    }
                }
            }
        });
        std::fs::write(dir.path().join("packages.json"), packages.to_string()).expect("packages.json");
        open_to_everyone(dir.path());
        Self { psr_log: version.to_owned(), dir }
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }
}

/// Directories 0755 and files 0644 from `dir` down, and every directory above it traversable.
pub fn open_to_everyone(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let status = Command::new("chmod").args(["-R", "u+rwX,go+rX"]).arg(dir).status().expect("chmod");
    assert!(status.success());
    for parent in dir.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(parent) else { continue };
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(mode | 0o011)).expect("chmod");
        }
    }
}
