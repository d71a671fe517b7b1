//! The sandbox, tried as a hostile tenant would: `slipway up` (as root, as CI
//! runs it) with two workspaces. Tenant A runs the sample Express app with a
//! secret config var and a marker file in its release; tenant B pushes an
//! attacker (`tests/sandbox/attacker.py`) whose build step and running app
//! try to read A's secret, files, release, repository and logs and the
//! platform's store and sealing key, to write outside their own layer, signal
//! and trace other processes, bind A's and the router's ports, connect to A's
//! instance, the API and other services of this host, create namespaces, and
//! to exhaust memory and processes. Every attempt must be denied, and A must
//! keep answering through all of it.
//!
//! Needs root (uids, namespaces, cgroups) and nftables: without them `slipway
//! up` refuses to start and this test fails saying what is missing.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use slipway_testkit::eventually;
use slipway_testkit::platform::{App, Platform};
use slipway_testkit::source::Source;

const SECRET: &str = "sw-tenant-a-secret-5b1d9e";
const ATTACKER: &str = include_str!("attacker.py");

fn require_root() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "the sandbox tests need root: tenant code gets uids of its own, namespaces and cgroups (run them as root)"
    );
}

/// Every entry of an attacker report, each of which must say `denied`.
#[track_caller]
fn assert_all_denied(report: &Value, expected_at_least: usize) {
    let entries = report.as_object().unwrap_or_else(|| panic!("not a report: {report}"));
    assert!(entries.len() >= expected_at_least, "only {} attempts reported: {report:#}", entries.len());
    let allowed: Vec<String> = entries
        .iter()
        .filter(|(_, outcome)| !outcome.as_str().unwrap_or_default().starts_with("denied"))
        .map(|(attack, outcome)| format!("{attack}: {outcome}"))
        .collect();
    assert!(allowed.is_empty(), "tenant B got through:\n{}", allowed.join("\n"));
}

async fn instances(platform: &Platform, app: &App) -> Vec<Value> {
    let listed = platform.api(Method::GET, &format!("{}/instances", app.env_path()), None).await;
    listed.as_array().cloned().unwrap_or_default()
}

/// Host pids whose environment holds A's secret (what B would love to signal).
fn host_pids_with_secret() -> Vec<String> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.chars().all(|c| c.is_ascii_digit()) {
            if let Ok(environ) = std::fs::read(entry.path().join("environ")) {
                if environ.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()) {
                    pids.push(name);
                }
            }
        }
    }
    pids
}

