//! Renders one environment into Kubernetes objects built from `k8s-openapi`
//! structs (never string templates). Start at [`render_environment`]: it
//! checks every input first, then builds the objects, so an error leaves
//! nothing half-rendered.

mod namespace;
mod network;
pub(crate) mod restricted;
mod workload;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use slipway_core::build_plan::WEB_PROCESS;
use slipway_core::resources::Cpu;

pub use namespace::{
    ExternalSecret, ExternalSecretData, ExternalSecretSpec, ExternalSecretTarget, RemoteRef, SecretStoreRef,
};

use crate::error::{GitopsError, Result};
use crate::input::{AppEnvironment, ClusterSettings};
use crate::manifests::Manifests;
use crate::naming::{self, check_health_path, check_schedule};

/// The ConfigMap holding plain config vars.
pub const CONFIG_MAP_NAME: &str = "config";
/// The ExternalSecret, and the Secret the operator creates from it.
pub const SECRET_NAME: &str = "secrets";

/// All objects of one environment, one file per object.
pub fn render_environment(app: &AppEnvironment, settings: &ClusterSettings) -> Result<Manifests> {
    let namespace = validate(app, settings)?;
    let mut out = Manifests::new();
    out.push("Namespace", &namespace, &namespace::namespace(app, &namespace))?;
    out.push("ResourceQuota", "quota", &namespace::resource_quota(app))?;
    out.push("LimitRange", "limits", &namespace::limit_range(app))?;
    if let Some(config_map) = namespace::config_map(app) {
        out.push("ConfigMap", CONFIG_MAP_NAME, &config_map)?;
    }
    if let Some(secret) = namespace::external_secret(app, settings) {
        out.push("ExternalSecret", SECRET_NAME, &secret)?;
    }
    for (name, process) in &app.processes {
        let name = name.as_str();
        if let Some(schedule) = &process.schedule {
            out.push("CronJob", name, &workload::cron_job(app, settings, name, process, schedule))?;
            continue;
        }
        out.push("Deployment", name, &workload::deployment(app, settings, name, process))?;
        if let Some(hpa) = workload::autoscaler(app, name, process) {
            out.push("HorizontalPodAutoscaler", name, &hpa)?;
        }
        if let Some(pdb) = workload::disruption_budget(app, name, process) {
            out.push("PodDisruptionBudget", name, &pdb)?;
        }
    }
    let has_web = app.processes.get(WEB_PROCESS).is_some_and(|web| web.schedule.is_none());
    if has_web {
        out.push("Service", WEB_PROCESS, &network::service(app))?;
        if !app.hostnames.is_empty() {
            out.push("Ingress", WEB_PROCESS, &network::ingress(app, settings))?;
        }
    }
    for policy in network::network_policies(app, settings, has_web) {
        let name = policy.metadata.name.clone().unwrap_or_default();
        out.push("NetworkPolicy", &name, &policy)?;
    }
    Ok(out)
}

/// Checks what the type system cannot; returns the namespace name.
fn validate(app: &AppEnvironment, settings: &ClusterSettings) -> Result<String> {
    let namespace = naming::namespace_name(app.workspace.as_str(), app.project.as_str(), app.environment.as_str())?;
    if app.processes.is_empty() {
        return Err(GitopsError::InvalidInput {
            what: "process types",
            reason: "the release has no process types; add a Procfile or a start command".into(),
        });
    }
    let has_web = app.processes.get(WEB_PROCESS).is_some_and(|web| web.schedule.is_none());
    if !app.hostnames.is_empty() && !has_web {
        return Err(GitopsError::InvalidInput {
            what: "hostnames",
            reason: "hostnames need a long-running `web` process to route to".into(),
        });
    }
    if app.port == 0 {
        return Err(GitopsError::InvalidInput { what: "port", reason: "the port must be 1 to 65535".into() });
    }
    if let Some(path) = &app.health_check_path {
        check_health_path(path)?;
    }
    // Process types are `ProcessType`s: valid object names and label values by construction.
    for (name, process) in &app.processes {
        if process.command.trim().is_empty() {
            return Err(GitopsError::InvalidInput {
                what: "process command",
                reason: format!("process `{name}` has an empty command"),
            });
        }
        if process.replicas > 1000 {
            return Err(GitopsError::InvalidInput {
                what: "replicas",
                reason: format!("process `{name}`: at most 1000 replicas"),
            });
        }
        if let Some(schedule) = &process.schedule {
            check_schedule(name.as_str(), schedule)?;
        }
        if let Some(scaling) = &process.autoscaling {
            let ok = scaling.min_replicas >= 1
                && scaling.min_replicas <= scaling.max_replicas
                && scaling.max_replicas <= 1000
                && (1..=100).contains(&scaling.target_cpu_percent);
            if !ok || process.schedule.is_some() {
                return Err(GitopsError::InvalidInput {
                    what: "autoscaling",
                    reason: format!(
                        "process `{name}`: need 1 <= min <= max <= 1000, a CPU target of 1-100 % and no schedule"
                    ),
                });
            }
        }
    }
    naming::check_label("ingress controller namespace", &settings.ingress_namespace)?;
    for (what, value) in [
        ("ingress class", &settings.ingress_class),
        ("cert-manager issuer", &settings.cert_issuer),
        ("ClusterSecretStore", &settings.secret_store),
    ] {
        naming::check_label(what, value)?;
    }
    if settings.run_as_user <= 0 {
        return Err(GitopsError::InvalidInput { what: "run_as_user", reason: "it must be a non-root UID".into() });
    }
    Ok(namespace)
}

/// A byte count as a Kubernetes quantity, exact: `512Mi`, `1Gi`, `1536Mi`, or plain bytes.
pub(crate) fn bytes_quantity(bytes: u64) -> Quantity {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "Gi"), (1 << 20, "Mi"), (1 << 10, "Ki")];
    let unit = UNITS.iter().find(|(size, _)| bytes != 0 && bytes.is_multiple_of(*size));
    Quantity(match unit {
        Some((size, suffix)) => format!("{}{suffix}", bytes / size),
        None => bytes.to_string(),
    })
}

/// A CPU figure as a Kubernetes quantity: `1`, `2`, `500m`.
pub(crate) fn cpu_quantity(cpu: Cpu) -> Quantity {
    let millis = cpu.millis();
    Quantity(if millis.is_multiple_of(1000) { (millis / 1000).to_string() } else { format!("{millis}m") })
}

/// Metadata of a namespaced object of the environment.
fn meta(app: &AppEnvironment, name: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        // Validated in `validate`, so formatting again cannot fail.
        namespace: Some(format!("{}-{}-{}", app.workspace, app.project, app.environment)),
        labels: Some(labels),
        ..Default::default()
    }
}
