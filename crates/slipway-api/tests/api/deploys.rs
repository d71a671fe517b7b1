//! Push to live through the API: the git remote (smart HTTP, served by a
//! real `git`), creating deployments with commits and Idempotency-Keys, the
//! build log as Server-Sent Events, releases and rollback, and the runtime
//! log. The pipeline and the agent do not run here, so the tests play their
//! part through the store the server uses; git hooks run a fake `slipway`
//! that only records its calls.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::json;
use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::Transition;
use slipway_core::ids::{EnvironmentId, ReleaseId, WorkspaceId};
use slipway_core::image_tag::CommitSha;
use slipway_core::names::{EnvironmentName, ProjectSlug};
use slipway_core::timestamp::Timestamp;
use slipway_store::{Actor, Job, JobKind, NewRelease, RuntimeEnv};
use slipway_testkit::TestBackend;

use super::harness::{spawn_app, spawn_app_with_platform, Reply, TestApp, ANON};

both_backends!(
    deploying_needs_the_platform_paths,
    the_git_remote_checks_tokens_and_roles,
    creating_deployments,
    idempotency_keys_make_retries_safe,
    following_a_deployment_log,
    releases_and_rollback,
    runtime_logs,
);

pub(super) const ENV: &str = "/v1/workspaces/acme/projects/shop/environments/production";
const ZERO_SHA: &str = "0000000000000000000000000000000000000000";
/// Well-formed, and in no repository.
const MISSING_SHA: &str = "0123456789abcdef0123456789abcdef01234567";
/// The longest a streaming read may take before the test fails.
const STREAM_LIMIT: Duration = Duration::from_secs(30);

fn deployments() -> String {
    format!("{ENV}/deployments")
}

/// An app with workspace `acme` (owner alice, viewer vic) and its project
/// `shop`; bob is a user outside it.
pub(super) struct Setup {
    pub(super) app: TestApp,
    pub(super) alice: String,
    pub(super) vic: String,
    pub(super) bob: String,
    pub(super) workspace: WorkspaceId,
}

pub(super) async fn setup(app: TestApp) -> Setup {
    let alice = app.user("alice").await;
    let vic = app.user("vic").await;
    let bob = app.user("bob").await;
    let ws = app.workspace(&alice, "acme").await;
    app.project(&alice, "acme", "shop").await;
    app.add_member(&alice, "acme", "vic", "viewer").await;
    let workspace = WorkspaceId::parse(ws["id"].as_str().expect("id")).expect("a workspace ID");
    Setup { app, alice, vic, bob, workspace }
}

pub(super) fn system() -> Actor {
    Actor::system("test-deploys")
}

// --- git -------------------------------------------------------------------

/// A temporary directory, removed with the value.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("slipway-{what}-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("creating a scratch directory");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the system `git` in `dir`, isolated from the user's configuration
/// and never prompting. Async, because the server answering it runs on
/// this test's runtime.
async fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS")
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .kill_on_drop(true)
        .output()
        .await
        .expect("running git")
}

