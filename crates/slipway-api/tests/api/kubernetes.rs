//! The Kubernetes target through the API: switching an environment's runtime
//! target (roles, audit, what the local agent reads afterwards) and the
//! manifest preview `GET …/environments/{env}/manifests`. The pipeline does
//! not run here: releases are recorded through the store, as a build would.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::Transition;
use slipway_core::ids::{UserId, WorkspaceId};
use slipway_core::image_tag::CommitSha;
use slipway_core::names::{EnvironmentName, ProjectSlug};
use slipway_store::{Actor, NewRelease, RuntimeEnv};
use slipway_testkit::TestBackend;

use super::harness::{spawn_app, TestApp};

both_backends!(switching_the_target, previewing_manifests);

const PROJECT: &str = "/v1/workspaces/acme/projects/shop";
const ENV: &str = "/v1/workspaces/acme/projects/shop/environments/production";

struct Setup {
    app: TestApp,
    alice: String,
    dev: String,
    workspace: WorkspaceId,
    alice_id: UserId,
}

async fn setup(app: TestApp) -> Setup {
    let alice = app.user("alice").await;
    let dev = app.user("dev").await;
    let ws = app.workspace(&alice, "acme").await;
    app.project(&alice, "acme", "shop").await;
    app.add_member(&alice, "acme", "dev", "developer").await;
    let workspace = WorkspaceId::parse(ws["id"].as_str().expect("id")).expect("a workspace ID");
    let me = app.get(&alice, "/v1/me").await.ok(200).clone();
    let alice_id = UserId::parse(me["id"].as_str().expect("my ID")).expect("a user ID");
    Setup { app, alice, dev, workspace, alice_id }
}

/// A live release of `start` made by alice, recorded the way the pipeline records one.
async fn release(s: &Setup, commit: &str, start: &str) -> u64 {
    let store = &s.app.store;
    let actor = Actor { user_id: Some(s.alice_id.clone()), username: "alice".into(), request_id: "test".into() };
    let sha = CommitSha::parse(commit).expect("a SHA");
    let d = store
        .create_deployment(
            &actor,
            &s.workspace,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::production(),
            Some(&sha),
        )
        .await
        .expect("queuing");
    store.transition_deployment(&actor, &s.workspace, &d.id, Transition::StartBuild, None).await.expect("building");
    let config = store
        .config_snapshot(
            &s.workspace,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::production(),
        )
        .await
        .expect("the config snapshot");
    let plan = BuildPlan {
        stack: "node".parse().expect("a stack"),
        framework: None,
        package_manager: Some("npm".into()),
        runtime_asks: Vec::new(),
        install: Some("npm ci".into()),
        build: None,
        start: Some(start.into()),
        processes: BTreeMap::from([("web".parse().expect("a process type"), start.to_owned())]),
        health_check_path: Some("/healthz".into()),
        detected_from: vec!["package.json".into()],
    };
    let new = NewRelease { artifact_dir: "/artifacts/1".into(), plan, runtime_env: RuntimeEnv::default(), config };
    let release = store.create_release(&actor, &s.workspace, &d.id, new).await.expect("releasing");
    store.release_live(&Actor::agent(), &s.workspace, &d.environment_id, &release, None).await.expect("going live");
    d.number.get()
}

fn target_events(audit: &Value) -> Vec<String> {
    audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|event| event["action"] == "environment.target")
        .map(|event| event["target"].as_str().expect("a target").to_owned())
        .collect()
}

