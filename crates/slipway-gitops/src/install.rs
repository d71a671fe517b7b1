//! Manifests that install Slipway's own control plane (`slipway up`) in a
//! cluster, against an external PostgreSQL: [`render_install`] turns
//! [`InstallSettings`] into a Namespace (Pod Security `restricted`), a
//! ServiceAccount, a PersistentVolumeClaim for the data dir, a Deployment, a
//! Service, an Ingress and NetworkPolicies, built from `k8s-openapi` structs
//! like the apps' manifests and written by `slipway gitops install`. The
//! control plane reads deployments' status back from the cluster it runs in
//! (`SLIPWAY_KUBECONFIG=in-cluster`), so its ServiceAccount may read — only
//! read — Deployments and Pods, and Argo CD's Applications in its namespace.
//!
//! Secrets never appear here: the Deployment reads `SLIPWAY_DATABASE_URL` and
//! `SLIPWAY_SECRET_KEY` from the Secret [`SECRETS_NAME`], which the operator
//! creates out of band:
//!
//! ```text
//! kubectl create namespace slipway-system
//! kubectl -n slipway-system create secret generic slipway-secrets \
//!   --from-literal=database-url=postgres://slipway:…@db.example.com/slipway \
//!   --from-literal=secret-key="$(head -c32 /dev/urandom | base64)"
//! ```
//!
//! Limits: one replica on a ReadWriteOnce volume (repositories and builds
//! live there), builds run inside the control-plane pod, and nothing here has
//! been applied to a live cluster; the tests check the schemas only.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction, Namespace, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SecretKeySelector, Service, ServiceAccount, ServicePort, ServiceSpec, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend, IngressSpec,
    IngressTLS, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec, ServiceBackendPort,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use slipway_core::hostname::Hostname;
use slipway_core::image_ref::ImageRef;

use crate::error::{GitopsError, Result};
use crate::manifests::Manifests;
use crate::naming::{check_label, check_quantity, LABEL_NAME, LABEL_PART_OF};
use crate::render::restricted::{self, TMP_DIR};

/// The namespace of the control plane.
pub const NAMESPACE: &str = "slipway-system";
/// Name of every namespaced object (Deployment, Service, PVC, …).
pub const NAME: &str = "slipway";
/// The Secret the operator creates, with keys `database-url` and `secret-key`.
pub const SECRETS_NAME: &str = "slipway-secrets";
const PORT: i32 = 8080;
const PORT_NAME: &str = "http";
const DATA_DIR: &str = "/var/lib/slipway";
/// A fixed non-root uid/gid: `fsGroup` needs a number so the data volume is writable by the process.
const RUN_AS: i64 = 10001;
const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
/// Set by Kubernetes on every namespace (1.21+), so it cannot be forged by a label of ours.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
const POSTGRES_PORT: i32 = 5432;
/// Name of the read-only RBAC objects of the control plane.
const READER: &str = "slipway-rollout-reader";

/// Read-only access for status read-back: list Deployments and Pods (apps' namespaces are
/// created as workspaces come, so cluster-wide) and get Applications in Argo CD's namespace.
fn read_access(settings: &InstallSettings) -> (ClusterRole, ClusterRoleBinding, Role, RoleBinding) {
    let rule = |group: &str, resource: &str, verb: &str| PolicyRule {
        api_groups: Some(vec![group.into()]),
        resources: Some(vec![resource.into()]),
        verbs: vec![verb.into()],
        ..Default::default()
    };
    let cluster_meta = ObjectMeta { name: Some(READER.into()), labels: Some(labels()), ..Default::default() };
    let argocd_meta = ObjectMeta { namespace: Some(settings.argocd_namespace.clone()), ..cluster_meta.clone() };
    let subjects = Some(vec![Subject {
        kind: "ServiceAccount".into(),
        name: NAME.into(),
        namespace: Some(NAMESPACE.into()),
        api_group: None,
    }]);
    let role_ref =
        |kind: &str| RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: kind.into(), name: READER.into() };
    (
        ClusterRole {
            metadata: cluster_meta.clone(),
            rules: Some(vec![rule("apps", "deployments", "list"), rule("", "pods", "list")]),
            aggregation_rule: None,
        },
        ClusterRoleBinding { metadata: cluster_meta, role_ref: role_ref("ClusterRole"), subjects: subjects.clone() },
        Role { metadata: argocd_meta.clone(), rules: Some(vec![rule("argoproj.io", "applications", "get")]) },
        RoleBinding { metadata: argocd_meta, role_ref: role_ref("Role"), subjects },
    )
}

