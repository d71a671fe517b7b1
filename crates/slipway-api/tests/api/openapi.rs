//! Scenario 11: the OpenAPI document is valid OpenAPI 3.1 (checked against
//! the official schema, vendored in `tests/fixtures/`), documents every
//! route these tests use, and gives each operation the error envelope.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use slipway_core::ids::WorkspaceId;
use slipway_core::names::{EnvironmentName, ProjectSlug};
use slipway_core::ErrorCode;
use slipway_store::Actor;
use slipway_testkit::TestBackend;

use super::harness::{spawn_app, Reply, TestApp, ANON};

both_backends!(openapi_document, responses_match_the_document);

/// The official OAS 3.1 schema (2022-10-07); see `tests/fixtures/README.md`.
const OAS_31_SCHEMA: &str = include_str!("../fixtures/openapi-3.1-schema.json");

/// Every operation the other scenarios call.
const USED: &[(&str, &str)] = &[
    ("post", "/v1/auth/login"),
    ("post", "/v1/auth/logout"),
    ("get", "/v1/me"),
    ("get", "/v1/tokens"),
    ("post", "/v1/tokens"),
    ("delete", "/v1/tokens/{id}"),
    ("post", "/v1/users"),
    ("get", "/v1/workspaces"),
    ("post", "/v1/workspaces"),
    ("get", "/v1/workspaces/{ws}"),
    ("delete", "/v1/workspaces/{ws}"),
    ("get", "/v1/workspaces/{ws}/members"),
    ("post", "/v1/workspaces/{ws}/members"),
    ("patch", "/v1/workspaces/{ws}/members/{username}"),
    ("delete", "/v1/workspaces/{ws}/members/{username}"),
    ("get", "/v1/workspaces/{ws}/projects"),
    ("post", "/v1/workspaces/{ws}/projects"),
    ("get", "/v1/workspaces/{ws}/projects/{project}"),
    ("patch", "/v1/workspaces/{ws}/projects/{project}"),
    ("delete", "/v1/workspaces/{ws}/projects/{project}"),
    ("get", "/v1/workspaces/{ws}/projects/{project}/environments"),
    ("post", "/v1/workspaces/{ws}/projects/{project}/environments"),
    ("delete", "/v1/workspaces/{ws}/projects/{project}/environments/{env}"),
    ("patch", "/v1/workspaces/{ws}/projects/{project}/environments/{env}"),
    ("get", "/v1/workspaces/{ws}/projects/{project}/environments/{env}"),
    ("get", "/v1/workspaces/{ws}/quotas"),
    ("put", "/v1/workspaces/{ws}/quotas"),
    ("get", "/v1/workspaces/{ws}/projects/{project}/environments/{env}/manifests"),
    ("get", "/v1/workspaces/{ws}/projects/{project}/environments/{env}/config"),
    ("put", "/v1/workspaces/{ws}/projects/{project}/environments/{env}/config"),
    ("delete", "/v1/workspaces/{ws}/projects/{project}/environments/{env}/config"),
    ("get", "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments"),
    ("get", "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments/{number}"),
    ("post", "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments"),
    ("get", "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments/{number}/logs"),
    ("get", "/v1/workspaces/{ws}/projects/{project}/environments/{env}/releases"),
    ("post", "/v1/workspaces/{ws}/projects/{project}/environments/{env}/rollback"),
    ("get", "/v1/workspaces/{ws}/projects/{project}/environments/{env}/logs"),
    ("get", "/v1/workspaces/{ws}/audit"),
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Problems the official schema reports for `document`.
fn schema_errors(validator: &jsonschema::Validator, document: &Value) -> Vec<String> {
    validator.iter_errors(document).map(|err| format!("{} at {}", err, err.instance_path)).collect()
}

fn oas_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(OAS_31_SCHEMA).expect("the vendored schema is JSON");
    assert_eq!(
        schema["$id"], "https://spec.openapis.org/oas/3.1/schema/2022-10-07",
        "the vendored file is not the 2022-10-07 OAS 3.1 schema"
    );
    // The `$schema` meta-schema (draft 2020-12) is bundled in the crate, so
    // this resolves without network; the crate is built without
    // `resolve-http` and would fail here if it needed to fetch.
    jsonschema::draft202012::new(&schema).expect("the OAS 3.1 schema compiles")
}

/// Follows a local `$ref` such as `#/components/schemas/Page_Project`.
fn resolve<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    document.pointer(reference.strip_prefix('#')?)
}

