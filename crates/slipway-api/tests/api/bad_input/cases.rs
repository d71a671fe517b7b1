//! The table of hostile inputs: what each sends and the code it must get.

use reqwest::Method;
use serde_json::json;

use super::{case, json_body, Body, Case, Tokens};
use crate::harness::ANON;

const CONFIG: &str = "/v1/workspaces/acme/projects/shop/environments/production/config";

/// Every case, against the workspaces, users and tokens of [`Tokens`].
pub(super) fn cases(tokens: &Tokens) -> Vec<Case> {
    let Tokens { admin, alice, vic, bob, revoked, revoked_personal, expired, personal_id } = tokens;
    let config = CONFIG;
    let mut cases: Vec<Case> = Vec::new();
    let ws = "/v1/workspaces";
    let projects = "/v1/workspaces/acme/projects";
    let envs = "/v1/workspaces/acme/projects/shop/environments";
    let members = "/v1/workspaces/acme/members";

    // Slugs and names that break the RFC 1123 label rules.
    let long_label = "a".repeat(64);
    for slug in
        ["-a", "a-", "A", "a_b", &long_label, "", "é", "ünïcödé", "../x", "a b", "a.b", "a\u{0}b", "a/b", "%2e%2e"]
    {
        cases.push(case(
            format!("workspace slug {slug:?}"),
            Method::POST,
            ws,
            alice,
            Body::Json(json!({"slug": slug})),
            "INVALID_SLUG",
        ));
        cases.push(case(
            format!("project slug {slug:?}"),
            Method::POST,
            projects,
            alice,
            Body::Json(json!({"slug": slug})),
            "INVALID_SLUG",
        ));
        cases.push(case(
            format!("environment name {slug:?}"),
            Method::POST,
            envs,
            alice,
            Body::Json(json!({"name": slug})),
            "INVALID_SLUG",
        ));
    }
    cases.push(case(
        "generated label over 63 characters",
        Method::POST,
        projects,
        alice,
        Body::Json(json!({"slug": "p".repeat(60)})),
        "HOSTNAME_TOO_LONG",
    ));
    // Display names.
    for name in ["", "   ", "tab\there", "nul\u{0}", &"n".repeat(101)] {
        cases.push(case(
            format!("workspace name {name:?}"),
            Method::POST,
            ws,
            alice,
            Body::Json(json!({"slug": "fine", "name": name})),
            "INVALID_REQUEST",
        ));
    }

    // Custom domains and hostnames.
    for domain in [
        "10.0.0.1",
        "127.0.0.1",
        "foo.localhost",
        "localhost",
        "shop-acme.localhost",
        "bad_domain.com",
        "com",
        "-x.com",
        "a..b.com",
        "exa mple.com",
        "",
        "http://example.com",
        "example.com/path",
        &format!("{}.com", "x".repeat(64)),
        &format!("{}com", "abcdefghi.".repeat(26)),
    ] {
        cases.push(case(
            format!("custom domain {domain:?} on create"),
            Method::POST,
            projects,
            alice,
            Body::Json(json!({"slug": "fine", "custom_domain": domain})),
            "INVALID_DOMAIN",
        ));
        cases.push(case(
            format!("custom domain {domain:?} on update"),
            Method::PATCH,
            format!("{projects}/shop"),
            alice,
            Body::Json(json!({"custom_domain": domain})),
            "INVALID_DOMAIN",
        ));
    }
    // A project's build timeout: whole seconds, 1 minute to 2 hours.
    for (what, timeout, code) in [
        ("too short", json!(59), "INVALID_REQUEST"),
        ("too long", json!(7201), "INVALID_REQUEST"),
        ("negative", json!(-900), "INVALID_REQUEST"),
        ("a duration string", json!("15m"), "INVALID_JSON"),
        ("fractional", json!(900.5), "INVALID_JSON"),
    ] {
        cases.push(case(
            format!("build timeout {what}"),
            Method::PATCH,
            format!("{projects}/shop"),
            alice,
            Body::Json(json!({"branch": "changed", "build_timeout": timeout})),
            code,
        ));
    }
    // The HTTPS redirect of a hostname: only the environment's own hostnames, only a boolean.
    let domains = format!("{envs}/production/domains");
    for (what, hostname, body, code) in [
        ("unknown hostname", "nope.example.com", json!({"https_redirect": true}), "DOMAIN_NOT_FOUND"),
        ("hostile hostname", "..%2F..%2Fetc", json!({"https_redirect": true}), "DOMAIN_NOT_FOUND"),
        ("string flag", "shop-acme.localhost", json!({"https_redirect": "yes"}), "INVALID_JSON"),
        ("null flag", "shop-acme.localhost", json!({"https_redirect": null}), "INVALID_JSON"),
        ("unknown field", "shop-acme.localhost", json!({"https_redirect": true, "hsts": true}), "INVALID_JSON"),
        ("missing flag", "shop-acme.localhost", json!({}), "INVALID_JSON"),
    ] {
        cases.push(case(
            format!("https redirect: {what}"),
            Method::PATCH,
            format!("{domains}/{hostname}"),
            alice,
            Body::Json(body),
            code,
        ));
    }
    // Process types to scale: the rule of Procfiles and manifests (a label of at most 50 characters).
    let long_process = "w".repeat(51);
    for process in ["", "Web", "my_worker", "-w", "w-", "w.1", "wéb", &long_process] {
        cases.push(case(
            format!("process type {process:?}"),
            Method::PUT,
            format!("{envs}/production/scale"),
            alice,
            Body::Json(json!({"processes": {process: 1}})),
            "INVALID_REQUEST",
        ));
    }
    // The runtime target of an environment: only `local` or `kubernetes`, only as a string, only that field.
    let production = format!("{envs}/production");
    for (what, body, code) in [
        ("unknown target", json!({"target": "cluster"}), "INVALID_TARGET"),
        ("empty target", json!({"target": ""}), "INVALID_TARGET"),
        ("upper-case target", json!({"target": "Kubernetes"}), "INVALID_TARGET"),
        ("target with NUL", json!({"target": "kubernetes\u{0}"}), "INVALID_TARGET"),
        ("target with spaces", json!({"target": " kubernetes "}), "INVALID_TARGET"),
        ("long target", json!({"target": "k".repeat(10_000)}), "INVALID_TARGET"),
        ("numeric target", json!({"target": 1}), "INVALID_JSON"),
        ("null target", json!({"target": null}), "INVALID_REQUEST"),
        ("list target", json!({"target": ["kubernetes"]}), "INVALID_JSON"),
        ("missing target", json!({}), "INVALID_REQUEST"),
        ("unknown field beside target", json!({"target": "kubernetes", "replicas": 3}), "INVALID_JSON"),
    ] {
        cases.push(case(format!("set target: {what}"), Method::PATCH, &production, alice, Body::Json(body), code));
    }
    // Resources of an environment's instances: figures as strings, within the platform's maxima.
    for (what, resources, code) in [
        ("memory lots", json!({"memory": "lots"}), "INVALID_RESOURCES"),
        ("negative memory", json!({"memory": "-1G"}), "INVALID_RESOURCES"),
        ("memory over the maximum", json!({"memory": "64G"}), "INVALID_RESOURCES"),
        ("memory overflowing u64", json!({"memory": "99999999999999999999G"}), "INVALID_RESOURCES"),
        ("memory with NUL", json!({"memory": "512M\u{0}"}), "INVALID_RESOURCES"),
        ("long memory", json!({"memory": "9".repeat(10_000)}), "INVALID_RESOURCES"),
        ("memory as a number", json!({"memory": 536870912}), "INVALID_JSON"),
        ("negative cpu", json!({"cpu": "-1"}), "INVALID_RESOURCES"),
        ("zero cpu", json!({"cpu": "0"}), "INVALID_RESOURCES"),
        ("cpu over the maximum", json!({"cpu": "64"}), "INVALID_RESOURCES"),
        ("cpu NaN", json!({"cpu": "NaN"}), "INVALID_RESOURCES"),
        ("cpu exponent", json!({"cpu": "1e3"}), "INVALID_RESOURCES"),
        ("processes over the maximum", json!({"max_processes": 1_000_000}), "INVALID_RESOURCES"),
        ("negative processes", json!({"max_processes": -5}), "INVALID_RESOURCES"),
        ("processes as a string", json!({"max_processes": "many"}), "INVALID_JSON"),
        ("unknown resource", json!({"disk": "10G"}), "INVALID_JSON"),
        ("empty resources", json!({}), "INVALID_REQUEST"),
    ] {
        let body = Body::Json(json!({ "resources": resources }));
        cases.push(case(format!("resize: {what}"), Method::PATCH, &production, alice, body, code));
    }
    cases.push(case(
        "resize by a viewer",
        Method::PATCH,
        &production,
        vic,
        Body::Json(json!({"resources": {"memory": "1G"}})),
        "FORBIDDEN",
    ));
    cases.push(case(
        "set target: truncated JSON",
        Method::PATCH,
        &production,
        alice,
        json_body("{\"target\": \"kubernetes\""),
        "INVALID_JSON",
    ));
    cases.push(case(
        "set target by a viewer",
        Method::PATCH,
        &production,
        vic,
        Body::Json(json!({"target": "kubernetes"})),
        "FORBIDDEN",
    ));
    cases.push(case(
        "set target of an unknown environment",
        Method::PATCH,
        format!("{envs}/nope"),
        alice,
        Body::Json(json!({"target": "kubernetes"})),
        "ENVIRONMENT_NOT_FOUND",
    ));
    cases.push(case(
        "set target of another tenant's environment",
        Method::PATCH,
        "/v1/workspaces/beta/projects/blog/environments/production",
        alice,
        Body::Json(json!({"target": "kubernetes"})),
        "WORKSPACE_NOT_FOUND",
    ));
    cases.push(case(
        "manifests of an environment without a release",
        Method::GET,
        format!("{production}/manifests"),
        alice,
        Body::None,
        "RELEASE_NOT_FOUND",
    ));
    cases.push(case(
        "manifests of another tenant's environment",
        Method::GET,
        "/v1/workspaces/beta/projects/blog/environments/production/manifests",
        alice,
        Body::None,
        "WORKSPACE_NOT_FOUND",
    ));
    cases.push(case(
        "https redirect by a viewer",
        Method::PATCH,
        format!("{domains}/shop-acme.localhost"),
        vic,
        Body::Json(json!({"https_redirect": true})),
        "FORBIDDEN",
    ));
    for (field, value, code) in [
        ("branch", "a..b", "INVALID_BRANCH"),
        ("branch", "", "INVALID_BRANCH"),
        ("branch", "-rf", "INVALID_BRANCH"),
        ("repo_url", "ftp://x/y", "INVALID_REPO_URL"),
        ("repo_url", "--upload-pack=evil", "INVALID_REPO_URL"),
        ("repo_url", "relative/path", "INVALID_REPO_URL"),
        // What the platform must not fetch from unless its admin allows it:
        // another tenant's repository in the data dir, internal services.
        ("repo_url", "/var/lib/slipway/repos/ws/p.git", "INVALID_REPO_URL"),
        ("repo_url", "file:///etc", "INVALID_REPO_URL"),
        ("repo_url", "file:///srv/ok/../../var/lib/slipway", "INVALID_REPO_URL"),
        ("repo_url", "ext::sh", "INVALID_REPO_URL"),
        ("repo_url", "fd::3", "INVALID_REPO_URL"),
        ("repo_url", "https://github.com/a/%2e%2e/b", "INVALID_REPO_URL"),
        ("repo_url", "http://127.0.0.1:8080/git/beta/blog.git", "INVALID_REPO_URL"),
        ("repo_url", "http://2130706433/x", "INVALID_REPO_URL"),
        ("repo_url", "http://0x7f.1/x", "INVALID_REPO_URL"),
        ("repo_url", "http://[::ffff:127.0.0.1]/x", "INVALID_REPO_URL"),
        ("repo_url", "http://169.254.169.254/latest/meta-data", "INVALID_REPO_URL"),
        ("repo_url", "https://github.com@10.0.0.1/x", "INVALID_REPO_URL"),
        ("repo_url", "git@192.168.1.1:x.git", "INVALID_REPO_URL"),
        ("repo_url", "ssh://git@[fd00::1]/x", "INVALID_REPO_URL"),
    ] {
        cases.push(case(
            format!("{field} {value:?}"),
            Method::PATCH,
            format!("{projects}/shop"),
            alice,
            Body::Json(json!({ field: value })),
            code,
        ));
        cases.push(case(
            format!("{field} {value:?} on create"),
            Method::POST,
            projects,
            alice,
            Body::Json(json!({"slug": "fine", field: value})),
            code,
        ));
    }

    // Users: bad emails, usernames, passwords.
    for email in [
        "bob",
        "bob@",
        "@example.com",
        "bob@localhost",
        "bob@exa_mple.com",
        "b ob@example.com",
        "a@b@c.com",
        "<script>@example.com",
        "",
    ] {
        cases.push(case(
            format!("email {email:?}"),
            Method::POST,
            "/v1/users",
            admin,
            Body::Json(json!({"username": "newuser", "password": "long-enough", "email": email})),
            "INVALID_EMAIL",
        ));
    }
    let long_username = "u".repeat(65);
    for username in ["Alice", "_x", "", &long_username, "a b", "a/b", "ünï"] {
        cases.push(case(
            format!("username {username:?}"),
            Method::POST,
            "/v1/users",
            admin,
            Body::Json(json!({"username": username, "password": "long-enough"})),
            "INVALID_USERNAME",
        ));
    }
    cases.push(case(
        "short password",
        Method::POST,
        "/v1/users",
        admin,
        Body::Json(json!({"username": "newuser", "password": "short"})),
        "INVALID_PASSWORD",
    ));
    cases.push(case(
        "existing user",
        Method::POST,
        "/v1/users",
        admin,
        Body::Json(json!({"username": "alice", "password": "long-enough"})),
        "USER_EXISTS",
    ));

    // Config var names and values.
    for name in ["1X", "A-B", "A B", "Ä", "", "A=B", &"V".repeat(256)] {
        cases.push(case(
            format!("config var name {name:?}"),
            Method::PUT,
            config,
            alice,
            Body::Json(json!({"vars": {"GOOD": "x", name: "1"}})),
            "INVALID_CONFIG_VAR_NAME",
        ));
    }
    for name in ["PORT", "SLIPWAY_TOKEN", "SLIPWAY_"] {
        cases.push(case(
            format!("reserved config var {name}"),
            Method::PUT,
            config,
            alice,
            Body::Json(json!({"vars": {name: "1"}})),
            "RESERVED_CONFIG_VAR_NAME",
        ));
    }
    cases.push(case(
        "config value with NUL",
        Method::PUT,
        config,
        alice,
        Body::Json(json!({"vars": {"A": "x\u{0}y"}})),
        "INVALID_CONFIG_VAR_VALUE",
    ));
    cases.push(case(
        "unset of a missing var",
        Method::DELETE,
        format!("{config}?names=A,MISSING"),
        alice,
        Body::None,
        "CONFIG_VAR_NOT_FOUND",
    ));
    cases.push(case(
        "unset of a bad name",
        Method::DELETE,
        format!("{config}?names=A,B-C"),
        alice,
        Body::None,
        "INVALID_CONFIG_VAR_NAME",
    ));

    // Roles.
    for role in ["root", "Owner", "", "superadmin", "owner "] {
        cases.push(case(
            format!("role {role:?} on add"),
            Method::POST,
            members,
            alice,
            Body::Json(json!({"username": "bob", "role": role})),
            "INVALID_ROLE",
        ));
        cases.push(case(
            format!("role {role:?} on change"),
            Method::PATCH,
            format!("{members}/vic"),
            alice,
            Body::Json(json!({"role": role})),
            "INVALID_ROLE",
        ));
    }

    // Bodies that are not the JSON asked for.
    for (what, text) in [
        ("truncated JSON", r#"{"slug":"#),
        ("empty body", ""),
        ("a number for a string", r#"{"slug": 5}"#),
        ("an array", "[]"),
        ("null", "null"),
        ("a bare string", r#""fine""#),
        ("missing field", "{}"),
        ("duplicate field", r#"{"slug": "one", "slug": "two"}"#),
        ("trailing garbage", r#"{"slug": "fine"} x"#),
        ("a lone surrogate", r#"{"slug": "\ud800"}"#),
        ("a huge number", r#"{"slug": "fine", "name": 1e999}"#),
    ] {
        cases.push(case(format!("workspace body: {what}"), Method::POST, ws, alice, json_body(text), "INVALID_JSON"));
    }
    let mut not_utf8 = br#"{"slug": "fine"#.to_vec();
    not_utf8.extend([0xff, 0xfe]);
    not_utf8.extend(br#""}"#);
    cases.push(case(
        "workspace body: invalid UTF-8 bytes",
        Method::POST,
        ws,
        alice,
        Body::Raw(Some("application/json"), not_utf8),
        "INVALID_JSON",
    ));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    cases.push(case("deeply nested JSON", Method::POST, ws, alice, json_body(&deep), "INVALID_JSON"));
    for (what, body) in [
        ("negative expires_in", json!({"name": "t", "expires_in": -1})),
        ("string expires_in", json!({"name": "t", "expires_in": "60"})),
        ("expires_in over u64", json!({"name": "t", "expires_in": 1e30})),
        ("name is an object", json!({"name": {"a": 1}})),
        ("vars is a list", json!({"vars": ["A"]})),
    ] {
        let path = if what.starts_with("vars") { config } else { "/v1/tokens" };
        let method = if what.starts_with("vars") { Method::PUT } else { Method::POST };
        cases.push(case(what, method, path, alice, Body::Json(body), "INVALID_JSON"));
    }
    cases.push(case(
        "config value is a number",
        Method::PUT,
        config,
        alice,
        Body::Json(json!({"vars": {"A": 5}})),
        "INVALID_JSON",
    ));
    for (what, body) in [
        ("expires_in 0", json!({"name": "t", "expires_in": 0})),
        ("expires_in over ten years", json!({"name": "t", "expires_in": 400_000_000})),
        ("empty token name", json!({"name": ""})),
    ] {
        cases.push(case(what, Method::POST, "/v1/tokens", alice, Body::Json(body), "INVALID_REQUEST"));
    }
    cases.push(case("no config vars", Method::PUT, config, alice, Body::Json(json!({"vars": {}})), "INVALID_REQUEST"));

    // Content types.
    let good_workspace = br#"{"slug": "sneaky"}"#.to_vec();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/xml"),
        Some("multipart/form-data; boundary=x"),
        Some("json"),
        None,
    ] {
        cases.push(case(
            format!("content type {content_type:?}"),
            Method::POST,
            ws,
            alice,
            Body::Raw(content_type, good_workspace.clone()),
            "UNSUPPORTED_MEDIA_TYPE",
        ));
    }
    cases.push(case(
        "login as text/plain",
        Method::POST,
        "/v1/auth/login",
        ANON,
        Body::Raw(Some("text/plain"), br#"{"username": "alice", "password": "password-alice"}"#.to_vec()),
        "UNSUPPORTED_MEDIA_TYPE",
    ));

    // Bodies over the 1 MiB limit.
    let big = format!(r#"{{"slug": "big", "name": "{}"}}"#, "n".repeat(1024 * 1024 + 1));
    cases.push(case("oversized workspace body", Method::POST, ws, alice, json_body(&big), "PAYLOAD_TOO_LARGE"));
    let big_vars = format!(r#"{{"vars": {{"A": "{}"}}}}"#, "v".repeat(2 * 1024 * 1024));
    cases.push(case("oversized config body", Method::PUT, config, alice, json_body(&big_vars), "PAYLOAD_TOO_LARGE"));
    let big_login = format!(r#"{{"username": "alice", "password": "{}"}}"#, "p".repeat(1024 * 1024 + 1));
    cases.push(case(
        "oversized login",
        Method::POST,
        "/v1/auth/login",
        ANON,
        json_body(&big_login),
        "PAYLOAD_TOO_LARGE",
    ));

    // Routes and methods.
    for path in [
        "/",
        "/v1",
        "/v1/",
        "/v1/nope",
        "/v2/workspaces",
        "/v1/workspaces/acme/projects/shop/unknown",
        "/v1/me/",
        "/V1/ME",
        "/v1/workspaces/acme/projects/shop/environments/production/deployments/1/logs/x",
    ] {
        cases.push(case(format!("unknown route {path}"), Method::GET, path, alice, Body::None, "NOT_FOUND"));
    }
    for (method, path) in [
        (Method::PUT, ws),
        (Method::DELETE, "/v1/me"),
        (Method::POST, "/v1/workspaces/acme/audit"),
        (Method::PATCH, "/v1/tokens"),
        (Method::GET, "/v1/auth/login"),
        (Method::PUT, "/v1/workspaces/acme/projects/shop"),
        (Method::PUT, "/v1/workspaces/acme/projects/shop/environments/production"),
        (Method::POST, "/v1/workspaces/acme/projects/shop/environments/production/config"),
        (Method::POST, "/v1/workspaces/acme/quotas"),
        (Method::DELETE, "/v1/openapi.json"),
    ] {
        cases.push(case(format!("{method} {path}"), method, path, alice, Body::None, "METHOD_NOT_ALLOWED"));
    }

    // Path segments: not UTF-8 once decoded, percent-encoded garbage, huge.
    for segment in ["%FF", "%C0%AE%C0%AE", "acme%FF", "%E2%82"] {
        cases.push(case(
            format!("non-UTF-8 workspace segment {segment}"),
            Method::GET,
            format!("{ws}/{segment}/projects"),
            alice,
            Body::None,
            "INVALID_REQUEST",
        ));
        cases.push(case(
            format!("non-UTF-8 project segment {segment}"),
            Method::DELETE,
            format!("{projects}/{segment}"),
            alice,
            Body::None,
            "INVALID_REQUEST",
        ));
    }
    for segment in [
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "acme%2F..",
        "acme%00",
        "acme%0d%0aSet-Cookie:x",
        "%27%20OR%20%271%27%3D%271",
        "%25",
        "ACME",
        &"a".repeat(10_000),
        &"b".repeat(60_000),
    ] {
        cases.push(case(
            format!("garbage workspace segment {:.40}", segment),
            Method::GET,
            format!("{ws}/{segment}/projects"),
            alice,
            Body::None,
            "WORKSPACE_NOT_FOUND",
        ));
        cases.push(case(
            format!("garbage workspace segment {:.40} on delete", segment),
            Method::DELETE,
            format!("{ws}/{segment}"),
            alice,
            Body::None,
            "WORKSPACE_NOT_FOUND",
        ));
    }
    for segment in ["sh%00op", "%27%3B%20DROP%20TABLE%20projects%3B--", &"p".repeat(10_000)] {
        cases.push(case(
            format!("garbage project segment {:.40}", segment),
            Method::GET,
            format!("{projects}/{segment}"),
            alice,
            Body::None,
            "PROJECT_NOT_FOUND",
        ));
        cases.push(case(
            format!("garbage project segment {:.40} on patch", segment),
            Method::PATCH,
            format!("{projects}/{segment}"),
            alice,
            Body::Json(json!({"branch": "x"})),
            "PROJECT_NOT_FOUND",
        ));
    }
    for segment in ["prod%00", "..%2F", &"e".repeat(10_000)] {
        cases.push(case(
            format!("garbage environment segment {:.40}", segment),
            Method::GET,
            format!("{envs}/{segment}/config"),
            alice,
            Body::None,
            "ENVIRONMENT_NOT_FOUND",
        ));
    }
    cases.push(case(
        "garbage member segment",
        Method::DELETE,
        format!("{members}/vic%00"),
        alice,
        Body::None,
        "INVALID_USERNAME",
    ));
    for number in ["abc", "0", "-1", "1e3", "99999999999999999999999"] {
        cases.push(case(
            format!("deployment number {number}"),
            Method::GET,
            format!("{envs}/production/deployments/{number}"),
            alice,
            Body::None,
            "INVALID_REQUEST",
        ));
    }

    // Token IDs.
    for id in ["not-an-id", "tok_XYZ", "tok_", "usr_0123456789abcdef0123456789abcdef", "%00"] {
        cases.push(case(
            format!("token id {id:?}"),
            Method::DELETE,
            format!("/v1/tokens/{id}"),
            alice,
            Body::None,
            "INVALID_ID",
        ));
    }
    cases.push(case(
        "unknown token id",
        Method::DELETE,
        "/v1/tokens/tok_0123456789abcdef0123456789abcdef",
        alice,
        Body::None,
        "TOKEN_NOT_FOUND",
    ));
    cases.push(case(
        "revoked token id",
        Method::DELETE,
        format!("/v1/tokens/{personal_id}"),
        alice,
        Body::None,
        "TOKEN_NOT_FOUND",
    ));

    // Pagination parameters.
    for (query, code) in [
        ("limit=0", "INVALID_REQUEST"),
        ("limit=201", "INVALID_REQUEST"),
        ("limit=-5", "INVALID_REQUEST"),
        ("limit=%FF", "INVALID_REQUEST"),
        ("limit=1&limit=2", "INVALID_REQUEST"),
        ("cursor=forged", "INVALID_CURSOR"),
        ("cursor=", "INVALID_CURSOR"),
    ] {
        cases.push(case(
            format!("projects?{query}"),
            Method::GET,
            format!("{projects}?{query}"),
            alice,
            Body::None,
            code,
        ));
    }

    // Credentials: none, malformed, revoked, expired.
    let mutating: Vec<(Method, String, Body)> = vec![
        (Method::POST, projects.to_owned(), Body::Json(json!({"slug": "new"}))),
        (Method::PUT, config.to_owned(), Body::Json(json!({"vars": {"A": "2"}}))),
        (Method::DELETE, format!("{projects}/shop"), Body::None),
        (Method::DELETE, "/v1/workspaces/acme".to_owned(), Body::None),
        (Method::POST, ws.to_owned(), Body::Json(json!({"slug": "new"}))),
        (Method::POST, "/v1/tokens".to_owned(), Body::Json(json!({"name": "new"}))),
    ];
    for (method, path, body) in mutating {
        let body_for = |body: &Body| match body {
            Body::Json(v) => Body::Json(v.clone()),
            _ => Body::None,
        };
        let label = format!("{method} {path}");
        cases.push(case(format!("{label} anonymously"), method.clone(), &path, ANON, body_for(&body), "AUTH_REQUIRED"));
        for (what, token) in [
            ("revoked session", revoked.as_str()),
            ("revoked personal token", revoked_personal.as_str()),
            ("expired token", expired.as_str()),
            ("made-up token", "slw_made_up_token"),
        ] {
            cases.push(case(
                format!("{label} with a {what}"),
                method.clone(),
                &path,
                token,
                body_for(&body),
                "TOKEN_INVALID",
            ));
        }
        if path.contains("acme") {
            // Role too low, and another tenant.
            cases.push(case(format!("{label} as a viewer"), method.clone(), &path, vic, body_for(&body), "FORBIDDEN"));
            cases.push(case(
                format!("{label} as another tenant"),
                method.clone(),
                &path,
                bob,
                body_for(&body),
                "WORKSPACE_NOT_FOUND",
            ));
        }
    }
    for (what, header) in [
        ("Basic credentials", "Basic YWxpY2U6cGFzc3dvcmQtYWxpY2U="),
        ("empty bearer", "Bearer "),
        ("bearer without space", "Bearer"),
        ("lower-case scheme", "bearer whatever"),
    ] {
        cases.push(Case {
            what: what.to_owned(),
            method: Method::GET,
            path: projects.to_owned(),
            token: format!("raw:{header}"),
            body: Body::None,
            code: "TOKEN_INVALID",
        });
    }
    cases.push(case(
        "another tenant's project by its own slug",
        Method::GET,
        "/v1/workspaces/beta/projects/blog",
        alice,
        Body::None,
        "WORKSPACE_NOT_FOUND",
    ));
    cases.push(case(
        "another tenant's project through one's own workspace",
        Method::GET,
        format!("{projects}/blog"),
        alice,
        Body::None,
        "PROJECT_NOT_FOUND",
    ));
    cases.push(case(
        "a viewer reads the audit log",
        Method::GET,
        "/v1/workspaces/acme/audit",
        vic,
        Body::None,
        "FORBIDDEN",
    ));
    cases.push(case(
        "a viewer grants themself owner",
        Method::PATCH,
        format!("{members}/vic"),
        vic,
        Body::Json(json!({"role": "owner"})),
        "FORBIDDEN",
    ));
    cases.push(case(
        "non-admin creates a user",
        Method::POST,
        "/v1/users",
        alice,
        Body::Json(json!({"username": "newuser", "password": "long-enough"})),
        "FORBIDDEN",
    ));
    cases.push(case(
        "anonymous sign-up",
        Method::POST,
        "/v1/users",
        ANON,
        Body::Json(json!({"username": "newuser", "password": "long-enough", "is_admin": true})),
        "SIGNUP_DISABLED",
    ));
    for (what, body) in [
        ("wrong password", json!({"username": "alice", "password": "wrong-password"})),
        ("unknown user", json!({"username": "zed", "password": "long-enough"})),
        ("invalid username", json!({"username": "' OR 1=1 --", "password": "x"})),
        ("NUL in username", json!({"username": "alice\u{0}", "password": "password-alice"})),
        ("empty fields", json!({"username": "", "password": ""})),
    ] {
        cases.push(case(
            format!("login: {what}"),
            Method::POST,
            "/v1/auth/login",
            ANON,
            Body::Json(body),
            "INVALID_CREDENTIALS",
        ));
    }
    // Conflicts change nothing either.
    for (what, method, path, body, code) in [
        ("existing workspace", Method::POST, ws, json!({"slug": "acme"}), "WORKSPACE_EXISTS"),
        ("another tenant's workspace slug", Method::POST, ws, json!({"slug": "beta"}), "WORKSPACE_EXISTS"),
        ("existing project", Method::POST, projects, json!({"slug": "shop"}), "PROJECT_EXISTS"),
        ("existing environment", Method::POST, envs, json!({"name": "production"}), "ENVIRONMENT_EXISTS"),
        ("existing member", Method::POST, members, json!({"username": "vic", "role": "admin"}), "MEMBER_EXISTS"),
        (
            "unknown user as member",
            Method::POST,
            members,
            json!({"username": "zed", "role": "admin"}),
            "USER_NOT_FOUND",
        ),
        (
            "a project in another tenant's workspace",
            Method::POST,
            "/v1/workspaces/beta/projects",
            json!({"slug": "x"}),
            "WORKSPACE_NOT_FOUND",
        ),
    ] {
        cases.push(case(what, method, path, alice, Body::Json(body), code));
    }
    cases.push(case(
        "demoting the last owner",
        Method::PATCH,
        format!("{members}/alice"),
        alice,
        Body::Json(json!({"role": "viewer"})),
        "LAST_OWNER",
    ));
    cases.push(case(
        "removing the last owner",
        Method::DELETE,
        format!("{members}/alice"),
        alice,
        Body::None,
        "LAST_OWNER",
    ));
    cases.push(case(
        "deleting production",
        Method::DELETE,
        format!("{envs}/production"),
        alice,
        Body::None,
        "ENVIRONMENT_PROTECTED",
    ));
    cases
}
