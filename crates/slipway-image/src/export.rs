//! Exporting: a built app becomes an image in the registry.
//!
//! Order, chosen so that a refusal happens before anything is uploaded and
//! nothing is uploaded twice: check the target tag is free (HEAD manifest) →
//! fetch the pinned base manifest and config (an index picks this platform) →
//! pack the app layer → make sure every base layer is in the target
//! repository (HEAD, then cross-repository mount on the same registry, else
//! download and upload) → upload the app layer and the config unless present
//! → check the tag once more → PUT the OCI manifest under the tag.
//!
//! Two exports racing for the same tag can still both pass the final check
//! (the distribution API has no conditional PUT); tags come from unique build
//! numbers, so that only happens when one build is exported twice at once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use slipway_core::build_plan::{BuildPlan, WEB_PROCESS};
use slipway_core::image_ref::{Digest, ImageRef};
use slipway_core::image_tag::ImageTag;
use slipway_core::names::{ProjectSlug, WorkspaceSlug};
use tokio::sync::Mutex;

use crate::client::Registry;
use crate::command::container_command;
use crate::config::RegistrySettings;
use crate::digest;
use crate::error::ImageError;
use crate::image_config::{self, AppConfig, EPOCH};
use crate::layer::{build_layer, Layer, LayerSource};
use crate::oci::{self, Descriptor, Manifest, Platform};
use crate::ops::{verify, Blob};

/// One image to export. [`ExportRequest::new`] fills in Slipway's defaults.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub plan: BuildPlan,
    /// Directories packed into the app layer; by default the build dir at `/app`.
    /// A Python build's virtualenv lives in the project cache and embeds its
    /// absolute path: add it here at that same path (and its `bin` to
    /// `path_prepend`, `VIRTUAL_ENV` to `env`), as `BuiltApp` reports them.
    pub sources: Vec<LayerSource>,
    /// The base (run) image; must be pinned by digest.
    pub base: ImageRef,
    pub workspace: WorkspaceSlug,
    pub project: ProjectSlug,
    pub tag: ImageTag,
    /// Runtime environment decided by the build (e.g. `VIRTUAL_ENV`); never config vars, which are secrets.
    pub env: Vec<(String, String)>,
    /// Image directories to put first on PATH (e.g. `/app/node_modules/.bin`).
    pub path_prepend: Vec<String>,
    /// The `PORT` the app listens on.
    pub port: u16,
    /// `uid:gid` the app runs as and owns its files as; never root.
    pub uid: u32,
    pub gid: u32,
    pub workdir: String,
    pub platform: Platform,
    /// Extra labels (e.g. `org.opencontainers.image.source`), added after Slipway's own.
    pub labels: Vec<(String, String)>,
    /// Blobs larger than this are uploaded in chunks of this size.
    pub chunk_size: u64,
}

impl ExportRequest {
    pub fn new(
        plan: BuildPlan,
        app_dir: PathBuf,
        base: ImageRef,
        workspace: WorkspaceSlug,
        project: ProjectSlug,
        tag: ImageTag,
    ) -> Self {
        Self {
            plan,
            sources: vec![LayerSource { host_dir: app_dir, image_path: "/app".to_owned() }],
            base,
            workspace,
            project,
            tag,
            env: Vec::new(),
            path_prepend: Vec::new(),
            port: 8080,
            uid: 1000,
            gid: 1000,
            workdir: "/app".to_owned(),
            platform: oci::host_platform(),
            labels: Vec::new(),
            chunk_size: 16 << 20,
        }
    }
}

/// An exported image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedImage {
    /// `registry/prefix/workspace/project:tag`.
    pub reference: ImageRef,
    /// Digest of the pushed manifest: `reference` minus the tag, plus `@digest`, pins it.
    pub digest: Digest,
    pub config_digest: Digest,
    /// The base manifest actually used (the platform's, when the base is an index).
    pub base_digest: Digest,
    /// Base layers first, the app layer last.
    pub layers: Vec<Descriptor>,
}

impl ExportedImage {
    /// `registry/repository@sha256:…`: the reference to deploy, immune to any tag change.
    pub fn pinned(&self) -> String {
        format!("{}/{}@{}", self.reference.registry(), self.reference.repository(), self.digest)
    }
}

/// Pushes images to the configured registry. Cheap to share; keeps tokens per registry.
#[derive(Debug)]
pub struct Exporter {
    config: RegistrySettings,
    registries: Mutex<HashMap<String, Arc<Registry>>>,
}

impl Exporter {
    pub fn new(config: RegistrySettings) -> Self {
        Self { config, registries: Mutex::default() }
    }

    pub fn config(&self) -> &RegistrySettings {
        &self.config
    }

