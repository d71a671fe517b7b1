//! The API contract: schemathesis fuzzes every operation of `/v1/openapi.json`
//! against a real `slipway up` (embedded SQLite, sandbox off: this is about the
//! API) seeded with a workspace, a project with a live release, a viewer and
//! throwaway resources, once as a platform admin, once as a workspace viewer and
//! once anonymously, with all of its checks: no server error, every answer as
//! documented, invalid input refused, valid input accepted, authentication not
//! ignored, created resources found, deleted ones gone.
//!
//! Schemathesis comes from PyPI into `target/py-venv` (or `SLIPWAY_PY_VENV`);
//! see [`INSTALL`]. What the runs narrow, and why, is in `api_contract/`: the
//! settings (`schemathesis.toml`) and hooks (`hooks.py`). The runs are bounded
//! (`SLIPWAY_CONTRACT_EXAMPLES` cases per operation and phase, default 10) and
//! seeded (`SLIPWAY_CONTRACT_SEED`: set another to explore).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use reqwest::Method;
use serde_json::{json, Value};
use slipway_testkit::platform::Platform;
use slipway_testkit::source::Source;

const INSTALL: &str = "python3 -m venv target/py-venv && target/py-venv/bin/pip install schemathesis==4.32.5 \
                       (from the repository root; .ci/run does it)";
const DEFAULT_SEED: &str = "20261207";
const DEFAULT_EXAMPLES: &str = "10";

fn contract_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api_contract")
}

fn schemathesis() -> PathBuf {
    let venv = std::env::var_os("SLIPWAY_PY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/py-venv"));
    let path = venv.join("bin/schemathesis");
    assert!(path.exists(), "schemathesis not found at {}; install it with: {INSTALL}", path.display());
    path
}

/// Who a run calls the API as: its token, the session its `POST /v1/auth/logout` may
/// end, and which token of theirs `DELETE /v1/tokens/{id}` may revoke instead of its own.
struct Persona {
    name: &'static str,
    token: Option<String>,
    token_id: String,
    logout: String,
    spare_token_id: String,
}

/// What the seeding left for the runs.
struct Seeded {
    cursor: String,
    personas: Vec<Persona>,
}

async fn login(platform: &Platform, username: &str, password: &str) -> String {
    let body = json!({"username": username, "password": password});
    let (status, login) = platform.api_as(None, Method::POST, "/v1/auth/login", Some(body)).await;
    assert_eq!(status, 200, "logging in as {username}: {login}");
    login["token"].as_str().expect("a session token").to_owned()
}

/// A personal token of the user behind `session`: (secret, ID).
async fn personal_token(platform: &Platform, session: &str, name: &str) -> (String, String) {
    let (status, created) =
        platform.api_as(Some(session), Method::POST, "/v1/tokens", Some(json!({"name": name}))).await;
    assert_eq!(status, 201, "creating token {name}: {created}");
    let field = |key: &str| created[key].as_str().expect("token fields").to_owned();
    (field("token"), field("id"))
}

/// Workspace `acme` with project `web` (release #1 live from `examples/static`, a config
/// var, a custom domain), viewer `vic`, and the throwaways the hooks redirect deletions to.
async fn seed(platform: &Platform) -> Seeded {
    let app = platform.create_app("acme", "web").await;
    let (git_token, _) = personal_token(platform, &platform.admin_token, "git").await;
    let source = Source::example(&platform.home, "static", "web").await;
    let push = source.push(&platform.remote(&app, &git_token), "main").await;
    assert_eq!(push.deployed(), 1, "{}", push.output);

    let env = app.env_path();
    let domains = format!("{env}/domains");
    let posts: [(&str, Value); 5] = [
        ("/v1/workspaces", json!({"slug": "doomed"})),
        ("/v1/workspaces/acme/projects", json!({"slug": "doomed"})),
        ("/v1/workspaces/acme/projects/web/environments", json!({"name": "doomed"})),
        (&domains, json!({"hostname": "doomed.example.com"})),
        ("/v1/users", json!({"username": "doomed-user", "password": "doomed-password"})),
    ];
    for (path, body) in posts {
        platform.api(Method::POST, path, Some(body)).await;
    }
    platform.api(Method::PUT, &format!("{env}/config"), Some(json!({"vars": {"GREETING": "hello"}}))).await;
    let members = "/v1/workspaces/acme/members";
    platform.api(Method::POST, members, Some(json!({"username": "doomed-user", "role": "developer"}))).await;
    let viewer = platform.member_token("acme", "vic", "viewer").await;
    let listed = platform.api(Method::GET, "/v1/workspaces/acme/projects?limit=1", None).await;
    let cursor = listed["next_cursor"].as_str().expect("two projects make two pages").to_owned();

    let mut personas = Vec::new();
    for (name, session, username, password) in [
        ("admin", platform.admin_token.clone(), "admin", slipway_testkit::platform::ADMIN_PASSWORD),
        ("viewer", viewer, "vic", "e2e-member-password"),
    ] {
        let (token, token_id) = personal_token(platform, &session, &format!("contract {name}")).await;
        let (_, spare_token_id) = personal_token(platform, &session, "spare").await;
        let logout = login(platform, username, password).await;
        personas.push(Persona { name, token: Some(token), token_id, logout, spare_token_id });
    }
    let logout = login(platform, "admin", slipway_testkit::platform::ADMIN_PASSWORD).await;
    let spare_token_id = personas[0].spare_token_id.clone();
    personas.push(Persona { name: "anonymous", token: None, token_id: String::new(), logout, spare_token_id });
    Seeded { cursor, personas }
}

