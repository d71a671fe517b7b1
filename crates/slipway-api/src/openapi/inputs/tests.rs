//! The document against the server: every rule found its place, the figures
//! are the constants the handlers use, and each pattern accepts exactly what
//! the parser behind it accepts.

use axum::http::HeaderValue;
use proptest::prelude::*;
use serde_json::{json, Value};
use slipway_core::hostname::{CustomDomain, Hostname, PublicUrls};
use slipway_core::names::{Branch, ConfigVarName, Email, Username, WorkspaceSlug};
use slipway_core::role::Role;
use slipway_store::PageRequest;

use super::super::render;
use crate::routes::tokens::MAX_EXPIRES_IN;
use crate::routes::{config::parse_names, deployments::idempotency_key, printable_name};
use crate::ApiSettings;

fn config() -> ApiSettings {
    ApiSettings::new(Hostname::parse("apps.example.com").unwrap(), PublicUrls::default())
}

fn document() -> Value {
    let (_, openapi) = crate::routes::all().split_for_parts();
    let (text, unmatched) = render(openapi, &config());
    assert!(unmatched.is_empty(), "rules without a place in the document: {unmatched:?}");
    serde_json::from_str(&text).unwrap()
}

/// A validator for `schema`, whose references point into `document`.
fn validator(document: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.as_object().unwrap().clone();
    root.insert("components".into(), document["components"].clone());
    jsonschema::draft202012::new(&Value::Object(root)).unwrap()
}

/// The schema of `property` of component `schema`.
fn property(document: &Value, schema: &str, property: &str) -> Value {
    document["components"]["schemas"][schema]["properties"][property].clone()
}

/// The schema of parameter `name` in operation `method path`.
fn parameter(document: &Value, method: &str, path: &str, name: &str) -> Value {
    let parameters = document["paths"][path][method]["parameters"].as_array().unwrap();
    parameters.iter().find(|p| p["name"] == name).unwrap()["schema"].clone()
}

fn component(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

#[test]
fn the_document_states_the_figures_the_handlers_check() {
    let document = document();
    let schemas = &document["components"]["schemas"];
    let projects = "/v1/workspaces/{ws}/projects";
    let limit = parameter(&document, "get", projects, "limit");
    assert_eq!((limit["minimum"].as_u64(), limit["maximum"].as_u64()), (Some(1), Some(PageRequest::MAX_LIMIT.into())));
    assert_eq!(parameter(&document, "get", projects, "ws"), component("WorkspaceSlug"));
    let slug = &schemas["WorkspaceSlug"];
    assert_eq!(slug["pattern"], slipway_core::names::LABEL_PATTERN);
    assert_eq!(slug["maxLength"], slipway_core::names::MAX_LABEL_LEN);
    assert_eq!(schemas["DeploymentNumber"]["minimum"], 1);
    let deployment = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments/{number}";
    assert_eq!(parameter(&document, "get", deployment, "number"), component("DeploymentNumber"));
    let expires_in = property(&document, "CreateTokenRequest", "expires_in");
    assert_eq!((expires_in["minimum"].as_u64(), expires_in["maximum"].as_u64()), (Some(1), Some(MAX_EXPIRES_IN)));
    let timeout = property(&document, "UpdateProjectRequest", "build_timeout");
    assert_eq!((timeout["minimum"].as_u64(), timeout["maximum"].as_u64()), (Some(60), Some(7200)));
    let release = property(&document, "RollbackRequest", "release");
    assert_eq!(release["minimum"], 1);
    let logs = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/logs";
    assert_eq!(parameter(&document, "get", logs, "lines")["maximum"], crate::routes::logs::MAX_LINES);
    let roles: Vec<&str> = Role::ALL.iter().map(|role| role.as_str()).collect();
    assert_eq!(schemas["Role"]["enum"], json!(roles));
    assert_eq!(property(&document, "AddMemberRequest", "role"), component("Role"));
    assert_eq!(schemas["Username"]["pattern"], Username::PATTERN);
    assert_eq!(schemas["Email"]["pattern"], Email::PATTERN);
    assert_eq!(schemas["ConfigVarName"]["pattern"], ConfigVarName::PATTERN);
    assert_eq!(schemas["RuntimeTarget"]["enum"], json!(["local", "kubernetes"]));
    let max_processes = property(&document, "ResourcesPatch", "max_processes");
    assert_eq!(max_processes["maximum"], config().resources.max.max_processes);

    // Sign-up needs no token when it is open; deploying needs no body.
    assert_eq!(document["paths"]["/v1/users"]["post"]["security"], json!([{}, {"bearer": []}]));
    let deploy = &document["paths"]["/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments"]["post"];
    assert_ne!(deploy["requestBody"]["required"], true);
}

/// No input is a bare string or number: each says what it may be. The login
/// fields are the exception: any string gets the same `INVALID_CREDENTIALS`.
#[test]
fn every_input_says_what_it_may_be() {
    let document = document();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let mut bare = Vec::new();
    let mut check = |what: String, schema: &Value| {
        let kinds: Vec<&str> = match &schema["type"] {
            Value::String(kind) => vec![kind.as_str()],
            Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let says = ["pattern", "enum", "minLength", "minimum", "minProperties", "$ref", "oneOf"]
            .iter()
            .any(|key| schema.get(key).is_some());
        if kinds.iter().any(|kind| ["string", "integer", "number"].contains(kind)) && !says {
            bare.push(what);
        }
    };
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                check(format!("{method} {path} {}", parameter["name"]), &parameter["schema"]);
            }
            let body = &operation["requestBody"]["content"]["application/json"]["schema"]["$ref"];
            let Some(name) = body.as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) else {
                continue;
            };
            for (field, schema) in schemas[name]["properties"].as_object().into_iter().flatten() {
                check(format!("{name}.{field}"), schema);
            }
        }
    }
    bare.sort();
    bare.dedup();
    assert_eq!(bare, ["LoginRequest.password", "LoginRequest.username"]);
}