/// Every `$ref` anywhere below `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    if let Some(r) = child.as_str() {
                        out.push(r.to_owned());
                    }
                }
                refs(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|child| refs(child, out)),
        _ => {}
    }
}

async fn openapi_document(backend: TestBackend) {
    let app = spawn_app(backend).await;
    let reply = app.get(ANON, "/v1/openapi.json").await;
    let document = reply.ok(200).clone();
    assert_eq!(reply.headers.get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
    let version = document["openapi"].as_str().expect("`openapi` is a string");
    assert!(version.starts_with("3.1"), "openapi is {version}");

    // 1. The official schema accepts it.
    let validator = oas_validator();
    let errors = schema_errors(&validator, &document);
    assert!(errors.is_empty(), "not valid OpenAPI 3.1:\n{}", errors.join("\n"));

    // The validator is not vacuous: documents that break the schema's
    // rules, including the `$dynamicRef: #meta` one that governs Schema
    // Objects, are refused.
    let mut broken = Vec::new();
    let mut no_info = document.clone();
    no_info.as_object_mut().expect("object").remove("info");
    broken.push(("no info", no_info));
    let mut bad_version = document.clone();
    bad_version["openapi"] = json!("3.0.3");
    broken.push(("3.0 version", bad_version));
    let mut bad_schema = document.clone();
    bad_schema["components"]["schemas"]["Broken"] = json!(42);
    broken.push(("schema that is a number", bad_schema));
    let mut bad_response = document.clone();
    bad_response["paths"]["/v1/me"]["get"]["responses"]["200"] = json!({"content": {}});
    broken.push(("response without description", bad_response));
    let mut bad_param = document.clone();
    bad_param["paths"]["/v1/workspaces/{ws}"]["get"]["parameters"][0]["in"] = json!("body");
    broken.push(("parameter in body", bad_param));
    let mut extra = document.clone();
    extra["paths"]["/v1/me"]["get"]["unknownKeyword"] = json!(true);
    broken.push(("unknown operation field", extra));
    for (what, doc) in &broken {
        assert!(!schema_errors(&validator, doc).is_empty(), "the OAS schema accepted a document with {what}");
    }

    // 2. Structural rules the JSON schema cannot express.
    let paths = document["paths"].as_object().expect("paths");
    let mut operation_ids = BTreeSet::new();
    let mut operations = 0;
    let error_envelope = "#/components/schemas/ErrorEnvelope";
    for (template, item) in paths {
        assert!(template.starts_with("/v1/"), "{template}");
        let placeholders: BTreeSet<&str> =
            template.split('/').filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        for method in METHODS {
            let Some(operation) = item.get(*method) else {
                continue;
            };
            operations += 1;
            let what = format!("{method} {template}");
            if let Some(id) = operation["operationId"].as_str() {
                assert!(operation_ids.insert(id.to_owned()), "{what}: operationId {id} repeats");
            }
            // Path parameters and placeholders match one to one.
            let params: Vec<&Value> =
                operation["parameters"].as_array().map(|p| p.iter().collect()).unwrap_or_default();
            let path_params: BTreeSet<&str> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| {
                    assert_eq!(p["required"], true, "{what}: path parameter not required");
                    p["name"].as_str().expect("parameter name")
                })
                .collect();
            assert_eq!(path_params, placeholders, "{what}: path parameters");
            // A success response and the error envelope for 4XX.
            let responses = operation["responses"].as_object().expect("responses");
            assert!(responses.keys().any(|k| k.starts_with('2')), "{what}: no success response");
            let four = responses.get("4XX").unwrap_or_else(|| panic!("{what}: no 4XX response"));
            let four = match four["$ref"].as_str() {
                Some(r) => resolve(&document, r).expect("4XX ref resolves"),
                None => four,
            };
            assert_eq!(
                four["content"]["application/json"]["schema"]["$ref"], error_envelope,
                "{what}: 4XX is not the ErrorEnvelope"
            );
            // A body goes with the methods that take one.
            if let Some(body) = operation.get("requestBody") {
                assert!(["post", "put", "patch"].contains(method), "{what}: body on a method without one");
                assert!(body["content"]["application/json"]["schema"].is_object(), "{what}: body is not JSON");
            }
        }
    }
    assert!(operations >= USED.len(), "only {operations} operations");

    // Every reference resolves.
    let mut all_refs = Vec::new();
    refs(&document, &mut all_refs);
    assert!(!all_refs.is_empty());
    for reference in &all_refs {
        assert!(reference.starts_with("#/") && resolve(&document, reference).is_some(), "dangling $ref {reference}");
    }

    // The envelope schema, the code catalogue and the security scheme.
    let envelope = &document["components"]["schemas"]["ErrorEnvelope"];
    assert_eq!(envelope["required"], json!(["error"]));
    // The codes clients match on, exactly as they are sent: the wire names
    // of the whole catalogue, nothing else.
    let codes_schema = &document["components"]["schemas"]["ErrorCode"];
    assert_eq!(codes_schema["type"], "string", "{codes_schema}");
    let documented: Vec<&str> =
        codes_schema["enum"].as_array().expect("ErrorCode lists its values").iter().filter_map(Value::as_str).collect();
    let catalogue: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    assert_eq!(documented, catalogue, "the documented error codes are not the wire codes");
    assert_eq!(
        document["components"]["schemas"]["ErrorBody"]["properties"]["code"]["$ref"],
        "#/components/schemas/ErrorCode"
    );
    assert_eq!(document["components"]["securitySchemes"]["bearer"], json!({"type": "http", "scheme": "bearer"}));
    assert_eq!(document["security"], json!([{"bearer": []}]));
    // Login is the one call that needs no token.
    let login_security = &document["paths"]["/v1/auth/login"]["post"]["security"];
    assert!(
        login_security.as_array().is_some_and(|s| s.iter().any(|r| r == &json!({}))),
        "login does not allow anonymous callers: {login_security}"
    );

    // 3. Every route the tests call is documented.
    for (method, template) in USED {
        assert!(document["paths"][template][method].is_object(), "{method} {template} is not in the document");
    }
}

