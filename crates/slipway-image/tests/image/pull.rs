//! Reading an exported image back with plain HTTP, independently of the code
//! under test, plus the app and plan the export tests share.

use std::collections::BTreeMap;
use std::io::Read;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::path::Path;

use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::DeploymentNumber;
use slipway_core::ids::UserId;
use slipway_core::image_tag::{CommitSha, ImageTag};
use slipway_core::process_type::ProcessType;
use slipway_core::stack::Stack;

use slipway_testkit::base_image::sha;

pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

pub fn tag(build: u64) -> ImageTag {
    let user = UserId::parse("usr_0190d1c2a3b4c5d6e7f8091a2b3c4d5e").unwrap();
    ImageTag::new(user, DeploymentNumber::new(build).unwrap(), CommitSha::parse(COMMIT).unwrap())
}

/// A built app: a static site busybox httpd serves, plus a script and a `.git` that must stay out.
pub fn app_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("public/assets")).unwrap();
    std::fs::write(dir.path().join("public/index.html"), "<h1>hello from slipway</h1>\n").unwrap();
    std::fs::write(dir.path().join("public/assets/app.css"), "body { color: teal }\n").unwrap();
    std::fs::write(dir.path().join("start.sh"), "#!/bin/sh\nexec httpd -f -p 0.0.0.0:$PORT -h /app/public\n").unwrap();
    std::os::unix::fs::symlink("public/index.html", dir.path().join("home.html")).unwrap();
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    let mut perms = std::fs::metadata(dir.path().join("start.sh")).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
    std::fs::set_permissions(dir.path().join("start.sh"), perms).unwrap();
    dir
}

pub fn plan() -> BuildPlan {
    let web = "httpd -f -p 127.0.0.1:$PORT -h /app/public".to_owned();
    BuildPlan {
        stack: Stack::Static,
        framework: None,
        package_manager: None,
        runtime_asks: Vec::new(),
        install: None,
        build: None,
        start: Some(web.clone()),
        processes: BTreeMap::from([
            (ProcessType::web(), web),
            ("worker".parse().expect("a process type"), "sh start.sh".to_owned()),
        ]),
        health_check_path: None,
        detected_from: vec!["Procfile".to_owned()],
    }
}

pub struct Pulled {
    pub manifest: serde_json::Value,
    pub manifest_digest: String,
    pub media_type: String,
    pub config: serde_json::Value,
    /// Compressed layer blobs, in manifest order.
    pub layers: Vec<Vec<u8>>,
}

pub async fn pull(registry_host: &str, repo: &str, reference: &str, login: Option<(&str, &str)>) -> Pulled {
    let authorization = login.map(|(u, p)| format!("Basic {}", STANDARD.encode(format!("{u}:{p}"))));
    pull_as(registry_host, repo, reference, authorization.as_deref()).await
}

/// `pull` with any `Authorization` value (a bearer token).
pub async fn pull_as(registry_host: &str, repo: &str, reference: &str, authorization: Option<&str>) -> Pulled {
    let http = reqwest::Client::new();
    let get = |url: String| {
        let request = http.get(url).header("accept", "application/vnd.oci.image.manifest.v1+json");
        match authorization {
            Some(value) => request.header("authorization", value),
            None => request,
        }
    };
    let response = get(format!("http://{registry_host}/v2/{repo}/manifests/{reference}")).send().await.unwrap();
    assert_eq!(response.status(), 200, "manifest {repo}:{reference}");
    let media_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    let bytes = response.bytes().await.unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let blob = |digest: &str| get(format!("http://{registry_host}/v2/{repo}/blobs/{digest}"));
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config_bytes = blob(config_digest).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(sha(&config_bytes), config_digest, "config blob digest");
    let mut layers = Vec::new();
    for layer in manifest["layers"].as_array().unwrap() {
        let digest = layer["digest"].as_str().unwrap();
        let bytes = blob(digest).send().await.unwrap().bytes().await.unwrap().to_vec();
        assert_eq!(sha(&bytes), digest, "layer blob digest");
        assert_eq!(bytes.len() as u64, layer["size"].as_u64().unwrap(), "layer size");
        layers.push(bytes);
    }
    Pulled {
        manifest,
        manifest_digest: sha(&bytes),
        media_type,
        config: serde_json::from_slice(&config_bytes).unwrap(),
        layers,
    }
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

/// One entry of a tar, as the tests compare it.
#[derive(Debug)]
pub struct TarEntry {
    pub path: String,
    /// `d`, `f` or `l`.
    pub kind: char,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub link: Option<String>,
}

/// Every entry of an uncompressed tar, in order.
pub fn tar_entries(tar: &[u8]) -> Vec<TarEntry> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let header = entry.header();
            let kind = match header.entry_type() {
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => 'l',
                tar::EntryType::Regular => 'f',
                other => panic!("unexpected entry type {other:?}"),
            };
            let link = entry.link_name().unwrap().map(|l| l.display().to_string());
            let path = entry.path().unwrap().display().to_string();
            TarEntry {
                path,
                kind,
                mode: header.mode().unwrap(),
                uid: header.uid().unwrap(),
                gid: header.gid().unwrap(),
                mtime: header.mtime().unwrap(),
                link,
            }
        })
        .collect()
}

/// Unpacks layers in order into `rootfs` (no whiteouts: these images have none).
pub fn unpack(layers: &[Vec<u8>], rootfs: &Path) {
    for layer in layers {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&layer[..]));
        archive.set_preserve_permissions(true);
        archive.set_preserve_ownerships(true);
        archive.unpack(rootfs).unwrap();
    }
}
