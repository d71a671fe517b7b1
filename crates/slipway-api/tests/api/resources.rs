//! Resources and quotas through the API: resizing an environment's instances
//! (roles, the platform's maxima from the settings, bad figures, another
//! tenant), and workspace quotas set by a platform admin and enforced at
//! project creation, deploy, rollback, scale and resize — every refusal a 4xx
//! that changes nothing. The pipeline does not run here: releases are recorded
//! through the store, as a build would.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::Transition;
use slipway_core::ids::WorkspaceId;
use slipway_core::image_tag::CommitSha;
use slipway_core::names::{EnvironmentName, ProjectSlug};
use slipway_core::quota::ResourceLimits;
use slipway_core::resources::{Cpu, Memory, Resources};
use slipway_store::{Actor, NewRelease, RuntimeEnv};
use slipway_testkit::TestBackend;

use super::deploys::plan;
use super::harness::{spawn_app_with, spawn_app_with_platform, TestApp};

both_backends!(resizing_an_environment, quotas_are_set_by_admins_and_refuse_growth);

const WS: &str = "/v1/workspaces/acme";
const ENV: &str = "/v1/workspaces/acme/projects/shop/environments/production";
const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn figures(body: &Value) -> (u64, u64, u64) {
    let resources = &body["resources"];
    let number = |key: &str| resources[key].as_u64().unwrap_or_else(|| panic!("no {key} in {body}"));
    (number("memory"), number("cpu"), number("max_processes"))
}

async fn resizing_an_environment(backend: TestBackend) {
    // The platform's maxima come from the settings: here 2 GiB, 2 cores, 512 processes.
    let max = Resources { memory: Memory::from_mib(2048), cpu: Cpu::from_millis(2000), max_processes: 512 };
    let app = spawn_app_with(backend, |config| {
        config.resources = ResourceLimits::new(Resources::default(), max).expect("the default fits");
    })
    .await;
    let alice = app.user("alice").await;
    let dev = app.user("dev").await;
    let vic = app.user("vic").await;
    app.workspace(&alice, "acme").await;
    app.project(&alice, "acme", "shop").await;
    app.add_member(&alice, "acme", "dev", "developer").await;
    app.add_member(&alice, "acme", "vic", "viewer").await;

    // Before any change: the platform's defaults, on the environment and in the project.
    let defaults = (512 * MIB, 1000, 256);
    assert_eq!(figures(app.get(&vic, ENV).await.ok(200)), defaults);
    let project = app.get(&vic, &format!("{WS}/projects/shop")).await;
    assert_eq!(figures(&project.ok(200)["environments"][0]), defaults);

    // A developer resizes, as they may scale.
    let body = json!({"resources": {"memory": "1G", "cpu": "0.5", "max_processes": 128}});
    let resized = app.patch(&dev, ENV, body).await;
    assert_eq!(figures(resized.ok(200)), (GIB, 500, 128));
    assert_eq!(resized.body["name"], "production");
    assert_eq!(figures(app.get(&vic, ENV).await.ok(200)), (GIB, 500, 128));
    // One figure at a time; `null` goes back to the default.
    assert_eq!(figures(app.patch(&dev, ENV, json!({"resources": {"cpu": "250m"}})).await.ok(200)), (GIB, 250, 128));
    let reset = app.patch(&dev, ENV, json!({"resources": {"memory": null, "max_processes": null}})).await;
    assert_eq!(figures(reset.ok(200)), (512 * MIB, 250, 256));
    let now = (512 * MIB, 250, 256);

    // Over the maximum, or not a figure at all: 400, nothing changed.
    let refused = [
        (json!({"memory": "3G"}), "INVALID_RESOURCES", "memory 3 GiB is over the platform's maximum of 2 GiB"),
        (json!({"cpu": "4"}), "INVALID_RESOURCES", "maximum of 2"),
        (json!({"max_processes": 4096}), "INVALID_RESOURCES", "maximum of 512"),
        (json!({"max_processes": 2}), "INVALID_RESOURCES", "at least 16"),
        (json!({"max_processes": -1}), "INVALID_RESOURCES", "not a process count"),
        (json!({"memory": "lots"}), "INVALID_RESOURCES", "`lots` is not a memory size"),
        (json!({"memory": "1M"}), "INVALID_RESOURCES", "too little"),
        (json!({"memory": ""}), "INVALID_RESOURCES", "not a memory size"),
        (json!({"cpu": "-1"}), "INVALID_RESOURCES", "`-1` is not a CPU figure"),
        (json!({"cpu": "0"}), "INVALID_RESOURCES", "not a CPU figure"),
        (json!({"cpu": "lots"}), "INVALID_RESOURCES", "not a CPU figure"),
        (json!({"memory": 512}), "INVALID_JSON", ""),
        (json!({"disk": "1G"}), "INVALID_JSON", "disk"),
    ];
    for (resources, code, text) in refused {
        let reply = app.patch(&dev, ENV, json!({ "resources": resources.clone() })).await;
        let message = reply.err(code);
        assert!(message.contains(text), "{resources}: {message}");
        assert_eq!(figures(app.get(&vic, ENV).await.ok(200)), now, "{resources} changed something");
    }
    // A bad figure next to a good one and a target change: nothing at all changes.
    let mixed = json!({"target": "kubernetes", "resources": {"memory": "1G", "cpu": "9"}});
    app.patch(&alice, ENV, mixed).await.err("INVALID_RESOURCES");
    let env = app.get(&vic, ENV).await;
    assert_eq!((figures(env.ok(200)), env.body["target"].as_str()), (now, Some("local")));

    // Roles: a viewer may not resize, a developer may not move the environment.
    app.patch(&vic, ENV, json!({"resources": {"memory": "1G"}})).await.err("FORBIDDEN");
    app.patch(&dev, ENV, json!({"target": "kubernetes", "resources": {"memory": "1G"}})).await.err("FORBIDDEN");
    assert_eq!(figures(app.get(&vic, ENV).await.ok(200)), now);

    // Another tenant's environment is not found, and stays as it was.
    let bob = app.user("bob").await;
    app.workspace(&bob, "beta").await;
    app.patch(&bob, ENV, json!({"resources": {"memory": "1G"}})).await.err("WORKSPACE_NOT_FOUND");
    app.get(&bob, ENV).await.err("WORKSPACE_NOT_FOUND");
    let theirs = "/v1/workspaces/beta/projects/shop/environments/production";
    app.patch(&bob, theirs, json!({"resources": {"memory": "1G"}})).await.err("PROJECT_NOT_FOUND");
    assert_eq!(figures(app.get(&vic, ENV).await.ok(200)), now);
    app.get(&vic, &format!("{WS}/projects/shop/environments/qa")).await.err("ENVIRONMENT_NOT_FOUND");

    // Each change is in the audit log, with what it set.
    let audit = app.get(&alice, &format!("{WS}/audit")).await;
    let resized: Vec<&str> = audit.ok(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|event| event["action"] == "environment.resources")
        .map(|event| event["target"].as_str().expect("a target"))
        .collect();
    assert_eq!(
        resized,
        [
            "project/shop/production:memory 512 MiB, cpu 0.25, 256 processes",
            "project/shop/production:memory 1 GiB, cpu 0.25, 128 processes",
            "project/shop/production:memory 1 GiB, cpu 0.5, 128 processes",
        ]
    );
}

