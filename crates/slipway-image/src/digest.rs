//! Digests of the bytes the exporter pushes and verifies. References and the
//! digest type itself live in `slipway_core::image_ref`, parsed once for every crate.

use sha2::{Digest as _, Sha256};
use slipway_core::image_ref::{Digest, InvalidImageRef};

use crate::error::ImageError;

/// The digest of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> Digest {
    finish(Sha256::new_with_prefix(bytes))
}

/// The digest of what `hasher` has seen.
pub(crate) fn finish(hasher: Sha256) -> Digest {
    Digest::from_sha256(hasher.finalize().into())
}

impl From<InvalidImageRef> for ImageError {
    fn from(err: InvalidImageRef) -> Self {
        ImageError::InvalidReference { reference: err.value().to_owned(), problem: err.problem().to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_sha256_of_the_bytes() {
        assert_eq!(sha256(b"").as_str(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let mut hasher = Sha256::new();
        hasher.update(b"a");
        hasher.update(b"bc");
        assert_eq!(finish(hasher), sha256(b"abc"));
    }
}
