//! Names and labels of rendered objects, checked against Kubernetes' rules
//! before anything is built, so a bad name is one clear error instead of a
//! manifest the API server (or Argo CD) rejects later.

use std::collections::BTreeMap;

use slipway_core::names::label_problem;

use crate::error::{GitopsError, Result};
use crate::input::AppEnvironment;

pub const LABEL_NAME: &str = "app.kubernetes.io/name";
pub const LABEL_PART_OF: &str = "app.kubernetes.io/part-of";
pub const LABEL_WORKSPACE: &str = "slipway.dev/workspace";
pub const LABEL_PROJECT: &str = "slipway.dev/project";
pub const LABEL_ENVIRONMENT: &str = "slipway.dev/environment";
pub const LABEL_PROCESS: &str = "slipway.dev/process";
pub const ANNOTATION_DEPLOYMENT: &str = "slipway.dev/deployment";

/// The namespace of one environment: `<workspace>-<project>-<environment>`.
///
/// Different slugs can produce the same string (`a-b`/`c` and `a`/`b-c`); the
/// repository writer refuses such a collision across workspaces.
pub fn namespace_name(workspace: &str, project: &str, environment: &str) -> Result<String> {
    let name = format!("{workspace}-{project}-{environment}");
    check_label("namespace", &name)?;
    // The workspace's AppProject lists this namespace, so Argo CD would adopt (and prune) a
    // system namespace of the same name, such as `kube-node-lease`.
    if let Some(prefix) = RESERVED_NAMESPACE_PREFIXES.iter().find(|prefix| name.starts_with(*prefix)) {
        return Err(GitopsError::invalid_name(
            "namespace",
            &name,
            format!(
                "names starting with `{prefix}` belong to the cluster; rename the workspace, project or environment"
            ),
        ));
    }
    Ok(name)
}

/// Namespace prefixes the cluster and its operators own.
const RESERVED_NAMESPACE_PREFIXES: [&str; 5] = ["kube-", "openshift", "argocd", "cert-manager", "ingress-nginx"];

/// An RFC 1123 label: namespaces, Services, Deployments and label values of our own.
pub fn check_label(what: &'static str, value: &str) -> Result<()> {
    match label_problem(value) {
        None => Ok(()),
        Some(reason) => Err(GitopsError::invalid_name(what, value, reason)),
    }
}

/// Labels every object of the environment carries.
pub fn common_labels(app: &AppEnvironment) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_owned(), app.project.to_string()),
        (LABEL_PART_OF.to_owned(), "slipway".to_owned()),
        (LABEL_WORKSPACE.to_owned(), app.workspace.to_string()),
        (LABEL_PROJECT.to_owned(), app.project.to_string()),
        (LABEL_ENVIRONMENT.to_owned(), app.environment.to_string()),
    ])
}

/// Labels that select the pods of one process type (a subset of the pod labels, stable
/// across deployments because a Deployment's selector is immutable).
pub fn selector_labels(app: &AppEnvironment, process: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(LABEL_NAME.to_owned(), app.project.to_string()), (LABEL_PROCESS.to_owned(), process.to_owned())])
}

/// A Kubernetes quantity such as `250m`, `1.5`, `512Mi` or `2Gi`.
pub fn check_quantity(what: &'static str, value: &str) -> Result<()> {
    const SUFFIXES: [&str; 14] = ["", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let number_end = value.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(value.len());
    let (number, suffix) = value.split_at(number_end);
    let number_ok = !number.is_empty()
        && number.matches('.').count() <= 1
        && !number.starts_with('.')
        && !number.ends_with('.')
        && number.bytes().any(|b| b != b'0' && b != b'.');
    if number_ok && SUFFIXES.contains(&suffix) {
        Ok(())
    } else {
        Err(GitopsError::InvalidInput {
            what,
            reason: format!("`{value}` is not a positive Kubernetes quantity such as `250m`, `1` or `512Mi`"),
        })
    }
}

/// A five-field cron expression of characters cron understands; the exact semantics are
/// left to the CronJob controller.
pub fn check_schedule(process: &str, schedule: &str) -> Result<()> {
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    let chars_ok = schedule.chars().all(|c| c.is_ascii_alphanumeric() || " */,-?".contains(c));
    if (fields.len() == 5 && chars_ok) || (fields.len() == 1 && fields[0].starts_with('@') && schedule.len() < 16) {
        Ok(())
    } else {
        Err(GitopsError::InvalidInput {
            what: "cron schedule",
            reason: format!(
                "process `{process}`: `{schedule}` is not a five-field cron expression such as `0 3 * * *`"
            ),
        })
    }
}

/// A health-check path: absolute, printable, no spaces.
pub fn check_health_path(path: &str) -> Result<()> {
    if path.starts_with('/') && path.len() <= 1024 && path.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(GitopsError::InvalidInput {
            what: "health-check path",
            reason: format!(
                "`{}` must start with `/` and contain no spaces",
                path.chars().take(80).collect::<String>()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_of_the_cluster_itself_are_refused() {
        for (ws, project, env) in [("kube", "node", "lease"), ("kube", "system", "x"), ("argocd", "a", "b")] {
            let err = namespace_name(ws, project, env).unwrap_err();
            assert!(err.to_string().contains("belong to the cluster"), "{err}");
        }
        assert!(namespace_name("kubernetes", "shop", "production").is_ok(), "only the `kube-` prefix is reserved");
    }

    #[test]
    fn namespace_names_longer_than_a_label_are_refused() {
        assert_eq!(namespace_name("acme", "shop", "production").unwrap(), "acme-shop-production");
        let err = namespace_name(&"a".repeat(30), &"b".repeat(30), "production").unwrap_err();
        assert!(err.to_string().contains("at most 63"), "{err}");
    }

    #[test]
    fn quantities() {
        for good in ["250m", "1", "1.5", "512Mi", "2Gi", "100k"] {
            assert!(check_quantity("cpu", good).is_ok(), "{good}");
        }
        for bad in ["", "0", "abc", "1.2.3", "5 Gi", "-1", "10GB", ".5"] {
            assert!(check_quantity("cpu", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schedules() {
        assert!(check_schedule("cron", "*/5 * * * *").is_ok());
        assert!(check_schedule("cron", "@hourly").is_ok());
        assert!(check_schedule("cron", "* * *").is_err());
        assert!(check_schedule("cron", "* * * * * ; rm").is_err());
    }
}
