//! Scenario 8: reading deployments. Creating them through the API arrives
//! with the deploy pipeline, so this test creates them through the store
//! the server uses, then reads them over HTTP.

use serde_json::json;
use slipway_core::deployment::Transition;
use slipway_core::ids::WorkspaceId;
use slipway_core::image_tag::CommitSha;
use slipway_core::names::{EnvironmentName, ProjectSlug};
use slipway_store::Actor;
use slipway_testkit::TestBackend;

use super::harness::spawn_app;

both_backends!(reading_deployments);

const DEPLOYMENTS: &str = "/v1/workspaces/acme/projects/shop/environments/production/deployments";

async fn reading_deployments(backend: TestBackend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let ws = app.workspace(&alice, "acme").await;
    app.project(&alice, "acme", "shop").await;
    app.post(&alice, "/v1/workspaces/acme/projects/shop/environments", json!({"name": "staging"})).await.ok(201);

    let empty = app.get(&alice, DEPLOYMENTS).await;
    assert_eq!(empty.ok(200), &json!({"items": []}));
    app.get(&alice, &format!("{DEPLOYMENTS}/1")).await.err("DEPLOYMENT_NOT_FOUND");
    for bad in ["abc", "0", "-1", "1.5", "18446744073709551616", "%20"] {
        app.get(&alice, &format!("{DEPLOYMENTS}/{bad}")).await.err("INVALID_REQUEST");
    }
    app.get(&alice, "/v1/workspaces/acme/projects/shop/environments/ghost/deployments")
        .await
        .err("ENVIRONMENT_NOT_FOUND");
    app.get(&alice, "/v1/workspaces/acme/projects/ghost/environments/production/deployments/1")
        .await
        .err("PROJECT_NOT_FOUND");

    // Two deployments to production, one to staging: build numbers are
    // per project.
    let workspace = WorkspaceId::parse(ws["id"].as_str().expect("id")).expect("a workspace ID");
    let actor = Actor::system("test-deployments");
    let sha = CommitSha::parse("0123456789abcdef0123456789abcdef01234567").expect("a SHA");
    let first = app
        .store
        .create_deployment(
            &actor,
            &workspace,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::production(),
            Some(&sha),
        )
        .await
        .expect("creating deployment 1");
    app.store
        .transition_deployment(&actor, &workspace, &first.id, Transition::StartBuild, None)
        .await
        .expect("building");
    app.store
        .transition_deployment(&actor, &workspace, &first.id, Transition::Fail, Some("npm install failed"))
        .await
        .expect("failing");
    app.store
        .create_deployment(
            &actor,
            &workspace,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::parse("staging").expect("an environment name"),
            None,
        )
        .await
        .expect("creating deployment 2");
    app.store
        .create_deployment(
            &actor,
            &workspace,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::production(),
            None,
        )
        .await
        .expect("creating deployment 3");

    let one = app.get(&alice, &format!("{DEPLOYMENTS}/1")).await;
    let one = one.ok(200);
    assert_eq!(one["number"], 1);
    assert_eq!(one["id"], first.id.as_str());
    assert_eq!(one["status"], "FAILED");
    assert_eq!(one["failure_reason"], "npm install failed");
    assert_eq!(one["commit_sha"], sha.as_str());
    assert_eq!(one["environment_id"], first.environment_id.as_str());
    // Number 2 belongs to staging, not production.
    app.get(&alice, &format!("{DEPLOYMENTS}/2")).await.err("DEPLOYMENT_NOT_FOUND");
    let two = app.get(&alice, "/v1/workspaces/acme/projects/shop/environments/staging/deployments/2").await;
    assert_eq!(two.ok(200)["status"], "QUEUED");
    assert!(two.body.get("commit_sha").is_none());

    // The list is newest first, and pages.
    let list = app.get(&alice, DEPLOYMENTS).await;
    let numbers: Vec<u64> = list.ok(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["number"].as_u64().expect("number"))
        .collect();
    assert_eq!(numbers, [3, 1]);
    let page = app.get(&alice, &format!("{DEPLOYMENTS}?limit=1")).await;
    let cursor = page.ok(200)["next_cursor"].as_str().expect("a next page").to_owned();
    assert_eq!(page.body["items"][0]["number"], 3);
    let next = app.get(&alice, &format!("{DEPLOYMENTS}?limit=1&cursor={cursor}")).await;
    assert_eq!(next.ok(200)["items"][0]["number"], 1);

    // Another tenant still sees nothing.
    let bob = app.user("bob").await;
    app.get(&bob, &format!("{DEPLOYMENTS}/1")).await.err("WORKSPACE_NOT_FOUND");
    // A viewer may read them.
    let vic = app.user("vic").await;
    app.add_member(&alice, "acme", "vic", "viewer").await;
    app.get(&vic, &format!("{DEPLOYMENTS}/1")).await.ok(200);
}
