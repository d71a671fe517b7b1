//! What each input must be, written into the document from the types and
//! constants its handler checks it with: a parameter name means one rule in
//! every operation ([`parameter`]), and each request body field names its rule
//! in [`constrain`]. The derive cannot say these (it reads request fields as
//! plain strings, which they are so that a bad value gets its precise error
//! code), and a hand-written copy would drift. The tests hold the document's
//! patterns against the parsers themselves.
//!
//! Patterns are written for both regular expression dialects that read them:
//! ECMA-262 (JSON Schema) and Python's (schemathesis): explicit character
//! classes, no `\d`, `\w` or Unicode properties.

use serde_json::{json, Map, Value};
use slipway_core::build_timeout::BuildTimeout;
use slipway_core::hostname::{Hostname, MAX_HOSTNAME_LEN};
use slipway_core::names::{
    Branch, ConfigVarName, Email, Password, Username, LABEL_PATTERN, MAX_CONFIG_VAR_VALUE_LEN, MAX_LABEL_LEN,
};
use slipway_core::quota::MIN_PROCESSES;
use slipway_core::root_dir::RootDir;
use slipway_store::{PageRequest, MAX_SCALE};

use crate::extract::DEFAULT_LIMIT;
use crate::routes::config::MAX_VARS_PER_CALL;
use crate::routes::deployments::MAX_IDEMPOTENCY_KEY_LEN;
use crate::routes::logs::{DEFAULT_LINES, MAX_LINES};
use crate::routes::tokens::MAX_EXPIRES_IN;
use crate::routes::NAME_MAX_CHARS;
use crate::ApiSettings;
use slipway_core::process_type::ProcessType;

/// What Rust's `str::trim` removes (Unicode `White_Space`), as a class body.
const WHITESPACE: &str = "\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
/// What `char::is_control` is (Unicode `Cc`), as a class body.
const CONTROL: &str = "\\x00-\\x1f\\x7f-\\x9f";

/// Writes every rule into `document`; answers the rules that found no place
/// (a renamed field or schema), which the tests refuse.
pub(super) fn constrain(document: &mut Value, config: &ApiSettings) -> Vec<String> {
    let mut unmatched = Vec::new();
    let mut shared = |name: &str, facts: Value| merge(document, &format!("/components/schemas/{name}"), facts);
    // Named types, shared with responses (which only ever hold valid ones).
    let label = json!({"minLength": 1, "maxLength": MAX_LABEL_LEN, "pattern": LABEL_PATTERN});
    for (name, facts) in [
        ("WorkspaceSlug", label.clone()),
        ("ProjectSlug", label.clone()),
        ("EnvironmentName", label),
        ("Username", json!({"minLength": 1, "maxLength": Username::MAX_LEN, "pattern": Username::PATTERN})),
        ("Email", json!({"maxLength": Email::MAX_LEN, "pattern": Email::PATTERN})),
        ("ConfigVarName", json!({"maxLength": ConfigVarName::MAX_LEN, "pattern": ConfigVarName::PATTERN})),
        ("DeploymentNumber", json!({"minimum": 1, "maximum": u64::MAX, "format": null})),
    ] {
        if !shared(name, facts) {
            unmatched.push(format!("schema {name}"));
        }
    }

    let body_rules = [
        ("CreateUserRequest", "username", reference("Username")),
        ("CreateUserRequest", "password", password()),
        ("CreateUserRequest", "email", nullable(reference("Email"))),
        ("CreateTokenRequest", "name", display_name()),
        ("CreateTokenRequest", "expires_in", nullable(integer(1, MAX_EXPIRES_IN))),
        ("CreateWorkspaceRequest", "slug", reference("WorkspaceSlug")),
        ("CreateWorkspaceRequest", "name", nullable(display_name())),
        ("AddMemberRequest", "username", reference("Username")),
        ("AddMemberRequest", "role", reference("Role")),
        ("UpdateMemberRequest", "role", reference("Role")),
        ("CreateProjectRequest", "slug", reference("ProjectSlug")),
        ("CreateProjectRequest", "branch", nullable(branch())),
        ("CreateProjectRequest", "repo_url", nullable(repo_url())),
        ("CreateProjectRequest", "custom_domain", nullable(custom_domain(&config.platform_domain))),
        ("UpdateProjectRequest", "branch", nullable(branch())),
        ("UpdateProjectRequest", "repo_url", nullable(repo_url())),
        ("UpdateProjectRequest", "custom_domain", nullable(custom_domain(&config.platform_domain))),
        ("UpdateProjectRequest", "build_timeout", nullable(integer(BuildTimeout::MIN_SECS, BuildTimeout::MAX_SECS))),
        ("UpdateProjectRequest", "root_dir", nullable(root_dir())),
        ("CreateEnvironmentRequest", "name", reference("EnvironmentName")),
        ("UpdateEnvironmentRequest", "target", nullable(reference("RuntimeTarget"))),
        ("ResourcesPatch", "memory", nullable(memory())),
        ("ResourcesPatch", "cpu", nullable(cpu())),
        (
            "ResourcesPatch",
            "max_processes",
            nullable(integer(u64::from(MIN_PROCESSES), u64::from(config.resources.max.max_processes))),
        ),
        ("AddDomainRequest", "hostname", custom_domain(&config.platform_domain)),
        ("SetConfigRequest", "vars", config_vars()),
        ("ScaleRequest", "processes", scale()),
        ("RollbackRequest", "release", nullable(integer(1, u64::MAX))),
        ("SetQuotaRequest", "memory", nullable(memory())),
        ("SetQuotaRequest", "instances", nullable(integer(0, u64::from(u32::MAX)))),
        ("SetQuotaRequest", "projects", nullable(integer(0, u64::from(u32::MAX)))),
        ("CreateDeploymentRequest", "commit", nullable(reference("CommitSha"))),
    ];
    for (schema, property, rule) in body_rules {
        if !replace(document, &format!("/components/schemas/{schema}/properties/{property}"), rule) {
            unmatched.push(format!("{schema}.{property}"));
        }
    }
    // PATCH an environment: a target, or resources with at least one figure, else
    // "nothing to change".
    let something = json!({"anyOf": [
        {"required": ["target"], "properties": {"target": {"type": "string"}}},
        {"required": ["resources"], "properties": {"resources": {"type": "object", "minProperties": 1}}},
    ]});
    if !merge(document, "/components/schemas/UpdateEnvironmentRequest", something) {
        unmatched.push("UpdateEnvironmentRequest".into());
    }

    for parameter in parameters(document) {
        let name = parameter.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
        match self::parameter(&name) {
            Some(rule) => {
                parameter.insert("schema".into(), rule);
            }
            None => unmatched.push(format!("parameter {name}")),
        }
    }
    unmatched
}

