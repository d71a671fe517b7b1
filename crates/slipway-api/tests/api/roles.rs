//! Scenario 4: what each workspace role may do, and the last-owner rule.

use serde_json::json;
use slipway_testkit::TestBackend;

use super::harness::spawn_app;

both_backends!(roles_inside_a_workspace);

const WS: &str = "/v1/workspaces/acme";
const CONFIG: &str = "/v1/workspaces/acme/projects/shop/environments/production/config";

async fn roles_inside_a_workspace(backend: TestBackend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let vic = app.user("vic").await;
    let dev = app.user("dev").await;
    let adm = app.user("adm").await;
    app.user("newbie").await;
    app.workspace(&alice, "acme").await;
    app.project(&alice, "acme", "shop").await;
    app.put(&alice, CONFIG, json!({"vars": {"A": "1", "TOKEN": "hidden"}, "secret": false})).await.ok(200);
    app.add_member(&alice, "acme", "vic", "viewer").await;
    app.add_member(&alice, "acme", "dev", "developer").await;
    app.add_member(&alice, "acme", "adm", "admin").await;

    // --- viewer: reads everything but the audit log, changes nothing.
    assert_eq!(app.get(&vic, WS).await.ok(200)["role"], "viewer");
    assert_eq!(app.project_slugs(&vic, "acme").await, ["shop"]);
    app.get(&vic, &format!("{WS}/projects/shop")).await.ok(200);
    app.get(&vic, &format!("{WS}/projects/shop/environments")).await.ok(200);
    let config = app.get(&vic, CONFIG).await;
    assert_eq!(config.ok(200).as_array().map(Vec::len), Some(2));
    app.get(&vic, &format!("{WS}/members")).await.ok(200);
    app.get(&vic, &format!("{WS}/projects/shop/environments/production/deployments")).await.ok(200);
    app.post(&vic, &format!("{WS}/projects"), json!({"slug": "new"})).await.err("FORBIDDEN");
    app.put(&vic, CONFIG, json!({"vars": {"A": "2"}})).await.err("FORBIDDEN");
    app.delete(&vic, &format!("{CONFIG}?names=A")).await.err("FORBIDDEN");
    app.patch(&vic, &format!("{WS}/projects/shop"), json!({"branch": "dev"})).await.err("FORBIDDEN");
    app.delete(&vic, &format!("{WS}/projects/shop")).await.err("FORBIDDEN");
    app.post(&vic, &format!("{WS}/projects/shop/environments"), json!({"name": "staging"})).await.err("FORBIDDEN");
    app.post(&vic, &format!("{WS}/members"), json!({"username": "newbie", "role": "viewer"})).await.err("FORBIDDEN");
    app.patch(&vic, &format!("{WS}/members/vic"), json!({"role": "owner"})).await.err("FORBIDDEN");
    app.get(&vic, &format!("{WS}/audit")).await.err("FORBIDDEN");
    app.delete(&vic, WS).await.err("FORBIDDEN");

    // --- developer: config yes, projects and members no.
    let set = app.put(&dev, CONFIG, json!({"vars": {"B": "2"}})).await;
    assert_eq!(set.ok(200).as_array().map(Vec::len), Some(3));
    app.delete(&dev, &format!("{CONFIG}?names=B")).await.ok(200);
    app.post(&dev, &format!("{WS}/projects"), json!({"slug": "new"})).await.err("FORBIDDEN");
    app.post(&dev, &format!("{WS}/projects/shop/environments"), json!({"name": "staging"})).await.err("FORBIDDEN");
    app.post(&dev, &format!("{WS}/members"), json!({"username": "newbie", "role": "viewer"})).await.err("FORBIDDEN");
    app.get(&dev, &format!("{WS}/audit")).await.err("FORBIDDEN");
    app.delete(&dev, WS).await.err("FORBIDDEN");

    // --- admin: projects, environments and members below owner.
    app.project(&adm, "acme", "blog").await;
    app.post(&adm, &format!("{WS}/projects/blog/environments"), json!({"name": "staging"})).await.ok(201);
    app.get(&adm, &format!("{WS}/audit")).await.ok(200);
    app.post(&adm, &format!("{WS}/members"), json!({"username": "newbie", "role": "owner"})).await.err("FORBIDDEN");
    app.add_member(&adm, "acme", "newbie", "viewer").await;
    let changed = app.patch(&adm, &format!("{WS}/members/newbie"), json!({"role": "developer"})).await;
    assert_eq!(changed.ok(200)["role"], "developer");
    app.patch(&adm, &format!("{WS}/members/newbie"), json!({"role": "owner"})).await.err("FORBIDDEN");
    // An admin cannot take the owner role away either, nor remove an owner.
    app.patch(&adm, &format!("{WS}/members/alice"), json!({"role": "viewer"})).await.err("FORBIDDEN");
    app.delete(&adm, &format!("{WS}/members/alice")).await.err("FORBIDDEN");
    app.delete(&adm, WS).await.err("FORBIDDEN");
    app.delete(&adm, &format!("{WS}/members/newbie")).await.ok(204);
    // Members and users that do not exist, and duplicates.
    app.patch(&adm, &format!("{WS}/members/newbie"), json!({"role": "viewer"})).await.err("MEMBER_NOT_FOUND");
    app.post(&adm, &format!("{WS}/members"), json!({"username": "nobody", "role": "viewer"}))
        .await
        .err("USER_NOT_FOUND");
    app.post(&adm, &format!("{WS}/members"), json!({"username": "vic", "role": "developer"}))
        .await
        .err("MEMBER_EXISTS");

    // --- the last owner stays.
    app.patch(&alice, &format!("{WS}/members/alice"), json!({"role": "admin"})).await.err("LAST_OWNER");
    app.delete(&alice, &format!("{WS}/members/alice")).await.err("LAST_OWNER");
    // An owner may grant owner; then the first owner may step down.
    let promoted = app.patch(&alice, &format!("{WS}/members/adm"), json!({"role": "owner"})).await;
    assert_eq!(promoted.ok(200)["role"], "owner");
    let stepped = app.patch(&alice, &format!("{WS}/members/alice"), json!({"role": "admin"})).await;
    assert_eq!(stepped.ok(200)["role"], "admin");
    app.delete(&adm, &format!("{WS}/members/adm")).await.err("LAST_OWNER");
    app.patch(&adm, &format!("{WS}/members/adm"), json!({"role": "viewer"})).await.err("LAST_OWNER");
    let members = app.get(&adm, &format!("{WS}/members")).await;
    let roles: Vec<(String, String)> = members
        .ok(200)
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (m["username"].as_str().unwrap_or_default().to_owned(), m["role"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    let expected = [("adm", "owner"), ("alice", "admin"), ("dev", "developer"), ("vic", "viewer")]
        .map(|(u, r)| (u.to_owned(), r.to_owned()));
    assert_eq!(roles, expected);

    // Now alice, an admin, cannot delete the workspace; its owner can.
    app.delete(&alice, WS).await.err("FORBIDDEN");
    app.delete(&adm, WS).await.ok(204);
    app.get(&adm, WS).await.err("WORKSPACE_NOT_FOUND");
    app.get(&vic, &format!("{WS}/projects")).await.err("WORKSPACE_NOT_FOUND");
}