/// `git` that must succeed; returns its trimmed standard output.
async fn git_ok(dir: &Path, args: &[&str]) -> String {
    let output = git(dir, args).await;
    assert!(
        output.status.success(),
        "git {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `git` that must fail; returns its standard error.
async fn git_fails(dir: &Path, args: &[&str]) -> String {
    let output = git(dir, args).await;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "git {args:?} succeeded: {stderr}");
    stderr
}

/// A developer's working repository on branch `main`.
struct WorkTree(Scratch);

impl WorkTree {
    async fn new() -> Self {
        let tree = Self(Scratch::new("work"));
        git_ok(tree.path(), &["init", "--quiet", "--initial-branch=main"]).await;
        tree
    }

    fn path(&self) -> &Path {
        &self.0 .0
    }

    /// Commits `text` as `file`; returns the commit.
    async fn commit(&self, file: &str, text: &str) -> String {
        std::fs::write(self.path().join(file), text).expect("writing a file");
        git_ok(self.path(), &["add", file]).await;
        git_ok(self.path(), &["commit", "--quiet", "-m", &format!("{file}: {text}")]).await;
        git_ok(self.path(), &["rev-parse", "HEAD"]).await
    }
}

/// The project's git remote, with `token` as the password.
fn remote(app: &TestApp, token: &str) -> String {
    format!("http://x:{token}@{}/git/acme/shop.git", app.base.trim_start_matches("http://"))
}

// --- Server-Sent Events ----------------------------------------------------

/// The events of an SSE body as `(event, data)`; comments (keep-alives) skipped.
fn events(body: &str) -> Vec<(String, String)> {
    let events = slipway_core::sse::SseParser::default().push(body.as_bytes());
    events.into_iter().map(|event| (event.event.unwrap_or_else(|| "message".to_owned()), event.data)).collect()
}

/// The events a log stream must consist of: `lines`, then `end` with `status`.
fn log_events(lines: &[&str], status: &str) -> Vec<(String, String)> {
    let mut expected: Vec<(String, String)> = lines.iter().map(|l| ("message".to_owned(), (*l).to_owned())).collect();
    expected.push(("end".to_owned(), status.to_owned()));
    expected
}

/// An open event stream, read as it arrives.
struct EventStream {
    response: reqwest::Response,
    text: String,
}

impl EventStream {
    async fn open(app: &TestApp, token: &str, path: &str) -> Self {
        let response = app.request(Method::GET, path, token).send().await.expect("opening the stream");
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        assert_eq!(
            response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            Some("text/event-stream"),
            "GET {path}"
        );
        assert!(response.headers().contains_key(slipway_api::REQUEST_ID_HEADER), "GET {path}: no request ID");
        Self { response, text: String::new() }
    }

    /// Reads until `needle` has arrived.
    async fn until(&mut self, needle: &str) {
        let read = async {
            while !self.text.contains(needle) {
                match self.response.chunk().await.expect("reading the stream") {
                    Some(chunk) => self.text.push_str(&String::from_utf8_lossy(&chunk)),
                    None => panic!("the stream ended before `{needle}`:\n{}", self.text),
                }
            }
        };
        if tokio::time::timeout(STREAM_LIMIT, read).await.is_err() {
            panic!("`{needle}` did not arrive within {STREAM_LIMIT:?}; so far:\n{}", self.text);
        }
    }

    /// Reads to the end of the stream; returns its events.
    async fn finish(mut self) -> Vec<(String, String)> {
        let read = async {
            while let Some(chunk) = self.response.chunk().await.expect("reading the stream") {
                self.text.push_str(&String::from_utf8_lossy(&chunk));
            }
        };
        if tokio::time::timeout(STREAM_LIMIT, read).await.is_err() {
            panic!("the stream did not end within {STREAM_LIMIT:?}; so far:\n{}", self.text);
        }
        events(&self.text)
    }
}

/// A whole (ending) event stream.
async fn stream(app: &TestApp, token: &str, path: &str) -> Vec<(String, String)> {
    EventStream::open(app, token, path).await.finish().await
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("creating the log directory");
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("opening the log");
    file.write_all(text.as_bytes()).expect("appending to the log");
}

// --- releases ----------------------------------------------------------------

pub(super) fn plan(start: &str) -> BuildPlan {
    BuildPlan {
        stack: "node".parse().expect("a stack"),
        framework: None,
        package_manager: None,
        runtime_asks: Vec::new(),
        install: None,
        build: None,
        start: Some(start.into()),
        processes: BTreeMap::from([("web".parse().expect("a process type"), start.to_owned())]),
        health_check_path: None,
        detected_from: vec!["package.json".into()],
    }
}

/// Does what the pipeline and the agent would: queues a deployment of
/// `commit`, builds it into a release (with the current config) and,
/// when `live`, reports it serving.
pub(super) async fn release(s: &Setup, commit: &str, live: bool) -> ReleaseId {
    let store = &s.app.store;
    let sha = CommitSha::parse(commit).expect("a SHA");
    let d = store
        .create_deployment(
            &system(),
            &s.workspace,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::production(),
            Some(&sha),
        )
        .await
        .expect("queuing");
    store.transition_deployment(&system(), &s.workspace, &d.id, Transition::StartBuild, None).await.expect("building");
    let config = store
        .config_snapshot(
            &s.workspace,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::production(),
        )
        .await
        .expect("the config snapshot");
    let new = NewRelease {
        artifact_dir: format!("/artifacts/{}", d.number),
        plan: plan(&format!("node v{}.js", d.number)),
        runtime_env: RuntimeEnv::default(),
        config,
    };
    let release = store.create_release(&system(), &s.workspace, &d.id, new).await.expect("releasing");
    if live {
        store.release_live(&Actor::agent(), &s.workspace, &d.environment_id, &release, None).await.expect("going live");
    }
    release
}

/// `(number, kind, active)` of every release listed.
fn summary(reply: &Reply) -> Vec<(u64, String, bool)> {
    reply.ok(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| {
            (
                r["number"].as_u64().expect("number"),
                r["kind"].as_str().expect("kind").to_owned(),
                r["active"].as_bool().expect("active"),
            )
        })
        .collect()
}

/// Asserts that `reply` is what the OpenAPI document promises for the
/// operation `method template` (its status and, for JSON, its schema).
pub(super) async fn documented(app: &TestApp, method: &str, template: &str, reply: &Reply) {
    let document = app.get(ANON, "/v1/openapi.json").await.ok(200).clone();
    let errors = super::openapi::mismatches(&document, method, template, reply.status, &reply.body);
    assert!(
        errors.is_empty(),
        "{method} {template} {}: not as documented:\n{}\n{}",
        reply.status,
        errors.join("\n"),
        reply.text
    );
}

const DEPLOYMENTS_OP: &str = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments";
pub(super) const RELEASES_OP: &str = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/releases";
pub(super) const ROLLBACK_OP: &str = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/rollback";

// --- scenarios -----------------------------------------------------------------

async fn deploying_needs_the_platform_paths(backend: TestBackend) {
    let s = setup(spawn_app(backend).await).await;
    let app = &s.app;

    let message = app.send_unavailable(app.request(Method::POST, &deployments(), &s.alice)).await;
    assert!(message.contains("deploy pipeline"), "{message}");
    app.store
        .create_deployment(
            &system(),
            &s.workspace,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::production(),
            None,
        )
        .await
        .expect("a deployment");
    app.send_unavailable(app.request(Method::GET, &format!("{ENV}/deployments/1/logs"), &s.alice)).await;
    app.send_unavailable(app.request(Method::GET, &format!("{ENV}/logs"), &s.alice)).await;
    let refs = app.client.get(app.url("/git/acme/shop.git/info/refs?service=git-upload-pack"));
    app.send_unavailable(refs.basic_auth("x", Some(&s.alice))).await;

    // Permissions are still checked first, and what needs only the
    // database still works.
    app.send(app.request(Method::POST, &deployments(), &s.vic)).await.err("FORBIDDEN");
    app.send(app.request(Method::POST, &deployments(), &s.bob)).await.err("WORKSPACE_NOT_FOUND");
    assert_eq!(app.get(&s.alice, &format!("{ENV}/releases")).await.ok(200), &json!({"items": []}));
    app.post(&s.alice, &format!("{ENV}/rollback"), json!({})).await.err("RELEASE_NOT_FOUND");
    assert_eq!(app.get(&s.alice, &deployments()).await.ok(200)["items"].as_array().map(Vec::len), Some(1));
}

async fn the_git_remote_checks_tokens_and_roles(backend: TestBackend) {
    let s = setup(spawn_app_with_platform(backend).await).await;
    let app = &s.app;
    let work = WorkTree::new().await;
    let head = work.commit("index.js", "v1").await;
    let (as_vic, as_bob, as_alice) = (remote(app, &s.vic), remote(app, &s.bob), remote(app, &s.alice));
    let as_nobody = remote(app, "slw_not-a-real-token");

    // A viewer may not push; an unknown token is challenged; a stranger
    // finds nothing.
    let stderr = git_fails(work.path(), &["push", &as_vic, "main:main"]).await;
    assert!(stderr.contains("403"), "{stderr}");
    let stderr = git_fails(work.path(), &["push", &as_nobody, "main:main"]).await;
    assert!(stderr.contains("Authentication failed"), "{stderr}");
    let stderr = git_fails(work.path(), &["push", &as_bob, "main:main"]).await;
    assert!(stderr.contains("not found"), "{stderr}");
    assert!(app.hook_calls().is_empty(), "a refused push ran the hook:\n{}", app.hook_calls());

    // What git saw: a Basic challenge, in the API's error envelope.
    let receive = "/git/acme/shop.git/info/refs?service=git-receive-pack";
    for request in [
        app.client.get(app.url(receive)),
        app.client.get(app.url(receive)).basic_auth("x", Some("slw_not-a-real-token")),
        app.client.get(app.url(receive)).basic_auth("x", None::<&str>),
        app.client.get(app.url(receive)).header("authorization", "Basic !!!"),
    ] {
        let reply = app.send(request).await;
        reply.err("AUTH_REQUIRED");
        let challenge = reply.headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(challenge.starts_with("Basic "), "challenge: {challenge:?}");
    }
    let viewer_push = app.send(app.client.get(app.url(receive)).basic_auth("x", Some(&s.vic))).await;
    viewer_push.err("FORBIDDEN");
    assert!(viewer_push.headers.get(WWW_AUTHENTICATE).is_none(), "a known caller is not challenged again");
    let ghost = app.client.get(app.url("/git/acme/ghost.git/info/refs?service=git-upload-pack"));
    app.send(ghost.basic_auth("x", Some(&s.alice))).await.err("PROJECT_NOT_FOUND");
    let dumb = app.client.get(app.url("/git/acme/shop.git/info/refs"));
    app.send(dumb.basic_auth("x", Some(&s.alice))).await.err("INVALID_REQUEST");

    // The owner pushes; the hook runs as the pusher, with the update.
    git_ok(work.path(), &["push", &as_alice, "main:main"]).await;
    let calls = app.hook_calls();
    for expected in [
        "args: hook post-receive".to_owned(),
        format!("SLIPWAY_API_URL={}", app.base),
        "SLIPWAY_APP=shop".to_owned(),
        "SLIPWAY_BRANCH=main".to_owned(),
        "SLIPWAY_PUSHER=alice".to_owned(),
        format!("SLIPWAY_TOKEN={}", s.alice),
        "SLIPWAY_WORKSPACE=acme".to_owned(),
        format!("{ZERO_SHA} {head} refs/heads/main"),
    ] {
        assert!(calls.lines().any(|line| line == expected), "the hook did not get `{expected}`:\n{calls}");
    }
    assert_eq!(calls.matches("args: ").count(), 1, "{calls}");
    // The fake hook deploys nothing.
    assert_eq!(app.get(&s.alice, &deployments()).await.ok(200), &json!({"items": []}));

    // A viewer may clone (upload-pack); a stranger may not.
    let clones = Scratch::new("clones");
    git_ok(&clones.0, &["clone", "--quiet", &as_vic, "viewer"]).await;
    assert_eq!(git_ok(&clones.0.join("viewer"), &["rev-parse", "HEAD"]).await, head);
    assert_eq!(std::fs::read_to_string(clones.0.join("viewer/index.js")).expect("the cloned file"), "v1");
    let stderr = git_fails(&clones.0, &["clone", "--quiet", &as_bob, "stranger"]).await;
    assert!(stderr.contains("not found"), "{stderr}");
    let refs = git_ok(&clones.0, &["ls-remote", &as_vic]).await;
    assert!(refs.lines().any(|line| line == format!("{head}\trefs/heads/main")), "{refs}");

    // A second push updates the branch and tells the hook the old head.
    let next = work.commit("index.js", "v2").await;
    git_ok(work.path(), &["push", &as_alice, "main:main"]).await;
    let calls = app.hook_calls();
    assert!(calls.lines().any(|line| line == format!("{head} {next} refs/heads/main")), "{calls}");
}

async fn creating_deployments(backend: TestBackend) {
    let s = setup(spawn_app_with_platform(backend).await).await;
    let app = &s.app;
    let post = |token: &str| app.request(Method::POST, &deployments(), token);

    // Nothing pushed yet: the answer says where to push.
    let reply = app.send(post(&s.alice)).await;
    documented(app, "post", DEPLOYMENTS_OP, &reply).await;
    let message = reply.err("NOTHING_TO_DEPLOY");
    assert!(message.contains(&format!("{}/git/acme/shop.git", app.base)), "{message}");
    assert!(message.contains("main"), "{message}");
    app.post(&s.alice, &deployments(), json!({"commit": MISSING_SHA})).await.err("NOTHING_TO_DEPLOY");
    for bad in ["not-a-sha", "0123456", &MISSING_SHA.to_uppercase(), &format!("{MISSING_SHA}0")] {
        let message =
            app.post(&s.alice, &deployments(), json!({"commit": bad})).await.err("INVALID_REQUEST").to_owned();
        assert!(message.contains("commit"), "{bad}: {message}");
    }
    app.post(&s.alice, &deployments(), json!({"commit": 5})).await.err("INVALID_JSON");
    app.post(&s.alice, &deployments(), json!({"branch": "main"})).await.err("INVALID_JSON");
    app.send(post(&s.alice).body("{not json")).await.err("INVALID_JSON");
    app.send(post(&s.vic)).await.err("FORBIDDEN");
    app.send(post(&s.bob)).await.err("WORKSPACE_NOT_FOUND");
    app.send(post(ANON)).await.err("AUTH_REQUIRED");
    let ghost = app.request(Method::POST, "/v1/workspaces/acme/projects/ghost/environments/production/deployments", "");
    app.send(ghost.bearer_auth(&s.alice)).await.err("PROJECT_NOT_FOUND");
    assert_eq!(app.get(&s.alice, &deployments()).await.ok(200), &json!({"items": []}), "a refused POST created one");

    let work = WorkTree::new().await;
    let first = work.commit("index.js", "v1").await;
    git_ok(work.path(), &["push", "--quiet", &remote(app, &s.alice), "main:main"]).await;
    let feature = {
        git_ok(work.path(), &["checkout", "--quiet", "-b", "feature"]).await;
        let sha = work.commit("feature.js", "f").await;
        git_ok(work.path(), &["push", "--quiet", &remote(app, &s.alice), "feature:feature"]).await;
        sha
    };

    // No body: the head of the tracked branch (not the newest push).
    let reply = app.send(post(&s.alice)).await;
    documented(app, "post", DEPLOYMENTS_OP, &reply).await;
    let one = reply.ok(201);
    assert_eq!(one["number"], 1);
    assert_eq!(one["status"], "QUEUED");
    assert_eq!(one["kind"], "build");
    assert_eq!(one["commit_sha"], first.as_str());
    // Whitespace is no body too; a named commit in the repository is taken as is.
    assert_eq!(app.send(post(&s.alice).body(" \n")).await.ok(201)["commit_sha"], first.as_str());
    let named = app.post(&s.alice, &deployments(), json!({"commit": feature})).await;
    assert_eq!(
        (named.ok(201)["number"].as_u64(), named.body["commit_sha"].as_str()),
        (Some(3), Some(feature.as_str()))
    );
    app.post(&s.alice, &deployments(), json!({"commit": MISSING_SHA})).await.err("NOTHING_TO_DEPLOY");
    // A developer may deploy too.
    app.user("dev").await;
    app.add_member(&s.alice, "acme", "dev", "developer").await;
    let dev = app.login("dev", "password-dev").await;
    assert_eq!(app.send(post(&dev)).await.ok(201)["number"], 4);
    let ghost = app.request(Method::POST, "/v1/workspaces/acme/projects/shop/environments/ghost/deployments", "");
    app.send(ghost.bearer_auth(&s.alice)).await.err("ENVIRONMENT_NOT_FOUND");

    // Each deployment queued its deploy job, naming it.
    let listed = app.get(&s.alice, &deployments()).await;
    let ids: Vec<String> = listed.ok(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["id"].as_str().expect("id").into())
        .collect();
    assert_eq!(ids.len(), 4);
    let mut payloads = Vec::new();
    while let Some(job) = app.store.claim_job("test", &[JobKind::Deploy], 60, Timestamp::now()).await.expect("claiming")
    {
        assert_eq!(job.job.workspace(), &s.workspace);
        let Job::Deploy { deployment, .. } = job.job else { panic!("not a deploy job: {job:?}") };
        payloads.push(deployment.to_string());
    }
    payloads.reverse();
    assert_eq!(payloads, ids, "one job per deployment, oldest first");
    let got = app.get(&s.vic, &format!("{ENV}/deployments/1")).await;
    assert_eq!(got.ok(200)["commit_sha"], first.as_str());
}

async fn idempotency_keys_make_retries_safe(backend: TestBackend) {
    let s = setup(spawn_app_with_platform(backend).await).await;
    let app = &s.app;
    let post = |key: &str| app.request(Method::POST, &deployments(), &s.alice).header("idempotency-key", key);
    let work = WorkTree::new().await;
    let first = work.commit("index.js", "v1").await;
    git_ok(work.path(), &["push", "--quiet", &remote(app, &s.alice), "main:main"]).await;

    let created = app.send(post("deploy-1")).await;
    let deployment = created.ok(201).clone();
    assert_eq!(deployment["commit_sha"], first.as_str());
    let replay = app.send(post("deploy-1")).await;
    documented(app, "post", DEPLOYMENTS_OP, &replay).await;
    assert_eq!(replay.ok(200)["id"], deployment["id"], "a retry answers with the first deployment");
    assert_eq!(replay.body["number"], 1);

    // A push between the request and its retry does not make the retry a
    // different request: it still asks for "the branch head".
    let second = work.commit("index.js", "v2").await;
    git_ok(work.path(), &["push", "--quiet", &remote(app, &s.alice), "main:main"]).await;
    let late = app.send(post("deploy-1")).await;
    assert_eq!(late.ok(200)["id"], deployment["id"]);
    assert_eq!(late.body["commit_sha"], first.as_str());

    // Another request under the same key is refused.
    let reused = app.send(post("deploy-1").json(&json!({"commit": second}))).await;
    documented(app, "post", DEPLOYMENTS_OP, &reused).await;
    let message = reused.err("IDEMPOTENCY_KEY_REUSED").to_owned();
    assert!(message.contains("Idempotency-Key"), "{message}");
    app.send(post("deploy-1").json(&json!({"commit": first}))).await.err("IDEMPOTENCY_KEY_REUSED");
    app.post(&s.alice, "/v1/workspaces/acme/projects/shop/environments", json!({"name": "staging"})).await.ok(201);
    let staging = app
        .request(Method::POST, "/v1/workspaces/acme/projects/shop/environments/staging/deployments", &s.alice)
        .header("idempotency-key", "deploy-1");
    app.send(staging).await.err("IDEMPOTENCY_KEY_REUSED");

    // A new key is a new deployment, of the new head.
    let fresh = app.send(post("deploy-2")).await;
    assert_eq!((fresh.ok(201)["number"].as_u64(), fresh.body["commit_sha"].as_str()), (Some(2), Some(second.as_str())));

    // Keys are 1 to 200 visible characters.
    for bad in [HeaderValue::from_static(""), HeaderValue::from_bytes(b"caf\xe9").expect("an opaque header value")] {
        let request = app.request(Method::POST, &deployments(), &s.alice).header("idempotency-key", bad);
        app.send(request).await.err("INVALID_REQUEST");
    }
    app.send(post(&"k".repeat(201))).await.err("INVALID_REQUEST");
    assert_eq!(app.send(post(&"k".repeat(200))).await.status, StatusCode::CREATED);
    // A viewer's retry is still refused.
    let viewer = app.request(Method::POST, &deployments(), &s.vic).header("idempotency-key", "deploy-1");
    app.send(viewer).await.err("FORBIDDEN");

    let listed = app.get(&s.alice, &deployments()).await;
    assert_eq!(listed.ok(200)["items"].as_array().map(Vec::len), Some(3), "{}", listed.text);
}

async fn following_a_deployment_log(backend: TestBackend) {
    let s = setup(spawn_app_with_platform(backend).await).await;
    let app = &s.app;
    let store = &app.store;
    let layout = app.layout().clone();

    // A finished deployment: its whole log, then the end with its status.
    let failed = store
        .create_deployment(
            &system(),
            &s.workspace,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::production(),
            None,
        )
        .await
        .expect("queuing");
    let lines = ["-----> Building shop #1", "       npm ci", "event: end", "data: FAILED", "       npm ERR! missing"];
    append(&layout.deployment_log(&failed.id), &format!("{}\n", lines.join("\n")));
    store
        .transition_deployment(&system(), &s.workspace, &failed.id, Transition::StartBuild, None)
        .await
        .expect("build");
    store
        .transition_deployment(&system(), &s.workspace, &failed.id, Transition::Fail, Some("npm ci failed"))
        .await
        .expect("failing");
    let path = format!("{ENV}/deployments/1/logs");
    assert_eq!(stream(app, &s.alice, &path).await, log_events(&lines, "FAILED"));
    assert_eq!(stream(app, &s.vic, &path).await, log_events(&lines, "FAILED"), "a viewer reads logs too");
    app.get(&s.bob, &path).await.err("WORKSPACE_NOT_FOUND");
    app.get(&s.alice, &format!("{ENV}/deployments/9/logs")).await.err("DEPLOYMENT_NOT_FOUND");
    app.get(&s.alice, &format!("{ENV}/deployments/0/logs")).await.err("INVALID_REQUEST");
    app.get(&s.alice, "/v1/workspaces/acme/projects/shop/environments/ghost/deployments/1/logs")
        .await
        .err("ENVIRONMENT_NOT_FOUND");
    app.get(ANON, &path).await.err("AUTH_REQUIRED");

    // A deployment in progress: lines arrive as they are written, a line
    // is sent only once complete, and the stream ends when it does.
    let running = store
        .create_deployment(
            &system(),
            &s.workspace,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::production(),
            None,
        )
        .await
        .expect("queuing");
    let log = layout.deployment_log(&running.id);
    append(&log, "-----> Building shop #2\n");
    let mut live = EventStream::open(app, &s.alice, &format!("{ENV}/deployments/2/logs")).await;
    live.until("Building shop #2").await;
    append(&log, "step two\npartial");
    live.until("step two").await;
    append(&log, " line\n");
    live.until("partial line").await;
    append(&log, "-----> Cancelled\n");
    store.transition_deployment(&system(), &s.workspace, &running.id, Transition::Cancel, None).await.expect("cancel");
    assert_eq!(
        live.finish().await,
        log_events(&["-----> Building shop #2", "step two", "partial line", "-----> Cancelled"], "CANCELLED")
    );

    // A live deployment with no log ends at once.
    release(&s, MISSING_SHA, true).await;
    assert_eq!(stream(app, &s.alice, &format!("{ENV}/deployments/3/logs")).await, log_events(&[], "DEPLOYED"));
    // Once a deployment has ended, its last line counts even without a newline.
    let cut = store
        .create_deployment(
            &system(),
            &s.workspace,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::production(),
            None,
        )
        .await
        .expect("queuing");
    append(&layout.deployment_log(&cut.id), "-----> Building shop #4\nKilled");
    store
        .transition_deployment(&system(), &s.workspace, &cut.id, Transition::Fail, Some("killed"))
        .await
        .expect("fail");
    assert_eq!(
        stream(app, &s.alice, &format!("{ENV}/deployments/4/logs")).await,
        log_events(&["-----> Building shop #4", "Killed"], "FAILED")
    );
}

async fn releases_and_rollback(backend: TestBackend) {
    let s = setup(spawn_app(backend).await).await;
    let app = &s.app;
    let releases = format!("{ENV}/releases");
    let rollback = format!("{ENV}/rollback");
    let (sha_a, sha_b) = ("a".repeat(40), "b".repeat(40));

    assert_eq!(app.get(&s.alice, &releases).await.ok(200), &json!({"items": []}));
    app.post(&s.alice, &rollback, json!({})).await.err("RELEASE_NOT_FOUND");
    app.put(&s.alice, &format!("{ENV}/config"), json!({"vars": {"PLAIN": "1"}})).await.ok(200);
    app.put(&s.alice, &format!("{ENV}/config"), json!({"vars": {"TOKEN": "s3cret"}, "secret": true})).await.ok(200);
    release(&s, &sha_a, true).await;
    // Only one release, and it is active: nothing earlier to go back to.
    let message = app.post(&s.alice, &rollback, json!({})).await.err("RELEASE_NOT_FOUND").to_owned();
    assert!(message.contains("earlier release"), "{message}");
    release(&s, &sha_b, true).await;

    let listed = app.get(&s.vic, &releases).await;
    documented(app, "get", RELEASES_OP, &listed).await;
    assert_eq!(summary(&listed), [(2, "build".into(), true), (1, "build".into(), false)]);
    let newest = &listed.body["items"][0];
    assert_eq!(newest["commit_sha"], sha_b.as_str());
    assert_eq!(newest["processes"], json!({"web": "node v2.js"}));
    assert_eq!(newest["config"], json!(["PLAIN", "TOKEN"]));
    assert!(!listed.text.contains("s3cret"), "a secret in the release list: {}", listed.text);
    let page = app.get(&s.alice, &format!("{releases}?limit=1")).await;
    let cursor = page.ok(200)["next_cursor"].as_str().expect("a second page").to_owned();
    let next = app.get(&s.alice, &format!("{releases}?limit=1&cursor={cursor}")).await;
    assert_eq!(summary(&next), [(1, "build".into(), false)]);
    app.get(&s.bob, &releases).await.err("WORKSPACE_NOT_FOUND");
    app.get(&s.alice, "/v1/workspaces/acme/projects/shop/environments/ghost/releases")
        .await
        .err("ENVIRONMENT_NOT_FOUND");

    // Refused rollbacks change nothing.
    app.post(&s.vic, &rollback, json!({})).await.err("FORBIDDEN");
    app.post(&s.bob, &rollback, json!({})).await.err("WORKSPACE_NOT_FOUND");
    app.post(&s.alice, &rollback, json!({"release": 0})).await.err("INVALID_REQUEST");
    let unknown = app.post(&s.alice, &rollback, json!({"release": 99})).await;
    documented(app, "post", ROLLBACK_OP, &unknown).await;
    unknown.err("RELEASE_NOT_FOUND");
    for bad in [json!({"release": -1}), json!({"release": "1"}), json!({"to": 1})] {
        app.post(&s.alice, &rollback, bad).await.err("INVALID_JSON");
    }
    app.send(app.request(Method::POST, &rollback, &s.alice)).await.err("UNSUPPORTED_MEDIA_TYPE");
    assert_eq!(summary(&app.get(&s.alice, &releases).await).len(), 2);

    // The default: the release before the active one, as a new deployment.
    let back = app.post(&s.alice, &rollback, json!({})).await;
    documented(app, "post", ROLLBACK_OP, &back).await;
    let back = back.ok(201).clone();
    assert_eq!(back["number"], 3);
    assert_eq!(back["kind"], "rollback");
    assert_eq!(back["status"], "DEPLOYING");
    assert_eq!(back["commit_sha"], sha_a.as_str());
    assert_eq!(back["plan"]["processes"], json!({"web": "node v1.js"}));
    assert!(back["release_id"].as_str().is_some_and(|id| id.starts_with("rel_")), "{back}");
    let listed = app.get(&s.alice, &releases).await;
    assert_eq!(
        summary(&listed),
        [(3, "rollback".into(), false), (2, "build".into(), true), (1, "build".into(), false)],
        "release 2 serves until the agent starts release 3"
    );
    assert_eq!(app.get(&s.alice, &format!("{ENV}/deployments/3")).await.ok(200)["kind"], "rollback");

    // By number; it replaces the rollback still waiting to go live.
    let forward = app.post(&s.alice, &rollback, json!({"release": 2})).await;
    assert_eq!((forward.ok(201)["number"].as_u64(), forward.body["commit_sha"].as_str()), (Some(4), Some(&*sha_b)));
    let replaced = app.get(&s.alice, &format!("{ENV}/deployments/3")).await;
    assert_eq!(replaced.ok(200)["status"], "CANCELLED");
    assert_eq!(replaced.body["failure_reason"], "replaced by #4 before it went live");

    let audit = app.get(&s.alice, "/v1/workspaces/acme/audit?limit=200").await;
    let actions: Vec<&str> =
        audit.ok(200)["items"].as_array().expect("items").iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["deployment.rollback", "release.create", "release.live"] {
        assert!(actions.contains(&action), "no {action} in {actions:?}");
    }
    assert_eq!(actions.iter().filter(|a| **a == "deployment.rollback").count(), 2, "{actions:?}");
}

async fn runtime_logs(backend: TestBackend) {
    let s = setup(spawn_app_with_platform(backend).await).await;
    let app = &s.app;
    let project = app.get(&s.alice, "/v1/workspaces/acme/projects/shop").await;
    let environment = project.ok(200)["environments"][0]["id"].as_str().expect("an environment ID").to_owned();
    let log = app.layout().app_log(&EnvironmentId::parse(&environment).expect("an environment ID"));
    let logs = format!("{ENV}/logs");

    // Nothing logged yet: the stream just ends.
    assert_eq!(stream(app, &s.alice, &logs).await, log_events(&[], "EOF"));

    let lines: Vec<String> = (1..=5).map(|i| format!("2030-01-01T00:00:0{i}Z web.1: line {i}")).collect();
    append(&log, &format!("{}\n", lines.join("\n")));
    let all: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_eq!(stream(app, &s.alice, &logs).await, log_events(&all, "EOF"));
    assert_eq!(stream(app, &s.vic, &format!("{logs}?lines=2")).await, log_events(&all[3..], "EOF"));
    assert_eq!(stream(app, &s.alice, &format!("{logs}?lines=0")).await, log_events(&[], "EOF"));
    assert_eq!(stream(app, &s.alice, &format!("{logs}?lines=10000")).await, log_events(&all, "EOF"));
    for bad in ["lines=10001", "lines=20000", "lines=-1", "lines=many", "follow=maybe"] {
        let message = app.get(&s.alice, &format!("{logs}?{bad}")).await.err("INVALID_REQUEST").to_owned();
        assert!(!message.is_empty(), "{bad}");
    }
    app.get(&s.bob, &logs).await.err("WORKSPACE_NOT_FOUND");
    app.get(&s.alice, "/v1/workspaces/acme/projects/shop/environments/ghost/logs").await.err("ENVIRONMENT_NOT_FOUND");
    app.get(&s.alice, "/v1/workspaces/acme/projects/ghost/environments/production/logs").await.err("PROJECT_NOT_FOUND");

    // Following: the last lines, then new ones as they come — also after
    // the agent rotates the file (renames it and starts a new one).
    let mut follow = EventStream::open(app, &s.alice, &format!("{logs}?follow=true&lines=1")).await;
    follow.until("line 5").await;
    append(&log, "2030-01-01T00:00:06Z web.1: line 6\n");
    follow.until("line 6").await;
    std::fs::rename(&log, log.with_extension("log.1")).expect("rotating the log");
    append(&log, "2030-01-01T00:00:07Z web.1: after rotation\n");
    follow.until("after rotation").await;
    let seen = events(&follow.text);
    assert_eq!(
        seen.iter().map(|(_, data)| data.as_str()).collect::<Vec<_>>(),
        [
            "2030-01-01T00:00:05Z web.1: line 5",
            "2030-01-01T00:00:06Z web.1: line 6",
            "2030-01-01T00:00:07Z web.1: after rotation"
        ],
        "no line twice, none lost, and no end while following"
    );
}
