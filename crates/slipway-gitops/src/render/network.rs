//! Traffic into and out of the environment: the `web` Service and Ingress,
//! and NetworkPolicies that deny everything except what an app needs (the
//! ingress controller in, DNS and the workspace's own add-ons out), so apps of
//! different workspaces cannot reach each other.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, IPBlock, Ingress, IngressBackend, IngressRule, IngressServiceBackend,
    IngressSpec, IngressTLS, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use slipway_core::build_plan::WEB_PROCESS;

use super::meta;
use crate::input::{AppEnvironment, ClusterSettings};
use crate::naming::{common_labels, selector_labels, LABEL_WORKSPACE};

const SERVICE_PORT: i32 = 80;
const PRIVATE_RANGES: [&str; 4] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"];
/// Set by Kubernetes on every namespace (1.21+), so it cannot be forged by a label of ours.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

pub(super) fn service(app: &AppEnvironment) -> Service {
    Service {
        metadata: meta(app, WEB_PROCESS, common_labels(app)),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(selector_labels(app, WEB_PROCESS)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: SERVICE_PORT,
                target_port: Some(IntOrString::String("http".into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

pub(super) fn ingress(app: &AppEnvironment, settings: &ClusterSettings) -> Ingress {
    let hosts: Vec<String> = app.hostnames.iter().map(ToString::to_string).collect();
    let mut metadata = meta(app, WEB_PROCESS, common_labels(app));
    metadata.annotations =
        Some(BTreeMap::from([("cert-manager.io/cluster-issuer".to_owned(), settings.cert_issuer.clone())]));
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: WEB_PROCESS.into(),
            port: Some(ServiceBackendPort { name: Some("http".into()), number: None }),
        }),
        resource: None,
    };
    Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: Some(settings.ingress_class.clone()),
            tls: Some(vec![IngressTLS { hosts: Some(hosts.clone()), secret_name: Some("web-tls".into()) }]),
            rules: Some(
                hosts
                    .into_iter()
                    .map(|host| IngressRule {
                        host: Some(host),
                        http: Some(HTTPIngressRuleValue {
                            paths: vec![HTTPIngressPath {
                                path: Some("/".into()),
                                path_type: "Prefix".into(),
                                backend: backend.clone(),
                            }],
                        }),
                    })
                    .collect(),
            ),
            default_backend: None,
        }),
        status: None,
    }
}

/// Policies are additive: `default-deny` closes everything, each other one opens one path.
pub(super) fn network_policies(app: &AppEnvironment, settings: &ClusterSettings, has_web: bool) -> Vec<NetworkPolicy> {
    let all_pods = LabelSelector::default();
    let mut policies = vec![
        policy(app, "default-deny", all_pods.clone(), vec!["Ingress", "Egress"], None, None),
        policy(
            app,
            "allow-dns-egress",
            all_pods.clone(),
            vec!["Egress"],
            None,
            Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(namespace_selector(NAMESPACE_NAME_LABEL, "kube-system")),
                    pod_selector: Some(labels_selector("k8s-app", "kube-dns")),
                    ip_block: None,
                }]),
                ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
            }]),
        ),
        policy(
            app,
            "allow-workspace-egress",
            all_pods,
            vec!["Egress"],
            None,
            Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(namespace_selector(LABEL_WORKSPACE, app.workspace.as_str())),
                    ..Default::default()
                }]),
                ports: None,
            }]),
        ),
    ];
    if settings.allow_internet_egress {
        policies.push(policy(
            app,
            "allow-internet-egress",
            LabelSelector::default(),
            vec!["Egress"],
            None,
            Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    ip_block: Some(IPBlock {
                        cidr: "0.0.0.0/0".into(),
                        // Pod, service and node networks live in these; tenants must not reach each other.
                        except: Some(PRIVATE_RANGES.iter().map(|range| (*range).to_owned()).collect()),
                    }),
                    ..Default::default()
                }]),
                ports: None,
            }]),
        ));
    }
    if has_web {
        policies.push(policy(
            app,
            "allow-from-ingress",
            LabelSelector { match_labels: Some(selector_labels(app, WEB_PROCESS)), ..Default::default() },
            vec!["Ingress"],
            Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(namespace_selector(NAMESPACE_NAME_LABEL, &settings.ingress_namespace)),
                    ..Default::default()
                }]),
                ports: Some(vec![NetworkPolicyPort {
                    protocol: Some("TCP".into()),
                    port: Some(IntOrString::String("http".into())),
                    end_port: None,
                }]),
            }]),
            None,
        ));
    }
    policies
}

fn policy(
    app: &AppEnvironment,
    name: &str,
    pod_selector: LabelSelector,
    types: Vec<&str>,
    ingress: Option<Vec<NetworkPolicyIngressRule>>,
    egress: Option<Vec<NetworkPolicyEgressRule>>,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: meta(app, name, common_labels(app)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(pod_selector),
            policy_types: Some(types.into_iter().map(str::to_owned).collect()),
            ingress,
            egress,
        }),
    }
}

fn namespace_selector(key: &str, value: &str) -> LabelSelector {
    labels_selector(key, value)
}

fn labels_selector(key: &str, value: &str) -> LabelSelector {
    LabelSelector { match_labels: Some(BTreeMap::from([(key.to_owned(), value.to_owned())])), ..Default::default() }
}

fn port(protocol: &str, number: i32) -> NetworkPolicyPort {
    NetworkPolicyPort { protocol: Some(protocol.into()), port: Some(IntOrString::Int(number)), end_port: None }
}
