//! What the rendered objects promise, asserted on the objects themselves:
//! the restricted pod settings, labels, secrets kept out, HPA/PDB/CronJob
//! rules, and clear errors for input Kubernetes would refuse.

#![allow(clippy::unwrap_used)] // the fixtures are helpers, not #[test] functions

use serde_json::Value;
use slipway_core::image_ref::ReleaseImage;
use slipway_core::process_type::ProcessType;
use slipway_gitops::{render_environment, Autoscaling, GitopsError, Manifests};

fn parse(manifests: &Manifests, file: &str) -> Value {
    let text = manifests.get(file).unwrap_or_else(|| panic!("{file} missing; have {:?}", names(manifests)));
    serde_norway::from_str(text).unwrap()
}

fn names(manifests: &Manifests) -> Vec<String> {
    manifests.files().map(|(name, _)| name.to_owned()).collect()
}

#[test]
fn every_pod_runs_restricted() {
    for app in [crate::common::node_web(), crate::common::worker_cron(), crate::common::custom_domain()] {
        let manifests = render_environment(&app, &crate::common::settings()).unwrap();
        for (name, text) in manifests.files() {
            let object: Value = serde_norway::from_str(text).unwrap();
            let pod = match object["kind"].as_str().unwrap() {
                "Deployment" => &object["spec"]["template"]["spec"],
                "CronJob" => &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                _ => continue,
            };
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
            assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault", "{name}");
            assert_eq!(pod["automountServiceAccountToken"], false, "{name}");
            let container = &pod["containers"][0];
            let security = &container["securityContext"];
            assert_eq!(security["allowPrivilegeEscalation"], false, "{name}");
            assert_eq!(security["readOnlyRootFilesystem"], true, "{name}");
            assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]), "{name}");
            assert_eq!(container["volumeMounts"][0]["mountPath"], "/tmp", "{name}");
            assert!(pod["volumes"][0]["emptyDir"].is_object(), "{name}");
            assert!(container["resources"]["requests"]["cpu"].is_string(), "{name}");
            assert!(container["resources"]["limits"]["memory"].is_string(), "{name}");
            assert!(container["image"].as_str().unwrap().contains(":usr_"), "{name}: image not pinned");
        }
    }
}

#[test]
fn namespace_is_restricted_and_every_object_is_labelled() {
    let app = crate::common::node_web();
    let manifests = render_environment(&app, &crate::common::settings()).unwrap();
    let namespace = parse(&manifests, "namespace-acme-shop-production.yaml");
    assert_eq!(namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted");
    for (name, text) in manifests.files() {
        let object: Value = serde_norway::from_str(text).unwrap();
        let labels = &object["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/name"], "shop", "{name}");
        assert_eq!(labels["app.kubernetes.io/part-of"], "slipway", "{name}");
        assert_eq!(labels["slipway.dev/workspace"], "acme", "{name}");
        assert_eq!(labels["slipway.dev/project"], "shop", "{name}");
        assert_eq!(labels["slipway.dev/environment"], "production", "{name}");
        if object["kind"] != "Namespace" {
            assert_eq!(object["metadata"]["namespace"], "acme-shop-production", "{name}");
        }
    }
}

#[test]
fn web_gets_probes_service_ingress_hpa_and_pdb() {
    let manifests = render_environment(&crate::common::node_web(), &crate::common::settings()).unwrap();
    let deployment = parse(&manifests, "deployment-web.yaml");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/health");
    assert!(deployment["spec"]["replicas"].is_null(), "the HPA owns the replica count");
    let hpa = parse(&manifests, "horizontalpodautoscaler-web.yaml");
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert_eq!(hpa["spec"]["maxReplicas"], 6);
    assert_eq!(parse(&manifests, "poddisruptionbudget-web.yaml")["spec"]["maxUnavailable"], 1);
    let ingress = parse(&manifests, "ingress-web.yaml");
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"], "letsencrypt");
    assert_eq!(ingress["spec"]["tls"][0]["hosts"][0], "shop-acme.apps.example.com");
    let allow = parse(&manifests, "networkpolicy-allow-from-ingress.yaml");
    let from = &allow["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"];
    assert_eq!(from["kubernetes.io/metadata.name"], "ingress-nginx");
    let deny = parse(&manifests, "networkpolicy-default-deny.yaml");
    assert_eq!(deny["spec"]["policyTypes"], serde_json::json!(["Ingress", "Egress"]));
    assert_eq!(deny["spec"]["podSelector"], serde_json::json!({}));
}

