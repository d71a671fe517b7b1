//! The app layer: directories of the build machine packed as one reproducible
//! `tar.gz`. The same tree always gives the same bytes, so an unchanged
//! rebuild is an unchanged layer (registries then already have the blob):
//! entries sorted by path, mtimes 0 (as `ko` does), owner `uid:gid` for the
//! app's files and root for the directories above them, modes normalised to
//! 0644/0755 (git keeps only the executable bit, so umask must not leak in),
//! no user or group names, gzip header without time or name.
//!
//! The uncompressed tar is hashed as it is written (the `diff_id` of the image
//! config) and the compressed stream as it reaches the file (the blob digest),
//! so a large app is never held in memory.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest as _, Sha256};
use slipway_core::image_ref::Digest;

use crate::digest;
use crate::error::ImageError;

/// A directory of the build machine and where it goes in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSource {
    /// The directory to pack (e.g. the built app dir).
    pub host_dir: PathBuf,
    /// Absolute path inside the image (e.g. `/app`).
    pub image_path: String,
}

/// A packed layer, written to `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub path: PathBuf,
    /// sha256 of the compressed bytes: the blob digest.
    pub digest: Digest,
    /// sha256 of the uncompressed tar: the `diff_id`.
    pub diff_id: Digest,
    /// Compressed size in bytes.
    pub size: u64,
}

enum Entry {
    Dir { owned: bool },
    File { from: PathBuf, executable: bool, size: u64 },
    Symlink { target: PathBuf },
}

/// Packs `sources` into `out`; the app's files belong to `uid:gid`.
/// `.git` at the top of a source is left out: history is not part of a release.
pub fn build_layer(sources: &[LayerSource], out: &Path, uid: u64, gid: u64) -> Result<Layer, ImageError> {
    let mut entries = BTreeMap::new();
    for source in sources {
        let target = image_path(&source.image_path)?;
        for ancestor in target.ancestors().skip(1).filter(|a| !a.as_os_str().is_empty()) {
            entries.entry(ancestor.to_path_buf()).or_insert(Entry::Dir { owned: false });
        }
        entries.insert(target.clone(), Entry::Dir { owned: true });
        walk(&source.host_dir, &target, true, &mut entries)?;
    }

    let file = File::create(out).map_err(ImageError::io(format!("creating the layer file {}", out.display())))?;
    let compressed = Hashing::new(file);
    let gzip = GzEncoder::new(compressed, Compression::default());
    let mut tar = tar::Builder::new(Hashing::new(gzip));
    for (path, entry) in &entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        let (owner, group) = match entry {
            Entry::Dir { owned: false } => (0, 0),
            _ => (uid, gid),
        };
        header.set_uid(owner);
        header.set_gid(group);
        match entry {
            Entry::Dir { .. } => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, path, io::empty()).map_err(ImageError::io("writing the layer"))?;
            }
            Entry::File { from, executable, size } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if *executable { 0o755 } else { 0o644 });
                header.set_size(*size);
                let data = File::open(from).map_err(ImageError::io(format!("reading {}", from.display())))?;
                // A file that changed size since the walk would corrupt the tar; read exactly `size`.
                tar.append_data(&mut header, path, io::Read::take(data, *size))
                    .map_err(ImageError::io(format!("packing {}", from.display())))?;
            }
            Entry::Symlink { target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                tar.append_link(&mut header, path, target).map_err(ImageError::io("writing the layer"))?;
            }
        }
    }
    let uncompressed = tar.into_inner().map_err(ImageError::io("finishing the layer"))?;
    let diff_id = digest::finish(uncompressed.hasher);
    let mut compressed = uncompressed.inner.finish().map_err(ImageError::io("finishing the layer"))?;
    compressed.flush().map_err(ImageError::io("finishing the layer"))?;
    Ok(Layer { path: out.to_path_buf(), digest: digest::finish(compressed.hasher), diff_id, size: compressed.written })
}

/// `/app` → `app`; refuses relative paths and `..`, which could write outside the intended place.
fn image_path(value: &str) -> Result<PathBuf, ImageError> {
    let path = Path::new(value);
    let mut relative = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir => {}
            Component::Normal(part) => relative.push(part),
            _ => relative = PathBuf::from("/"),
        }
    }
    if !path.is_absolute() || relative.as_os_str().is_empty() || relative.is_absolute() {
        return Err(ImageError::InvalidConfig {
            setting: "layer image_path".to_owned(),
            problem: format!("{value:?} must be an absolute path below / without `..`"),
        });
    }
    Ok(relative)
}

fn walk(dir: &Path, into: &Path, top: bool, entries: &mut BTreeMap<PathBuf, Entry>) -> Result<(), ImageError> {
    let read = fs::read_dir(dir).map_err(ImageError::io(format!("reading the build directory {}", dir.display())))?;
    for item in read {
        let item = item.map_err(ImageError::io(format!("reading {}", dir.display())))?;
        let name = item.file_name();
        if top && name == ".git" {
            continue;
        }
        let from = item.path();
        let path = into.join(&name);
        let meta = fs::symlink_metadata(&from).map_err(ImageError::io(format!("reading {}", from.display())))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = fs::read_link(&from).map_err(ImageError::io(format!("reading {}", from.display())))?;
            entries.insert(path, Entry::Symlink { target });
        } else if kind.is_dir() {
            entries.insert(path.clone(), Entry::Dir { owned: true });
            walk(&from, &path, false, entries)?;
        } else if kind.is_file() {
            let executable = meta.permissions().mode() & 0o111 != 0;
            entries.insert(path, Entry::File { from, executable, size: meta.len() });
        }
        // Sockets, FIFOs and devices are build-time leftovers, never part of an app.
    }
    Ok(())
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Self { inner, hasher: Sha256::new(), written: 0 }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