/// Records a release of `processes` for `env` of `shop` as the pipeline would (a build queued
/// through the store, so the deploy-time check runs too). Panics if any step is refused.
async fn release(app: &TestApp, workspace: &WorkspaceId, env: &str, commit: char, processes: &[&str]) {
    let store = &app.store;
    let actor = Actor::system("test");
    let sha = CommitSha::parse(&commit.to_string().repeat(40)).expect("a SHA");
    let (d, _) = store
        .queue_deployment(
            &actor,
            workspace,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::parse(env).expect("an environment name"),
            Some(&sha),
            None,
        )
        .await
        .expect("queuing");
    store.transition_deployment(&actor, workspace, &d.id, Transition::StartBuild, None).await.expect("building");
    let plan = BuildPlan {
        processes: processes
            .iter()
            .map(|p| (p.parse().expect("a process type"), format!("node {p}.js")))
            .collect::<BTreeMap<_, _>>(),
        ..plan("node web.js")
    };
    let new =
        NewRelease { artifact_dir: "/artifacts/x".into(), plan, runtime_env: RuntimeEnv::default(), config: vec![] };
    store.create_release(&actor, workspace, &d.id, new).await.expect("releasing");
}

fn usage(reply: &Value) -> (u64, u64, u64) {
    let usage = &reply["usage"];
    let number = |key: &str| usage[key].as_u64().unwrap_or_else(|| panic!("no {key} in {reply}"));
    (number("memory"), number("instances"), number("projects"))
}