/// What the document's schema for that operation and status (or its `4XX`
/// for an error) finds wrong with `body`.
pub(super) fn mismatches(
    document: &Value,
    method: &str,
    template: &str,
    status: reqwest::StatusCode,
    body: &Value,
) -> Vec<String> {
    let responses = &document["paths"][template][method]["responses"];
    let code = status.as_u16().to_string();
    let documented = match responses.get(&code) {
        Some(response) => response,
        None if status.is_client_error() => &responses["4XX"],
        None => return vec![format!("status {code} is not documented")],
    };
    let Some(schema) = documented["content"]["application/json"]["schema"].as_object() else {
        return if body.is_null() { Vec::new() } else { vec!["a body where none is documented".into()] };
    };
    // The component schemas are JSON Schema 2020-12; refs point into the
    // document, so the document's components ride along in the root.
    let mut root = schema.clone();
    root.insert("components".into(), document["components"].clone());
    let validator = jsonschema::draft202012::new(&Value::Object(root))
        .unwrap_or_else(|err| panic!("{method} {template}: the documented schema does not compile: {err}"));
    validator.iter_errors(body).map(|err| format!("{err} at {}", err.instance_path)).collect()
}

fn check_against_document(document: &Value, method: &str, template: &str, reply: &Reply) {
    let errors = mismatches(document, method, template, reply.status, &reply.body);
    assert!(
        errors.is_empty(),
        "{method} {template} {}: the answer does not match the document:\n{}\n{}",
        reply.status,
        errors.join("\n"),
        reply.text
    );
}

/// Calls the API and checks the answer against the document.
struct Checked<'a> {
    app: &'a TestApp,
    document: Value,
    checked: usize,
}

impl Checked<'_> {
    async fn call(&mut self, token: &str, method: &str, template: &str, path: &str, body: Option<Value>) -> Reply {
        let verb = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
        let mut request = self.app.request(verb, path, token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = self.app.send(request).await;
        check_against_document(&self.document, method, template, &reply);
        self.checked += 1;
        reply
    }
}

