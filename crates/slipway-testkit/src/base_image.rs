//! The tests' own base image, since Docker Hub is out of reach: one layer
//! holding a static busybox (Debian's `busybox-static`) as `/bin/busybox`
//! with `/bin/sh` and `/bin/httpd` links, `/etc/passwd` with root and the app
//! user 1000, and `/tmp`. Pushed with plain reqwest calls, independently of
//! the code under test, as an OCI index over one manifest for this platform.

use std::io::Write;

use serde_json::json;
use sha2::{Digest as _, Sha256};
use slipway_image::oci::host_platform;

pub const BUSYBOX: &str = "/usr/bin/busybox";
pub const BUSYBOX_INSTALL: &str = "apt-get install -y busybox-static";

pub struct PushedBase {
    /// `host/repo:1.0@sha256:<index digest>`.
    pub reference: String,
    pub index_digest: String,
    pub manifest_digest: String,
    pub layer_digest: String,
    pub layer_size: u64,
}

pub fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A header owned by root with a fixed mtime (fields `tar` leaves empty otherwise).
fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

fn rootfs_layer() -> (Vec<u8>, String) {
    let busybox = std::fs::read(BUSYBOX)
        .unwrap_or_else(|e| panic!("{BUSYBOX} is missing ({e}); install it with `{BUSYBOX_INSTALL}`"));
    let mut tar = tar::Builder::new(Vec::new());
    let dir = |tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32| {
        let mut header = header(tar::EntryType::Directory, mode, 0);
        tar.append_data(&mut header, path, std::io::empty()).unwrap();
    };
    let file = |tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]| {
        let mut header = header(tar::EntryType::Regular, mode, data.len() as u64);
        tar.append_data(&mut header, path, data).unwrap();
    };
    dir(&mut tar, "bin/", 0o755);
    file(&mut tar, "bin/busybox", 0o755, &busybox);
    for link in ["sh", "httpd", "cat", "ls", "id"] {
        let mut header = header(tar::EntryType::Symlink, 0o777, 0);
        tar.append_link(&mut header, format!("bin/{link}"), "busybox").unwrap();
    }
    dir(&mut tar, "etc/", 0o755);
    file(&mut tar, "etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/app:/bin/sh\n");
    file(&mut tar, "etc/group", 0o644, b"root:x:0:\napp:x:1000:\n");
    dir(&mut tar, "tmp/", 0o1777);
    let uncompressed = tar.into_inner().unwrap();
    let diff_id = sha(&uncompressed);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&uncompressed).unwrap();
    (gz.finish().unwrap(), diff_id)
}

/// Monolithic upload: POST for a session, PUT the bytes with their digest.
pub async fn push_blob(http: &reqwest::Client, base: &str, repo: &str, bytes: &[u8], login: Option<(&str, &str)>) {
    let auth = |r: reqwest::RequestBuilder| match login {
        Some((u, p)) => r.basic_auth(u, Some(p)),
        None => r,
    };
    let response = auth(http.post(format!("{base}/v2/{repo}/blobs/uploads/"))).send().await.unwrap();
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let location = if location.starts_with("http") { location } else { format!("{base}{location}") };
    let separator = if location.contains('?') { '&' } else { '?' };
    let url = format!("{location}{separator}digest={}", sha(bytes));
    let response = auth(http.put(url)).body(bytes.to_vec()).send().await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

async fn push_manifest(
    http: &reqwest::Client,
    url: String,
    media_type: &str,
    bytes: &[u8],
    login: Option<(&str, &str)>,
) {
    let request = http.put(url).header("content-type", media_type).body(bytes.to_vec());
    let request = match login {
        Some((u, p)) => request.basic_auth(u, Some(p)),
        None => request,
    };
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

/// The base layer and its config, pushed as blobs to `repo`.
async fn push_layer_and_config(
    http: &reqwest::Client,
    base: &str,
    repo: &str,
    login: Option<(&str, &str)>,
) -> (Vec<u8>, Vec<u8>) {
    let (layer, diff_id) = rootfs_layer();
    let platform = host_platform();
    let config = serde_json::to_vec(&json!({
        "architecture": platform.architecture, "os": platform.os,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"],
                   "Labels": {"test.slipway.dev/base": "busybox"}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "slipway test base"}],
    }))
    .unwrap();
    push_blob(http, base, repo, &layer, login).await;
    push_blob(http, base, repo, &config, login).await;
    (layer, config)
}

/// The base as Docker (schema 2) writes it: a manifest with Docker media types, no index; pinned to `:docker`.
pub async fn push_docker_base(host: &str, repo: &str) -> PushedBase {
    let http = reqwest::Client::new();
    let base = format!("http://{host}");
    let (layer, config) = push_layer_and_config(&http, &base, repo, None).await;
    let media_type = "application/vnd.docker.distribution.manifest.v2+json";
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": media_type,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": sha(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": sha(&layer), "size": layer.len()}],
    }))
    .unwrap();
    let manifest_digest = sha(&manifest);
    push_manifest(&http, format!("{base}/v2/{repo}/manifests/docker"), media_type, &manifest, None).await;
    PushedBase {
        reference: format!("{host}/{repo}:docker@{manifest_digest}"),
        index_digest: String::new(),
        manifest_digest,
        layer_digest: sha(&layer),
        layer_size: layer.len() as u64,
    }
}

/// Builds the base image and pushes it to `host/repo:1.0`, as an OCI index over one manifest.
pub async fn push_base(host: &str, repo: &str, login: Option<(&str, &str)>) -> PushedBase {
    let http = reqwest::Client::new();
    let base = format!("http://{host}");
    let (layer, config) = push_layer_and_config(&http, &base, repo, login).await;
    let platform = host_platform();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(&layer), "size": layer.len()}],
    }))
    .unwrap();
    let manifest_digest = sha(&manifest);
    let url = format!("{base}/v2/{repo}/manifests/{manifest_digest}");
    push_manifest(&http, url, "application/vnd.oci.image.manifest.v1+json", &manifest, login).await;
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(),
             "platform": {"architecture": platform.architecture, "os": "linux"}},
        ],
    }))
    .unwrap();
    let index_digest = sha(&index);
    push_manifest(
        &http,
        format!("{base}/v2/{repo}/manifests/1.0"),
        "application/vnd.oci.image.index.v1+json",
        &index,
        login,
    )
    .await;
    PushedBase {
        reference: format!("{host}/{repo}:1.0@{index_digest}"),
        index_digest,
        manifest_digest,
        layer_digest: sha(&layer),
        layer_size: layer.len() as u64,
    }
}
