//! Image references, `registry/repository[:tag][@sha256:…]`, parsed once for
//! every caller: the exporter (base images, pushed images), the settings
//! (`SLIPWAY_BASE_IMAGE`), and the manifests (an app's image, the control
//! plane's own).
//!
//! The grammar is the distribution spec's (what `docker pull` accepts), held
//! to lower case throughout: a first path component with a `.` or `:` (or
//! `localhost`, or an `[IPv6]` literal) is the registry host, otherwise the
//! image lives on Docker Hub (`debian` → `docker.io/library/debian`). What a
//! caller needs on top — a digest, Slipway's immutable tag — is a constructor
//! of its own ([`ImageRef::parse_pinned`], [`ReleaseImage::parse`]).

use std::fmt;

use crate::image_tag::ImageTag;
use crate::names::label_problem;

/// Docker Hub, the registry of references that name none.
pub const DOCKER_HUB: &str = "docker.io";

/// A reference is refused before any other check when longer than this (a
/// 255-character name, a 128-character tag and a digest fit).
const MAX_LEN: usize = 512;
/// The distribution spec's limit on `registry/repository`.
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// The immutable tag, as error messages ask for it.
const IMMUTABLE_TAG: &str = "use the immutable tag <userId>-<buildNumber>-<commitSHA>";

/// A reference broke the grammar, or a requirement of its caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("image reference `{value}` is refused: {problem}")]
pub struct InvalidImageRef {
    value: String,
    problem: String,
}

impl InvalidImageRef {
    fn new(value: &str, problem: impl Into<String>) -> Self {
        // Echo at most a line of hostile input back.
        Self { value: value.chars().take(200).collect(), problem: problem.into() }
    }

    /// The reference as given (its first 200 characters).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// What is wrong and what to write instead.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

/// A `sha256:<64 hex>` content digest, the only algorithm OCI registries must support.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    pub fn parse(value: &str) -> Result<Self, InvalidImageRef> {
        let hex = value.strip_prefix("sha256:").unwrap_or_default();
        if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidImageRef::new(value, "a digest must read sha256:<64 lower-case hex digits>"))
        }
    }

    /// The digest whose SHA-256 sum is `sum`.
    pub fn from_sha256(sum: [u8; 32]) -> Self {
        use fmt::Write as _;
        let mut text = String::with_capacity(71);
        text.push_str("sha256:");
        for byte in sum {
            // Writing to a String cannot fail.
            let _ = write!(text, "{byte:02x}");
        }
        Self(text)
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

/// A parsed image reference. `registry` is the host as written (`docker.io` for
/// Docker Hub); [`ImageRef::api_host`] is where its API answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageRef {
    pub fn parse(value: &str) -> Result<Self, InvalidImageRef> {
        let invalid = |problem: &str| InvalidImageRef::new(value, problem);
        if value.len() > MAX_LEN {
            return Err(invalid("it is longer than any image reference can be"));
        }
        let (rest, digest) = match value.split_once('@') {
            Some((rest, digest)) => (rest, Some(Digest::parse(digest).map_err(|err| invalid(err.problem()))?)),
            None => (value, None),
        };
        // A `:` after the last `/` starts the tag; one before it is a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((host, path)) if names_a_registry(host) => (host, path.to_owned()),
            _ if name.contains('/') => (DOCKER_HUB, name.to_owned()),
            _ => (DOCKER_HUB, format!("library/{name}")),
        };
        let reference = Self::tagged(registry, &repository, tag).map_err(|err| invalid(err.problem()))?;
        Ok(Self { digest, ..reference })
    }

    /// `repository` on `registry`, optionally tagged; each part checked on its own.
    pub fn tagged(registry: &str, repository: &str, tag: Option<&str>) -> Result<Self, InvalidImageRef> {
        let whole = || match tag {
            Some(tag) => format!("{registry}/{repository}:{tag}"),
            None => format!("{registry}/{repository}"),
        };
        if !host_ok(registry) || !names_a_registry(registry) {
            return Err(InvalidImageRef::new(
                &whole(),
                "the registry must be a lower-case host name with a `.` (or `localhost`), or an IP address, with an \
                 optional :port; a first component without `.` or `:` would name a repository on Docker Hub",
            ));
        }
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN || !repository.split('/').all(path_component_ok) {
            return Err(InvalidImageRef::new(
                &whole(),
                "the repository path must be at most 255 characters of lower-case letters and digits, its \
                 components separated by `/` and joined within by one `.`, one or two `_`, or `-`s",
            ));
        }
        if let Some(tag) = tag {
            let first_ok = tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
            if tag.len() > MAX_TAG_LEN
                || !first_ok
                || !tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            {
                return Err(InvalidImageRef::new(
                    &whole(),
                    "a tag is 1-128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`",
                ));
            }
        }
        Ok(Self {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest: None,
        })
    }

    /// A reference that must be pinned by digest: a tag can be moved to other bytes, a digest cannot.
    pub fn parse_pinned(value: &str) -> Result<Self, InvalidImageRef> {
        let reference = Self::parse(value)?;
        if reference.digest.is_none() {
            return Err(InvalidImageRef::new(
                value,
                "it is not pinned by digest; append `@sha256:<64 hex digits>` of the image you mean",
            ));
        }
        Ok(reference)
    }

    /// The same image, pinned to `digest`.
    pub fn with_digest(self, digest: Digest) -> Self {
        Self { digest: Some(digest), ..self }
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Where the registry's API answers (Docker Hub's differs from its name).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
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

