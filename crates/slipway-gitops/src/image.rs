//! Image references that may go into a manifest: pinned to Slipway's
//! immutable tag `<userId>-<buildNumber>-<commitSHA>` (optionally with a
//! digest). A floating tag such as `:latest` or `:v1` would let the cluster run
//! something no release recorded, so it is refused here, once.

use slipway_core::image_tag::ImageTag;

use crate::error::{GitopsError, Result};

/// A parsed `registry/repository:tag[@sha256:…]` whose tag is immutable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    repository: String,
    tag: ImageTag,
    digest: Option<String>,
}

impl ImageRef {
    pub fn parse(value: &str) -> Result<Self> {
        let refuse = |reason: &str| GitopsError::MutableImage {
            image: value.chars().take(200).collect(),
            reason: reason.to_owned(),
        };
        let (name, digest) = match value.split_once('@') {
            Some((name, digest)) => {
                let hex = digest.strip_prefix("sha256:").unwrap_or_default();
                if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(refuse("the digest must be `sha256:` followed by 64 lower-case hex digits"));
                }
                (name, Some(digest.to_owned()))
            }
            None => (value, None),
        };
        // The tag follows the last `:` after the last `/`; an earlier `:` is a registry port.
        let last_segment_start = name.rfind('/').map_or(0, |i| i + 1);
        let Some(colon) = name[last_segment_start..].rfind(':').map(|i| i + last_segment_start) else {
            return Err(refuse("it has no tag; use the immutable tag <userId>-<buildNumber>-<commitSHA>"));
        };
        let (repository, tag) = (&name[..colon], &name[colon + 1..]);
        if tag == "latest" {
            return Err(refuse("`:latest` is mutable; use the immutable tag <userId>-<buildNumber>-<commitSHA>"));
        }
        let tag = ImageTag::parse(tag).map_err(|_| {
            refuse("the tag looks mutable; only the immutable tag <userId>-<buildNumber>-<commitSHA> is accepted")
        })?;
        let repo_ok = !repository.is_empty()
            && repository.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/:".contains(&b))
            && !repository.starts_with('/')
            && !repository.ends_with('/');
        if !repo_ok {
            return Err(refuse("the repository must be lower-case `registry/path` (a-z, 0-9, `.`, `_`, `-`, `/`)"));
        }
        Ok(Self { repository: repository.to_owned(), tag, digest })
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> &ImageTag {
        &self.tag
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.repository, self.tag)?;
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &str = "usr_0123456789abcdef0123456789abcdef-7-0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn accepts_the_immutable_tag_with_or_without_a_registry_port_and_digest() {
        let plain = format!("registry.example.com:5000/slipway/acme/shop:{TAG}");
        assert_eq!(ImageRef::parse(&plain).unwrap().to_string(), plain);
        assert_eq!(ImageRef::parse(&plain).unwrap().repository(), "registry.example.com:5000/slipway/acme/shop");
        let pinned = format!("{plain}@sha256:{}", "a".repeat(64));
        assert_eq!(ImageRef::parse(&pinned).unwrap().to_string(), pinned);
    }

    #[test]
    fn refuses_latest_missing_and_mutable_looking_tags() {
        for bad in [
            "registry.example.com/acme/shop:latest",
            "registry.example.com/acme/shop",
            "registry.example.com:5000/acme/shop",
            "registry.example.com/acme/shop:v1",
            "registry.example.com/acme/shop:main",
            "registry.example.com/acme/shop:1.2.3",
        ] {
            let err = ImageRef::parse(bad).unwrap_err();
            assert!(matches!(err, GitopsError::MutableImage { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("immutable"), "{bad}: {err}");
        }
        let bad_digest = format!("r.example.com/shop:{TAG}@sha256:abc");
        assert!(ImageRef::parse(&bad_digest).unwrap_err().to_string().contains("digest"));
        assert!(ImageRef::parse(&format!("Registry/Shop:{TAG}")).is_err());
    }

    proptest::proptest! {
        #[test]
        fn only_slipway_tags_are_accepted(tag in "[A-Za-z0-9_.-]{1,80}") {
            let accepted = ImageRef::parse(&format!("registry.example.com/acme/shop:{tag}")).is_ok();
            proptest::prop_assert_eq!(accepted, ImageTag::parse(&tag).is_ok());
        }

        #[test]
        fn immutable_tags_round_trip(build in 1u64..1_000_000, sha in "[0-9a-f]{40}") {
            let text = format!("r.example.com:5000/acme/shop:usr_0123456789abcdef0123456789abcdef-{build}-{sha}");
            proptest::prop_assert_eq!(ImageRef::parse(&text).unwrap().to_string(), text);
        }
    }
}