/// `body.rs` refuses a list anywhere in a request body: no request may document one.
#[test]
fn no_request_body_holds_a_list() {
    let document = document();
    fn lists(document: &Value, schema: &Value, seen: &mut Vec<String>) -> bool {
        match schema {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                    if seen.iter().any(|r| r == reference) {
                        return false;
                    }
                    seen.push(reference.to_owned());
                    let target = document.pointer(reference.trim_start_matches('#')).unwrap();
                    return lists(document, target, seen);
                }
                let is_array = |kind: &Value| kind == "array";
                map.get("type")
                    .is_some_and(|kind| is_array(kind) || kind.as_array().is_some_and(|k| k.iter().any(is_array)))
                    || map.values().any(|child| lists(document, child, seen))
            }
            Value::Array(items) => items.iter().any(|child| lists(document, child, seen)),
            _ => false,
        }
    }
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let body = &operation["requestBody"];
            assert!(!lists(&document, body, &mut Vec::new()), "{method} {path} takes a list");
        }
    }
}

/// What the schema at `schema` accepts, against `accepts`, for every value.
fn agree(name: &str, document: &Value, schema: &Value, values: &[String], accepts: impl Fn(&str) -> bool) {
    let validator = validator(document, schema);
    for value in values {
        assert_eq!(validator.is_valid(&json!(value)), accepts(value), "{name}: {value:?}");
    }
}

