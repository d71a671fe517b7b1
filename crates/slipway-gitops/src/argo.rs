//! Argo CD objects of the `bootstrap/` folder, typed with serde (Argo CD
//! publishes no Rust types): the root Application, and per workspace an
//! AppProject and an ApplicationSet.
//!
//! Tenant isolation rests on two rules. The AppProject of a workspace allows
//! only the GitOps repository and that workspace's namespaces (an explicit
//! list: a `<workspace>-*` pattern would also match workspace `acme-corp`'s
//! namespaces for workspace `acme`), only Namespace among cluster-scoped
//! kinds and only the namespaced kinds the renderer writes. The ApplicationSet's template names that AppProject literally: a
//! `project` templated from the folder path would let a folder crafted under
//! one workspace's path pick another workspace's project.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use slipway_core::names::WorkspaceSlug;

use crate::error::Result;
use crate::manifests::Manifests;
use crate::naming::{LABEL_PART_OF, LABEL_WORKSPACE};

pub const API_VERSION: &str = "argoproj.io/v1alpha1";
/// Name of the root Application that syncs `bootstrap/workspaces/`.
pub const ROOT_APPLICATION: &str = "slipway-root";

/// The namespaced kinds the renderer writes, and so all a workspace's project may sync: a
/// RoleBinding or ServiceAccount in an app folder (put there by anything but Slipway) is refused.
pub const NAMESPACED_KINDS: [(&str, &str); 11] = [
    ("", "ConfigMap"),
    ("", "LimitRange"),
    ("", "ResourceQuota"),
    ("", "Service"),
    ("apps", "Deployment"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("batch", "CronJob"),
    ("external-secrets.io", "ExternalSecret"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("policy", "PodDisruptionBudget"),
];

/// Where Argo CD runs and where it reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgoSettings {
    /// The GitOps repository URL as Argo CD reaches it (may differ from the writer's remote).
    pub repo_url: String,
    /// Branch Argo CD follows.
    pub revision: String,
    /// Namespace Argo CD is installed in.
    pub argocd_namespace: String,
    /// API server of the target cluster.
    pub destination_server: String,
}

impl ArgoSettings {
    pub fn new(repo_url: impl Into<String>) -> Self {
        Self {
            repo_url: repo_url.into(),
            revision: "main".into(),
            argocd_namespace: "argocd".into(),
            destination_server: "https://kubernetes.default.svc".into(),
        }
    }
}

/// The AppProject name of a workspace. Prefixed so that a workspace slugged `default`
/// cannot become Argo CD's built-in `default` project.
pub fn project_name(workspace: &WorkspaceSlug) -> String {
    format!("ws-{workspace}")
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: ApplicationSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    pub project: String,
    pub source: ApplicationSource,
    pub destination: ApplicationDestination,
    pub sync_policy: SyncPolicy,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSource {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub target_revision: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<DirectorySource>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DirectorySource {
    pub recurse: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplicationDestination {
    pub server: String,
    pub namespace: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    pub automated: AutomatedSync,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AutomatedSync {
    pub prune: bool,
    pub self_heal: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppProject {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: AppProjectSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppProjectSpec {
    pub description: String,
    pub source_repos: Vec<String>,
    pub destinations: Vec<ApplicationDestination>,
    pub cluster_resource_whitelist: Vec<GroupKind>,
    pub namespace_resource_whitelist: Vec<GroupKind>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupKind {
    pub group: String,
    pub kind: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSet {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: ApplicationSetSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetSpec {
    pub generators: Vec<Generator>,
    pub template: ApplicationTemplate,
}

#[derive(Debug, Clone, Serialize)]
pub struct Generator {
    pub git: GitGenerator,
}

#[derive(Debug, Clone, Serialize)]
pub struct GitGenerator {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub revision: String,
    pub directories: Vec<DirectoryPattern>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DirectoryPattern {
    pub path: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplicationTemplate {
    pub metadata: TemplateMeta,
    pub spec: ApplicationSpec,
}

#[derive(Debug, Clone, Serialize)]
pub struct TemplateMeta {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

fn argo_meta(settings: &ArgoSettings, name: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(settings.argocd_namespace.clone()),
        labels: Some(labels),
        ..Default::default()
    }
}

fn automated() -> SyncPolicy {
    SyncPolicy { automated: AutomatedSync { prune: true, self_heal: true } }
}

/// `bootstrap/`: the root Application, applied once by hand (`kubectl apply -f
/// bootstrap/application-slipway-root.yaml`); from then on it syncs every
/// workspace's AppProject and ApplicationSet from `bootstrap/workspaces/`.
pub fn render_root(settings: &ArgoSettings) -> Result<Manifests> {
    let labels = BTreeMap::from([(LABEL_PART_OF.to_owned(), "slipway".to_owned())]);
    let root = Application {
        api_version: API_VERSION,
        kind: "Application",
        metadata: argo_meta(settings, ROOT_APPLICATION, labels),
        spec: ApplicationSpec {
            // Only the platform's own objects live here; tenants never get `default`.
            project: "default".into(),
            source: ApplicationSource {
                repo_url: settings.repo_url.clone(),
                target_revision: settings.revision.clone(),
                path: "bootstrap/workspaces".into(),
                directory: Some(DirectorySource { recurse: true }),
            },
            destination: ApplicationDestination {
                server: settings.destination_server.clone(),
                namespace: settings.argocd_namespace.clone(),
            },
            sync_policy: automated(),
        },
    };
    let mut out = Manifests::new();
    out.push("Application", ROOT_APPLICATION, &root)?;
    Ok(out)
}

/// `bootstrap/workspaces/<workspace>/`: the workspace's AppProject (allowing exactly
/// `namespaces`) and its ApplicationSet over `apps/<workspace>/*/*`.
pub fn render_workspace(
    workspace: &WorkspaceSlug,
    namespaces: &[String],
    settings: &ArgoSettings,
) -> Result<Manifests> {
    let project = project_name(workspace);
    let labels = BTreeMap::from([
        (LABEL_PART_OF.to_owned(), "slipway".to_owned()),
        (LABEL_WORKSPACE.to_owned(), workspace.to_string()),
    ]);
    let app_project = AppProject {
        api_version: API_VERSION,
        kind: "AppProject",
        metadata: argo_meta(settings, &project, labels.clone()),
        spec: AppProjectSpec {
            description: format!("Slipway workspace {workspace}"),
            source_repos: vec![settings.repo_url.clone()],
            destinations: namespaces
                .iter()
                .map(|namespace| ApplicationDestination {
                    server: settings.destination_server.clone(),
                    namespace: namespace.clone(),
                })
                .collect(),
            cluster_resource_whitelist: vec![GroupKind { group: String::new(), kind: "Namespace".into() }],
            namespace_resource_whitelist: NAMESPACED_KINDS
                .iter()
                .map(|(group, kind)| GroupKind { group: (*group).into(), kind: (*kind).into() })
                .collect(),
        },
    };
    // `{{path[n]}}` is a segment of the matched folder `apps/<workspace>/<project>/<environment>`.
    // The workspace part of every name is written literally, never read from the path.
    let app_name = format!("{workspace}-{{{{path[2]}}}}-{{{{path[3]}}}}");
    let application_set = ApplicationSet {
        api_version: API_VERSION,
        kind: "ApplicationSet",
        metadata: argo_meta(settings, &project, labels.clone()),
        spec: ApplicationSetSpec {
            generators: vec![Generator {
                git: GitGenerator {
                    repo_url: settings.repo_url.clone(),
                    revision: settings.revision.clone(),
                    directories: vec![DirectoryPattern { path: format!("apps/{workspace}/*/*") }],
                },
            }],
            template: ApplicationTemplate {
                metadata: TemplateMeta { name: app_name.clone(), labels },
                spec: ApplicationSpec {
                    project: project.clone(),
                    source: ApplicationSource {
                        repo_url: settings.repo_url.clone(),
                        target_revision: settings.revision.clone(),
                        path: "{{path}}".into(),
                        directory: None,
                    },
                    destination: ApplicationDestination {
                        server: settings.destination_server.clone(),
                        namespace: app_name,
                    },
                    sync_policy: automated(),
                },
            },
        },
    };
    let mut out = Manifests::new();
    out.push("AppProject", &project, &app_project)?;
    out.push("ApplicationSet", &project, &application_set)?;
    Ok(out)
}
