//! Every rendered object is checked against a schema: built-in kinds with
//! `kubernetes-validate` (PyPI) in strict mode against the official
//! Kubernetes JSON schemas, custom resources (Argo CD, ExternalSecret) with
//! the `jsonschema` crate against `tests/schemas/` (hand-written; see the
//! README there). A missing validator fails the test with the install command.

#![allow(clippy::unwrap_used)] // the fixtures are helpers, not #[test] functions

use std::path::PathBuf;
use std::process::Command;

use slipway_core::names::WorkspaceSlug;
use slipway_gitops::argo::{render_root, render_workspace};
use slipway_gitops::{render_environment, render_install, ArgoSettings, Manifests};

/// Matches the `k8s-openapi` feature this crate is built with (`v1_33`).
const KUBERNETES_VERSION: &str = "1.33.0";
const INSTALL: &str =
    "python3 -m venv target/py-venv && target/py-venv/bin/pip install kubernetes-validate==1.37.0 (from the repository root)";

fn kubernetes_validate() -> PathBuf {
    if let Some(path) = std::env::var_os("SLIPWAY_KUBERNETES_VALIDATE") {
        return PathBuf::from(path);
    }
    let venv = std::env::var_os("SLIPWAY_PY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::common::crate_dir().join("../../target/py-venv"));
    let path = venv.join("bin/kubernetes-validate");
    assert!(
        path.exists(),
        "kubernetes-validate not found at {} (set SLIPWAY_KUBERNETES_VALIDATE or SLIPWAY_PY_VENV); install it with: {INSTALL}",
        path.display()
    );
    path
}

fn rendered_cases() -> Vec<(&'static str, Manifests)> {
    let settings = crate::common::settings();
    // The optional objects too: internet egress is off by default.
    let open = slipway_gitops::ClusterSettings { allow_internet_egress: true, ..crate::common::settings() };
    vec![
        ("node-web", render_environment(&crate::common::node_web(), &settings).unwrap()),
        ("worker-cron", render_environment(&crate::common::worker_cron(), &settings).unwrap()),
        ("custom-domain", render_environment(&crate::common::custom_domain(), &open).unwrap()),
    ]
}

fn is_custom_resource(text: &str) -> bool {
    text.contains("apiVersion: argoproj.io/") || text.contains("apiVersion: external-secrets.io/")
}

/// Runs the validator over `files`; returns (success, combined output).
fn run_validator(files: &[PathBuf]) -> (bool, String) {
    let output = Command::new(kubernetes_validate())
        .args(["--strict", "-k", KUBERNETES_VERSION])
        .args(files)
        .output()
        .unwrap_or_else(|err| panic!("could not run kubernetes-validate: {err}; install it with: {INSTALL}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn built_in_kinds_pass_kubernetes_validate_strict() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (case, manifests) in rendered_cases() {
        for (name, text) in manifests.files() {
            if is_custom_resource(text) {
                continue;
            }
            let path = dir.path().join(format!("{case}-{name}"));
            std::fs::write(&path, text).unwrap();
            files.push(path);
        }
    }
    assert!(files.len() > 30, "expected every built-in object of the three apps, got {}", files.len());
    assert_each_file_passes(&files);
}

#[test]
fn control_plane_install_passes_kubernetes_validate_strict() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = render_install(&crate::common::install_settings()).unwrap();
    let mut files = Vec::new();
    for (name, text) in manifests.files() {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    assert_eq!(files.len(), 15, "expected every object of the install, got {}", files.len());
    assert_each_file_passes(&files);
}

/// kubernetes-validate --strict accepts every file, names each as passed (a file without a
/// schema would be skipped silently otherwise) and warns about none.
fn assert_each_file_passes(files: &[PathBuf]) {
    let (ok, output) = run_validator(files);
    assert!(ok, "kubernetes-validate --strict rejected rendered manifests:\n{output}");
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy();
        let passed = output.lines().any(|line| line.contains(&*name) && line.contains("passed"));
        assert!(passed, "{name} was not reported as passed (no schema for it?):\n{output}");
    }
    assert!(!output.contains("WARN"), "kubernetes-validate warned:\n{output}");
}

#[test]
fn kubernetes_validate_really_is_strict() {
    // Guards against a validator that passes everything: an invented field must fail.
    let dir = tempfile::tempdir().unwrap();
    let manifests = render_environment(&crate::common::node_web(), &crate::common::settings()).unwrap();
    let broken =
        manifests.get("service-web.yaml").unwrap().replace("  type: ClusterIP", "  type: ClusterIP\n  typo: 1");
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, broken).unwrap();
    let (ok, output) = run_validator(&[path]);
    assert!(!ok, "strict validation accepted an unknown field:\n{output}");
}

fn schema(name: &str) -> jsonschema::Validator {
    let path = crate::common::crate_dir().join("tests/schemas").join(format!("{name}.schema.json"));
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn check_custom(name: &str, text: &str) {
    let object: serde_json::Value = serde_norway::from_str(text).unwrap();
    let kind = object["kind"].as_str().unwrap().to_ascii_lowercase();
    let validator = schema(&kind);
    let errors: Vec<String> =
        validator.iter_errors(&object).map(|err| format!("{err} at {}", err.instance_path)).collect();
    assert!(errors.is_empty(), "{name} does not match tests/schemas/{kind}.schema.json:\n{}", errors.join("\n"));
}

fn argo_files() -> Manifests {
    let argo = ArgoSettings::new("https://git.example.com/git/_platform/gitops.git");
    let mut all = render_root(&argo).unwrap();
    let workspace = WorkspaceSlug::parse("acme").unwrap();
    let namespaces = vec!["acme-shop-production".to_owned()];
    for (name, text) in render_workspace(&workspace, &namespaces, &argo).unwrap().files() {
        all.extend_raw(name, text);
    }
    all
}

#[test]
fn argo_cd_objects_and_external_secrets_match_their_schemas() {
    let mut checked = Vec::new();
    for (name, text) in argo_files().files() {
        check_custom(name, text);
        checked.push(name.to_owned());
    }
    for (case, manifests) in rendered_cases() {
        for (name, text) in manifests.files().filter(|(_, text)| is_custom_resource(text)) {
            check_custom(&format!("{case}/{name}"), text);
            checked.push(name.to_owned());
        }
    }
    for kind in ["application-", "appproject-", "applicationset-", "externalsecret-"] {
        assert!(checked.iter().any(|name| name.starts_with(kind)), "no {kind}* object was checked: {checked:?}");
    }
}

#[test]
fn custom_resource_schemas_reject_unknown_and_missing_fields() {
    let files = argo_files();
    let set = files.files().find(|(name, _)| name.starts_with("applicationset-")).unwrap().1;
    let mut object: serde_json::Value = serde_norway::from_str(set).unwrap();
    object["spec"]["template"]["spec"]["projectFromPath"] = "{{path[1]}}".into();
    assert!(!schema("applicationset").is_valid(&object), "an invented field passed");
    let manifests = render_environment(&crate::common::node_web(), &crate::common::settings()).unwrap();
    let mut secret: serde_json::Value =
        serde_norway::from_str(manifests.get("externalsecret-secrets.yaml").unwrap()).unwrap();
    secret["spec"]["data"][0]["remoteRef"].as_object_mut().unwrap().remove("key");
    assert!(!schema("externalsecret").is_valid(&secret), "a data item without remoteRef.key passed");
}