impl fmt::Display for ImageRef {
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

impl std::str::FromStr for ImageRef {
    type Err = InvalidImageRef;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

/// An image Slipway built for a release: its tag is the immutable
/// `<userId>-<buildNumber>-<commitSHA>` (a digest may pin it further). A
/// floating tag such as `:latest` or `:v1` would let the cluster run something
/// no release recorded, so only this may go into an app's manifests.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReleaseImage {
    image: ImageRef,
    tag: ImageTag,
}

impl ReleaseImage {
    pub fn parse(value: &str) -> Result<Self, InvalidImageRef> {
        let image = ImageRef::parse(value)?;
        let tag = match image.tag() {
            None => return Err(InvalidImageRef::new(value, format!("it has no tag; {IMMUTABLE_TAG}"))),
            Some("latest") => {
                return Err(InvalidImageRef::new(value, format!("`:latest` is mutable; {IMMUTABLE_TAG}")))
            }
            Some(tag) => ImageTag::parse(tag).map_err(|_| {
                InvalidImageRef::new(
                    value,
                    "the tag looks mutable; only the immutable tag <userId>-<buildNumber>-<commitSHA> is accepted",
                )
            })?,
        };
        Ok(Self { image, tag })
    }

    pub fn image(&self) -> &ImageRef {
        &self.image
    }

    pub fn tag(&self) -> &ImageTag {
        &self.tag
    }
}

impl fmt::Display for ReleaseImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.image.fmt(f)
    }
}

/// Whether the first component of a reference is its registry rather than the start of a
/// Docker Hub repository path (the rule `docker pull` follows).
fn names_a_registry(component: &str) -> bool {
    component.contains(['.', ':', '[']) || component == "localhost"
}

/// `host[:port]`: lower-case DNS labels or an IPv4 address, or `[IPv6]`; a port of 1-65535.
fn host_ok(registry: &str) -> bool {
    let (host, port) = if registry.starts_with('[') {
        match registry.split_once(']') {
            Some((literal, rest)) if rest.is_empty() || rest.starts_with(':') => {
                let inner = &literal[1..];
                let v6_ok =
                    inner.contains(':') && inner.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b':' | b'.'));
                if !v6_ok {
                    return false;
                }
                (None, rest.strip_prefix(':'))
            }
            _ => return false,
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(registry), None),
        }
    };
    let host_ok =
        host.is_none_or(|host| host.len() <= 253 && host.split('.').all(|label| label_problem(label).is_none()));
    let port_ok = port.is_none_or(|port| {
        port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0)
    });
    host_ok && port_ok
}