async fn quotas_are_set_by_admins_and_refuse_growth(backend: TestBackend) {
    let app = spawn_app_with_platform(backend).await;
    let alice = app.user("alice").await;
    let vic = app.user("vic").await;
    let ws = app.workspace(&alice, "acme").await;
    let workspace = WorkspaceId::parse(ws["id"].as_str().expect("id")).expect("a workspace ID");
    let created = app
        .post(&alice, &format!("{WS}/projects"), json!({"slug": "shop", "repo_url": "https://example.com/shop.git"}))
        .await;
    created.ok(201);
    app.add_member(&alice, "acme", "vic", "viewer").await;
    let quotas = format!("{WS}/quotas");

    // Unlimited until a platform admin says otherwise; members see it.
    let report = app.get(&vic, &quotas).await;
    assert_eq!(report.ok(200)["quota"], json!({"memory": null, "instances": null, "projects": null}));
    assert_eq!(usage(&report.body), (0, 0, 1));
    // Two releases: one with a worker, then one without; one instance runs.
    release(&app, &workspace, "production", 'a', &["web", "worker"]).await;
    release(&app, &workspace, "production", 'b', &["web"]).await;
    assert_eq!(usage(app.get(&vic, &quotas).await.ok(200)), (512 * MIB, 1, 1));

    // Only a platform admin sets it; even the owner may not.
    let quota = json!({"memory": "1G", "instances": 1, "projects": 1});
    app.put(&alice, &quotas, quota.clone()).await.err("FORBIDDEN");
    app.put(&vic, &quotas, quota.clone()).await.err("FORBIDDEN");
    for (body, code) in [
        (json!({"memory": "lots"}), "INVALID_RESOURCES"),
        (json!({"instances": -1}), "INVALID_REQUEST"),
        (json!({"projects": 5_000_000_000_i64}), "INVALID_REQUEST"),
        (json!({"cpu": "2"}), "INVALID_JSON"),
    ] {
        app.put(&app.admin, &quotas, body).await.err(code);
    }
    assert_eq!(app.get(&vic, &quotas).await.ok(200)["quota"]["instances"], Value::Null, "a refused PUT set it");
    let set = app.put(&app.admin, &quotas, quota).await;
    assert_eq!(set.ok(200)["quota"], json!({"memory": GIB, "instances": 1, "projects": 1}));
    assert_eq!(app.get(&vic, &quotas).await.ok(200)["quota"]["memory"], GIB);

    // Project creation over the quota: 409, naming quota, use and ask; nothing created.
    let refused = app.post(&alice, &format!("{WS}/projects"), json!({"slug": "blog"})).await;
    let message = refused.err("QUOTA_EXCEEDED");
    assert!(message.contains("a quota of 1 project and has 1; this asks for 1 more"), "{message}");
    assert_eq!(app.project_slugs(&alice, "acme").await, ["shop"]);

    // A second instance by scale is refused, and the scale stays.
    let scale = format!("{ENV}/scale");
    let message = app.put(&alice, &scale, json!({"processes": {"web": 2}})).await.err("QUOTA_EXCEEDED").to_owned();
    assert!(message.contains("over its quota of 1 instance: 1 instance now and this change asks for 1 more"));
    let source = app
        .store
        .render_source(
            &workspace,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::production(),
            None,
        )
        .await
        .expect("the environment");
    assert!(source.scale.is_empty(), "a refused scale was stored: {:?}", source.scale);

    // Resize over the memory quota: refused, resources unchanged; within it, fine.
    let message = app.patch(&alice, ENV, json!({"resources": {"memory": "2G"}})).await.err("QUOTA_EXCEEDED").to_owned();
    assert!(message.contains("memory quota of 1 GiB: 512 MiB is in use and this change asks for 1536 MiB more"));
    assert_eq!(figures(app.get(&vic, ENV).await.ok(200)).0, 512 * MIB);
    assert_eq!(figures(app.patch(&alice, ENV, json!({"resources": {"memory": "1G"}})).await.ok(200)).0, GIB);

    // Rolling back to the release with a worker would run two instances: refused, nothing queued.
    let deployments = format!("{ENV}/deployments");
    let count = |reply: &Value| reply["items"].as_array().map(Vec::len);
    let before = count(app.get(&vic, &deployments).await.ok(200));
    app.post(&alice, &format!("{ENV}/rollback"), json!({"release": 1})).await.err("QUOTA_EXCEEDED");
    assert_eq!(count(app.get(&vic, &deployments).await.ok(200)), before);

    // A first deployment of another environment would add an instance: refused, nothing queued.
    let envs = format!("{WS}/projects/shop/environments");
    app.post(&alice, &envs, json!({"name": "staging"})).await.ok(201);
    let staging = format!("{envs}/staging/deployments");
    app.post(&alice, &staging, json!({})).await.err("QUOTA_EXCEEDED");
    assert_eq!(count(app.get(&vic, &staging).await.ok(200)), Some(0));
    // A redeploy of production at its size fits.
    app.post(&alice, &deployments, json!({})).await.ok(201);

    // Raised by the admin, the same calls go through.
    let more = json!({"memory": "8G", "instances": 10, "projects": 5});
    app.put(&app.admin, &quotas, more).await.ok(200);
    app.put(&alice, &scale, json!({"processes": {"web": 2}})).await.ok(200);
    app.post(&alice, &staging, json!({})).await.ok(201);
    app.post(&alice, &format!("{WS}/projects"), json!({"slug": "blog"})).await.ok(201);
    assert_eq!(usage(app.get(&vic, &quotas).await.ok(200)), (2 * GIB, 2, 2));

    // Every quota change is audited in the workspace.
    let audit = app.get(&alice, &format!("{WS}/audit")).await;
    let set: Vec<&str> = audit.ok(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|event| event["action"] == "quota.set")
        .map(|event| event["target"].as_str().expect("a target"))
        .collect();
    assert_eq!(
        set,
        ["workspace/acme:memory=8 GiB,instances=10,projects=5", "workspace/acme:memory=1 GiB,instances=1,projects=1"]
    );
}