    /// Exports `request` (see the module docs for the order of operations).
    pub async fn export(&self, request: &ExportRequest) -> Result<ExportedImage, ImageError> {
        let command = request.plan.processes.get(WEB_PROCESS).or(request.plan.start.as_ref());
        let command = container_command(command.ok_or(ImageError::NoWebProcess)?);
        let base_digest = request
            .base
            .digest()
            .cloned()
            .ok_or_else(|| ImageError::BaseNotPinned { reference: request.base.to_string() })?;
        if request.uid == 0 || request.gid == 0 {
            return Err(ImageError::InvalidConfig {
                setting: "uid/gid".to_owned(),
                problem: "images run as a non-root user; uid and gid 0 are refused".to_owned(),
            });
        }
        let repository = self.config.repository(&request.workspace, &request.project);
        let tag = request.tag.to_string();
        let target_ref = ImageRef::tagged(self.config.host(), &repository, Some(&tag))?;
        // Docker Hub's API answers on another host than its name, as for base images.
        let api_host = if self.config.host() == "docker.io" { "registry-1.docker.io" } else { self.config.host() };
        let target = self.registry(self.config.host(), api_host).await?;
        if target.manifest_exists(&repository, &tag).await? {
            return Err(ImageError::TagExists { reference: target_ref.to_string() });
        }

        let base_registry = self.registry(request.base.registry(), request.base.api_host()).await?;
        let (base_manifest, used_digest) =
            base_manifest(&base_registry, &request.base, &base_digest, &request.platform).await?;
        let config_digest = Digest::parse(&base_manifest.config.digest)?;
        let base_config_bytes = base_registry.get_blob(request.base.repository(), &config_digest).await?;
        let base_config: serde_json::Value =
            serde_json::from_slice(&base_config_bytes).map_err(|e| ImageError::UnsupportedBase {
                reference: request.base.to_string(),
                problem: format!("its config is not JSON: {e}"),
            })?;

        let scratch = tempfile::tempdir().map_err(ImageError::io("creating a scratch directory"))?;
        let layer = pack(request, scratch.path().join("app-layer.tar.gz")).await?;

        let same_registry = request.base.registry() == self.config.host();
        for descriptor in &base_manifest.layers {
            let digest = Digest::parse(&descriptor.digest)?;
            if target.blob_exists(&repository, &digest).await? {
                continue;
            }
            let session = if same_registry {
                match target.mount_blob(&repository, &digest, request.base.repository()).await? {
                    None => continue,
                    Some(session) => Some(session),
                }
            } else {
                None
            };
            let file = scratch.path().join(digest.as_str().replace(':', "-"));
            let size = base_registry.download_blob(request.base.repository(), &digest, &file).await?;
            let blob = Blob::File { path: &file, size };
            target.upload_blob(&repository, &digest, blob, request.chunk_size, session).await?;
            tokio::fs::remove_file(&file).await.map_err(ImageError::io("removing a copied base layer"))?;
        }
        if !target.blob_exists(&repository, &layer.digest).await? {
            let blob = Blob::File { path: &layer.path, size: layer.size };
            target.upload_blob(&repository, &layer.digest, blob, request.chunk_size, None).await?;
        }

        let labels = labels(request, &target_ref, &used_digest);
        let app = AppConfig {
            user: &format!("{}:{}", request.uid, request.gid),
            workdir: &request.workdir,
            command: &command,
            port: request.port,
            path_prepend: &request.path_prepend,
            env: &request.env,
            labels: &labels,
            diff_id: &layer.diff_id,
        };
        let config = image_config::extend(base_config, &app);
        let config_bytes =
            serde_json::to_vec(&config).map_err(|e| ImageError::io("encoding the image config")(e.into()))?;
        let config_digest = digest::sha256(&config_bytes);
        if !target.blob_exists(&repository, &config_digest).await? {
            let blob = Blob::Bytes(&config_bytes);
            target.upload_blob(&repository, &config_digest, blob, request.chunk_size, None).await?;
        }

        let mut layers: Vec<Descriptor> = base_manifest
            .layers
            .iter()
            .map(|d| Descriptor { media_type: oci::oci_layer_type(&d.media_type).to_owned(), ..d.clone() })
            .collect();
        layers.push(descriptor(oci::OCI_LAYER_GZIP, &layer.digest, layer.size));
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(oci::OCI_MANIFEST.to_owned()),
            config: descriptor(oci::OCI_CONFIG, &config_digest, config_bytes.len() as u64),
            layers: layers.clone(),
            annotations: [
                ("org.opencontainers.image.base.name".to_owned(), request.base.to_string()),
                ("org.opencontainers.image.base.digest".to_owned(), used_digest.to_string()),
                ("org.opencontainers.image.created".to_owned(), EPOCH.to_owned()),
            ]
            .into(),
        };
        let manifest_bytes =
            serde_json::to_vec(&manifest).map_err(|e| ImageError::io("encoding the manifest")(e.into()))?;
        // Checked again right before the one write that cannot be undone; see the module docs.
        if target.manifest_exists(&repository, &tag).await? {
            return Err(ImageError::TagExists { reference: target_ref.to_string() });
        }
        let digest = target.put_manifest(&repository, &tag, &manifest_bytes, oci::OCI_MANIFEST).await?;
        tracing::info!(image = %target_ref, %digest, "exported image");
        Ok(ExportedImage { reference: target_ref, digest, config_digest, base_digest: used_digest, layers })
    }

    async fn registry(&self, name: &str, api_host: &str) -> Result<Arc<Registry>, ImageError> {
        let mut registries = self.registries.lock().await;
        if let Some(registry) = registries.get(name) {
            return Ok(registry.clone());
        }
        // Credentials are only ever sent to the registry they were configured for.
        let credentials = (name == self.config.host()).then(|| self.config.credentials().cloned()).flatten();
        let registry = Arc::new(Registry::new(name, api_host, self.config.scheme_for(name), credentials)?);
        registries.insert(name.to_owned(), registry.clone());
        Ok(registry)
    }
}