/// Starts one schemathesis run for `persona`, its output into `<home>/<name>.log`.
fn spawn_run(platform: &Platform, seeded: &Seeded, persona: &Persona) -> (std::process::Child, PathBuf) {
    let dir = platform.home.join(format!("schemathesis-{}", persona.name));
    std::fs::create_dir_all(&dir).expect("creating the run's directory");
    let log_path = platform.home.join(format!("{}.log", persona.name));
    let log = std::fs::File::create(&log_path).expect("creating the run's log");
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let mut command = Command::new(schemathesis());
    command
        .current_dir(&dir)
        .arg("--config-file")
        .arg(contract_dir().join("schemathesis.toml"))
        .args(["run", &format!("{}/v1/openapi.json", platform.api_url), "--url", &platform.api_url])
        .args(["--checks", "all", "--no-color"])
        .args(["--max-examples", &var("SLIPWAY_CONTRACT_EXAMPLES", DEFAULT_EXAMPLES)])
        .args(["--seed", &var("SLIPWAY_CONTRACT_SEED", DEFAULT_SEED)])
        .env("SLIPWAY_CONTRACT_HOOKS", contract_dir().join("hooks.py"))
        .env("SLIPWAY_CONTRACT_CURSOR", &seeded.cursor)
        .env("SLIPWAY_CONTRACT_LOGOUT_TOKEN", &persona.logout)
        .env("SLIPWAY_CONTRACT_RUN_TOKEN_ID", &persona.token_id)
        .env("SLIPWAY_CONTRACT_SPARE_TOKEN_ID", &persona.spare_token_id)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("cloning the log handle"))
        .stderr(log);
    if let Some(token) = &persona.token {
        command.args(["--header", &format!("Authorization: Bearer {token}")]);
    }
    (command.spawn().expect("starting schemathesis"), log_path)
}

/// Waits for a run; its failures, with the end of its report, if it failed.
fn finish(persona: &Persona, run: (std::process::Child, PathBuf)) -> Option<String> {
    let (child, log_path) = run;
    let Output { status, .. } = child.wait_with_output().expect("waiting for schemathesis");
    if status.success() {
        return None;
    }
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let failures = log.find("FAILURES").or_else(|| log.find("Error")).unwrap_or(0);
    Some(format!("schemathesis as {} exited with {status}:\n{}", persona.name, &log[failures..]))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_keeps_the_documented_contract() {
    let schemathesis = schemathesis();
    let platform = Platform::start("api-contract", &[("SLIPWAY_SANDBOX", "off")]).await;
    let seeded = seed(&platform).await;

    // The viewer and the anonymous caller change nothing the other relies on, so they
    // run side by side; the admin, who deletes and rolls back, runs alone after them.
    let [admin, rest @ ..] = seeded.personas.as_slice() else { unreachable!("three personas") };
    let mut failures: Vec<String> = tokio::task::block_in_place(|| {
        let runs: Vec<_> = rest.iter().map(|persona| (persona, spawn_run(&platform, &seeded, persona))).collect();
        runs.into_iter().filter_map(|(persona, run)| finish(persona, run)).collect()
    });
    failures.extend(tokio::task::block_in_place(|| finish(admin, spawn_run(&platform, &seeded, admin))));
    assert!(failures.is_empty(), "{} broke the contract:\n{}", schemathesis.display(), failures.join("\n\n"));

    // The runs spared what they run with: their tokens and the seeded project.
    for persona in &seeded.personas {
        let (status, _) =
            platform.api_as(persona.token.as_deref(), Method::GET, "/v1/workspaces/acme/projects/web", None).await;
        let expected = if persona.token.is_some() { 200 } else { 401 };
        assert_eq!(status, expected, "GET …/projects/web as {} after the runs", persona.name);
    }
}
