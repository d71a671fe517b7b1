//! Bodies of the wrong shape, on every route that reads one: a request body is a
//! JSON object and holds no list. serde's derives read a struct from an array by
//! position too, so `["admin", "<password>"]` would log in and `[null]` clear a
//! project's repository; the extractor refuses them all alike.

use reqwest::Method;
use serde_json::json;

use super::{case, json_body, Body, Case, Tokens};

/// Every route with a JSON body, and a body it would accept.
fn routes() -> Vec<(Method, String, serde_json::Value)> {
    let env = "/v1/workspaces/acme/projects/shop/environments/production";
    vec![
        (Method::POST, "/v1/auth/login".into(), json!({"username": "alice", "password": "password-alice"})),
        (Method::POST, "/v1/users".into(), json!({"username": "newuser", "password": "long-enough"})),
        (Method::POST, "/v1/tokens".into(), json!({"name": "t"})),
        (Method::POST, "/v1/workspaces".into(), json!({"slug": "fine"})),
        (Method::POST, "/v1/workspaces/acme/members".into(), json!({"username": "bob", "role": "viewer"})),
        (Method::PATCH, "/v1/workspaces/acme/members/vic".into(), json!({"role": "admin"})),
        (Method::PUT, "/v1/workspaces/acme/quotas".into(), json!({"projects": 5})),
        (Method::POST, "/v1/workspaces/acme/projects".into(), json!({"slug": "fine"})),
        (Method::PATCH, "/v1/workspaces/acme/projects/shop".into(), json!({"repo_url": null})),
        (Method::POST, "/v1/workspaces/acme/projects/shop/environments".into(), json!({"name": "staging"})),
        (Method::PATCH, env.into(), json!({"target": "kubernetes"})),
        (Method::PUT, format!("{env}/config"), json!({"vars": {"A": "2"}})),
        (Method::PUT, format!("{env}/scale"), json!({"processes": {"web": 2}})),
        (Method::POST, format!("{env}/domains"), json!({"hostname": "shop.example.com"})),
        (Method::PATCH, format!("{env}/domains/shop-acme.localhost"), json!({"https_redirect": true})),
        (Method::POST, format!("{env}/rollback"), json!({})),
        (Method::POST, format!("{env}/deployments"), json!({})),
    ]
}

pub(super) fn cases(tokens: &Tokens) -> Vec<Case> {
    let alice = tokens.alice.as_str();
    let mut cases = Vec::new();
    for (method, path, accepted) in routes() {
        let positional: Vec<&serde_json::Value> = accepted.as_object().expect("an object").values().collect();
        let label = format!("{method} {path}");
        cases.push(case(
            format!("{label}: its fields as an array"),
            method.clone(),
            &path,
            alice,
            Body::Json(json!(positional)),
            "INVALID_JSON",
        ));
        for (what, text) in [("an empty array", "[]"), ("a string", r#""x""#), ("a number", "42"), ("true", "true")] {
            cases.push(case(format!("{label}: {what}"), method.clone(), &path, alice, json_body(text), "INVALID_JSON"));
        }
        // `null` is no body where a body is optional; elsewhere it is not an object.
        if !path.ends_with("/deployments") {
            cases.push(case(format!("{label}: null"), method.clone(), &path, alice, json_body("null"), "INVALID_JSON"));
        }
    }
    // What the fuzzer found, as it sent it, and lists one level down.
    for (what, method, path, body) in [
        ("login by position", Method::POST, "/v1/auth/login", json!(["alice", "password-alice"])),
        ("repo_url cleared by position", Method::PATCH, "/v1/workspaces/acme/projects/shop", json!([null])),
        (
            "resources by position",
            Method::PATCH,
            "/v1/workspaces/acme/projects/shop/environments/production",
            json!({"resources": ["1G", "1", 64]}),
        ),
        (
            "vars as a list of pairs",
            Method::PUT,
            "/v1/workspaces/acme/projects/shop/environments/production/config",
            json!({"vars": [["A", "1"]]}),
        ),
    ] {
        cases.push(case(what, method, path, alice, Body::Json(body), "INVALID_JSON"));
    }
    // A body that is there must be JSON, also where it is optional.
    let deployments = "/v1/workspaces/acme/projects/shop/environments/production/deployments";
    for content_type in [None, Some("text/plain")] {
        cases.push(case(
            format!("deployment body labelled {content_type:?}"),
            Method::POST,
            deployments,
            alice,
            Body::Raw(content_type, br#"{"commit": null}"#.to_vec()),
            "UNSUPPORTED_MEDIA_TYPE",
        ));
    }
    cases
}