/// The base image manifest for `platform`, with its digest, verified against the pinned digest.
async fn base_manifest(
    registry: &Registry,
    base: &ImageRef,
    pinned: &Digest,
    platform: &Platform,
) -> Result<(Manifest, Digest), ImageError> {
    let unsupported = |problem: String| ImageError::UnsupportedBase { reference: base.to_string(), problem };
    let mut digest = pinned.clone();
    for _ in 0..2 {
        let (bytes, media_type) = registry.get_manifest(base.repository(), digest.as_str()).await?;
        verify(&format!("the manifest of {base}"), &digest, &digest::sha256(&bytes))?;
        let kind = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or(media_type);
        if kind == oci::OCI_INDEX || kind == oci::DOCKER_MANIFEST_LIST {
            let index: oci::Index =
                serde_json::from_slice(&bytes).map_err(|e| unsupported(format!("bad index: {e}")))?;
            let wanted = |p: &Option<Platform>| {
                p.as_ref().is_some_and(|p| p.os == platform.os && p.architecture == platform.architecture)
            };
            let Some(entry) = index.manifests.iter().find(|d| wanted(&d.platform)) else {
                return Err(unsupported(format!("it has no {}/{} image", platform.os, platform.architecture)));
            };
            digest = Digest::parse(&entry.digest)?;
            continue;
        }
        if kind != oci::OCI_MANIFEST && kind != oci::DOCKER_MANIFEST {
            return Err(unsupported(format!("manifests of type {kind:?} are not supported")));
        }
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| unsupported(format!("bad manifest: {e}")))?;
        if !oci::is_image_config(&manifest.config.media_type) {
            return Err(unsupported(format!("its config is a {:?}, not an image config", manifest.config.media_type)));
        }
        return Ok((manifest, digest));
    }
    Err(unsupported("an index inside an index is not supported".to_owned()))
}

async fn pack(request: &ExportRequest, out: PathBuf) -> Result<Layer, ImageError> {
    let sources = request.sources.clone();
    let (uid, gid) = (u64::from(request.uid), u64::from(request.gid));
    // Packing is blocking file I/O and compression: keep it off the async workers.
    tokio::task::spawn_blocking(move || build_layer(&sources, &out, uid, gid))
        .await
        .map_err(|e| ImageError::io("packing the app layer")(std::io::Error::other(e)))?
}

fn labels(request: &ExportRequest, target: &ImageRef, base_digest: &Digest) -> Vec<(String, String)> {
    let tag = &request.tag;
    let mut labels: Vec<(String, String)> = [
        ("org.opencontainers.image.title", request.project.to_string()),
        ("org.opencontainers.image.version", tag.to_string()),
        ("org.opencontainers.image.revision", tag.commit.to_string()),
        ("org.opencontainers.image.ref.name", target.to_string()),
        ("org.opencontainers.image.created", EPOCH.to_owned()),
        ("org.opencontainers.image.base.name", request.base.to_string()),
        ("org.opencontainers.image.base.digest", base_digest.to_string()),
        ("slipway.dev/workspace", request.workspace.to_string()),
        ("slipway.dev/project", request.project.to_string()),
        ("slipway.dev/commit", tag.commit.to_string()),
        ("slipway.dev/build", tag.build.to_string()),
        ("slipway.dev/stack", request.plan.stack.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    labels.extend(request.labels.iter().cloned());
    labels
}

fn descriptor(media_type: &str, digest: &Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_owned(),
        digest: digest.to_string(),
        size,
        platform: None,
        annotations: Default::default(),
    }
}
