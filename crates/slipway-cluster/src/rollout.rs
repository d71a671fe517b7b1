//! Whether one deployment is live in the cluster: Argo CD's Application for
//! the environment must have synced the deployment's GitOps commit and call
//! the app Healthy, and every Deployment of the environment must have rolled
//! out the deployment's image. Pods that cannot start (image pull errors, a
//! missing Secret, a crash loop) fail it at once rather than after the
//! rollout's progress deadline.
//!
//! [`Cluster::observe`] reads; [`verdict`] decides, from plain data, so the
//! rules are tested without a cluster.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;

use crate::client::Cluster;
use crate::error::ClusterError;

/// What the deployment committed, to recognise it in the cluster.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The Argo CD namespace and the Application's name (`<workspace>-<project>-<environment>`).
    pub argocd_namespace: String,
    pub application: String,
    /// The environment's namespace.
    pub namespace: String,
    /// The deployment's GitOps commit: Argo CD must have synced it or a later commit of the
    /// branch (it syncs the branch head, which other apps' commits move on).
    pub revision: String,
    /// The image every Deployment of the environment must run (`repo:tag@sha256:…`).
    pub image: String,
}

/// What the cluster shows for one environment.
#[derive(Debug, Default)]
pub struct Observation {
    pub application: Option<Application>,
    pub deployments: Vec<Deployment>,
    pub pods: Vec<Pod>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not there yet; the text says what is awaited.
    Waiting(String),
    Live,
    Failed(String),
}