/// What `slipway gitops install` needs to know about the target cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallSettings {
    /// The Slipway image, pinned by digest: `registry/repo[:tag]@sha256:<64 hex>`.
    pub image: String,
    /// Public hostname of the API, portal and git server.
    pub host: String,
    pub ingress_class: String,
    /// Namespace of the ingress controller, the only one allowed to reach the pod.
    pub ingress_namespace: String,
    /// cert-manager ClusterIssuer that issues the Ingress certificate.
    pub cert_issuer: String,
    /// Size of the data volume (repositories, builds, caches, logs).
    pub storage_size: String,
    /// StorageClass of the data volume; `None` uses the cluster's default class.
    pub storage_class: Option<String>,
    /// Namespace Argo CD runs in, whose Applications the control plane reads.
    pub argocd_namespace: String,
}

impl InstallSettings {
    /// The same cluster defaults as [`crate::ClusterSettings`]: `nginx` in `ingress-nginx`, `letsencrypt`.
    pub fn new(image: impl Into<String>, host: impl Into<String>) -> Self {
        Self {
            image: image.into(),
            host: host.into(),
            ingress_class: "nginx".into(),
            ingress_namespace: "ingress-nginx".into(),
            cert_issuer: "letsencrypt".into(),
            storage_size: "20Gi".into(),
            storage_class: None,
            argocd_namespace: "argocd".into(),
        }
    }
}

/// All objects of the control-plane install, one file per object; inputs are checked first.
pub fn render_install(settings: &InstallSettings) -> Result<Manifests> {
    // A tag can be moved to other bytes; a digest cannot, so the cluster runs exactly what was reviewed.
    ImageRef::parse_pinned(&settings.image)?;
    let host = Hostname::parse(&settings.host)
        .map_err(|err| GitopsError::InvalidInput { what: "control plane host", reason: err.to_string() })?;
    check_label("ingress namespace", &settings.ingress_namespace)?;
    check_subdomain("ingress class", &settings.ingress_class)?;
    check_subdomain("cert-manager issuer", &settings.cert_issuer)?;
    if let Some(class) = &settings.storage_class {
        check_subdomain("storage class", class)?;
    }
    check_quantity("storage size", &settings.storage_size)?;
    check_label("Argo CD namespace", &settings.argocd_namespace)?;

    let mut out = Manifests::new();
    out.push("Namespace", NAMESPACE, &namespace())?;
    out.push(
        "ServiceAccount",
        NAME,
        &ServiceAccount {
            metadata: meta(NAME),
            // Its token reads rollouts back (see `read_access`); Argo CD does all applying.
            automount_service_account_token: Some(true),
            ..Default::default()
        },
    )?;
    let (cluster_role, cluster_binding, role, role_binding) = read_access(settings);
    out.push("ClusterRole", READER, &cluster_role)?;
    out.push("ClusterRoleBinding", READER, &cluster_binding)?;
    out.push("Role", READER, &role)?;
    out.push("RoleBinding", READER, &role_binding)?;
    out.push("PersistentVolumeClaim", NAME, &volume_claim(settings))?;
    out.push("Deployment", NAME, &deployment(settings))?;
    out.push("Service", NAME, &service())?;
    out.push("Ingress", NAME, &ingress(settings, &host))?;
    for policy in network_policies(settings) {
        let name = policy.metadata.name.clone().unwrap_or_default();
        out.push("NetworkPolicy", &name, &policy)?;
    }
    Ok(out)
}

/// One multi-document stream with the Namespace first: `kubectl apply -f -` creates objects
/// in stream order, and the other objects cannot be created before their namespace.
pub fn to_apply_stream(manifests: &Manifests) -> String {
    let (first, rest): (Vec<_>, Vec<_>) = manifests.files().partition(|(name, _)| name.starts_with("namespace-"));
    // The same `---` + `# <file>` framing as [`Manifests::to_multi_document`], only reordered.
    first.into_iter().chain(rest).map(|(name, text)| format!("---\n# {name}\n{text}")).collect()
}

/// Class and issuer names are DNS subdomains (dots allowed), the same rule as a hostname.
fn check_subdomain(what: &'static str, value: &str) -> Result<()> {
    match Hostname::parse(value) {
        Ok(parsed) if parsed.to_string() == value => Ok(()),
        Ok(_) => Err(GitopsError::invalid_name(what, value, "it must be lower-case without a trailing dot")),
        Err(err) => Err(GitopsError::invalid_name(what, value, err.to_string())),
    }
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_owned(), NAME.to_owned()),
        (LABEL_PART_OF.to_owned(), NAME.to_owned()),
        (LABEL_COMPONENT.to_owned(), "control-plane".to_owned()),
    ])
}