#[test]
fn custom_domains_are_hosts_with_tls_and_tcp_probes_without_a_health_path() {
    let manifests = render_environment(&crate::common::custom_domain(), &crate::common::settings()).unwrap();
    let ingress = parse(&manifests, "ingress-web.yaml");
    let hosts: Vec<&str> =
        ingress["spec"]["rules"].as_array().unwrap().iter().map(|r| r["host"].as_str().unwrap()).collect();
    assert_eq!(hosts, ["site-initech.apps.example.com", "www.initech.example", "initech.example"]);
    assert_eq!(ingress["spec"]["tls"][0]["hosts"].as_array().unwrap().len(), 3);
    let deployment = parse(&manifests, "deployment-web.yaml");
    let probe = &deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"];
    assert_eq!(probe["tcpSocket"]["port"], "http");
    assert!(!names(&manifests).iter().any(|name| name.starts_with("poddisruptionbudget")), "one replica: no PDB");
    assert!(!names(&manifests).iter().any(|name| name.starts_with("externalsecret")), "no secrets: no ExternalSecret");
}

#[test]
fn workers_and_cron_jobs() {
    let manifests = render_environment(&crate::common::worker_cron(), &crate::common::settings()).unwrap();
    let cron = parse(&manifests, "cronjob-report.yaml");
    assert_eq!(cron["spec"]["schedule"], "0 3 * * *");
    assert_eq!(cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"], "Never");
    let worker = parse(&manifests, "deployment-worker.yaml");
    assert_eq!(worker["spec"]["replicas"], 3);
    assert!(worker["spec"]["template"]["spec"]["containers"][0]["readinessProbe"].is_null());
    let all = names(&manifests);
    assert!(!all.iter().any(|name| name.starts_with("service-") || name.starts_with("ingress-")), "{all:?}");
    assert!(!all.contains(&"networkpolicy-allow-from-ingress.yaml".to_owned()), "no web: nothing comes in");
}

#[test]
fn secret_values_never_appear_and_plain_ones_go_to_the_config_map() {
    let manifests = render_environment(&crate::common::node_web(), &crate::common::settings()).unwrap();
    let secret = parse(&manifests, "externalsecret-secrets.yaml");
    assert_eq!(secret["spec"]["secretStoreRef"]["kind"], "ClusterSecretStore");
    assert_eq!(secret["spec"]["data"][0]["remoteRef"]["key"], "slipway/acme/shop/production/DATABASE_URL");
    let config = parse(&manifests, "configmap-config.yaml");
    assert_eq!(config["data"], serde_json::json!({"NODE_ENV": "production"}));
    for (name, text) in manifests.files() {
        assert!(!text.contains("kind: Secret\n"), "{name} writes a Secret");
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let settings = crate::common::settings();
    let long = "x".repeat(55);
    let mut app = crate::common::node_web();
    app.project = slipway_core::names::ProjectSlug::parse(&long).unwrap();
    let err = render_environment(&app, &settings).unwrap_err();
    assert!(matches!(err, GitopsError::InvalidName { what: "namespace", .. }), "{err}");

    // A process type Kubernetes would refuse cannot reach the renderer: `ProcessType` refuses it.
    let err = "Web_1".parse::<ProcessType>().unwrap_err();
    assert!(err.to_string().contains("process type `Web_1`"), "{err}");

    let mut app = crate::common::node_web();
    app.processes.get_mut("web").unwrap().autoscaling =
        Some(Autoscaling { min_replicas: 5, max_replicas: 2, target_cpu_percent: 70 });
    assert!(matches!(render_environment(&app, &settings), Err(GitopsError::InvalidInput { what: "autoscaling", .. })));

    let mut app = crate::common::worker_cron();
    app.hostnames = crate::common::custom_domain().hostnames;
    assert!(render_environment(&app, &settings).unwrap_err().to_string().contains("web"));

    let mut app = crate::common::node_web();
    app.health_check_path = Some("health check".into());
    assert!(render_environment(&app, &settings).is_err());

    let mut bad_settings = crate::common::settings();
    bad_settings.ingress_class = "Nginx Class".into();
    assert!(render_environment(&crate::common::node_web(), &bad_settings)
        .unwrap_err()
        .to_string()
        .contains("ingress class"));

    let err = GitopsError::from(ReleaseImage::parse("registry.example.com/slipway/shop:latest").unwrap_err());
    assert!(matches!(err, GitopsError::MutableImage { .. }), "{err}");
}

#[test]
fn internet_egress_is_opt_in_and_never_reaches_private_ranges() {
    let closed = render_environment(&crate::common::node_web(), &crate::common::settings()).unwrap();
    assert!(closed.get("networkpolicy-allow-internet-egress.yaml").is_none());
    let mut settings = crate::common::settings();
    settings.allow_internet_egress = true;
    let open = render_environment(&crate::common::node_web(), &settings).unwrap();
    let policy = parse(&open, "networkpolicy-allow-internet-egress.yaml");
    let block = &policy["spec"]["egress"][0]["to"][0]["ipBlock"];
    assert_eq!(block["cidr"], "0.0.0.0/0");
    for range in ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] {
        assert!(block["except"].as_array().unwrap().iter().any(|r| r == range), "{range} not excluded");
    }
}

#[test]
fn resources_become_limits_and_requests_and_the_quota_a_resource_quota() {
    let manifests = render_environment(&crate::common::node_web(), &crate::common::settings()).unwrap();
    let deployment = parse(&manifests, "deployment-web.yaml");
    let resources = &deployment["spec"]["template"]["spec"]["containers"][0]["resources"];
    // Limits are the environment's figures; memory is reserved whole, a quarter of the CPU.
    assert_eq!(resources["limits"], serde_json::json!({"cpu": "500m", "memory": "1Gi"}));
    assert_eq!(resources["requests"], serde_json::json!({"cpu": "125m", "memory": "1Gi"}));
    // The workspace's 4 GiB and 10 instances, plus the web Deployment's one surge pod.
    let quota = parse(&manifests, "resourcequota-quota.yaml");
    assert_eq!(quota["spec"]["hard"]["limits.memory"], "5Gi");
    assert_eq!(quota["spec"]["hard"]["requests.memory"], "5Gi");
    assert_eq!(quota["spec"]["hard"]["pods"], "11");

    // An unlimited workspace gets no memory or pod figure; tiny CPU requests stay schedulable.
    let mut app = crate::common::worker_cron();
    for process in app.processes.values_mut() {
        process.resources.cpu = slipway_core::resources::Cpu::from_millis(20);
    }
    let manifests = render_environment(&app, &crate::common::settings()).unwrap();
    let hard = &parse(&manifests, "resourcequota-quota.yaml")["spec"]["hard"];
    assert!(hard.get("pods").is_none() && hard.get("limits.memory").is_none(), "{hard}");
    assert_eq!(hard["services.nodeports"], "0");
    let worker = parse(&manifests, "deployment-worker.yaml");
    let resources = &worker["spec"]["template"]["spec"]["containers"][0]["resources"];
    assert_eq!(resources["requests"]["cpu"], "10m");
    assert_eq!(resources["limits"], serde_json::json!({"cpu": "20m", "memory": "512Mi"}));
}
