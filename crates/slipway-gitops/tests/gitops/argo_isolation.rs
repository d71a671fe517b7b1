//! A tenant must not escape its Argo CD project through the folder layout.
//!
//! No Argo CD runs here (a live cluster cannot), so the test applies the
//! ApplicationSet controller's documented rules to the rendered object: the
//! git directory generator matches folders against `directories[].path`
//! (`*` = one path segment), and the default template syntax substitutes
//! `{{path}}`, `{{path[n]}}`, `{{path.basename}}` and friends from the folder.
//! Every folder anyone could craft, however its segments are named, must
//! produce an Application in the generating workspace's project.

#![allow(clippy::unwrap_used)] // the fixtures are helpers, not #[test] functions

use serde_json::Value;
use slipway_core::names::WorkspaceSlug;
use slipway_gitops::argo::{project_name, render_workspace};
use slipway_gitops::ArgoSettings;

fn application_set(workspace: &str) -> Value {
    let argo = ArgoSettings::new("https://git.example.com/gitops.git");
    let workspace = WorkspaceSlug::parse(workspace).unwrap();
    let files = render_workspace(&workspace, &[], &argo).unwrap();
    let (_, text) = files.files().find(|(name, _)| name.starts_with("applicationset-")).unwrap();
    serde_norway::from_str(text).unwrap()
}

/// `*` matches exactly one segment, as in the generator's path.Match.
fn generator_matches(pattern: &str, folder: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let folder: Vec<&str> = folder.split('/').collect();
    pattern.len() == folder.len() && pattern.iter().zip(&folder).all(|(p, f)| *p == "*" || p == f)
}

/// The fasttemplate parameters the directory generator provides.
fn render_template(template: &Value, folder: &str) -> Value {
    let segments: Vec<&str> = folder.split('/').collect();
    let mut params = vec![
        ("{{path}}".to_owned(), folder.to_owned()),
        ("{{path.path}}".to_owned(), folder.to_owned()),
        ("{{path.basename}}".to_owned(), segments.last().unwrap().to_string()),
        ("{{path.basenameNormalized}}".to_owned(), segments.last().unwrap().replace(['_', '.'], "-")),
    ];
    for (i, segment) in segments.iter().enumerate() {
        params.push((format!("{{{{path[{i}]}}}}"), segment.to_string()));
    }
    let mut text = serde_json::to_string(template).unwrap();
    for (key, value) in params {
        text = text.replace(&key, &value);
    }
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_project_is_a_literal_not_a_template() {
    let set = application_set("acme");
    let project = set["spec"]["template"]["spec"]["project"].as_str().unwrap();
    assert_eq!(project, "ws-acme");
    assert!(!project.contains("{{"), "project must never be templated: {project}");
    assert_eq!(set["spec"]["generators"][0]["git"]["directories"][0]["path"], "apps/acme/*/*");
}

#[test]
fn a_folder_crafted_under_another_workspace_cannot_select_a_different_project() {
    let acme = application_set("acme");
    let globex = application_set("globex");
    let crafted = [
        "apps/acme/shop/production",
        // Segments named after the other tenant or its project, as an attacker would name them.
        "apps/acme/ws-globex/production",
        "apps/acme/globex/ws-globex",
        "apps/acme/{{path[1]}}/globex",
        "apps/globex/shop/production",
        "apps/globex/ws-acme/acme",
        // Deeper or shallower folders are not generated at all.
        "apps/acme/shop/production/ws-globex",
        "apps/acme/ws-globex",
    ];
    for (workspace, set) in [("acme", &acme), ("globex", &globex)] {
        let pattern = set["spec"]["generators"][0]["git"]["directories"][0]["path"].as_str().unwrap();
        let expected = project_name(&WorkspaceSlug::parse(workspace).unwrap());
        for folder in crafted {
            let matched = generator_matches(pattern, folder);
            let inside = folder.starts_with(&format!("apps/{workspace}/")) && folder.split('/').count() == 4;
            assert_eq!(matched, inside, "{workspace}'s generator and {folder}");
            if !matched {
                continue;
            }
            let app = render_template(&set["spec"]["template"], folder);
            assert_eq!(app["spec"]["project"], expected.as_str(), "{folder} escaped {workspace}'s project");
            let name = app["metadata"]["name"].as_str().unwrap();
            assert!(name.starts_with(&format!("{workspace}-")), "{folder} named its app {name}");
            let namespace = app["spec"]["destination"]["namespace"].as_str().unwrap();
            assert!(namespace.starts_with(&format!("{workspace}-")), "{folder} targets {namespace}");
        }
    }
}

#[test]
fn the_app_project_allows_only_its_namespaces_repo_and_namespace_objects() {
    let argo = ArgoSettings::new("https://git.example.com/gitops.git");
    let workspace = WorkspaceSlug::parse("acme").unwrap();
    let namespaces = vec!["acme-shop-production".to_owned()];
    let files = render_workspace(&workspace, &namespaces, &argo).unwrap();
    let (_, text) = files.files().find(|(name, _)| name.starts_with("appproject-")).unwrap();
    let project: Value = serde_norway::from_str(text).unwrap();
    assert_eq!(project["spec"]["sourceRepos"], serde_json::json!(["https://git.example.com/gitops.git"]));
    let destinations: Vec<&str> =
        project["spec"]["destinations"].as_array().unwrap().iter().map(|d| d["namespace"].as_str().unwrap()).collect();
    assert_eq!(destinations, ["acme-shop-production"], "an explicit list, no `acme-*` (it would match acme-corp)");
    assert_eq!(project["spec"]["clusterResourceWhitelist"], serde_json::json!([{"group": "", "kind": "Namespace"}]));
    let allowed: Vec<String> = project["spec"]["namespaceResourceWhitelist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|gk| format!("{}/{}", gk["group"].as_str().unwrap(), gk["kind"].as_str().unwrap()))
        .collect();
    assert!(!allowed.iter().any(|kind| kind.ends_with("/RoleBinding") || kind.ends_with("/Secret")), "{allowed:?}");
    // Every kind the renderer writes must be allowed, or Argo CD would refuse to sync it.
    for app in [crate::common::node_web(), crate::common::worker_cron(), crate::common::custom_domain()] {
        let mut settings = crate::common::settings();
        settings.allow_internet_egress = true;
        for (name, text) in slipway_gitops::render_environment(&app, &settings).unwrap().files() {
            let object: Value = serde_norway::from_str(text).unwrap();
            let api_version = object["apiVersion"].as_str().unwrap();
            let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
            let kind = object["kind"].as_str().unwrap();
            if kind != "Namespace" {
                assert!(allowed.contains(&format!("{group}/{kind}")), "{name}: {group}/{kind} is not whitelisted");
            }
        }
    }
}