async fn responses_match_the_document(backend: TestBackend) {
    let app = spawn_app(backend).await;
    let document = app.get(ANON, "/v1/openapi.json").await.ok(200).clone();
    let mut api = Checked { app: &app, document, checked: 0 };
    let ws = "/v1/workspaces/{ws}";
    let project = "/v1/workspaces/{ws}/projects/{project}";
    let envs = "/v1/workspaces/{ws}/projects/{project}/environments";
    let config = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/config";
    let deployments = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments";
    let deployment = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments/{number}";

    let login = api
        .call(
            ANON,
            "post",
            "/v1/auth/login",
            "/v1/auth/login",
            Some(json!({"username": "admin", "password": super::harness::ADMIN_PASSWORD})),
        )
        .await;
    let admin = login.ok(200)["token"].as_str().expect("token").to_owned();
    api.call(ANON, "post", "/v1/auth/login", "/v1/auth/login", Some(json!({"username": "x", "password": "y"})))
        .await
        .err("INVALID_CREDENTIALS");
    api.call(&admin, "get", "/v1/me", "/v1/me", None).await.ok(200);
    api.call(ANON, "get", "/v1/me", "/v1/me", None).await.err("AUTH_REQUIRED");
    api.call(
        &admin,
        "post",
        "/v1/users",
        "/v1/users",
        Some(json!({"username": "alice", "password": "password-alice", "email": "alice@example.com"})),
    )
    .await
    .ok(201);
    let created =
        api.call(&admin, "post", "/v1/tokens", "/v1/tokens", Some(json!({"name": "ci", "expires_in": 3600}))).await;
    let token_id = created.ok(201)["id"].as_str().expect("id").to_owned();
    api.call(&admin, "get", "/v1/tokens", "/v1/tokens?limit=1", None).await.ok(200);
    api.call(&admin, "delete", "/v1/tokens/{id}", &format!("/v1/tokens/{token_id}"), None).await.ok(204);
    api.call(&admin, "delete", "/v1/tokens/{id}", "/v1/tokens/nope", None).await.err("INVALID_ID");

    let workspace = api
        .call(&admin, "post", "/v1/workspaces", "/v1/workspaces", Some(json!({"slug": "acme", "name": "Acme"})))
        .await;
    let workspace_id = workspace.ok(201)["id"].as_str().expect("id").to_owned();
    api.call(&admin, "get", "/v1/workspaces", "/v1/workspaces", None).await.ok(200);
    api.call(&admin, "get", ws, "/v1/workspaces/acme", None).await.ok(200);
    api.call(
        &admin,
        "post",
        "/v1/workspaces/{ws}/members",
        "/v1/workspaces/acme/members",
        Some(json!({"username": "alice", "role": "viewer"})),
    )
    .await
    .ok(201);
    api.call(&admin, "get", "/v1/workspaces/{ws}/members", "/v1/workspaces/acme/members", None).await.ok(200);
    api.call(
        &admin,
        "patch",
        "/v1/workspaces/{ws}/members/{username}",
        "/v1/workspaces/acme/members/alice",
        Some(json!({"role": "developer"})),
    )
    .await
    .ok(200);
    api.call(
        &admin,
        "post",
        "/v1/workspaces/{ws}/projects",
        "/v1/workspaces/acme/projects",
        Some(json!({"slug": "shop", "repo_url": "https://example.com/shop.git", "custom_domain": "shop.example.com"})),
    )
    .await
    .ok(201);
    api.call(
        &admin,
        "post",
        "/v1/workspaces/{ws}/projects",
        "/v1/workspaces/acme/projects",
        Some(json!({"slug": "-x"})),
    )
    .await
    .err("INVALID_SLUG");
    api.call(&admin, "get", "/v1/workspaces/{ws}/projects", "/v1/workspaces/acme/projects?limit=1", None).await.ok(200);
    let shop = api.call(&admin, "get", project, "/v1/workspaces/acme/projects/shop", None).await;
    // The check has teeth: a project whose fields are off is refused.
    let mut wrong = shop.ok(200).clone();
    wrong["url"] = json!(5);
    assert!(!mismatches(&api.document, "get", project, shop.status, &wrong).is_empty());
    let mut wrong = shop.body.clone();
    wrong["environments"][0]["target"] = json!("mars");
    assert!(!mismatches(&api.document, "get", project, shop.status, &wrong).is_empty());
    let mut wrong = shop.body.clone();
    wrong.as_object_mut().expect("object").remove("slug");
    assert!(!mismatches(&api.document, "get", project, shop.status, &wrong).is_empty());
    let envelope = json!({"error": {"code": "InvalidJson", "message": "m", "request_id": "r"}});
    assert!(!mismatches(&api.document, "get", project, reqwest::StatusCode::BAD_REQUEST, &envelope).is_empty());
    api.call(&admin, "patch", project, "/v1/workspaces/acme/projects/shop", Some(json!({"repo_url": null})))
        .await
        .ok(200);
    api.call(&admin, "post", envs, "/v1/workspaces/acme/projects/shop/environments", Some(json!({"name": "staging"})))
        .await
        .ok(201);
    api.call(&admin, "get", envs, "/v1/workspaces/acme/projects/shop/environments", None).await.ok(200);
    let production = "/v1/workspaces/acme/projects/shop/environments/production";
    let env = "/v1/workspaces/{ws}/projects/{project}/environments/{env}";
    let staging = "/v1/workspaces/acme/projects/shop/environments/staging";
    let switched = api.call(&admin, "patch", env, staging, Some(json!({"target": "kubernetes"}))).await;
    assert_eq!(switched.ok(200)["target"], "kubernetes");
    api.call(&admin, "patch", env, staging, Some(json!({"target": "mars"}))).await.err("INVALID_TARGET");
    let resized =
        api.call(&admin, "patch", env, production, Some(json!({"resources": {"memory": "1G", "cpu": "0.5"}})));
    assert_eq!(resized.await.ok(200)["resources"]["memory"], 1u64 << 30);
    api.call(&admin, "patch", env, production, Some(json!({"resources": {"cpu": "lots"}})))
        .await
        .err("INVALID_RESOURCES");
    let shown = api.call(&admin, "get", env, production, None).await;
    assert_eq!(shown.ok(200)["resources"]["cpu"], 500);
    let quotas = "/v1/workspaces/{ws}/quotas";
    api.call(&admin, "get", quotas, "/v1/workspaces/acme/quotas", None).await.ok(200);
    let quota = json!({"memory": "8G", "instances": 20, "projects": 10});
    api.call(&admin, "put", quotas, "/v1/workspaces/acme/quotas", Some(quota)).await.ok(200);
    api.call(&admin, "put", quotas, "/v1/workspaces/acme/quotas", Some(json!({"instances": -2})))
        .await
        .err("INVALID_REQUEST");
    api.call(&admin, "get", &format!("{env}/manifests"), &format!("{staging}/manifests"), None)
        .await
        .err("RELEASE_NOT_FOUND");
    api.call(&admin, "put", config, &format!("{production}/config"), Some(json!({"vars": {"A": "1"}}))).await.ok(200);
    api.call(&admin, "put", config, &format!("{production}/config"), Some(json!({"vars": {"S": "x"}, "secret": true})))
        .await
        .ok(200);
    api.call(&admin, "get", config, &format!("{production}/config"), None).await.ok(200);
    api.call(&admin, "delete", config, &format!("{production}/config?names=A"), None).await.ok(200);
    api.call(&admin, "delete", config, &format!("{production}/config?names=A"), None).await.err("CONFIG_VAR_NOT_FOUND");
    api.call(&admin, "get", deployments, &format!("{production}/deployments"), None).await.ok(200);
    let workspace_id = WorkspaceId::parse(&workspace_id).expect("a workspace ID");
    app.store
        .create_deployment(
            &Actor::system("openapi-test"),
            &workspace_id,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::production(),
            None,
        )
        .await
        .expect("creating a deployment");
    api.call(&admin, "get", deployments, &format!("{production}/deployments"), None).await.ok(200);
    api.call(&admin, "get", deployment, &format!("{production}/deployments/1"), None).await.ok(200);
    api.call(&admin, "get", deployment, &format!("{production}/deployments/x"), None).await.err("INVALID_REQUEST");
    api.call(&admin, "get", "/v1/workspaces/{ws}/audit", "/v1/workspaces/acme/audit", None).await.ok(200);
    api.call(
        &admin,
        "delete",
        "/v1/workspaces/{ws}/projects/{project}/environments/{env}",
        &format!("{envs}/staging").replace("{ws}", "acme").replace("{project}", "shop"),
        None,
    )
    .await
    .ok(204);
    api.call(&admin, "delete", "/v1/workspaces/{ws}/members/{username}", "/v1/workspaces/acme/members/alice", None)
        .await
        .ok(204);
    api.call(&admin, "delete", project, "/v1/workspaces/acme/projects/shop", None).await.ok(204);
    api.call(&admin, "delete", ws, "/v1/workspaces/acme", None).await.ok(204);
    api.call(&admin, "get", ws, "/v1/workspaces/acme", None).await.err("WORKSPACE_NOT_FOUND");
    api.call(&admin, "post", "/v1/auth/logout", "/v1/auth/logout", None).await.ok(204);
    assert!(api.checked >= 38, "only {} answers checked", api.checked);
}
