//! Scenario 7: config vars, secrets masked, all-or-nothing unset.

use serde_json::{json, Value};
use slipway_testkit::TestBackend;

use super::harness::{spawn_app, TestApp};

both_backends!(config_vars);

const CONFIG: &str = "/v1/workspaces/acme/projects/shop/environments/production/config";
const SECRET_VALUE: &str = "pa55w0rd-that-must-never-show";

/// `(name, value, secret)` of every var, sorted by name.
async fn vars(app: &TestApp, token: &str) -> Vec<(String, Value, bool)> {
    let reply = app.get(token, CONFIG).await;
    assert!(!reply.text.contains(SECRET_VALUE), "secret shown: {}", reply.text);
    let mut vars: Vec<(String, Value, bool)> = reply
        .ok(200)
        .as_array()
        .expect("vars")
        .iter()
        .map(|v| {
            (
                v["name"].as_str().expect("name").to_owned(),
                v["value"].clone(),
                v["secret"].as_bool().expect("secret flag"),
            )
        })
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

async fn config_vars(backend: TestBackend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    app.workspace(&alice, "acme").await;
    app.project(&alice, "acme", "shop").await;
    assert!(vars(&app, &alice).await.is_empty());

    let set =
        app.put(&alice, CONFIG, json!({"vars": {"A": "1", "DATABASE_URL": "postgres://db/x", "EMPTY": ""}})).await;
    assert_eq!(set.ok(200).as_array().map(Vec::len), Some(3));
    let secret = app.put(&alice, CONFIG, json!({"vars": {"API_KEY": SECRET_VALUE}, "secret": true})).await;
    assert!(!secret.text.contains(SECRET_VALUE), "PUT echoed the secret");
    let expected = vec![
        ("A".to_owned(), json!("1"), false),
        ("API_KEY".to_owned(), Value::Null, true),
        ("DATABASE_URL".to_owned(), json!("postgres://db/x"), false),
        ("EMPTY".to_owned(), json!(""), false),
    ];
    assert_eq!(vars(&app, &alice).await, expected);
    // The masked value is an explicit null, not a missing field.
    let raw = app.get(&alice, CONFIG).await;
    let api_key =
        raw.ok(200).as_array().expect("vars").iter().find(|v| v["name"] == "API_KEY").expect("API_KEY").clone();
    assert!(api_key.as_object().expect("object").contains_key("value"));
    assert!(api_key["updated_at"].is_string());

    // Replacing a value.
    app.put(&alice, CONFIG, json!({"vars": {"A": "2"}})).await.ok(200);
    assert_eq!(vars(&app, &alice).await[0], ("A".to_owned(), json!("2"), false));

    // Unset is all or nothing: one missing name removes none.
    app.delete(&alice, &format!("{CONFIG}?names=A,MISSING")).await.err("CONFIG_VAR_NOT_FOUND");
    let after_refused = vars(&app, &alice).await;
    assert_eq!(after_refused.len(), 4);
    assert_eq!(after_refused[0].0, "A");
    let unset = app.delete(&alice, &format!("{CONFIG}?names=A,EMPTY")).await;
    let left: Vec<&str> =
        unset.ok(200).as_array().expect("vars").iter().map(|v| v["name"].as_str().unwrap_or_default()).collect();
    assert_eq!(left, ["API_KEY", "DATABASE_URL"]);
    for query in ["", "?names=", "?names=,,", "?other=A"] {
        app.delete(&alice, &format!("{CONFIG}{query}")).await.err("INVALID_REQUEST");
    }

    // Refused names and values set nothing, even alongside good ones.
    for (vars_json, code) in [
        (json!({"PORT": "80"}), "RESERVED_CONFIG_VAR_NAME"),
        (json!({"SLIPWAY_TOKEN": "x"}), "RESERVED_CONFIG_VAR_NAME"),
        (json!({"GOOD": "1", "1BAD": "x"}), "INVALID_CONFIG_VAR_NAME"),
        (json!({"GOOD": "1", "A-B": "x"}), "INVALID_CONFIG_VAR_NAME"),
        (json!({"GOOD": "1", "": "x"}), "INVALID_CONFIG_VAR_NAME"),
        (json!({"GOOD": "1", "NUL": "a\u{0}b"}), "INVALID_CONFIG_VAR_VALUE"),
        (json!({"GOOD": "1", "BIG": "v".repeat(40_000)}), "INVALID_CONFIG_VAR_VALUE"),
        (json!({}), "INVALID_REQUEST"),
    ] {
        app.put(&alice, CONFIG, json!({ "vars": vars_json })).await.err(code);
    }
    app.delete(&alice, &format!("{CONFIG}?names=PORT")).await.err("RESERVED_CONFIG_VAR_NAME");
    app.delete(&alice, &format!("{CONFIG}?names=a-b")).await.err("INVALID_CONFIG_VAR_NAME");
    let too_many: serde_json::Map<String, Value> = (0..101).map(|i| (format!("V{i}"), json!("x"))).collect();
    app.put(&alice, CONFIG, json!({ "vars": too_many })).await.err("INVALID_REQUEST");
    let names: Vec<String> = vars(&app, &alice).await.into_iter().map(|v| v.0).collect();
    assert_eq!(names, ["API_KEY", "DATABASE_URL"]);

    // Missing project or environment.
    app.get(&alice, "/v1/workspaces/acme/projects/ghost/environments/production/config").await.err("PROJECT_NOT_FOUND");
    app.put(&alice, "/v1/workspaces/acme/projects/shop/environments/ghost/config", json!({"vars": {"A": "1"}}))
        .await
        .err("ENVIRONMENT_NOT_FOUND");

    // The audit log records the changes by name, never the secret's value.
    let audit = app.get(&alice, "/v1/workspaces/acme/audit?limit=200").await;
    audit.ok(200);
    assert!(!audit.text.contains(SECRET_VALUE), "the audit log shows a secret: {}", audit.text);
    assert!(audit.text.contains("API_KEY"), "{}", audit.text);
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(actions.iter().filter(|a| **a == "config.set").count(), 3);
    assert_eq!(actions.iter().filter(|a| **a == "config.unset").count(), 1);
}