/// Hand-picked edge cases, shared by every rule.
fn edge_cases() -> Vec<String> {
    let long = |n: usize, c: &str| c.repeat(n);
    let mut cases: Vec<String> = [
        "",
        "a",
        "A",
        "0",
        "-",
        "_",
        ".",
        "@",
        "a-",
        "-a",
        "a_b",
        "a.b",
        "a..b",
        "a b",
        " a",
        "a ",
        "\ta\n",
        "é",
        "\u{85}x",
        "x\u{85}",
        "\u{3000}x\u{2028}",
        "a\u{0}b",
        "a\nb",
        "main",
        "feature/x-1",
        "x.lock",
        "a/.b",
        "a@{b",
        "a//b",
        "/x",
        "x/",
        "x.",
        "a~1",
        "PORT",
        "PORTS",
        "SLIPWAY_X",
        "_x1",
        "1X",
        "A=B",
        "A,B",
        ",A,,B,",
        ",",
        "A,PORT",
        "PORT,",
        "web",
        "web-1_x",
        "bob@example.com",
        "Bob@Example.COM",
        "b ob@example.com",
        "bob@localhost",
        "a@b@c.com",
        "<x>@example.com",
        "x@exa_mple.com",
        "shop.example.com",
        "shop.example.com.",
        "Shop.Example.Com",
        "x.apps.example.com",
        "apps.example.com",
        "Apps.Example.COM.",
        "foo.localhost",
        "a.LOCALHOST",
        "10.0.0.1",
        "a.b.1",
        "a.1b",
        "-x.com",
        "x-.com",
        "com",
        "key-1",
        "k\tey",
        "~!",
        " k",
        "k ",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    cases.extend([
        long(63, "a"),
        long(64, "a"),
        long(65, "u"),
        long(98, "n"),
        long(100, "n"),
        long(101, "n"),
        format!("  {}  ", long(100, "n")),
        long(200, "k"),
        long(201, "k"),
        long(255, "b"),
        long(256, "b"),
        long(255, "é"),
        long(256, "é"),
        long(255, "V"),
        long(256, "V"),
        format!("{}.com", long(63, "x")),
        format!("{}.com", long(64, "x")),
        format!("{}com", "abcdefghi.".repeat(25)),
        format!("{}com", "abcdefghi.".repeat(26)),
        format!("{}@example.com", long(64, "l")),
        format!("{}@example.com", long(65, "l")),
        vec!["N"; 100].join(","),
        vec!["N"; 101].join(","),
    ]);
    cases
}

fn check_all(values: &[String]) {
    let document = document();
    let domain = config().platform_domain;
    let label = component("WorkspaceSlug");
    agree("slug", &document, &label, values, |v| WorkspaceSlug::parse(v).is_ok());
    agree("username", &document, &component("Username"), values, |v| Username::parse(v).is_ok());
    agree("email", &document, &component("Email"), values, |v| Email::parse(v).is_ok());
    agree("config var", &document, &component("ConfigVarName"), values, |v| ConfigVarName::parse(v).is_ok());
    let branch = property(&document, "CreateProjectRequest", "branch");
    agree("branch", &document, &branch, values, |v| Branch::parse(v).is_ok());
    let domain_rule = property(&document, "AddDomainRequest", "hostname");
    agree("custom domain", &document, &domain_rule, values, |v| CustomDomain::parse(v, &domain).is_ok());
    let name = property(&document, "CreateTokenRequest", "name");
    agree("display name", &document, &name, values, |v| printable_name(v).is_ok());
    let names = parameter(&document, "delete", CONFIG, "names");
    agree("config var names", &document, &names, values, |v| parse_names(v).is_ok());
    let key = parameter(&document, "post", DEPLOYMENTS, "Idempotency-Key");
    // Only what HTTP can carry; it strips spaces around a value before the server sees it.
    let sendable: Vec<String> = values
        .iter()
        .filter(|v| HeaderValue::from_str(v).is_ok() && v.trim_matches([' ', '\t']) == v.as_str())
        .cloned()
        .collect();
    agree("idempotency key", &document, &key, &sendable, |v| {
        HeaderValue::from_str(v).is_ok_and(|v| idempotency_key(&v).is_ok())
    });
    let types = &document["components"]["schemas"]["ScaleRequest"]["properties"]["processes"]["propertyNames"];
    agree("process type", &document, types, values, |v| slipway_core::process_type::ProcessType::parse(v).is_ok());
}

const CONFIG: &str = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/config";
const DEPLOYMENTS: &str = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments";

#[test]
fn patterns_accept_what_the_parsers_accept() {
    check_all(&edge_cases());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn patterns_agree_with_the_parsers_on_any_text(values in proptest::collection::vec(
        prop_oneof![
            "\\PC{0,12}",
            "[a-zA-Z0-9._@/,~ -]{0,24}",
            "[a-z0-9-]{1,8}(\\.[a-z0-9-]{1,8}){0,3}\\.?",
            "[ \\t\\u{85}\\u{3000}]{0,2}[\\x00-\\x7f\\u{80}-\\u{a0}é]{0,6}[ \\t\\u{85}]{0,2}",
        ],
        32,
    )) {
        check_all(&values);
    }
}

/// Memory and CPU figures: the patterns state the syntax; the range (a
/// setting) is checked beyond it. Every figure the parser takes matches.
#[test]
fn figures_the_parsers_take_match_their_patterns() {
    use slipway_core::resources::{Cpu, Memory};
    let document = document();
    let memory = validator(&document, &property(&document, "SetQuotaRequest", "memory"));
    let cpu = validator(&document, &property(&document, "ResourcesPatch", "cpu"));
    for text in ["512M", "1G", "1.5G", " 2 gib ", "20480K", "17000000", ".5g", "1tb", "64Mi"] {
        assert!(Memory::parse(text).is_ok(), "{text}");
        assert!(memory.is_valid(&json!(text)), "{text}");
    }
    for text in ["lots", "-1G", "1.2.3G", "1G1", "5 X", "1.1234567G", ""] {
        assert!(Memory::parse(text).is_err() && !memory.is_valid(&json!(text)), "{text}");
    }
    for text in ["0.5", "2", "500m", "+500m", " 1.25 ", ".1"] {
        assert!(Cpu::parse(text).is_ok(), "{text}");
        assert!(cpu.is_valid(&json!(text)), "{text}");
    }
    for text in ["half", "-1", "1.2.3", "5 m", "", "0.1234567"] {
        assert!(Cpu::parse(text).is_err() && !cpu.is_valid(&json!(text)), "{text}");
    }
}