/// The rule of a path, query or header parameter, by its name.
fn parameter(name: &str) -> Option<Value> {
    Some(match name {
        "ws" => reference("WorkspaceSlug"),
        "project" => reference("ProjectSlug"),
        "env" => reference("EnvironmentName"),
        "username" => reference("Username"),
        "id" => reference("TokenId"),
        "number" => reference("DeploymentNumber"),
        // Looked up as given (lower-cased): any name that is not the environment's is not found.
        "hostname" => json!({"type": "string", "minLength": 1}),
        "limit" => {
            json!({"type": "integer", "minimum": 1, "maximum": PageRequest::MAX_LIMIT, "default": DEFAULT_LIMIT})
        }
        // Opaque: base64url of what only this server writes.
        "cursor" => json!({"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}),
        "lines" => json!({"type": "integer", "minimum": 0, "maximum": MAX_LINES, "default": DEFAULT_LINES}),
        "follow" => json!({"type": "boolean", "default": false}),
        "names" => config_var_names(),
        "Idempotency-Key" => json!({"type": "string", "pattern": format!(
            "^[!-~]([ -~]{{0,{}}}[!-~])?$",
            MAX_IDEMPOTENCY_KEY_LEN - 2
        )}),
        _ => return None,
    })
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// `schema` or `null` (which the API reads as absent).
fn nullable(schema: Value) -> Value {
    match schema.get("type").and_then(Value::as_str) {
        Some(kind) => {
            let mut schema = schema.clone();
            schema["type"] = json!([kind, "null"]);
            schema
        }
        None => json!({"oneOf": [{"type": "null"}, schema]}),
    }
}

fn integer(minimum: u64, maximum: u64) -> Value {
    json!({"type": "integer", "minimum": minimum, "maximum": maximum})
}

fn password() -> Value {
    json!({"type": "string", "minLength": Password::MIN_LEN, "maxLength": Password::MAX_LEN})
}

/// `routes::printable_name`: 1 to 100 characters but control ones, once trimmed.
fn display_name() -> Value {
    let (space, control) = (WHITESPACE, CONTROL);
    json!({"type": "string", "pattern": format!(
        "^[{space}]*[^{space}{control}]([^{control}]{{0,{}}}[^{space}{control}])?[{space}]*$",
        NAME_MAX_CHARS - 2
    )})
}

fn branch() -> Value {
    json!({"type": "string", "maxLength": Branch::MAX_LEN, "pattern": Branch::PATTERN})
}

fn root_dir() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": RootDir::MAX_LEN, "pattern": RootDir::PATTERN})
}

/// Its grammar (URLs, scp-like and local paths) and the platform's policy on
/// hosts and addresses are more than a pattern can say: a refused one is
/// `INVALID_REPO_URL`.
fn repo_url() -> Value {
    json!({"type": "string", "minLength": 1, "description":
        "A git URL (`https://…`, `ssh://…`, `git://…`, `user@host:path`) or an absolute path the platform \
         allows; non-public addresses and local paths are refused unless the platform admin allows them \
         (`INVALID_REPO_URL`)."})
}

/// `CustomDomain::parse`: a hostname of two or more labels (a trailing dot
/// allowed), not numeric, not under `localhost` nor under the platform domain.
fn custom_domain(platform_domain: &Hostname) -> Value {
    let label = format!("[A-Za-z0-9]([A-Za-z0-9-]{{0,{}}}[A-Za-z0-9])?", MAX_LABEL_LEN - 2);
    let pattern = format!(
        "^(?=[\\s\\S]{{1,{MAX_HOSTNAME_LEN}}}\\.?$)(?![\\s\\S]*\\.[0-9]+\\.?$)(?![\\s\\S]*\\.{localhost}\\.?$)\
         (?!([\\s\\S]*\\.)?{platform}\\.?$){label}(\\.{label})+\\.?$",
        localhost = any_case("localhost"),
        platform = any_case(platform_domain.as_str()),
    );
    json!({"type": "string", "pattern": pattern})
}

/// `name` as a pattern matching it in any letter case (the dialects share no
/// case-insensitive flag).
fn any_case(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' => format!("[{}{c}]", c.to_ascii_uppercase()),
            '.' => "\\.".to_owned(),
            other => other.to_string(),
        })
        .collect()
}

