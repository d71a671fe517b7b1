//! Release retention and disk use through the API: what `GET …/releases` says of releases whose
//! artifact was pruned, `RELEASE_PRUNED` for a rollback to one (nothing changes), and the disk use
//! of `GET …/projects/{project}` over build output full of links. The pipeline does not run here:
//! the tests prune through the store the server uses, as the pipeline does after each release
//! (its removal of the directories is tested in `slipway-pipeline`).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde_json::{json, Value};
use slipway_core::ids::EnvironmentId;
use slipway_core::names::ProjectSlug;
use slipway_core::retention::ReleaseRetention;
use slipway_git::Repos;
use slipway_testkit::TestBackend;

use super::deploys::{documented, release, setup, system, Setup, ENV, RELEASES_OP, ROLLBACK_OP};
use super::harness::{spawn_app, spawn_app_with_platform};

both_backends!(pruned_releases_say_so_and_refuse_a_rollback, disk_use_of_a_project);

const PROJECT: &str = "/v1/workspaces/acme/projects/shop";
const PROJECT_OP: &str = "/v1/workspaces/{ws}/projects/{project}";

fn commit(n: u64) -> String {
    format!("{n:040x}")
}

async fn environment_id(s: &Setup) -> EnvironmentId {
    let project = s.app.get(&s.alice, PROJECT).await;
    EnvironmentId::parse(project.ok(200)["environments"][0]["id"].as_str().expect("an environment ID")).expect("an ID")
}

/// `(number, rollback_available)` of the releases listed.
fn availability(listed: &Value) -> Vec<(u64, bool)> {
    listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| (r["number"].as_u64().expect("number"), r["rollback_available"].as_bool().expect("a boolean")))
        .collect()
}

async fn pruned_releases_say_so_and_refuse_a_rollback(backend: TestBackend) {
    let s = setup(spawn_app(backend).await).await;
    let app = &s.app;
    let (releases, rollback) = (format!("{ENV}/releases"), format!("{ENV}/rollback"));
    let environment = environment_id(&s).await;
    let retention = ReleaseRetention::new(3).expect("a retention");

    // N + 2 releases, retention applied after each as the pipeline does.
    for n in 1..=5 {
        release(&s, &commit(n), true).await;
        app.store.prune_artifacts(&system(), &s.workspace, &environment, retention).await.expect("pruning");
    }
    let listed = app.get(&s.vic, &releases).await;
    documented(app, "get", RELEASES_OP, &listed).await;
    let listed = listed.ok(200).clone();
    assert_eq!(availability(&listed), [(5, true), (4, true), (3, true), (2, false), (1, false)]);
    assert_eq!(listed["items"][0]["active"], true, "the active release is among the kept");
    for kept in &listed["items"].as_array().expect("items")[..3] {
        assert!(
            kept.get("rollback_unavailable_reason").is_none() && kept.get("artifact_pruned_at").is_none(),
            "{kept}"
        );
    }
    let oldest = &listed["items"][4];
    let reason = oldest["rollback_unavailable_reason"].as_str().expect("a reason");
    assert!(reason.contains("last 3 releases") && reason.contains(&commit(1)), "{reason}");
    assert!(oldest["artifact_pruned_at"].is_string(), "{oldest}");

    // Refused, naming the release, the retention and what to do instead; and nothing changes.
    let deployments_before = app.get(&s.alice, &format!("{ENV}/deployments")).await.ok(200).clone();
    let audit_before = app.get(&s.alice, "/v1/workspaces/acme/audit?limit=200").await.ok(200)["items"].clone();
    let refused = app.post(&s.alice, &rollback, json!({"release": 2})).await;
    documented(app, "post", ROLLBACK_OP, &refused).await;
    assert_eq!(refused.status.as_u16(), 410);
    let message = refused.err("RELEASE_PRUNED");
    for part in ["release #2", "release retention", "last 3 releases", &commit(2), "slipway deploy --commit"] {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
    assert_eq!(app.get(&s.alice, &format!("{ENV}/deployments")).await.ok(200), &deployments_before);
    assert_eq!(app.get(&s.alice, &releases).await.ok(200), &listed);
    assert_eq!(app.get(&s.alice, "/v1/workspaces/acme/audit?limit=200").await.ok(200)["items"], audit_before);
    // A viewer is refused for their role first, as before.
    app.post(&s.vic, &rollback, json!({"release": 2})).await.err("FORBIDDEN");

    // A kept one still rolls back.
    let back = app.post(&s.alice, &rollback, json!({"release": 3})).await;
    assert_eq!(
        (back.ok(201)["kind"].as_str(), back.body["commit_sha"].as_str()),
        (Some("rollback"), Some(&*commit(3)))
    );
    // Without the platform's files the project answers no disk use.
    assert!(app.get(&s.alice, PROJECT).await.ok(200).get("disk_usage").is_none());
}

fn allocated(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).expect("a path written by the test").blocks() * 512
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("creating a directory");
    std::fs::write(path, bytes).expect("writing a file");
}

