//! Immutable image tags: `<userId>-<buildNumber>-<commitSHA>`.
//!
//! The build number is unique per project and never reused, so a tag names
//! exactly one build. The longest tag (`usr_` + 32 hex, a 20-digit number and
//! a 64-hex SHA-256 commit) is 122 characters, inside the OCI limit of 128,
//! so no short form is ever needed.

use crate::deployment::DeploymentNumber;
use crate::ids::UserId;
use crate::macros::string_newtype;

/// A git commit ID: 40 (SHA-1) or 64 (SHA-256) lower-case hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CommitSha(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a full git commit ID (40 or 64 lower-case hex digits)")]
pub struct InvalidCommitSha(String);

impl CommitSha {
    pub fn parse(value: &str) -> Result<Self, InvalidCommitSha> {
        let hex = value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if hex && matches!(value.len(), 40 | 64) {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidCommitSha(value.chars().take(80).collect()))
        }
    }

    /// The conventional 12-character abbreviation, for display.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

string_newtype!(CommitSha, InvalidCommitSha, "full git commit ID", Some("^([0-9a-f]{40}|[0-9a-f]{64})$"));

/// The tag of the image built by one deployment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageTag {
    pub user: UserId,
    pub build: DeploymentNumber,
    pub commit: CommitSha,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an image tag of the form <userId>-<buildNumber>-<commitSHA>")]
pub struct InvalidImageTag(String);

impl ImageTag {
    pub const MAX_LEN: usize = 128;

    pub fn new(user: UserId, build: DeploymentNumber, commit: CommitSha) -> Self {
        Self { user, build, commit }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidImageTag> {
        let invalid = || InvalidImageTag(value.chars().take(140).collect());
        let mut parts = value.splitn(3, '-');
        let (Some(user), Some(build), Some(commit)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let build = build
            .parse::<u64>()
            .ok()
            .filter(|_| !build.starts_with('0') && !build.starts_with('+'))
            .and_then(|n| DeploymentNumber::new(n).ok())
            .ok_or_else(invalid)?;
        Ok(Self {
            user: UserId::parse(user).map_err(|_| invalid())?,
            build,
            commit: CommitSha::parse(commit).map_err(|_| invalid())?,
        })
    }
}

impl std::fmt::Display for ImageTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{}", self.user, self.build, self.commit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_oci_tag(tag: &str) -> bool {
        let bytes = tag.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= ImageTag::MAX_LEN
            && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    }

    #[test]
    fn a_tag_names_user_build_and_commit() {
        let user = UserId::parse("usr_0190d1c2a3b4c5d6e7f8091a2b3c4d5e").unwrap();
        let commit = CommitSha::parse(&"ab".repeat(20)).unwrap();
        let tag = ImageTag::new(user, DeploymentNumber::new(7).unwrap(), commit);
        let text = tag.to_string();
        assert_eq!(text, format!("usr_0190d1c2a3b4c5d6e7f8091a2b3c4d5e-7-{}", "ab".repeat(20)));
        assert_eq!(ImageTag::parse(&text), Ok(tag));
    }

    #[test]
    fn malformed_tags_and_commits_are_refused() {
        assert!(CommitSha::parse("abc123").is_err());
        assert!(CommitSha::parse(&"AB".repeat(20)).is_err());
        let user = UserId::generate();
        for bad in [
            String::new(),
            format!("{user}-0-{}", "a".repeat(40)),
            format!("{user}-07-{}", "a".repeat(40)),
            format!("{user}-7"),
            format!("{user}-x-{}", "a".repeat(40)),
        ] {
            assert!(ImageTag::parse(&bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn every_tag_is_a_valid_oci_tag_and_parses_back(build in 1u64.., sha in "([0-9a-f]{40}|[0-9a-f]{64})") {
            let tag = ImageTag::new(UserId::generate(), DeploymentNumber::new(build).unwrap(), CommitSha::parse(&sha).unwrap());
            let text = tag.to_string();
            prop_assert!(is_oci_tag(&text), "{}", text);
            prop_assert_eq!(ImageTag::parse(&text).unwrap(), tag);
        }
    }
}
