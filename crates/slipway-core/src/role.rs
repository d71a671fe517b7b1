//! Workspace roles and what each may do. Every API handler names the
//! [`Permission`] it needs; this table is the only place that grants it.

use serde::{Deserialize, Serialize};

use crate::names::InvalidName;
use crate::ErrorCode;

/// A member's role in a workspace, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Developer,
    Viewer,
}

/// Something a member may be allowed to do inside a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// See the workspace, its projects, environments, deployments, config (secrets masked).
    Read,
    /// Set and unset config vars; start deployments.
    Deploy,
    /// Create, change and delete projects and environments.
    ManageProjects,
    /// Add, remove and change members below owner; read the audit log.
    Administer,
    /// Grant or take the owner role; delete the workspace.
    Own,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Developer, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidName> {
        Role::ALL.into_iter().find(|role| role.as_str() == value).ok_or_else(|| {
            InvalidName::new(ErrorCode::InvalidRole, "role", value, "use one of owner, admin, developer, viewer")
        })
    }

    pub fn allows(self, permission: Permission) -> bool {
        let needed = match permission {
            Permission::Read => Role::Viewer,
            Permission::Deploy => Role::Developer,
            Permission::ManageProjects | Permission::Administer => Role::Admin,
            Permission::Own => Role::Owner,
        };
        self.rank() >= needed.rank()
    }

    fn rank(self) -> u8 {
        match self {
            Role::Owner => 3,
            Role::Admin => 2,
            Role::Developer => 1,
            Role::Viewer => 0,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_a_growing_set_of_permissions() {
        use Permission::*;
        let table = [
            (Role::Viewer, [true, false, false, false, false]),
            (Role::Developer, [true, true, false, false, false]),
            (Role::Admin, [true, true, true, true, false]),
            (Role::Owner, [true, true, true, true, true]),
        ];
        for (role, expected) in table {
            let got = [Read, Deploy, ManageProjects, Administer, Own].map(|p| role.allows(p));
            assert_eq!(got, expected, "{role}");
        }
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert_eq!(Role::parse("root").unwrap_err().code, ErrorCode::InvalidRole);
        assert!(Role::parse("Owner").is_err());
    }
}
