//! Installing one runtime version into the store, all or nothing: the archive
//! is downloaded into `<store>/.partial/`, its sha256 compared with the
//! upstream's published one, unpacked there (paths confined to the top
//! directory, no devices, modes normalised so every uid may read and run it
//! and none may write it), and only then renamed to `<store>/<language>/<version>`.
//! A failure at any step removes the partial directory: the store never holds
//! half a runtime.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::upstream::{describe, Offer};
use super::RuntimeError;

/// The largest archive downloaded (Go's is about 75 MB, Node's 50 MB, Python's 35 MB).
const MAX_ARCHIVE_BYTES: u64 = 1 << 30;
/// The most an archive may unpack to, and into how many entries.
const MAX_UNPACKED_BYTES: u64 = 4 << 30;
const MAX_ENTRIES: u64 = 200_000;
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Where partial installs live; removed whole when the builder starts.
pub(crate) fn partial_root(store: &Path) -> PathBuf {
    store.join(".partial")
}

/// Downloads, verifies and unpacks `offer` into `dest` (which must not exist yet).
pub(crate) async fn install(
    client: &reqwest::Client,
    store: &Path,
    offer: &Offer,
    sha256: &str,
    dest: &Path,
) -> Result<u64, RuntimeError> {
    let io = |context: String| move |source| RuntimeError::Install { context, source };
    let partial = partial_root(store).join(format!(
        "{}-{}-{}",
        offer.candidate.version,
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
    ));
    tokio::fs::create_dir_all(&partial).await.map_err(io(format!("cannot create {}", partial.display())))?;
    let result = async {
        let archive = partial.join("archive.tar.gz");
        let size = download(client, offer, &archive, sha256).await?;
        let unpacked = partial.join("unpacked");
        let top_dir = offer.top_dir.clone();
        let url = offer.url.to_string();
        let archive_path = archive.clone();
        let unpack_to = unpacked.clone();
        tokio::task::spawn_blocking(move || unpack(&archive_path, &unpack_to, &top_dir, &url)).await.map_err(
            |err| RuntimeError::Install { context: "unpacking".into(), source: std::io::Error::other(err) },
        )??;
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io(format!("cannot create {}", parent.display())))?;
            tokio::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755))
                .await
                .map_err(io(format!("cannot open {} to readers", parent.display())))?;
        }
        match tokio::fs::rename(unpacked.join(&offer.top_dir), dest).await {
            Ok(()) => Ok(size),
            // Another build installed the same version meanwhile: theirs is as good.
            Err(_) if dest.is_dir() => Ok(size),
            Err(source) => {
                Err(RuntimeError::Install { context: format!("cannot move it to {}", dest.display()), source })
            }
        }
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&partial).await;
    result
}

