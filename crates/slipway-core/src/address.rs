//! The address of an environment: `workspace/project/environment`, the names
//! that find it in the API's paths, in queued jobs, in logs and as a GitOps
//! folder. Each part is parsed by its own rule in [`crate::names`].

use crate::names::{EnvironmentName, ProjectSlug, WorkspaceSlug};

/// An environment by its names. A GitOps folder is named so, and outlives the environment's
/// row (a removal runs after the environment may be gone), so jobs carry this rather than IDs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvironmentPath {
    pub workspace: WorkspaceSlug,
    pub project: ProjectSlug,
    pub environment: EnvironmentName,
}

impl std::fmt::Display for EnvironmentPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.workspace, self.project, self.environment)
    }
}

impl EnvironmentPath {
    /// `ws/project/env` as [`Display`](std::fmt::Display) writes it; `None` unless there are
    /// exactly three parts and each follows its rule.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('/');
        let (Some(workspace), Some(project), Some(environment), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some(Self {
            workspace: WorkspaceSlug::parse(workspace).ok()?,
            project: ProjectSlug::parse(project).ok()?,
            environment: EnvironmentName::parse(environment).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_path_reads_back_what_it_writes() {
        let path = EnvironmentPath::parse("acme/web/production").unwrap();
        assert_eq!(path.workspace.as_str(), "acme");
        assert_eq!(path.project.as_str(), "web");
        assert!(path.environment.is_production());
        assert_eq!(path.to_string(), "acme/web/production");
    }

    #[test]
    fn anything_but_three_valid_parts_is_refused() {
        for bad in ["", "acme/web", "acme/web/production/extra", "Acme/web/production", "acme//production", "a/b/c/"] {
            assert_eq!(EnvironmentPath::parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn every_path_of_labels_round_trips(
            parts in proptest::array::uniform3("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"),
        ) {
            let text = parts.join("/");
            prop_assert_eq!(EnvironmentPath::parse(&text).map(|path| path.to_string()), Some(text));
        }
    }
}