/// Files of tenant A and of the platform, found as root on the host.
fn targets(platform: &Platform) -> Vec<String> {
    let data = &platform.data_dir;
    let mut files = vec![data.join("secret.key"), data.join("slipway.db"), data.join("run/agent.pid")];
    let find = |dir: std::path::PathBuf, name: &str| -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        let mut stack = vec![dir];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if entry.file_name().to_string_lossy() == name {
                    found.push(path);
                }
            }
        }
        found
    };
    files.extend(find(data.join("builds"), "marker.txt"));
    files.extend(find(data.join("repos"), "HEAD"));
    files.extend(find(data.join("logs"), "agent.log"));
    files.extend(std::fs::read_dir(data.join("logs/apps")).into_iter().flatten().flatten().map(|e| e.path()));
    // Each environment's dependency cache: `cache/<project>/<environment>/npm`.
    let projects = std::fs::read_dir(data.join("cache")).into_iter().flatten().flatten();
    let environments = projects.flat_map(|p| std::fs::read_dir(p.path()).into_iter().flatten().flatten());
    files.extend(environments.map(|e| e.path().join("npm")).filter(|npm| npm.exists()));
    files.iter().map(|p| p.display().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_tenant_is_denied_everything_and_the_other_tenant_keeps_serving() {
    require_root();
    let platform = Platform::start("sandbox", &[]).await;
    let token = platform.create_token("git").await;

    // Tenant A: Express with a secret and a marker file.
    let a = platform.create_app("tenant-a", "shop").await;
    platform.cli_ok(&a, &["config:set", "--secret", &format!("API_SECRET={SECRET}")]).await;
    let source_a = Source::example(&platform.home, "express", "a").await;
    source_a.write("marker.txt", "tenant A's private marker");
    source_a.commit("marker").await;
    let push = source_a.push(&platform.remote(&a, &token), "main").await;
    assert_eq!(push.deployed(), 1, "{}", push.output);
    platform.assert_serves(&a, "hello from express").await;
    let a_port = eventually("A's instance to be reported", Duration::from_secs(30), async || {
        instances(&platform, &a).await.iter().find_map(|i| i["port"].as_u64())
    })
    .await;
    let a_pids = host_pids_with_secret();
    assert!(!a_pids.is_empty(), "A's app should hold its secret in its environment");
    let files = targets(&platform);
    assert!(files.iter().any(|f| f.ends_with("marker.txt")), "A's marker was not found in its release: {files:?}");
    assert!(files.iter().any(|f| f.ends_with("/npm")), "A's npm cache was not found: {files:?}");

    // Tenant B: the attacker, its build attacking too; 256 MiB and 64 processes.
    let b = platform.create_app("tenant-b", "probe").await;
    let api_port = platform.api_url.rsplit(':').next().unwrap_or_default().to_owned();
    let router_port = platform.router.rsplit(':').next().unwrap_or_default().to_owned();
    let vars = [
        format!("SW_FILES={}", files.join(",")),
        // Reversed: B's own environment must not hold the value it looks for.
        format!("SW_SECRET={}", SECRET.chars().rev().collect::<String>()),
        format!("SW_PORTS={a_port},{api_port}"),
        format!("SW_ROUTER_PORT={router_port}"),
        format!("SW_HOST_PIDS={}", a_pids.join(",")),
    ];
    let mut args = vec!["config:set"];
    args.extend(vars.iter().map(String::as_str));
    platform.cli_ok(&b, &args).await;
    let (status, body) = platform
        .api_as(
            Some(&platform.admin_token),
            Method::PATCH,
            &b.env_path(),
            Some(json!({"resources": {"memory": "256M", "max_processes": 64}})),
        )
        .await;
    assert_eq!(status, 200, "resizing B: {body}");
    let source_b = Source::example(&platform.home, "static", "b").await;
    source_b.replace_all(&[
        ("attacker.py", ATTACKER),
        (
            "slipway.toml",
            "build = \"python3 attacker.py build > build-report.json\"\nstart = \"python3 attacker.py\"\n",
        ),
    ]);
    source_b.commit("attacker").await;
    let push = source_b.push(&platform.remote(&b, &token), "main").await;
    assert_eq!(push.deployed(), 1, "{}", push.output);
    platform.assert_serves(&b, "attacker up").await;

    // What B's build step could do.
    let (_, report) = platform.get(&b, "/build-report").await.expect("the build report");
    let report: Value = serde_json::from_str(&report).unwrap_or_else(|err| panic!("{err}: {report}"));
    assert_all_denied(&report, files.len() * 2 + 10);

    // What B's running app can do.
    let (_, report) = platform.get(&b, "/attack").await.expect("the attack report");
    let report: Value = serde_json::from_str(&report).unwrap_or_else(|err| panic!("{err}: {report}"));
    assert_all_denied(&report, files.len() * 2 + 20);
    for address in ["169.254.169.254:80", "10.0.0.1:80"] {
        let outcome = report[format!("connect {address}")].as_str().unwrap_or_default();
        assert!(outcome.contains("ConnectionRefusedError"), "{address} must be refused by the rules: {outcome}");
    }
    platform.assert_serves(&a, "hello from express").await;
    // The legitimate way to another tenant's app still works: through the router.
    let through_router = platform.get(&a, "/").await.expect("A through the router");
    assert_eq!(through_router.0, 200);

    // A fork bomb stops at B's process limit; A keeps serving.
    let (_, bomb) = platform.get(&b, "/forkbomb").await.expect("the fork bomb report");
    let bomb: Value = serde_json::from_str(&bomb).unwrap_or_else(|err| panic!("{err}: {bomb}"));
    assert!(bomb["stopped_by"].is_string(), "the fork bomb was not stopped: {bomb}");
    assert!(bomb["started"].as_u64().unwrap_or(u64::MAX) < 64, "more processes than the limit: {bomb}");
    platform.assert_serves(&a, "hello from express").await;

    // A memory hog is OOM-killed, says so, and comes back; A keeps serving.
    let _ = platform.get(&b, "/hog").await;
    eventually("B's OOM kill to be reported", Duration::from_secs(60), async || {
        let listed = instances(&platform, &b).await;
        let reason = listed.iter().find_map(|i| i["last_exit"].as_str().map(str::to_owned));
        (reason.as_deref() == Some("out of memory (limit 256 MiB)")).then_some(())
    })
    .await;
    eventually("B to come back after its OOM kill", Duration::from_secs(60), async || {
        (platform.get(&b, "/").await.map(|(status, _)| status) == Ok(200)).then_some(())
    })
    .await;
    assert!(platform.runtime_log(&b).await.contains("out of memory (limit 256 MiB)"));
    let ps = platform.cli_ok(&b, &["ps"]).await;
    assert!(ps.contains("out of memory (limit 256 MiB)"), "{ps}");
    platform.assert_serves(&a, "hello from express").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_static_site_never_serves_what_its_symlinks_point_at() {
    require_root();
    let platform = Platform::start("sandbox-static", &[]).await;
    let token = platform.create_token("git").await;
    let app = platform.create_app("acme", "site").await;
    let source = Source::example(&platform.home, "static", "site").await;
    let key = platform.data_dir.join("secret.key");
    let public = source.dir.join("public");
    std::os::unix::fs::symlink(&key, public.join("key.txt")).expect("symlink");
    std::os::unix::fs::symlink("/etc", public.join("etc")).expect("symlink");
    std::os::unix::fs::symlink("../../", public.join("up")).expect("symlink");
    source.commit("links").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 1, "{}", push.output);
    let secret_key = std::fs::read_to_string(&key).expect("the sealing key");
    for path in ["/key.txt", "/etc/passwd", "/etc/hostname", "/up/", "/up/secret.key"] {
        let (status, body) = platform.get(&app, path).await.expect("an answer");
        assert_eq!(status, 404, "{path} answered {status}: {body}");
        assert!(!body.contains(secret_key.trim()) && !body.contains("root:x:0"), "{path} leaked: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_says_the_sandbox_is_enforced() {
    require_root();
    let platform = Platform::start("sandbox-health", &[]).await;
    let health: Value = platform
        .http_client()
        .get(format!("{}/healthz", platform.api_url))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(health["sandbox"], "enforced", "{health}");
}
