//! A second, upstream-derived check of the custom resources: the validators
//! in the npm packages `@kubernetes-models/argo-cd` and
//! `@kubernetes-models/external-secrets` are generated from the Argo CD and
//! external-secrets schemas, so they catch a wrong type or a missing required
//! field that the hand-written `tests/schemas/*.schema.json` might not know
//! about (those, in turn, reject unknown fields, which these do not).
//! Missing packages fail the test with the install command.

#![allow(clippy::unwrap_used)] // the fixtures are helpers, not #[test] functions

use std::path::{Path, PathBuf};
use std::process::Command;

use slipway_core::names::WorkspaceSlug;
use slipway_gitops::argo::{render_root, render_workspace};
use slipway_gitops::{render_environment, ArgoSettings};

const INSTALL: &str = "npm install --prefix target/node-crds --no-audit --no-fund \
     @kubernetes-models/argo-cd@4.0.0 @kubernetes-models/external-secrets@2.0.0 (from the repository root)";

fn modules_dir() -> PathBuf {
    let dir = std::env::var_os("SLIPWAY_NODE_CRDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::common::crate_dir().join("../../target/node-crds"));
    for package in ["argo-cd", "external-secrets"] {
        let path = dir.join("node_modules/@kubernetes-models").join(package);
        assert!(path.exists(), "{} is missing (set SLIPWAY_NODE_CRDS); install it with: {INSTALL}", path.display());
    }
    dir
}

fn check(files: &[PathBuf]) -> (bool, String) {
    let script = crate::common::crate_dir().join("tests/schemas/check-crds.mjs");
    let output = Command::new("node")
        .arg(script)
        .args(files)
        .env("SLIPWAY_NODE_CRDS", modules_dir())
        .output()
        .unwrap_or_else(|err| panic!("could not run node ({err}); install Node.js, then: {INSTALL}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn write_json(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let value: serde_json::Value = serde_norway::from_str(yaml).unwrap();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    path
}

#[test]
fn argo_cd_objects_and_external_secrets_pass_the_upstream_derived_validators() {
    let dir = tempfile::tempdir().unwrap();
    let argo = ArgoSettings::new("https://git.example.com/git/_platform/gitops.git");
    let mut files = Vec::new();
    for (name, text) in render_root(&argo).unwrap().files() {
        files.push(write_json(dir.path(), name, text));
    }
    let workspace = WorkspaceSlug::parse("acme").unwrap();
    let namespaces = vec!["acme-shop-production".to_owned()];
    for (name, text) in render_workspace(&workspace, &namespaces, &argo).unwrap().files() {
        files.push(write_json(dir.path(), name, text));
    }
    for app in [crate::common::node_web(), crate::common::worker_cron()] {
        let manifests = render_environment(&app, &crate::common::settings()).unwrap();
        let secret = manifests.get("externalsecret-secrets.yaml").unwrap();
        files.push(write_json(dir.path(), &format!("{}-externalsecret", app.project), secret));
    }
    let (ok, output) = check(&files);
    assert!(ok, "upstream-derived validation failed:\n{output}");
    assert_eq!(output.lines().filter(|line| line.starts_with("PASS ")).count(), files.len(), "{output}");
}

#[test]
fn the_upstream_validators_do_reject_bad_objects() {
    let dir = tempfile::tempdir().unwrap();
    let argo = ArgoSettings::new("https://git.example.com/gitops.git");
    let workspace = WorkspaceSlug::parse("acme").unwrap();
    let files = render_workspace(&workspace, &[], &argo).unwrap();
    let (_, set) = files.files().find(|(name, _)| name.starts_with("applicationset-")).unwrap();
    let mut object: serde_json::Value = serde_norway::from_str(set).unwrap();
    object["spec"].as_object_mut().unwrap().remove("template");
    let path = dir.path().join("no-template.json");
    std::fs::write(&path, object.to_string()).unwrap();
    let (ok, output) = check(&[path]);
    assert!(!ok && output.contains("template"), "an ApplicationSet without a template passed:\n{output}");
}