async fn disk_use_of_a_project(backend: TestBackend) {
    let s = setup(spawn_app_with_platform(backend).await).await;
    let app = &s.app;
    let layout = app.layout().clone();
    release(&s, &commit(1), true).await;
    // IDs from the store: a look through the API now would measure (and cache) an empty project.
    let files = app
        .store
        .project_files(&s.workspace, &ProjectSlug::parse("shop").expect("a project slug"))
        .await
        .expect("the project's files");
    let (project_id, environment) = (files.project_id.clone(), files.environments[0].clone());
    let deployment = files.builds[0].clone();

    // What a hostile build leaves: a link to /, a link into /proc, a hard link inside the build and
    // one into the project's cache, and a lot of bytes in one file.
    let build = layout.build_dir(&deployment);
    let app_dir = build.join("app");
    write(&app_dir.join("bundle.js"), &vec![b'x'; 300 * 1024]);
    std::fs::hard_link(app_dir.join("bundle.js"), app_dir.join("bundle-again.js")).expect("a hard link");
    std::os::unix::fs::symlink("/", app_dir.join("root")).expect("a symlink");
    std::os::unix::fs::symlink("/proc/self/root", app_dir.join("proc-root")).expect("a symlink");
    let cache = layout.cache_dir(&project_id);
    write(&cache.join("npm/blob"), &vec![b'c'; 8192]);
    std::fs::hard_link(app_dir.join("bundle.js"), cache.join("npm/linked")).expect("a hard link into the cache");
    let repo = Repos::new(layout.repos()).path(&s.workspace, &project_id);
    write(&repo.join("objects/pack/pack-1.pack"), &vec![b'p'; 20_000]);
    let runtime_log = layout.app_log(&environment);
    write(&runtime_log, &vec![b'l'; 5000]);
    write(&runtime_log.with_extension("log.1"), &vec![b'r'; 70_000]);
    let build_log = layout.deployment_log(&deployment);
    write(&build_log, b"-----> Building shop #1\n");

    let reply = app.get(&s.vic, PROJECT).await;
    documented(app, "get", PROJECT_OP, &reply).await;
    let usage = reply.ok(200)["disk_usage"].clone();
    let figure = |name: &str| usage[name].as_u64().unwrap_or_else(|| panic!("no {name} in {usage}"));
    let builds = allocated(&build)
        + allocated(&app_dir)
        + allocated(&app_dir.join("bundle.js"))
        + allocated(&app_dir.join("root"))
        + allocated(&app_dir.join("proc-root"));
    assert_eq!(figure("builds"), builds, "the bundle once, each link as itself: {usage}");
    assert_eq!(
        figure("build_cache"),
        allocated(&cache) + allocated(&cache.join("npm")) + allocated(&cache.join("npm/blob")),
        "the cache's hard link to the bundle was counted in the builds already: {usage}"
    );
    assert_eq!(
        figure("repository"),
        allocated(&repo)
            + allocated(&repo.join("objects"))
            + allocated(&repo.join("objects/pack"))
            + allocated(&repo.join("objects/pack/pack-1.pack"))
    );
    assert_eq!(figure("runtime_logs"), allocated(&runtime_log) + allocated(&runtime_log.with_extension("log.1")));
    assert_eq!(figure("build_logs"), allocated(&build_log));
    let sum: u64 = ["repository", "builds", "build_cache", "build_logs", "runtime_logs", "access_logs"]
        .iter()
        .map(|n| figure(n))
        .sum();
    assert_eq!(figure("total"), sum);
    assert!(figure("total") < 2 * 300 * 1024 + 200 * 1024, "{usage}");
    assert_eq!(usage["complete"], true, "following / would have run out of budget: {usage}");
    assert!(usage["measured_at"].is_string(), "{usage}");

    // Measured once a minute: an immediate second look answers the same measurement.
    write(&cache.join("npm/later"), &vec![b'n'; 100_000]);
    let again = app.get(&s.alice, PROJECT).await.ok(200)["disk_usage"].clone();
    assert_eq!(again, usage);
    app.get(&s.bob, PROJECT).await.err("WORKSPACE_NOT_FOUND");
    app.get(&s.alice, "/v1/workspaces/acme/projects/ghost").await.err("PROJECT_NOT_FOUND");
    // The list of projects does not measure.
    let listed = app.get(&s.alice, "/v1/workspaces/acme/projects").await.ok(200).clone();
    assert!(listed["items"][0].get("disk_usage").is_none(), "{listed}");
}
