//! Image references (`registry/repository[:tag][@sha256:…]`) and content digests.
//!
//! The grammar is the one of the distribution spec and `docker pull`: a first
//! path component with a `.` or `:` (or `localhost`) is a registry host,
//! otherwise the image lives on Docker Hub (`debian` → `docker.io/library/debian`).

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::error::ImageError;

/// A `sha256:<64 hex>` content digest, the only algorithm OCI registries must support.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    pub fn parse(value: &str) -> Result<Self, ImageError> {
        let hex = value.strip_prefix("sha256:").unwrap_or_default();
        if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(value.to_owned()))
        } else {
            Err(ImageError::InvalidReference {
                reference: value.chars().take(100).collect(),
                problem: "a digest must read sha256:<64 lower-case hex digits>".to_owned(),
            })
        }
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(bytes))
    }

    pub(crate) fn from_hasher(hasher: Sha256) -> Self {
        Self(format!("sha256:{}", hex::encode(hasher.finalize())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed image reference. `registry` is the host as written (`docker.io`
/// for Docker Hub); [`ImageReference::api_host`] is where its API answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageReference {
    pub fn parse(value: &str) -> Result<Self, ImageError> {
        let invalid = |problem: &str| ImageError::InvalidReference {
            reference: value.chars().take(200).collect(),
            problem: problem.to_owned(),
        };
        let (rest, digest) = match value.split_once('@') {
            Some((rest, digest)) => (rest, Some(Digest::parse(digest).map_err(|_| invalid("bad digest"))?)),
            None => (value, None),
        };
        // A `:` after the last `/` starts the tag; one before it is a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            let first_ok = tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
            if tag.len() > 128 || !first_ok || !tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
                return Err(invalid("a tag is 1-128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((host, path)) if host.contains(['.', ':']) || host == "localhost" => {
                (host.to_owned(), path.to_owned())
            }
            _ if name.contains('/') => ("docker.io".to_owned(), name.to_owned()),
            _ => ("docker.io".to_owned(), format!("library/{name}")),
        };
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.starts_with(|c: char| c.is_ascii_alphanumeric())
                && c.ends_with(|c: char| c.is_ascii_alphanumeric())
        };
        if registry.is_empty() || !repository.split('/').all(component_ok) {
            return Err(invalid("repository path components are lower-case letters, digits and `._-` separators"));
        }
        Ok(Self { registry, repository, tag: tag.map(str::to_owned), digest })
    }

    /// A reference to `tag` in `repository` on `registry` (all already validated by their callers).
    pub(crate) fn tagged(registry: &str, repository: &str, tag: &str) -> Result<Self, ImageError> {
        Self::parse(&format!("{registry}/{repository}:{tag}"))
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Where the registry's API answers (Docker Hub's differs from its name).
    pub fn api_host(&self) -> &str {
        if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_split_into_registry_repository_tag_and_digest() {
        let r = ImageReference::parse(&format!("127.0.0.1:5000/base/busybox:1.36@{D}")).unwrap();
        assert_eq!((r.registry(), r.repository(), r.tag()), ("127.0.0.1:5000", "base/busybox", Some("1.36")));
        assert_eq!(r.digest().map(Digest::as_str), Some(D));
        assert_eq!(r.to_string(), format!("127.0.0.1:5000/base/busybox:1.36@{D}"));

        let hub = ImageReference::parse("debian:12-slim").unwrap();
        assert_eq!(
            (hub.registry(), hub.api_host(), hub.repository()),
            ("docker.io", "registry-1.docker.io", "library/debian")
        );
        let port_no_tag = ImageReference::parse("localhost:5000/app").unwrap();
        assert_eq!((port_no_tag.registry(), port_no_tag.tag()), ("localhost:5000", None));
        assert_eq!(ImageReference::parse("ghcr.io/acme/web").unwrap().repository(), "acme/web");
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in ["", "UPPER/case:1", "reg.io/a//b", "reg.io/a:-tag", "reg.io/a@sha256:abc", "reg.io/a:t@md5:00"] {
            assert!(ImageReference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn digests_are_sha256_of_the_bytes() {
        assert_eq!(Digest::of(b"").as_str(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert!(Digest::parse(D).is_ok());
        assert!(Digest::parse("sha256:ABC").is_err());
    }
}