/// Lower-case letters and digits, joined within by one `.`, one or two `_`, or any number of `-`.
fn path_component_ok(component: &str) -> bool {
    let alphanumeric = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else { return false };
    if !alphanumeric(first) || !alphanumeric(last) {
        return false;
    }
    component
        .split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        .filter(|separator| !separator.is_empty())
        .all(|separator| matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-'))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const TAG: &str = "usr_0123456789abcdef0123456789abcdef-7-0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn references_split_into_registry_repository_tag_and_digest() {
        let r = ImageRef::parse(&format!("127.0.0.1:5000/base/busybox:1.36@{D}")).unwrap();
        assert_eq!((r.registry(), r.repository(), r.tag()), ("127.0.0.1:5000", "base/busybox", Some("1.36")));
        assert_eq!(r.digest().map(Digest::as_str), Some(D));
        assert_eq!(r.to_string(), format!("127.0.0.1:5000/base/busybox:1.36@{D}"));

        let hub = ImageRef::parse("debian:12-slim").unwrap();
        assert_eq!(
            (hub.registry(), hub.api_host(), hub.repository()),
            ("docker.io", "registry-1.docker.io", "library/debian")
        );
        assert_eq!(ImageRef::parse("acme/web").unwrap().to_string(), "docker.io/acme/web");
        let port_no_tag = ImageRef::parse("localhost:5000/app").unwrap();
        assert_eq!((port_no_tag.registry(), port_no_tag.tag()), ("localhost:5000", None));
        assert_eq!(ImageRef::parse("ghcr.io/acme/web").unwrap().repository(), "acme/web");
        assert_eq!(ImageRef::parse("[::1]:5000/a/b:t").unwrap().registry(), "[::1]:5000");
        for good in ["reg.io/a.b-c__d---e/f_g", "reg.io/x/y:Tag_1.0-rc", "reg.io:1/x", "reg.io:65535/x"] {
            assert!(ImageRef::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn hostile_references_are_refused() {
        let long_name = format!("reg.io/{}", "a/".repeat(130) + "a");
        let huge = "a".repeat(100_000);
        for bad in [
            "",
            ":",
            "@",
            "/",
            "UPPER/case:1",
            "reg.io/Shop:1",
            "Reg.io/shop:1",
            "reg.io/a//b",
            "reg.io/",
            "reg.io/a/",
            "/a",
            "reg.io/..",
            "reg.io/a..b",
            "reg.io/a/../b",
            "reg.io/.a",
            "reg.io/a.",
            "reg.io/a___b",
            "reg.io/a_.b",
            "reg.io/a:-tag",
            "reg.io/a:.tag",
            "reg.io/a:",
            &format!("reg.io/a:{}", "t".repeat(129)),
            "reg.io/a:t:u",
            "reg.io/a@",
            "reg.io/a@sha256:abc",
            "reg.io/a:t@md5:00",
            &format!("reg.io/a@sha256:{}", "a".repeat(63)),
            &format!("reg.io/a@sha256:{}", "a".repeat(65)),
            &format!("reg.io/a@sha256:{}", "A".repeat(64)),
            &format!("reg.io/a@{D}@{D}"),
            "reg.io:/a",
            "reg.io:0/a",
            "reg.io:65536/a",
            "reg.io:123456/a",
            "reg.io:http/a",
            "-reg.io/a",
            "reg..io/a",
            "[::1/a",
            "[zz]:5000/a",
            "[::1]x/a",
            "reg.io/a b",
            "reg.io/ä",
            "reg.io/a\n",
            &long_name,
            &huge,
        ] {
            let err = ImageRef::parse(bad).unwrap_err();
            assert!(err.to_string().len() < 600, "{bad}: the error echoes too much");
        }
    }

    #[test]
    fn constructed_references_check_each_part() {
        let r = ImageRef::tagged("registry:5000", "slipway/acme/web", Some(TAG)).unwrap();
        assert_eq!((r.registry(), r.repository()), ("registry:5000", "slipway/acme/web"));
        // Written out, `registry/slipway/…` would name Docker Hub's `registry/slipway` repository.
        assert!(ImageRef::tagged("registry", "slipway/acme/web", Some(TAG)).is_err());
        assert!(ImageRef::tagged("localhost", "acme/web", None).is_ok());
        assert!(ImageRef::tagged("reg.io", "Acme/web", Some("t")).is_err());
        assert!(ImageRef::tagged("reg.io/x", "acme/web", Some("t")).is_err());
        assert!(ImageRef::tagged("reg.io", "acme/web", Some("")).is_err());
        let pinned = r.with_digest(Digest::parse(D).unwrap());
        assert_eq!(pinned.to_string(), format!("registry:5000/slipway/acme/web:{TAG}@{D}"));
        assert_eq!(ImageRef::parse(&pinned.to_string()).unwrap(), pinned);
    }

    #[test]
    fn pinned_references_need_a_digest() {
        assert!(ImageRef::parse_pinned(&format!("reg.io/base/run:1@{D}")).is_ok());
        let err = ImageRef::parse_pinned("reg.io/base/run:1").unwrap_err();
        assert!(err.problem().contains("pinned by digest") && err.problem().contains("@sha256:"), "{err}");
        assert!(ImageRef::parse_pinned("reg.io/base@sha256:abc").unwrap_err().problem().contains("64 lower-case hex"));
    }

    #[test]
    fn release_images_accept_only_the_immutable_tag() {
        let plain = format!("registry.example.com:5000/slipway/acme/shop:{TAG}");
        let image = ReleaseImage::parse(&plain).unwrap();
        assert_eq!(image.to_string(), plain);
        assert_eq!(image.image().repository(), "slipway/acme/shop");
        assert_eq!(image.tag().to_string(), TAG);
        let pinned = format!("{plain}@sha256:{}", "a".repeat(64));
        assert_eq!(ReleaseImage::parse(&pinned).unwrap().to_string(), pinned);
        for bad in [
            "registry.example.com/acme/shop:latest",
            "registry.example.com/acme/shop",
            "registry.example.com:5000/acme/shop",
            "registry.example.com/acme/shop:v1",
            "registry.example.com/acme/shop:main",
            "registry.example.com/acme/shop:1.2.3",
        ] {
            let err = ReleaseImage::parse(bad).unwrap_err();
            assert!(err.to_string().contains("immutable"), "{bad}: {err}");
        }
        let bad_digest = format!("r.example.com/shop:{TAG}@sha256:abc");
        assert!(ReleaseImage::parse(&bad_digest).unwrap_err().to_string().contains("digest"));
        assert!(ReleaseImage::parse(&format!("Registry/Shop:{TAG}")).is_err());
    }

    #[test]
    fn digests_of_sums() {
        assert_eq!(Digest::from_sha256([0xab; 32]).as_str(), format!("sha256:{}", "ab".repeat(32)));
        assert!(Digest::parse(D).is_ok());
        assert!(Digest::parse("sha256:ABC").is_err());
    }

    proptest! {
        #[test]
        fn only_slipway_tags_make_release_images(tag in "[A-Za-z0-9_.-]{1,80}") {
            let accepted = ReleaseImage::parse(&format!("registry.example.com/acme/shop:{tag}")).is_ok();
            prop_assert_eq!(accepted, ImageTag::parse(&tag).is_ok());
        }

        #[test]
        fn release_images_round_trip(build in 1u64..1_000_000, sha in "[0-9a-f]{40}") {
            let text = format!("r.example.com:5000/acme/shop:usr_0123456789abcdef0123456789abcdef-{build}-{sha}");
            prop_assert_eq!(ReleaseImage::parse(&text).unwrap().to_string(), text);
        }

        #[test]
        fn parsing_never_panics_and_accepted_references_round_trip(value in "\\PC{0,80}") {
            if let Ok(reference) = ImageRef::parse(&value) {
                let text = reference.to_string();
                prop_assert_eq!(ImageRef::parse(&text).unwrap(), reference);
            }
        }
    }
}