async fn switching_the_target(backend: TestBackend) {
    let s = setup(spawn_app(backend).await).await;
    let app = &s.app;
    release(&s, &"a".repeat(40), "node server.js").await;
    let running = app.store.desired_state().await.expect("the desired state");
    assert_eq!(running.len(), 1, "the local agent runs production before the switch");

    // A developer deploys but does not change environments.
    app.patch(&s.dev, ENV, json!({"target": "kubernetes"})).await.err("FORBIDDEN");
    let switched = app.patch(&s.alice, ENV, json!({"target": "kubernetes"})).await;
    assert_eq!(switched.ok(200)["target"], "kubernetes");
    assert_eq!(switched.body["name"], "production");
    assert_eq!(switched.body["hostnames"], json!(["shop-acme.localhost"]));
    let project = app.get(&s.dev, PROJECT).await;
    assert_eq!(project.ok(200)["environments"][0]["target"], "kubernetes");
    // The local agent no longer sees it, so it stops its instances and routes.
    assert!(app.store.desired_state().await.expect("the desired state").is_empty());

    // Audited once: an unchanged target changes and records nothing.
    app.patch(&s.alice, ENV, json!({"target": "kubernetes"})).await.ok(200);
    let audit = app.get(&s.alice, "/v1/workspaces/acme/audit").await.ok(200).clone();
    assert_eq!(target_events(&audit), ["project/shop/production:kubernetes"]);

    // Back to local: the agent runs the active release again.
    assert_eq!(app.patch(&s.alice, ENV, json!({"target": "local"})).await.ok(200)["target"], "local");
    let running = app.store.desired_state().await.expect("the desired state");
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].desired.as_ref().map(|r| r.number.get()), Some(1));
    let audit = app.get(&s.alice, "/v1/workspaces/acme/audit").await.ok(200).clone();
    assert_eq!(target_events(&audit).len(), 2);
}

async fn previewing_manifests(backend: TestBackend) {
    let s = setup(spawn_app(backend).await).await;
    let app = &s.app;
    let manifests = format!("{ENV}/manifests");
    app.get(&s.alice, &manifests).await.err("RELEASE_NOT_FOUND");
    app.put(&s.alice, &format!("{ENV}/config"), json!({"vars": {"GREETING": "hello-plain"}})).await.ok(200);
    app.put(&s.alice, &format!("{ENV}/config"), json!({"vars": {"API_KEY": "s3cret-value"}, "secret": true}))
        .await
        .ok(200);
    app.post(&s.alice, &format!("{ENV}/domains"), json!({"hostname": "shop.example.com"})).await.ok(201);
    let sha = "b".repeat(40);
    let number = release(&s, &sha, "node server.js --host 127.0.0.1").await;
    app.patch(&s.alice, ENV, json!({"target": "kubernetes"})).await.ok(200);

    // YAML, not JSON: read outside the JSON-checking harness.
    let reply = reqwest::Client::new().get(app.url(&manifests)).bearer_auth(&s.dev).send().await.expect("GET");
    assert_eq!(reply.status(), 200);
    let content_type = reply.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(content_type.as_deref(), Some("text/yaml; charset=utf-8"));
    let text = &reply.text().await.expect("the manifests");
    // Not yet exported: the tag a deployment would push, on a placeholder registry.
    let tag = format!("{}-{number}-{sha}", s.alice_id);
    assert!(text.contains(&format!("registry.invalid/slipway/acme/shop:{tag}")), "{text}");
    assert!(text.contains("SLIPWAY_REGISTRY is not set"), "{text}");
    for expected in [
        "# deployment-web.yaml",
        "kind: Namespace",
        "kind: Service",
        "kind: Ingress",
        "kind: NetworkPolicy",
        "kind: ExternalSecret",
        "host: shop-acme.localhost",
        "host: shop.example.com",
        "hello-plain",
        "API_KEY",
        "path: /healthz",
        // The container's command listens on every interface, not loopback.
        "node server.js --host 0.0.0.0",
    ] {
        assert!(text.contains(expected), "`{expected}` is missing:\n{text}");
    }
    assert!(!text.contains("s3cret-value"), "a secret value in the manifests:\n{text}");
    assert!(!text.contains("127.0.0.1"), "a loopback bind in the manifests:\n{text}");
    let documents = text.split("\n---\n").count();
    assert!(documents >= 8, "{documents} documents:\n{text}");

    // Another tenant's user sees nothing; a viewer-level read is enough inside.
    let bob = app.user("bob").await;
    app.get(&bob, &manifests).await.err("WORKSPACE_NOT_FOUND");
}
