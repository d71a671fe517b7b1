//! A set of rendered files, keyed by file name, ready to be written to a
//! folder of the GitOps repository.
//!
//! One file per object (`<kind>-<name>.yaml`): a change to one object is a
//! one-file diff in review, and Argo CD reads a folder of files as readily as
//! one multi-document file. Objects are serialised field by field in struct
//! order and maps are sorted, so the same input always gives the same bytes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{GitopsError, Result};

/// Rendered files: name → YAML text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifests {
    files: BTreeMap<String, String>,
}

impl Manifests {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one object as `<kind>-<name>.yaml`.
    pub(crate) fn push(&mut self, kind: &str, name: &str, object: &impl Serialize) -> Result<()> {
        let file = format!("{}-{name}.yaml", kind.to_ascii_lowercase());
        let yaml = serde_norway::to_string(object)
            .map_err(|source| GitopsError::Serialize { what: format!("{kind} {name}"), source })?;
        self.files.insert(file, yaml);
        Ok(())
    }

    /// Adds a file as it is (a release read back from git, or files merged for review).
    pub fn extend_raw(&mut self, file: &str, text: &str) {
        self.files.insert(file.to_owned(), text.to_owned());
    }

    /// Files in name order.
    pub fn files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(name, text)| (name.as_str(), text.as_str()))
    }

    pub fn get(&self, file: &str) -> Option<&str> {
        self.files.get(file).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// All files as one multi-document YAML stream, for `slipway gitops render`.
    pub fn to_multi_document(&self) -> String {
        let mut out = String::new();
        for (name, text) in &self.files {
            out.push_str("---\n# ");
            out.push_str(name);
            out.push('\n');
            out.push_str(text);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_come_out_in_name_order_and_as_one_stream_for_review() {
        let mut manifests = Manifests::new();
        manifests.extend_raw("service-web.yaml", "kind: Service\n");
        manifests.extend_raw("deployment-web.yaml", "kind: Deployment\n");
        let names: Vec<&str> = manifests.files().map(|(name, _)| name).collect();
        assert_eq!(names, ["deployment-web.yaml", "service-web.yaml"]);
        assert_eq!(
            manifests.to_multi_document(),
            "---\n# deployment-web.yaml\nkind: Deployment\n---\n# service-web.yaml\nkind: Service\n"
        );
    }
}
