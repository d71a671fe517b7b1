//! Newtype identifiers. Each is a type prefix plus a UUIDv7 in hex, so IDs are
//! readable in logs (`ws_…` is a workspace), sort by creation time (cursor
//! pagination relies on that) and can never be mixed up in code.

use crate::macros::string_newtype;

/// An identifier string did not have the expected `<prefix>_<32 hex>` form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} ID (expected `{prefix}_` followed by 32 lower-case hex digits)")]
pub struct InvalidId {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh, time-ordered ID.
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                let valid = value
                    .strip_prefix(concat!($prefix, "_"))
                    .is_some_and(|hex| {
                        hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                    });
                if valid {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(InvalidId { kind: $kind, prefix: $prefix, value: value.to_owned() })
                }
            }
        }

        string_newtype!(
            $name,
            InvalidId,
            concat!("ID of a ", $kind),
            Some(concat!("^", $prefix, "_[0-9a-f]{32}$"))
        );
    };
}

id_type!(
    /// A user of the platform.
    UserId, "usr", "user");
id_type!(
    /// A workspace (tenant).
    WorkspaceId, "ws", "workspace");
id_type!(
    /// A project (one application) inside a workspace.
    ProjectId, "prj", "project");
id_type!(
    /// A deploy target of a project.
    EnvironmentId, "env", "environment");
id_type!(
    /// One attempt to put a commit live.
    DeploymentId, "dep", "deployment");
id_type!(
    /// The immutable result of a successful deployment.
    ReleaseId, "rel", "release");
id_type!(
    /// One running copy of a process type.
    InstanceId, "ins", "instance");
id_type!(
    /// A session or personal API token (the record, never the secret).
    TokenId, "tok", "token");
id_type!(
    /// One row of the audit log.
    AuditEventId, "evt", "audit event");
id_type!(
    /// One row of the durable job queue.
    JobId, "job", "job");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_sort_by_creation() {
        let first = WorkspaceId::generate();
        let second = WorkspaceId::generate();
        assert_eq!(WorkspaceId::parse(first.as_str()), Ok(first.clone()));
        assert!(first < second, "UUIDv7 IDs must sort by creation time");
    }

    #[test]
    fn ids_of_another_kind_or_malformed_are_rejected() {
        let project = ProjectId::generate();
        assert!(WorkspaceId::parse(project.as_str()).is_err());
        assert!(WorkspaceId::parse("ws_").is_err());
        assert!(WorkspaceId::parse("ws_0123456789ABCDEF0123456789abcdef").is_err());
        assert!(WorkspaceId::parse("ws_0123456789abcdef0123456789abcde").is_err());
        assert!(WorkspaceId::parse("ws_0123456789abcdef0123456789abcdef").is_ok());
    }

    #[test]
    fn ids_round_trip_through_json_and_reject_bad_ones() {
        let id = UserId::generate();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<UserId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<UserId>("\"usr_nope\"").is_err());
    }
}