/// The fields of an Argo CD `Application` (argoproj.io/v1alpha1) this reads.
#[derive(Debug, Default, Deserialize)]
pub struct Application {
    #[serde(default)]
    pub status: ApplicationStatus,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationStatus {
    #[serde(default)]
    pub sync: SyncStatus,
    #[serde(default)]
    pub health: HealthStatus,
    pub operation_state: Option<OperationState>,
    #[serde(default)]
    pub conditions: Vec<ApplicationCondition>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SyncStatus {
    #[serde(default)]
    pub status: String,
    pub revision: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct HealthStatus {
    #[serde(default)]
    pub status: String,
    pub message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationState {
    #[serde(default)]
    pub phase: String,
    pub message: Option<String>,
    pub sync_result: Option<SyncResult>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SyncResult {
    #[serde(default)]
    pub revision: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ApplicationCondition {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Deserialize)]
struct List<T> {
    items: Vec<T>,
}

/// Objects Slipway renders carry this label; the environment's namespace holds nothing else of ours.
const OUR_OBJECTS: &str = "labelSelector=app.kubernetes.io%2Fpart-of%3Dslipway";

/// Container states that will not get better by waiting.
const HOPELESS_WAITS: [&str; 6] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// Restarts after which a crash-looping container fails the deployment.
const CRASH_RESTARTS: i32 = 3;

impl Cluster {
    /// Reads the Application and the environment's Deployments and Pods.
    pub async fn observe(&self, expected: &Expected) -> Result<Observation, ClusterError> {
        let application = self
            .get::<Application>(&format!(
                "/apis/argoproj.io/v1alpha1/namespaces/{}/applications/{}",
                expected.argocd_namespace, expected.application
            ))
            .await?;
        let namespace = &expected.namespace;
        let deployments = self
            .get::<List<Deployment>>(&format!("/apis/apps/v1/namespaces/{namespace}/deployments?{OUR_OBJECTS}"))
            .await?
            .map_or_else(Vec::new, |list| list.items);
        let pods = self
            .get::<List<Pod>>(&format!("/api/v1/namespaces/{namespace}/pods?{OUR_OBJECTS}"))
            .await?
            .map_or_else(Vec::new, |list| list.items);
        Ok(Observation { application, deployments, pods })
    }
}

/// Decides from what the cluster shows; the first thing not yet done is what is awaited.
/// `includes(revision)` says whether a revision of the branch contains the deployment's commit.
pub fn verdict(expected: &Expected, seen: &Observation, includes: impl Fn(&str) -> bool) -> Verdict {
    let Some(application) = &seen.application else {
        return Verdict::Waiting(format!(
            "Argo CD has no Application `{}` yet (its ApplicationSet creates it from the repository)",
            expected.application
        ));
    };
    let status = &application.status;
    if let Some(operation) = &status.operation_state {
        let ours = operation.sync_result.as_ref().is_some_and(|result| includes(&result.revision));
        if ours && matches!(operation.phase.as_str(), "Failed" | "Error") {
            return Verdict::Failed(format!(
                "Argo CD could not sync it: {}",
                operation.message.as_deref().unwrap_or("no reason given")
            ));
        }
    }
    if !status.sync.revision.as_deref().is_some_and(&includes) {
        let at = status.sync.revision.as_deref().map_or("no revision".to_owned(), |rev| short(rev).to_owned());
        let mut text = format!("Argo CD is at {at}, waiting for {}", short(&expected.revision));
        if let Some(condition) = status.conditions.first() {
            text.push_str(&format!(" ({}: {})", condition.kind, condition.message));
        }
        return Verdict::Waiting(text);
    }
    if status.sync.status != "Synced" {
        return Verdict::Waiting(format!("Argo CD is syncing ({})", or_unknown(&status.sync.status)));
    }
    for deployment in &seen.deployments {
        if let Some(verdict) = rollout(expected, deployment, &seen.pods) {
            return verdict;
        }
    }
    match status.health.status.as_str() {
        "Healthy" => Verdict::Live,
        "Degraded" => Verdict::Failed(format!(
            "Argo CD reports the app Degraded: {}",
            status.health.message.as_deref().unwrap_or("no reason given")
        )),
        other => Verdict::Waiting(format!("Argo CD reports the app {}", or_unknown(other))),
    }
}

/// `None` when `deployment` has rolled out the expected image, else what it waits for or why it failed.
fn rollout(expected: &Expected, deployment: &Deployment, pods: &[Pod]) -> Option<Verdict> {
    let name = deployment.metadata.name.as_deref().unwrap_or("?");
    let spec = deployment.spec.as_ref();
    let runs_ours = spec
        .and_then(|spec| spec.template.spec.as_ref())
        .is_some_and(|pod| pod.containers.iter().all(|container| container.image.as_deref() == Some(&expected.image)));
    if !runs_ours {
        return Some(Verdict::Waiting(format!("Deployment {name} does not run the new image yet")));
    }
    for pod in pods.iter().filter(|pod| owned_by(pod, name) && runs_image(pod, &expected.image)) {
        if let Some(reason) = hopeless(pod) {
            return Some(Verdict::Failed(reason));
        }
    }
    let status = deployment.status.clone().unwrap_or_default();
    if let Some(condition) =
        status.conditions.iter().flatten().find(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
    {
        return Some(Verdict::Failed(format!(
            "Deployment {name} exceeded its progress deadline: {}",
            condition.message.as_deref().unwrap_or("no reason given")
        )));
    }
    let generation = deployment.metadata.generation.unwrap_or(0);
    if status.observed_generation.unwrap_or(0) < generation {
        return Some(Verdict::Waiting(format!("Deployment {name}: the change is not observed yet")));
    }
    let wanted = spec.and_then(|spec| spec.replicas).unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    if updated < wanted {
        return Some(Verdict::Waiting(format!("Deployment {name}: {updated} of {wanted} pods updated")));
    }
    if total > updated {
        return Some(Verdict::Waiting(format!("Deployment {name}: {} old pods still terminating", total - updated)));
    }
    if available < wanted {
        return Some(Verdict::Waiting(format!("Deployment {name}: {available} of {wanted} pods available")));
    }
    None
}

/// A pod of Deployment `name` (the renderer labels pods with their process type, which names the Deployment).
fn owned_by(pod: &Pod, name: &str) -> bool {
    pod.metadata.labels.as_ref().and_then(|labels| labels.get("slipway.dev/process")).is_some_and(|p| p == name)
}

fn runs_image(pod: &Pod, image: &str) -> bool {
    pod.spec.as_ref().is_some_and(|spec| spec.containers.iter().all(|c| c.image.as_deref() == Some(image)))
}

/// Why `pod` will never become ready, if that is already certain.
fn hopeless(pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses.iter().find_map(|container| {
        let waiting = container.state.as_ref()?.waiting.as_ref()?;
        let reason = waiting.reason.as_deref()?;
        let message = waiting.message.as_deref().unwrap_or("");
        if HOPELESS_WAITS.contains(&reason) {
            Some(format!("pod {name} cannot start: {reason} {message}").trim_end().to_owned())
        } else if reason == "CrashLoopBackOff" && container.restart_count >= CRASH_RESTARTS {
            Some(
                format!("pod {name} keeps crashing (restarted {} times): {message}", container.restart_count)
                    .trim_end_matches([' ', ':'])
                    .to_owned(),
            )
        } else {
            None
        }
    })
}

/// The first 12 characters of a revision, for messages. By character, not byte: the revision is
/// whatever the cluster reports, and a byte index inside a multi-byte character would panic.
fn short(revision: &str) -> &str {
    match revision.char_indices().nth(12) {
        Some((end, _)) => revision.get(..end).unwrap_or(revision),
        None => revision,
    }
}

fn or_unknown(text: &str) -> &str {
    if text.is_empty() {
        "Unknown"
    } else {
        text
    }
}