/// `Memory::parse`'s syntax: a decimal (at most six places) and a binary
/// unit. Its range (16 MiB to the platform's maximum) is checked beyond it.
fn memory() -> Value {
    let space = WHITESPACE;
    json!({"type": "string", "pattern": format!(
        "^[{space}]*([0-9]+(\\.[0-9]{{0,6}})?|\\.[0-9]{{1,6}})[{space}]*([Bb]|[KkMmGgTt]([Bb]|[Ii][Bb]?)?)?[{space}]*$"
    )})
}

/// `Cpu::parse`'s syntax: cores as a decimal, or thousandths with `m`. Its
/// range (0.01 to the platform's maximum) is checked beyond it.
fn cpu() -> Value {
    let space = WHITESPACE;
    json!({"type": "string", "pattern": format!(
        "^[{space}]*(\\+?[0-9]+m|[0-9]+(\\.[0-9]{{0,6}})?|\\.[0-9]{{1,6}})[{space}]*$"
    )})
}

fn config_vars() -> Value {
    json!({
        "type": "object",
        "minProperties": 1,
        "maxProperties": MAX_VARS_PER_CALL,
        "propertyNames": reference("ConfigVarName"),
        "additionalProperties": {
            "type": "string",
            "maxLength": MAX_CONFIG_VAR_VALUE_LEN,
            "pattern": "^[^\\x00]*$",
            "description": "At most 32 KiB of UTF-8, without NUL.",
        },
    })
}

/// `DELETE …/config?names=`: 1 to 100 config var names, comma-separated.
fn config_var_names() -> Value {
    let name = format!("(?!PORT(,|$)|SLIPWAY_)[A-Za-z_][A-Za-z0-9_]{{0,{}}}", ConfigVarName::MAX_LEN - 1);
    json!({"type": "string", "pattern": format!("^,*{name}(,+{name}){{0,{}}},*$", MAX_VARS_PER_CALL - 1)})
}

fn scale() -> Value {
    json!({
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"type": "string", "minLength": 1, "maxLength": ProcessType::MAX_LEN, "pattern": LABEL_PATTERN},
        "additionalProperties": integer(0, u64::from(MAX_SCALE)),
    })
}

/// Every parameter object of every operation.
fn parameters(document: &mut Value) -> Vec<&mut Map<String, Value>> {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return Vec::new();
    };
    paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("parameters").and_then(Value::as_array_mut))
        .flatten()
        .filter_map(Value::as_object_mut)
        .collect()
}

/// Puts `rule` at `pointer`, keeping the description there; false if nothing is there.
fn replace(document: &mut Value, pointer: &str, mut rule: Value) -> bool {
    let Some(place) = document.pointer_mut(pointer) else {
        return false;
    };
    if let (Some(description), Some(rule)) = (place.get("description").cloned(), rule.as_object_mut()) {
        rule.entry("description").or_insert(description);
    }
    *place = rule;
    true
}

/// Adds `facts` to the object at `pointer` (a `null` fact removes the key); false if nothing is there.
fn merge(document: &mut Value, pointer: &str, facts: Value) -> bool {
    let (Some(place), Value::Object(facts)) = (document.pointer_mut(pointer).and_then(Value::as_object_mut), facts)
    else {
        return false;
    };
    for (key, value) in facts {
        if value.is_null() {
            place.remove(&key);
        } else {
            place.insert(key, value);
        }
    }
    true
}

#[cfg(test)]
mod tests;
