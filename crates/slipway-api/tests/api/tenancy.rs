//! Scenario 3: another tenant's workspace answers exactly like a missing one.

use reqwest::Method;
use serde_json::{json, Value};
use slipway_testkit::TestBackend;

use super::harness::{spawn_app, TestApp};

both_backends!(another_tenant_is_not_found);

/// Every workspace-scoped call, with `{ws}` in place of the slug.
fn calls() -> Vec<(Method, &'static str, Option<Value>)> {
    let p = "/v1/workspaces/{ws}";
    vec![
        (Method::GET, p, None),
        (Method::DELETE, p, None),
        (Method::GET, "/v1/workspaces/{ws}/projects", None),
        (Method::POST, "/v1/workspaces/{ws}/projects", Some(json!({"slug": "stolen"}))),
        (Method::GET, "/v1/workspaces/{ws}/projects/shop", None),
        (Method::PATCH, "/v1/workspaces/{ws}/projects/shop", Some(json!({"branch": "evil"}))),
        (Method::DELETE, "/v1/workspaces/{ws}/projects/shop", None),
        (Method::GET, "/v1/workspaces/{ws}/projects/shop/environments", None),
        (Method::POST, "/v1/workspaces/{ws}/projects/shop/environments", Some(json!({"name": "evil"}))),
        (Method::DELETE, "/v1/workspaces/{ws}/projects/shop/environments/staging", None),
        (Method::GET, "/v1/workspaces/{ws}/projects/shop/environments/production", None),
        (
            Method::PATCH,
            "/v1/workspaces/{ws}/projects/shop/environments/production",
            Some(json!({"resources": {"memory": "1G"}})),
        ),
        (Method::GET, "/v1/workspaces/{ws}/quotas", None),
        (Method::PUT, "/v1/workspaces/{ws}/quotas", Some(json!({"instances": 100}))),
        (Method::GET, "/v1/workspaces/{ws}/projects/shop/environments/production/config", None),
        (
            Method::PUT,
            "/v1/workspaces/{ws}/projects/shop/environments/production/config",
            Some(json!({"vars": {"EVIL": "1"}})),
        ),
        (Method::DELETE, "/v1/workspaces/{ws}/projects/shop/environments/production/config?names=SECRET", None),
        (Method::GET, "/v1/workspaces/{ws}/projects/shop/environments/production/deployments", None),
        (Method::GET, "/v1/workspaces/{ws}/projects/shop/environments/production/deployments/1", None),
        (Method::GET, "/v1/workspaces/{ws}/audit", None),
        (Method::GET, "/v1/workspaces/{ws}/members", None),
        (Method::POST, "/v1/workspaces/{ws}/members", Some(json!({"username": "bob", "role": "owner"}))),
        (Method::PATCH, "/v1/workspaces/{ws}/members/alice", Some(json!({"role": "viewer"}))),
        (Method::DELETE, "/v1/workspaces/{ws}/members/alice", None),
    ]
}

/// The answer of one call on workspace `ws`, with `ws` taken out of the
/// message so that two slugs can be compared.
async fn answer(
    app: &TestApp,
    token: &str,
    method: &Method,
    template: &str,
    body: &Option<Value>,
    ws: &str,
) -> (u16, String, String) {
    let path = template.replace("{ws}", ws);
    let mut request = app.request(method.clone(), &path, token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let reply = app.send(request).await;
    (
        reply.status.as_u16(),
        reply.code().unwrap_or("(success)").to_owned(),
        reply.body["error"]["message"].as_str().unwrap_or_default().replace(ws, "<ws>"),
    )
}

async fn another_tenant_is_not_found(backend: TestBackend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.workspace(&alice, "acme").await;
    app.project(&alice, "acme", "shop").await;
    app.put(
        &alice,
        "/v1/workspaces/acme/projects/shop/environments/production/config",
        json!({"vars": {"SECRET": "s3cr3t-value"}, "secret": true}),
    )
    .await
    .ok(200);
    app.workspace(&bob, "beta").await;

    for (method, template, body) in calls() {
        let theirs = answer(&app, &bob, &method, template, &body, "acme").await;
        let missing = answer(&app, &bob, &method, template, &body, "ghost").await;
        assert_eq!(theirs.1, "WORKSPACE_NOT_FOUND", "{method} {template} on another tenant");
        assert_eq!(theirs.0, 404);
        assert_eq!(theirs, missing, "{method} {template}: differs from a missing workspace");
    }

    // Nothing of acme changed.
    assert_eq!(app.project_slugs(&alice, "acme").await, ["shop"]);
    let project = app.get(&alice, "/v1/workspaces/acme/projects/shop").await;
    assert_eq!(project.ok(200)["branch"], "main");
    assert_eq!(project.body["environments"].as_array().map(Vec::len), Some(1));
    let config = app.get(&alice, "/v1/workspaces/acme/projects/shop/environments/production/config").await;
    let config = config.ok(200).as_array().expect("vars").clone();
    assert_eq!(config.len(), 1);
    assert_eq!(config[0]["name"], "SECRET");
    let members = app.get(&alice, "/v1/workspaces/acme/members").await;
    let members: Vec<(&str, &str)> = members
        .ok(200)
        .as_array()
        .expect("members")
        .iter()
        .map(|m| (m["username"].as_str().unwrap_or(""), m["role"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(members, [("alice", "owner")]);
    let audit = app.get(&alice, "/v1/workspaces/acme/audit").await;
    assert!(
        !audit.ok(200)["items"].as_array().expect("items").iter().any(|e| e["actor"] == "bob"),
        "bob left a trace in acme: {}",
        audit.text
    );

    // Each sees only their own workspace; the platform admin sees both.
    let slugs = |reply: &super::harness::Reply| -> Vec<String> {
        reply.ok(200)["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|w| w["slug"].as_str().expect("slug").to_owned())
            .collect()
    };
    let bobs = app.get(&bob, "/v1/workspaces").await;
    assert_eq!(slugs(&bobs), ["beta"]);
    assert_eq!(bobs.body["items"][0]["role"], "owner");
    let alices = app.get(&alice, "/v1/workspaces").await;
    assert_eq!(slugs(&alices), ["acme"]);
    let admins = app.get(&app.admin, "/v1/workspaces").await;
    assert_eq!(slugs(&admins), ["acme", "beta"]);
    // The admin is a member of neither, so no role is shown.
    assert!(admins.body["items"][0].get("role").is_none());
    assert_eq!(app.get(&app.admin, "/v1/workspaces/acme").await.ok(200)["slug"], "acme");
    assert_eq!(app.project_slugs(&app.admin, "acme").await, ["shop"]);

    // And the other direction: alice cannot see beta.
    app.get(&alice, "/v1/workspaces/beta").await.err("WORKSPACE_NOT_FOUND");
    // Workspace slugs are platform-wide: bob cannot take "acme" either,
    // which is the one thing that reveals it exists.
    app.post(&bob, "/v1/workspaces", json!({"slug": "acme"})).await.err("WORKSPACE_EXISTS");
}