fn selector() -> LabelSelector {
    let labels = BTreeMap::from([
        (LABEL_NAME.to_owned(), NAME.to_owned()),
        (LABEL_COMPONENT.to_owned(), "control-plane".to_owned()),
    ]);
    LabelSelector { match_labels: Some(labels), ..Default::default() }
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(NAMESPACE.to_owned()),
        labels: Some(labels()),
        ..Default::default()
    }
}

fn namespace() -> Namespace {
    let mut labels = labels();
    for mode in ["enforce", "audit", "warn"] {
        labels.insert(format!("pod-security.kubernetes.io/{mode}"), "restricted".into());
        labels.insert(format!("pod-security.kubernetes.io/{mode}-version"), "latest".into());
    }
    Namespace {
        metadata: ObjectMeta { name: Some(NAMESPACE.to_owned()), labels: Some(labels), ..Default::default() },
        spec: None,
        status: None,
    }
}

fn volume_claim(settings: &InstallSettings) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: meta(NAME),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: settings.storage_class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), Quantity(settings.storage_size.clone()))])),
                limits: None,
            }),
            ..Default::default()
        }),
        status: None,
    }
}

fn deployment(settings: &InstallSettings) -> Deployment {
    Deployment {
        metadata: meta(NAME),
        spec: Some(DeploymentSpec {
            // One process owns the data dir (git repositories, builds, caches): a second replica
            // could neither mount the ReadWriteOnce volume elsewhere nor share its files safely.
            replicas: Some(1),
            revision_history_limit: Some(5),
            selector: selector(),
            // Recreate, not RollingUpdate: the new pod cannot mount the ReadWriteOnce volume
            // while the old one holds it, so a rolling update would hang with two pods.
            strategy: Some(DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels()), ..Default::default() }),
                spec: Some(PodSpec {
                    service_account_name: Some(NAME.into()),
                    automount_service_account_token: Some(true),
                    enable_service_links: Some(false),
                    security_context: Some(restricted::pod_security(RUN_AS)),
                    containers: vec![container(settings)],
                    volumes: Some(vec![
                        Volume {
                            name: "data".into(),
                            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                                claim_name: NAME.into(),
                                read_only: None,
                            }),
                            ..Default::default()
                        },
                        restricted::tmp_volume("1Gi"),
                    ]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

fn container(settings: &InstallSettings) -> Container {
    let plain = |name: &str, value: &str| EnvVar { name: name.into(), value: Some(value.into()), ..Default::default() };
    let secret = |name: &str, key: &str| EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: SECRETS_NAME.into(),
                key: key.into(),
                optional: Some(false),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let quantities = |cpu: &str, memory: &str| {
        BTreeMap::from([("cpu".to_owned(), Quantity(cpu.into())), ("memory".to_owned(), Quantity(memory.into()))])
    };
    Container {
        name: NAME.into(),
        image: Some(settings.image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        // `args`, not `command`: the image's entrypoint is the `slipway` binary.
        args: Some(vec!["up".into()]),
        env: Some(vec![
            // Listen on all interfaces: the Service, not loopback, brings traffic in.
            plain("SLIPWAY_API_ADDR", &format!("0.0.0.0:{PORT}")),
            plain("SLIPWAY_DATA_DIR", DATA_DIR),
            // git and the build tools write below $HOME; the root filesystem is read-only.
            plain("HOME", TMP_DIR),
            secret("SLIPWAY_DATABASE_URL", "database-url"),
            secret("SLIPWAY_SECRET_KEY", "secret-key"),
            // Read deployments' rollouts back with the pod's own service account.
            plain("SLIPWAY_KUBECONFIG", "in-cluster"),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.into()),
            container_port: PORT,
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        // /healthz answers when the database does: no traffic until PostgreSQL is reachable.
        readiness_probe: Some(probe(None, 5)),
        // A generous start: the first start runs the database migrations.
        liveness_probe: Some(probe(Some(30), 15)),
        resources: Some(ResourceRequirements {
            requests: Some(quantities("500m", "512Mi")),
            // Builds run in this pod, so the limits leave room for a compiler.
            limits: Some(quantities("2", "2Gi")),
            ..Default::default()
        }),
        security_context: Some(restricted::container_security()),
        volume_mounts: Some(vec![
            VolumeMount { name: "data".into(), mount_path: DATA_DIR.into(), ..Default::default() },
            restricted::tmp_mount(),
        ]),
        ..Default::default()
    }
}

fn probe(initial_delay: Option<i32>, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/healthz".into()),
            port: IntOrString::String(PORT_NAME.into()),
            ..Default::default()
        }),
        initial_delay_seconds: initial_delay,
        period_seconds: Some(period),
        timeout_seconds: Some(3),
        failure_threshold: Some(3),
        ..Default::default()
    }
}

fn service() -> Service {
    Service {
        metadata: meta(NAME),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: selector().match_labels,
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.into()),
                port: PORT,
                target_port: Some(IntOrString::String(PORT_NAME.into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

fn ingress(settings: &InstallSettings, host: &Hostname) -> Ingress {
    let mut metadata = meta(NAME);
    metadata.annotations =
        Some(BTreeMap::from([("cert-manager.io/cluster-issuer".to_owned(), settings.cert_issuer.clone())]));
    Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: Some(settings.ingress_class.clone()),
            tls: Some(vec![IngressTLS {
                hosts: Some(vec![host.to_string()]),
                secret_name: Some("slipway-tls".into()),
            }]),
            rules: Some(vec![IngressRule {
                host: Some(host.to_string()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: NAME.into(),
                                port: Some(ServiceBackendPort { name: Some(PORT_NAME.into()), number: None }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            default_backend: None,
        }),
        status: None,
    }
}

/// Default deny, then one policy per path that is opened: the ingress controller in,
/// DNS, the Kubernetes API and PostgreSQL out.
fn network_policies(settings: &InstallSettings) -> Vec<NetworkPolicy> {
    let match_labels = |key: &str, value: &str| LabelSelector {
        match_labels: Some(BTreeMap::from([(key.to_owned(), value.to_owned())])),
        ..Default::default()
    };
    let port = |protocol: &str, number: IntOrString| NetworkPolicyPort {
        protocol: Some(protocol.into()),
        port: Some(number),
        end_port: None,
    };
    let policy = |name: &str,
                  types: &[&str],
                  ingress: Option<Vec<NetworkPolicyIngressRule>>,
                  egress: Option<Vec<NetworkPolicyEgressRule>>| NetworkPolicy {
        metadata: meta(name),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector()),
            policy_types: Some(types.iter().map(|t| (*t).to_owned()).collect()),
            ingress,
            egress,
        }),
    };
    vec![
        policy("default-deny", &["Ingress", "Egress"], None, None),
        policy(
            "allow-from-ingress",
            &["Ingress"],
            Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(match_labels(NAMESPACE_NAME_LABEL, &settings.ingress_namespace)),
                    ..Default::default()
                }]),
                ports: Some(vec![port("TCP", IntOrString::String(PORT_NAME.into()))]),
            }]),
            None,
        ),
        policy(
            "allow-dns-egress",
            &["Egress"],
            None,
            Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(match_labels(NAMESPACE_NAME_LABEL, "kube-system")),
                    pod_selector: Some(match_labels("k8s-app", "kube-dns")),
                    ip_block: None,
                }]),
                ports: Some(vec![port("UDP", IntOrString::Int(53)), port("TCP", IntOrString::Int(53))]),
            }]),
        ),
        // The API server, for status read-back: its address is the cluster's, so the rule
        // names the ports (443 through the `kubernetes` Service, 6443 on the control plane).
        policy(
            "allow-kube-api-egress",
            &["Egress"],
            None,
            Some(vec![NetworkPolicyEgressRule {
                to: None,
                ports: Some(vec![port("TCP", IntOrString::Int(443)), port("TCP", IntOrString::Int(6443))]),
            }]),
        ),
        // PostgreSQL is often outside the cluster (a managed database), so the rule names
        // the port, not a peer.
        policy(
            "allow-postgres-egress",
            &["Egress"],
            None,
            Some(vec![NetworkPolicyEgressRule {
                to: None,
                ports: Some(vec![port("TCP", IntOrString::Int(POSTGRES_PORT))]),
            }]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn accepts_digest_pinned_images_with_or_without_tag_and_port() {
        for image in
            [format!("ghcr.io/slipway/slipway@{DIGEST}"), format!("registry.example.com:5000/slipway:v1.2.0@{DIGEST}")]
        {
            assert!(ImageRef::parse_pinned(&image).is_ok(), "{image}");
        }
    }

    #[test]
    fn refuses_mutable_or_malformed_images() {
        for image in [
            "ghcr.io/slipway/slipway:latest".to_owned(),
            "ghcr.io/slipway/slipway".to_owned(),
            "ghcr.io/slipway/slipway@sha256:abc".to_owned(),
            format!("GHCR.io/Slipway@{DIGEST}"),
            format!("@{DIGEST}"),
        ] {
            let err = GitopsError::from(ImageRef::parse_pinned(&image).unwrap_err());
            assert!(matches!(err, GitopsError::MutableImage { .. }), "{image}: {err}");
        }
    }
}
