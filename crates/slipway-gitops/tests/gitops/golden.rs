//! Golden snapshots of the rendered manifests: any change to what lands in a
//! cluster shows up as a reviewed diff of `tests/golden/`. Rewrite them with
//! `SLIPWAY_UPDATE_GOLDEN=1 cargo test -p slipway-gitops --test golden`.

#![allow(clippy::unwrap_used)] // the fixtures are helpers, not #[test] functions

use std::collections::BTreeSet;
use std::path::Path;

use slipway_core::names::WorkspaceSlug;
use slipway_gitops::argo::{render_root, render_workspace};
use slipway_gitops::{render_environment, render_install, ArgoSettings, Manifests};

fn check_golden(case: &str, manifests: &Manifests) {
    let dir = crate::common::crate_dir().join("tests/golden").join(case);
    if std::env::var_os("SLIPWAY_UPDATE_GOLDEN").is_some() {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        crate::common::write_dir(&dir, manifests);
        return;
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}; run with SLIPWAY_UPDATE_GOLDEN=1 to create it", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let rendered: BTreeSet<String> = manifests.files().map(|(name, _)| name.to_owned()).collect();
    assert_eq!(rendered, on_disk, "{case}: the set of files differs from {}", dir.display());
    for (name, text) in manifests.files() {
        let expected = std::fs::read_to_string(Path::new(&dir).join(name)).unwrap();
        assert_eq!(
            text, expected,
            "{case}/{name} differs from the golden file; if the change is intended, rerun with SLIPWAY_UPDATE_GOLDEN=1"
        );
    }
}

#[test]
fn node_web_app() {
    check_golden("node-web", &render_environment(&crate::common::node_web(), &crate::common::settings()).unwrap());
}

#[test]
fn worker_and_cron_app() {
    check_golden(
        "worker-cron",
        &render_environment(&crate::common::worker_cron(), &crate::common::settings()).unwrap(),
    );
}

#[test]
fn custom_domain_app() {
    check_golden(
        "custom-domain",
        &render_environment(&crate::common::custom_domain(), &crate::common::settings()).unwrap(),
    );
}

#[test]
fn bootstrap_objects() {
    let argo = ArgoSettings::new("https://git.example.com/git/_platform/gitops.git");
    let mut all = Manifests::new();
    for (name, text) in render_root(&argo).unwrap().files() {
        all = with(all, name, text);
    }
    let namespaces = vec!["acme-shop-production".to_owned(), "acme-shop-staging".to_owned()];
    let workspace = WorkspaceSlug::parse("acme").unwrap();
    for (name, text) in render_workspace(&workspace, &namespaces, &argo).unwrap().files() {
        all = with(all, name, text);
    }
    check_golden("bootstrap", &all);
}

#[test]
fn control_plane_install() {
    check_golden("install", &render_install(&crate::common::install_settings()).unwrap());
}

fn with(mut manifests: Manifests, name: &str, text: &str) -> Manifests {
    manifests.extend_raw(name, text);
    manifests
}

#[test]
fn rendering_is_deterministic() {
    let first = render_environment(&crate::common::node_web(), &crate::common::settings()).unwrap();
    for _ in 0..5 {
        assert_eq!(render_environment(&crate::common::node_web(), &crate::common::settings()).unwrap(), first);
    }
}
