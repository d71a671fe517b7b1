//! Scenario 9: every mutating call is in the workspace's audit log, with
//! its actor and the request ID of the call that made it.

use reqwest::Method;
use serde_json::{json, Value};
use slipway_testkit::TestBackend;

use super::harness::{spawn_app, Reply, TestApp};

both_backends!(mutations_are_audited);

/// One expected audit row: action, actor, target, request ID.
type Expected = (String, String, String, String);

/// Makes a call that must succeed with `status` and returns the expected
/// audit row for it.
#[allow(clippy::too_many_arguments)]
async fn audited(
    app: &TestApp,
    token: &str,
    actor: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: u16,
    action: &str,
    target: &str,
) -> Expected {
    let mut request = app.request(method, path, token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let reply: Reply = app.send(request).await;
    reply.ok(status);
    (action.to_owned(), actor.to_owned(), target.to_owned(), reply.request_id)
}

async fn mutations_are_audited(backend: TestBackend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let ws = "/v1/workspaces/acme";
    let project = "/v1/workspaces/acme/projects/shop";
    let config = "/v1/workspaces/acme/projects/shop/environments/production/config";

    let mut expected = Vec::new();
    expected.push(
        audited(
            &app,
            &alice,
            "alice",
            Method::POST,
            "/v1/workspaces",
            Some(json!({"slug": "acme", "name": "Acme Inc."})),
            201,
            "workspace.create",
            "workspace/acme",
        )
        .await,
    );
    expected.push(
        audited(
            &app,
            &alice,
            "alice",
            Method::POST,
            &format!("{ws}/projects"),
            Some(json!({"slug": "shop"})),
            201,
            "project.create",
            "project/shop",
        )
        .await,
    );
    expected.push(
        audited(
            &app,
            &alice,
            "alice",
            Method::PUT,
            config,
            Some(json!({"vars": {"B": "2", "A": "1"}})),
            200,
            "config.set",
            "project/shop/production/config:A,B",
        )
        .await,
    );
    expected.push(
        audited(
            &app,
            &alice,
            "alice",
            Method::POST,
            &format!("{ws}/members"),
            Some(json!({"username": "bob", "role": "admin"})),
            201,
            "member.add",
            "member/bob:admin",
        )
        .await,
    );
    // From here on bob acts: the actor is whoever made the call.
    expected.push(
        audited(
            &app,
            &bob,
            "bob",
            Method::POST,
            &format!("{project}/environments"),
            Some(json!({"name": "staging"})),
            201,
            "environment.create",
            "project/shop/staging",
        )
        .await,
    );
    expected.push(
        audited(
            &app,
            &bob,
            "bob",
            Method::PATCH,
            project,
            Some(json!({"branch": "develop"})),
            200,
            "project.update",
            "project/shop",
        )
        .await,
    );
    expected.push(
        audited(
            &app,
            &bob,
            "bob",
            Method::DELETE,
            &format!("{config}?names=A"),
            None,
            200,
            "config.unset",
            "project/shop/production/config:A",
        )
        .await,
    );
    expected.push(
        audited(
            &app,
            &bob,
            "bob",
            Method::DELETE,
            &format!("{project}/environments/staging"),
            None,
            204,
            "environment.delete",
            "project/shop/staging",
        )
        .await,
    );
    expected.push(
        audited(
            &app,
            &alice,
            "alice",
            Method::PATCH,
            &format!("{ws}/members/bob"),
            Some(json!({"role": "developer"})),
            200,
            "member.role",
            "member/bob:developer",
        )
        .await,
    );
    expected.push(
        audited(&app, &alice, "alice", Method::DELETE, project, None, 204, "project.delete", "project/shop").await,
    );
    expected.push(
        audited(
            &app,
            &alice,
            "alice",
            Method::DELETE,
            &format!("{ws}/members/bob"),
            None,
            204,
            "member.remove",
            "member/bob",
        )
        .await,
    );

    // Refused calls leave no row.
    app.post(&alice, &format!("{ws}/projects"), json!({"slug": "Bad"})).await.err("INVALID_SLUG");
    app.delete(&alice, &format!("{ws}/projects/ghost")).await.err("PROJECT_NOT_FOUND");

    let reply = app.get(&alice, &format!("{ws}/audit?limit=200")).await;
    let events = reply.ok(200)["items"].as_array().expect("items").clone();
    let got: Vec<Expected> = events
        .iter()
        .map(|e| {
            let field = |name: &str| e[name].as_str().unwrap_or_default().to_owned();
            (field("action"), field("actor"), field("target"), field("request_id"))
        })
        .collect();
    // Newest first.
    expected.reverse();
    assert_eq!(got, expected);
    for event in &events {
        assert!(event["id"].as_str().is_some_and(|id| id.starts_with("evt_")));
        assert!(event["actor_id"].as_str().is_some_and(|id| id.starts_with("usr_")));
        assert!(event["created_at"].is_string());
    }
    let ids: std::collections::BTreeSet<&str> = expected.iter().map(|e| e.3.as_str()).collect();
    assert_eq!(ids.len(), expected.len(), "request IDs are not unique");

    // A client-chosen request ID is what the audit row keeps.
    let chosen = app
        .send(
            app.request(Method::POST, &format!("{ws}/projects"), &alice)
                .header("x-request-id", "deploy-bot:run-42")
                .json(&json!({"slug": "blog"})),
        )
        .await;
    chosen.ok(201);
    assert_eq!(chosen.request_id, "deploy-bot:run-42");
    let newest = app.get(&alice, &format!("{ws}/audit?limit=1")).await;
    let newest = &newest.ok(200)["items"][0];
    assert_eq!(newest["action"], "project.create");
    assert_eq!(newest["request_id"], "deploy-bot:run-42");
}
