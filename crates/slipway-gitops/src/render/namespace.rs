//! The environment's namespace and what bounds it: Pod Security `restricted`
//! labels, a ResourceQuota and a LimitRange, plus its configuration (a
//! ConfigMap for plain vars, an ExternalSecret for secret ones).
//!
//! Secrets never reach git in clear: the ExternalSecret only names keys in a
//! ClusterSecretStore (`<prefix><workspace>/<project>/<environment>/<VAR>`)
//! and the external-secrets operator creates the Secret in the cluster. We
//! chose it over sealed/SOPS-encrypted Secrets because it needs no per-cluster
//! key in Slipway, rotating a value needs no new commit, and the store
//! (Vault, a cloud secret manager) is the one place secrets live.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::{bytes_quantity, meta, CONFIG_MAP_NAME, SECRET_NAME};
use crate::input::{AppEnvironment, ClusterSettings, ConfigVar};
use crate::naming::common_labels;

pub(super) fn namespace(app: &AppEnvironment, name: &str) -> Namespace {
    let mut labels = common_labels(app);
    for mode in ["enforce", "audit", "warn"] {
        labels.insert(format!("pod-security.kubernetes.io/{mode}"), "restricted".into());
        labels.insert(format!("pod-security.kubernetes.io/{mode}-version"), "latest".into());
    }
    Namespace {
        metadata: ObjectMeta { name: Some(name.to_owned()), labels: Some(labels), ..Default::default() },
        spec: None,
        status: None,
    }
}

/// The workspace's quota (memory, pods; an unlimited figure is left out), plus room for the
/// rolling update of every Deployment of the environment at once — one surge pod each, at its
/// memory — so that an environment using the whole quota can still roll out a release (the
/// control plane counts steady-state instances; Kubernetes counts the surge pods too).
pub(super) fn resource_quota(app: &AppEnvironment) -> ResourceQuota {
    let quota = &app.quota;
    let deployments = app.processes.values().filter(|process| process.schedule.is_none());
    let (surge_pods, surge_memory) =
        deployments.fold((0u32, 0u64), |(pods, memory), process| (pods + 1, memory + process.resources.memory.bytes()));
    let mut hard = BTreeMap::from([
        // Apps get no LoadBalancer or NodePort: traffic comes through the shared Ingress.
        ("services.loadbalancers".to_owned(), Quantity("0".into())),
        ("services.nodeports".to_owned(), Quantity("0".into())),
    ]);
    if let Some(memory) = quota.memory {
        let total = bytes_quantity(memory.bytes().saturating_add(surge_memory));
        // Requests equal limits for memory (see `workload::requirements`).
        hard.insert("limits.memory".to_owned(), total.clone());
        hard.insert("requests.memory".to_owned(), total);
    }
    if let Some(pods) = quota.pods {
        hard.insert("pods".to_owned(), Quantity(pods.saturating_add(surge_pods).to_string()));
    }
    ResourceQuota {
        metadata: meta(app, "quota", common_labels(app)),
        spec: Some(ResourceQuotaSpec { hard: Some(hard), ..Default::default() }),
        status: None,
    }
}

/// Defaults for any container that names no resources (an init container added by a
/// mutating webhook, say), so the quota never rejects it for lack of requests.
pub(super) fn limit_range(app: &AppEnvironment) -> LimitRange {
    let quantities = |cpu: &str, memory: &str| {
        BTreeMap::from([("cpu".to_owned(), Quantity(cpu.into())), ("memory".to_owned(), Quantity(memory.into()))])
    };
    LimitRange {
        metadata: meta(app, "limits", common_labels(app)),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".into(),
                default: Some(quantities("500m", "512Mi")),
                default_request: Some(quantities("100m", "128Mi")),
                ..Default::default()
            }],
        }),
    }
}

pub(super) fn config_map(app: &AppEnvironment) -> Option<ConfigMap> {
    let data: BTreeMap<String, String> = app
        .config
        .iter()
        .filter_map(|var| match var {
            ConfigVar::Plain { name, value } => Some((name.to_string(), value.clone())),
            ConfigVar::Secret { .. } => None,
        })
        .collect();
    (!data.is_empty()).then(|| ConfigMap {
        metadata: meta(app, CONFIG_MAP_NAME, common_labels(app)),
        data: Some(data),
        ..Default::default()
    })
}

/// `external-secrets.io/v1beta1` ExternalSecret: no Rust types are published, so the
/// fields we write are typed here.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecret {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: ExternalSecretSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretSpec {
    pub refresh_interval: String,
    pub secret_store_ref: SecretStoreRef,
    pub target: ExternalSecretTarget,
    pub data: Vec<ExternalSecretData>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretStoreRef {
    pub name: String,
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretTarget {
    pub name: String,
    pub creation_policy: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretData {
    pub secret_key: String,
    pub remote_ref: RemoteRef,
}

#[derive(Debug, Clone, Serialize)]
pub struct RemoteRef {
    pub key: String,
}

pub(super) fn external_secret(app: &AppEnvironment, settings: &ClusterSettings) -> Option<ExternalSecret> {
    let data: Vec<ExternalSecretData> = app
        .config
        .iter()
        .filter_map(|var| match var {
            ConfigVar::Secret { name } => Some(ExternalSecretData {
                secret_key: name.to_string(),
                remote_ref: RemoteRef {
                    key: format!(
                        "{}{}/{}/{}/{}",
                        settings.secret_key_prefix, app.workspace, app.project, app.environment, name
                    ),
                },
            }),
            ConfigVar::Plain { .. } => None,
        })
        .collect();
    (!data.is_empty()).then(|| ExternalSecret {
        api_version: "external-secrets.io/v1beta1",
        kind: "ExternalSecret",
        metadata: meta(app, SECRET_NAME, common_labels(app)),
        spec: ExternalSecretSpec {
            refresh_interval: "1h".into(),
            secret_store_ref: SecretStoreRef { name: settings.secret_store.clone(), kind: "ClusterSecretStore" },
            // Owner: the Secret is deleted with the ExternalSecret, so a removed var leaves nothing behind.
            target: ExternalSecretTarget { name: SECRET_NAME.into(), creation_policy: "Owner" },
            data,
        },
    })
}