/// Streams the archive to `to`, hashing as it goes; `Err` unless the hash is `sha256`.
async fn download(client: &reqwest::Client, offer: &Offer, to: &Path, sha256: &str) -> Result<u64, RuntimeError> {
    let url = offer.url.to_string();
    let unreachable = |problem: String| RuntimeError::Unreachable { url: url.clone(), problem };
    let mut response = client
        .get(offer.url.clone())
        .timeout(DOWNLOAD_TIMEOUT)
        .send()
        .await
        .map_err(|err| unreachable(describe(&err)))?;
    if !response.status().is_success() {
        return Err(unreachable(format!("it answered {}", response.status())));
    }
    let mut file = std::fs::File::create(to)
        .map_err(|source| RuntimeError::Install { context: format!("cannot create {}", to.display()), source })?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(|err| unreachable(describe(&err)))? {
        size += chunk.len() as u64;
        if size > MAX_ARCHIVE_BYTES {
            return Err(unreachable(format!("the archive is larger than {} MiB", MAX_ARCHIVE_BYTES >> 20)));
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .map_err(|source| RuntimeError::Install { context: format!("cannot write {}", to.display()), source })?;
    }
    let actual = hex::encode(hasher.finalize());
    if !actual.eq_ignore_ascii_case(sha256) {
        return Err(RuntimeError::ChecksumMismatch { url, expected: sha256.to_ascii_lowercase(), actual });
    }
    Ok(size)
}

/// Unpacks the gzipped tar `archive` into `into`, taking only what lies under `top_dir/`.
fn unpack(archive: &Path, into: &Path, top_dir: &str, url: &str) -> Result<(), RuntimeError> {
    let bad = |problem: String| RuntimeError::Archive { url: url.to_owned(), problem };
    let io = |context: String| move |source| RuntimeError::Install { context, source };
    std::fs::create_dir_all(into).map_err(io(format!("cannot create {}", into.display())))?;
    let file = std::fs::File::open(archive).map_err(io(format!("cannot open {}", archive.display())))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    tar.set_preserve_permissions(false);
    tar.set_preserve_mtime(true);
    tar.set_overwrite(true);
    let (mut total, mut count) = (0u64, 0u64);
    for entry in tar.entries().map_err(|err| bad(format!("it is not a gzipped tar archive: {err}")))? {
        let mut entry = entry.map_err(|err| bad(format!("it is not a gzipped tar archive: {err}")))?;
        count += 1;
        total += entry.header().size().unwrap_or(0);
        if count > MAX_ENTRIES || total > MAX_UNPACKED_BYTES {
            return Err(bad(format!(
                "it unpacks to more than {MAX_ENTRIES} files or {} GiB",
                MAX_UNPACKED_BYTES >> 30
            )));
        }
        let path = entry.path().map_err(|err| bad(format!("an entry has no usable path: {err}")))?.into_owned();
        let first = path.components().next().map(|c| c.as_os_str().to_owned());
        if first.as_deref() != Some(std::ffi::OsStr::new(top_dir)) {
            // Upstream archives hold everything in their top directory; anything else is not taken.
            continue;
        }
        use tar::EntryType::*;
        match entry.header().entry_type() {
            Regular | Directory | Symlink | Link | Continuous | GNUSparse => {}
            // Devices, FIFOs and the like have no place in a runtime; metadata entries are read by `tar`.
            XGlobalHeader | XHeader | GNULongName | GNULongLink => continue,
            other => return Err(bad(format!("{} is a {other:?}, which a runtime never holds", path.display()))),
        }
        // `unpack_in` refuses paths that climb out of `into` (and writes through symlinks that would).
        let inside = entry.unpack_in(into).map_err(|err| bad(format!("cannot unpack {}: {err}", path.display())))?;
        if !inside {
            return Err(bad(format!("{} points outside the archive's directory", path.display())));
        }
    }
    let root = into.join(top_dir);
    if !root.is_dir() {
        return Err(bad(format!("it has no {top_dir}/ directory")));
    }
    normalise_modes(&root).map_err(io(format!("cannot set the modes under {}", root.display())))
}

/// Directories 0755, files 0755 or 0644 (no set-id bits, nothing group- or world-writable):
/// every tenant's uid may read and run the runtime, none may change it.
fn normalise_modes(dir: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            normalise_modes(&path)?;
        } else if kind.is_file() {
            let executable = entry.metadata()?.permissions().mode() & 0o111 != 0;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(if executable { 0o755 } else { 0o644 }))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, tar::EntryType, &[u8], u32)]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let gz = flate2::write::GzEncoder::new(file.reopen().expect("reopen"), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for (path, kind, data, mode) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(data.len() as u64);
            header.set_mode(*mode);
            if *kind == tar::EntryType::Symlink {
                header.set_link_name(std::str::from_utf8(data).expect("utf-8")).expect("link");
                header.set_size(0);
                builder.append_data(&mut header, path, &[][..]).expect("append");
            } else {
                builder.append_data(&mut header, path, *data).expect("append");
            }
        }
        builder.into_inner().expect("tar").finish().expect("gz");
        file
    }

    #[test]
    fn a_runtime_unpacks_with_safe_modes_and_only_its_top_directory() {
        use tar::EntryType::*;
        let file = archive(&[
            ("node-v1/bin/node", Regular, b"#!/bin/sh\n", 0o4777),
            ("node-v1/lib/x.js", Regular, b"x", 0o666),
            ("node-v1/bin/npm", Symlink, b"../lib/x.js", 0o777),
            ("elsewhere/y", Regular, b"y", 0o644),
        ]);
        let into = tempfile::tempdir().expect("dir");
        unpack(file.path(), into.path(), "node-v1", "http://mirror/x").expect("unpacked");
        let mode = |p: &str| std::fs::metadata(into.path().join(p)).expect(p).permissions().mode() & 0o7777;
        assert_eq!(mode("node-v1/bin/node"), 0o755);
        assert_eq!(mode("node-v1/lib/x.js"), 0o644);
        assert_eq!(mode("node-v1"), 0o755);
        assert!(std::fs::symlink_metadata(into.path().join("node-v1/bin/npm")).expect("link").is_symlink());
        assert!(!into.path().join("elsewhere").exists());
    }

    #[test]
    fn devices_and_a_missing_top_directory_are_refused() {
        let file = archive(&[("go/dev", tar::EntryType::Char, b"", 0o644)]);
        let into = tempfile::tempdir().expect("dir");
        let err = unpack(file.path(), into.path(), "go", "http://mirror/x").expect_err("a device");
        assert!(err.to_string().contains("go/dev is a Char"), "{err}");
        let file = archive(&[("other/bin/go", tar::EntryType::Regular, b"", 0o755)]);
        let err = unpack(file.path(), into.path(), "go", "http://mirror/x").expect_err("no go/");
        assert!(err.to_string().contains("no go/ directory"), "{err}");
    }
}
