//! The distribution API operations the exporter needs: manifests (HEAD, GET,
//! PUT), blobs (HEAD, GET to a file, cross-repository mount) and uploads
//! (monolithic `POST` + `PUT ?digest=`, or chunked `POST` + `PATCH`… + `PUT`).

use std::io::SeekFrom;
use std::path::Path;

use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};
use slipway_core::image_ref::Digest;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::client::{read_document, Call, Registry};
use crate::digest;
use crate::error::ImageError;

/// Media types a base manifest may be served as.
pub(crate) const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// A blob to upload: small ones from memory, layers from their file.
pub(crate) enum Blob<'a> {
    Bytes(&'a [u8]),
    File { path: &'a Path, size: u64 },
}

impl Registry {
    /// Whether `reference` (tag or digest) names a manifest in `repository`.
    pub(crate) async fn manifest_exists(&self, repository: &str, reference: &str) -> Result<bool, ImageError> {
        let call = Call::pull(repository, format!("HEAD manifest {repository}:{reference}"));
        let url = self.url(&format!("/v2/{repository}/manifests/{reference}"));
        let response = self.send(&call, |http| http.head(&url).header(ACCEPT, MANIFEST_ACCEPT)).await?;
        match response.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.unexpected(&call, response).await),
        }
    }

    /// The manifest bytes and their media type.
    pub(crate) async fn get_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<(Vec<u8>, String), ImageError> {
        let call = Call::pull(repository, format!("GET manifest {repository}:{reference}"));
        let url = self.url(&format!("/v2/{repository}/manifests/{reference}"));
        let response = self.send(&call, |http| http.get(&url).header(ACCEPT, MANIFEST_ACCEPT)).await?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => {
                return Err(ImageError::NotFound {
                    registry: self.name.clone(),
                    what: format!("the manifest {repository}:{reference}"),
                })
            }
            _ => return Err(self.unexpected(&call, response).await),
        }
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_owned())
            .unwrap_or_default();
        Ok((read_document(self, &call, response).await?, media_type))
    }

    /// Pushes a manifest under `tag`; returns the digest the registry stored it as.
    pub(crate) async fn put_manifest(
        &self,
        repository: &str,
        tag: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, ImageError> {
        let call = Call::push(repository, format!("PUT manifest {repository}:{tag}"));
        let url = self.url(&format!("/v2/{repository}/manifests/{tag}"));
        let body = bytes.to_vec();
        let response =
            self.send(&call, |http| http.put(&url).header(CONTENT_TYPE, media_type).body(body.clone())).await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.unexpected(&call, response).await);
        }
        let digest = digest::sha256(bytes);
        // The registry names what it stored; anything else means it rewrote the manifest.
        let stored = response.headers().get("docker-content-digest").and_then(|v| v.to_str().ok());
        if let Some(stored) = stored.and_then(|d| Digest::parse(d).ok()) {
            verify(&format!("the manifest pushed to {repository}:{tag}"), &digest, &stored)?;
        }
        Ok(digest)
    }

    pub(crate) async fn blob_exists(&self, repository: &str, digest: &Digest) -> Result<bool, ImageError> {
        let call = Call::push(repository, format!("HEAD blob {repository}@{digest}"));
        let url = self.url(&format!("/v2/{repository}/blobs/{digest}"));
        let response = self.send(&call, |http| http.head(&url)).await?;
        match response.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.unexpected(&call, response).await),
        }
    }

    /// A small blob (an image config), checked against its digest.
    pub(crate) async fn get_blob(&self, repository: &str, digest: &Digest) -> Result<Vec<u8>, ImageError> {
        let call = Call::pull(repository, format!("GET blob {repository}@{digest}"));
        let url = self.url(&format!("/v2/{repository}/blobs/{digest}"));
        let response = self.send(&call, |http| http.get(&url)).await?;
        if response.status() != StatusCode::OK {
            return Err(self.unexpected(&call, response).await);
        }
        let bytes = read_document(self, &call, response).await?;
        verify(&format!("blob {repository}@{digest}"), digest, &digest::sha256(&bytes))?;
        Ok(bytes)
    }

    /// Streams a blob into `file`, checking its digest on the way.
    pub(crate) async fn download_blob(
        &self,
        repository: &str,
        digest: &Digest,
        file: &Path,
    ) -> Result<u64, ImageError> {
        let call = Call::pull(repository, format!("GET blob {repository}@{digest}"));
        let url = self.url(&format!("/v2/{repository}/blobs/{digest}"));
        let mut response = self.send(&call, |http| http.get(&url)).await?;
        if response.status() != StatusCode::OK {
            return Err(self.unexpected(&call, response).await);
        }
        let mut out = tokio::fs::File::create(file).await.map_err(ImageError::io("creating a download file"))?;
        let (mut hasher, mut size) = (Sha256::new(), 0u64);
        loop {
            let chunk = response.chunk().await.map_err(|source| ImageError::Unreachable {
                registry: self.name.clone(),
                url: url.clone(),
                source,
            })?;
            let Some(chunk) = chunk else { break };
            hasher.update(&chunk);
            size += chunk.len() as u64;
            out.write_all(&chunk).await.map_err(ImageError::io("writing a downloaded blob"))?;
        }
        out.flush().await.map_err(ImageError::io("writing a downloaded blob"))?;
        verify(&format!("blob {repository}@{digest}"), digest, &digest::finish(hasher))?;
        Ok(size)
    }

    /// Asks the registry to link `digest` from `from` into `repository` without
    /// transferring it. `Ok(None)` when mounted; `Ok(Some(location))` when the
    /// registry declined and opened an ordinary upload session instead.
    pub(crate) async fn mount_blob(
        &self,
        repository: &str,
        digest: &Digest,
        from: &str,
    ) -> Result<Option<String>, ImageError> {
        let mut call = Call::push(repository, format!("mount blob {digest} from {from} into {repository}"));
        call.scopes.push(format!("repository:{from}:pull"));
        let url = self.url(&format!("/v2/{repository}/blobs/uploads/?mount={digest}&from={from}"));
        let response = self.send(&call, |http| http.post(&url).header(CONTENT_LENGTH, "0")).await?;
        match response.status() {
            StatusCode::CREATED => Ok(None),
            StatusCode::ACCEPTED => Ok(Some(self.location(&call, response).await?)),
            _ => Err(self.unexpected(&call, response).await),
        }
    }

    /// Uploads a blob: one `PUT` when it fits in `chunk_size`, `PATCH` chunks otherwise.
    /// `session` is an upload already opened (by a declined mount).
    pub(crate) async fn upload_blob(
        &self,
        repository: &str,
        digest: &Digest,
        blob: Blob<'_>,
        chunk_size: u64,
        session: Option<String>,
    ) -> Result<(), ImageError> {
        let call = Call::push(repository, format!("upload blob {digest} to {repository}"));
        let mut location = match session {
            Some(location) => location,
            None => {
                let url = self.url(&format!("/v2/{repository}/blobs/uploads/"));
                let response = self.send(&call, |http| http.post(&url).header(CONTENT_LENGTH, "0")).await?;
                if response.status() != StatusCode::ACCEPTED {
                    return Err(self.unexpected(&call, response).await);
                }
                self.location(&call, response).await?
            }
        };
        let body = match blob {
            Blob::Bytes(bytes) => bytes.to_vec(),
            Blob::File { path, size } if size <= chunk_size => {
                tokio::fs::read(path).await.map_err(ImageError::io("reading a layer to upload"))?
            }
            Blob::File { path, size } => {
                let mut file =
                    tokio::fs::File::open(path).await.map_err(ImageError::io("reading a layer to upload"))?;
                let mut offset = 0u64;
                while offset < size {
                    let length = chunk_size.min(size - offset);
                    let mut chunk = vec![0; usize::try_from(length).unwrap_or(usize::MAX)];
                    file.seek(SeekFrom::Start(offset)).await.map_err(ImageError::io("reading a layer to upload"))?;
                    file.read_exact(&mut chunk).await.map_err(ImageError::io("reading a layer to upload"))?;
                    let url = self.url(&location);
                    let range = format!("{offset}-{}", offset + length - 1);
                    let response = self
                        .send(&call, |http| {
                            http.request(Method::PATCH, &url)
                                .header(CONTENT_TYPE, "application/octet-stream")
                                .header(CONTENT_RANGE, &range)
                                .body(chunk.clone())
                        })
                        .await?;
                    if response.status() != StatusCode::ACCEPTED {
                        return Err(self.unexpected(&call, response).await);
                    }
                    location = self.location(&call, response).await?;
                    offset += length;
                }
                Vec::new()
            }
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let url = self.url(&format!("{location}{separator}digest={digest}"));
        let response = self
            .send(&call, |http| http.put(&url).header(CONTENT_TYPE, "application/octet-stream").body(body.clone()))
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.unexpected(&call, response).await);
        }
        Ok(())
    }

    async fn location(&self, call: &Call<'_>, response: reqwest::Response) -> Result<String, ImageError> {
        match response.headers().get(LOCATION).and_then(|v| v.to_str().ok()) {
            Some(location) => Ok(location.to_owned()),
            None => Err(self.unexpected(call, response).await),
        }
    }
}

pub(crate) fn verify(what: &str, expected: &Digest, actual: &Digest) -> Result<(), ImageError> {
    if expected == actual {
        Ok(())
    } else {
        Err(ImageError::DigestMismatch {
            what: what.to_owned(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        })
    }
}
