//! Resources and quotas: each environment's sandbox uid (allocated on first
//! use, once, never reused or shared, also when first uses race), its
//! resources and the platform defaults they fall back to, and workspace quotas
//! enforced by every change that grows a workspace, each refusal changing nothing.

use std::collections::{BTreeMap, BTreeSet};

use slipway_core::api::Workspace;
use slipway_core::deployment::{DeploymentStatus, Transition};
use slipway_core::ids::{EnvironmentId, WorkspaceId};
use slipway_core::quota::{QuotaUsage, WorkspaceQuota};
use slipway_core::resources::{Cpu, Memory, Resources, SandboxUid};
use slipway_core::ErrorCode;
use slipway_store::{ResourceChange, StoreError};
use slipway_testkit::TestBackend;
use sqlx::Row;

use crate::support::*;

both_backends!(
    sandbox_uids_are_allocated_once_and_never_reused,
    concurrent_first_uses_never_share_a_uid,
    resources_fall_back_to_the_platform_defaults,
    quotas_refuse_growth_and_change_nothing,
    a_release_or_a_rollback_over_the_quota_is_refused,
    concurrent_scales_cannot_both_squeeze_under_the_quota,
);

fn uid(n: u32) -> SandboxUid {
    SandboxUid::nth(n).unwrap()
}

fn mib(n: u64) -> Memory {
    Memory::from_mib(n)
}

/// A scale as asked for (keyed by `ProcessType`) or as stored (by `String`).
fn scale<K: std::str::FromStr<Err: std::fmt::Debug> + Ord>(pairs: &[(&str, u32)]) -> BTreeMap<K, u32> {
    pairs.iter().map(|(process, count)| (process.parse().unwrap(), *count)).collect()
}

/// The quota error's message, asserting its code.
#[track_caller]
fn quota_exceeded<T: std::fmt::Debug>(result: Result<T, StoreError>) -> String {
    match result {
        Err(StoreError::Conflict { code: ErrorCode::QuotaExceeded, message }) => message,
        other => panic!("expected QUOTA_EXCEEDED, got {other:?}"),
    }
}

async fn allocated_uids(f: &Fixture) -> i64 {
    let mut tx = f.raw_platform().await;
    let count: i64 = sqlx::query("SELECT COUNT(*) FROM environments WHERE sandbox_uid IS NOT NULL")
        .fetch_one(&mut *tx)
        .await
        .unwrap()
        .get(0);
    tx.commit().await.unwrap();
    count
}

/// Queues, builds and records a release of `project`'s production with `processes`.
async fn release_of(f: &Fixture, ws: &Workspace, project: &str, commit: &str, processes: &[&str]) {
    let (d, _) = f
        .store
        .queue_deployment(&f.actor, &ws.id, &project_slug(project), &env_name("production"), Some(&sha(commit)), None)
        .await
        .unwrap();
    f.store.transition_deployment(&pipeline(), &ws.id, &d.id, Transition::StartBuild, None).await.unwrap();
    let mut release = new_release(commit, Vec::new());
    release.plan.processes =
        processes.iter().map(|p| (p.parse().expect("a process type"), format!("node {p}.js"))).collect();
    f.store.create_release(&pipeline(), &ws.id, &d.id, release).await.unwrap();
}

async fn environment(f: &Fixture, ws: &Workspace, name: &str) -> EnvironmentId {
    let hostname = generated(ws.slug.as_str(), "web", name);
    f.store.create_environment(&f.actor, ws, &project_slug("web"), &env_name(name), &hostname).await.unwrap().id
}

async fn sandbox_uids_are_allocated_once_and_never_reused(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let web = f.project(&ws, "web").await;
    let production = web.environments[0].id.clone();
    let staging = environment(&f, &ws, "staging").await;
    assert_eq!(allocated_uids(&f).await, 0, "nothing is allocated before first use");

    assert_eq!(f.store.sandbox_uid(&ws.id, &staging).await.unwrap(), uid(0));
    assert_eq!(f.store.sandbox_uid(&ws.id, &production).await.unwrap(), uid(1));
    assert_eq!(f.store.sandbox_uid(&ws.id, &staging).await.unwrap(), uid(0), "a uid is for keeps");
    // Another tenant cannot even learn it.
    let other = f.workspace("other").await;
    assert_eq!(not_found(f.store.sandbox_uid(&other.id, &staging).await), ErrorCode::EnvironmentNotFound);

    // A deleted environment's uid is never handed out again.
    f.store.delete_environment(&f.actor, &ws.id, &project_slug("web"), &env_name("staging")).await.unwrap();
    let qa = environment(&f, &ws, "qa").await;
    assert_eq!(f.store.sandbox_uid(&ws.id, &qa).await.unwrap(), uid(2));

    // The pipeline and the agent read the same uid.
    let (d, _) = released(&f, &ws, SHA_A, "v1").await;
    assert_eq!(f.store.deployment_context(&ws.id, &d.id).await.unwrap().sandbox_uid, uid(1));
    let states = f.store.desired_state().await.unwrap();
    assert_eq!(states.iter().map(|s| (&s.environment_id, s.sandbox_uid)).collect::<Vec<_>>(), [(&production, uid(1))]);

    // An environment the agent sees first gets its uid there, and keeps it.
    let api = f.project(&ws, "api").await.environments[0].id.clone();
    release_of(&f, &ws, "api", SHA_B, &["web"]).await;
    let states = f.store.desired_state().await.unwrap();
    let agent_view: BTreeMap<_, _> = states.iter().map(|s| (s.environment_id.clone(), s.sandbox_uid)).collect();
    assert_eq!(agent_view, BTreeMap::from([(production.clone(), uid(1)), (api.clone(), uid(3))]));
    assert_eq!(f.store.sandbox_uid(&ws.id, &api).await.unwrap(), uid(3));
    let again = f.store.desired_state().await.unwrap();
    assert_eq!(again.iter().map(|s| s.sandbox_uid).collect::<BTreeSet<_>>(), BTreeSet::from([uid(1), uid(3)]));
    assert_eq!(allocated_uids(&f).await, 3);
}

async fn concurrent_first_uses_never_share_a_uid(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let mut environments: Vec<(WorkspaceId, EnvironmentId)> = Vec::new();
    for slug in ["alpha", "beta"] {
        let ws = f.workspace(slug).await;
        for project in ["a", "b", "c", "d"] {
            environments.push((ws.id.clone(), f.project(&ws, project).await.environments[0].id.clone()));
        }
    }
    // Three first uses of every environment at once, each in its own transaction.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..3 {
        for (ws, env) in &environments {
            let (store, ws, env) = (f.store.clone(), ws.clone(), env.clone());
            tasks.spawn(async move { (env.clone(), store.sandbox_uid(&ws, &env).await.unwrap()) });
        }
    }
    let mut seen: BTreeMap<EnvironmentId, BTreeSet<SandboxUid>> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (env, uid) = joined.unwrap();
        seen.entry(env).or_default().insert(uid);
    }
    assert_eq!(seen.len(), environments.len());
    for (env, uids) in &seen {
        assert_eq!(uids.len(), 1, "{env} was given {uids:?}");
    }
    let all: BTreeSet<SandboxUid> = seen.values().flatten().copied().collect();
    // Distinct, and no counter value was spent on an environment that had a uid already.
    assert_eq!(all, (0..8).map(uid).collect::<BTreeSet<_>>());
}

#[tokio::test]
async fn only_the_platform_scope_writes_uids_and_defaults_on_postgres() {
    let f = Fixture::new(TestBackend::Postgres).await;
    let ws = f.workspace("acme").await;
    let env = f.project(&ws, "web").await.environments[0].id.clone();
    let other = f.project(&ws, "api").await.environments[0].id.clone();
    f.store.sandbox_uid(&ws.id, &env).await.unwrap();
    let as_tenant = || async {
        let mut tx = f.db.pool().await.begin().await.unwrap();
        sqlx::query("SELECT set_config('slipway.workspace_id', $1, true)")
            .bind(ws.id.as_str())
            .execute(&mut *tx)
            .await
            .unwrap();
        tx
    };
    let free = i64::from(uid(50).get());

    // The tenant's own scope can neither take a uid nor change one.
    let mut tx = as_tenant().await;
    let taken = sqlx::query("UPDATE environments SET sandbox_uid = $1 WHERE id = $2")
        .bind(free)
        .bind(other.as_str())
        .execute(&mut *tx)
        .await;
    assert!(taken.is_err(), "a tenant-scoped statement set a sandbox uid");
    drop(tx);
    let mut tx = as_tenant().await;
    let changed = sqlx::query("UPDATE environments SET sandbox_uid = $1 WHERE id = $2")
        .bind(free)
        .bind(env.as_str())
        .execute(&mut *tx)
        .await;
    assert!(changed.is_err(), "a tenant-scoped statement changed a sandbox uid");
    drop(tx);
    // It reads the platform's defaults but cannot write them or the counter.
    let mut tx = as_tenant().await;
    let rows: i64 = sqlx::query("SELECT COUNT(*) FROM platform_resources").fetch_one(&mut *tx).await.unwrap().get(0);
    assert_eq!(rows, 1);
    let written = sqlx::query("UPDATE platform_resources SET next_sandbox_uid = 0, default_memory = 1")
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(written, 0);
    tx.commit().await.unwrap();

    // Not even the platform scope changes or clears a uid once set.
    for value in [Some(free), None] {
        let mut tx = f.raw_platform().await;
        let result = sqlx::query("UPDATE environments SET sandbox_uid = $1 WHERE id = $2")
            .bind(value)
            .bind(env.as_str())
            .execute(&mut *tx)
            .await;
        assert!(result.is_err(), "the platform scope set the uid to {value:?}");
    }
    assert_eq!(f.store.sandbox_uid(&ws.id, &env).await.unwrap(), uid(0));
    assert_eq!(f.store.sandbox_uid(&ws.id, &other).await.unwrap(), uid(1));
}

async fn resources_fall_back_to_the_platform_defaults(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let env = f.store.environment(&ws.id, &project_slug("web"), &env_name("production")).await.unwrap();
    assert_eq!(env.resources, Resources::default(), "before `up` writes defaults, the built-in ones apply");
    assert_eq!(f.store.default_resources().await.unwrap(), Resources::default());

    let defaults = Resources { memory: mib(256), cpu: Cpu::from_millis(500), max_processes: 128 };
    f.store.set_default_resources(&defaults).await.unwrap();
    assert_eq!(f.store.default_resources().await.unwrap(), defaults);
    assert_eq!(
        f.store.environment(&ws.id, &project_slug("web"), &env_name("production")).await.unwrap().resources,
        defaults
    );

    let before = f.audit_rows().await;
    let change =
        ResourceChange { memory: Some(Some(mib(1024))), max_processes: Some(Some(64)), ..ResourceChange::default() };
    let changed = f
        .store
        .set_environment_resources(&f.actor, &ws, &project_slug("web"), &env_name("production"), &change)
        .await
        .unwrap();
    let mine = Resources { memory: mib(1024), cpu: Cpu::from_millis(500), max_processes: 64 };
    assert_eq!(changed.resources, mine);
    let audited: Vec<_> = f.audit_rows_since(&before).await.into_iter().map(|row| (row.action, row.target)).collect();
    assert_eq!(
        audited,
        [("environment.resources".to_owned(), "project/web/production:memory 1 GiB, cpu 0.5, 64 processes".to_owned())]
    );

    // Every reader sees the same figures: listings, the pipeline, the agent, a render.
    assert_eq!(f.store.project(&ws, &project_slug("web")).await.unwrap().environments[0].resources, mine);
    let (d, _) = released(&f, &ws, SHA_A, "v1").await;
    assert_eq!(f.store.deployment_context(&ws.id, &d.id).await.unwrap().resources, mine);
    assert_eq!(f.store.desired_state().await.unwrap()[0].resources, mine);
    assert_eq!(
        f.store.render_source(&ws.id, &project_slug("web"), &env_name("production"), None).await.unwrap().resources,
        mine
    );

    // New defaults reach the figures the environment does not set; `null` goes back to them.
    let defaults = Resources { cpu: Cpu::from_millis(2000), ..defaults };
    f.store.set_default_resources(&defaults).await.unwrap();
    let env = f.store.environment(&ws.id, &project_slug("web"), &env_name("production")).await.unwrap();
    assert_eq!(env.resources, Resources { cpu: Cpu::from_millis(2000), ..mine });
    let reset = ResourceChange { memory: Some(None), ..ResourceChange::default() };
    let env = f
        .store
        .set_environment_resources(&f.actor, &ws, &project_slug("web"), &env_name("production"), &reset)
        .await
        .unwrap();
    assert_eq!(env.resources, Resources { memory: mib(256), cpu: Cpu::from_millis(2000), max_processes: 64 });

    // Another tenant's environment is not found, and stays as it was.
    let other = f.workspace("other").await;
    let foreign = f
        .store
        .set_environment_resources(&f.actor, &other, &project_slug("web"), &env_name("production"), &change)
        .await;
    assert_eq!(not_found(foreign), ErrorCode::ProjectNotFound);
    assert_eq!(
        f.store.environment(&ws.id, &project_slug("web"), &env_name("production")).await.unwrap().resources,
        env.resources
    );
}

async fn quotas_refuse_growth_and_change_nothing(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let report = f.store.workspace_quota(&ws.id).await.unwrap();
    assert_eq!(report.quota, WorkspaceQuota::default(), "unlimited until an admin says otherwise");
    assert_eq!(report.usage, QuotaUsage { memory: 0, instances: 0, projects: 1 });

    let before = f.audit_rows().await;
    let quota = WorkspaceQuota { memory: Some(mib(1024)), instances: Some(2), projects: Some(2) };
    let report = f.store.set_workspace_quota(&f.actor, &ws, &quota).await.unwrap();
    assert_eq!(report.quota, quota);
    let audited: Vec<_> = f.audit_rows_since(&before).await.into_iter().map(|row| (row.action, row.target)).collect();
    assert_eq!(audited, [("quota.set".to_owned(), "workspace/acme:memory=1 GiB,instances=2,projects=2".to_owned())]);
    // Another workspace's quota is its own.
    let other = f.workspace("other").await;
    assert_eq!(f.store.workspace_quota(&other.id).await.unwrap().quota, WorkspaceQuota::default());

    // Projects: the third is refused, and not created.
    f.project(&ws, "api").await;
    let third = f.store.create_project(&f.actor, &ws, new_project(&ws, "blog")).await;
    let message = quota_exceeded(third);
    assert!(message.contains("has a quota of 2 projects and has 2; this asks for 1 more"), "{message}");
    assert_eq!(f.store.list_projects(&ws, &page(50, None)).await.unwrap().items.len(), 2);

    // A first deployment counts one `web` instance at the default 512 MiB.
    released(&f, &ws, SHA_A, "v1").await;
    let usage = f.store.workspace_quota(&ws.id).await.unwrap().usage;
    assert_eq!(usage, QuotaUsage { memory: 512 << 20, instances: 1, projects: 2 });
    f.store
        .set_scale(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), &scale(&[("web", 2)]))
        .await
        .unwrap();
    assert_eq!(f.store.workspace_quota(&ws.id).await.unwrap().usage.instances, 2);

    // Scale past the instance quota: refused, naming quota, use and ask; the scale stays.
    let message = quota_exceeded(
        f.store.set_scale(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), &scale(&[("web", 3)])).await,
    );
    assert!(message.contains("quota of 2 instances: 2 instances now and this change asks for 1 more"), "{message}");
    assert_eq!(f.store.desired_state().await.unwrap()[0].scale, scale(&[("web", 2)]));

    // Resize past the memory quota: refused; the resources stay.
    let bigger = ResourceChange { memory: Some(Some(mib(1024))), ..ResourceChange::default() };
    let message = quota_exceeded(
        f.store.set_environment_resources(&f.actor, &ws, &project_slug("web"), &env_name("production"), &bigger).await,
    );
    assert!(
        message.contains("memory quota of 1 GiB: 1 GiB is in use and this change asks for 1 GiB more"),
        "{message}"
    );
    let env = f.store.environment(&ws.id, &project_slug("web"), &env_name("production")).await.unwrap();
    assert_eq!(env.resources, Resources::default());
    // Shrinking is always allowed, growing within the quota too.
    let smaller = ResourceChange { memory: Some(Some(mib(256))), ..ResourceChange::default() };
    f.store
        .set_environment_resources(&f.actor, &ws, &project_slug("web"), &env_name("production"), &smaller)
        .await
        .unwrap();
    assert_eq!(f.store.workspace_quota(&ws.id).await.unwrap().usage.memory, 512 << 20);

    // A first deployment of another project would add an instance: refused, nothing queued.
    let queued = f
        .store
        .queue_deployment(&f.actor, &ws.id, &project_slug("api"), &env_name("production"), Some(&sha(SHA_B)), None)
        .await;
    let message = quota_exceeded(queued);
    assert!(message.contains("over its quota of 2 instances"), "{message}");
    assert!(f
        .store
        .list_deployments(&ws.id, &project_slug("api"), &env_name("production"), &page(50, None))
        .await
        .unwrap()
        .items
        .is_empty());
    // A redeploy at the same size fits.
    f.store
        .queue_deployment(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(&sha(SHA_B)), None)
        .await
        .unwrap();

    // A quota lowered under the use stops nothing, refuses growth and allows shrinking.
    let lower = WorkspaceQuota { instances: Some(1), ..quota };
    f.store.set_workspace_quota(&f.actor, &ws, &lower).await.unwrap();
    assert_eq!(f.store.workspace_quota(&ws.id).await.unwrap().usage.instances, 2);
    let up = ResourceChange { memory: Some(Some(mib(300))), ..ResourceChange::default() };
    f.store.set_environment_resources(&f.actor, &ws, &project_slug("web"), &env_name("production"), &up).await.unwrap();
    f.store
        .set_scale(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), &scale(&[("web", 1)]))
        .await
        .unwrap();
    // Unlimited again.
    f.store.set_workspace_quota(&f.actor, &ws, &WorkspaceQuota::default()).await.unwrap();
    f.store
        .set_scale(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), &scale(&[("web", 5)]))
        .await
        .unwrap();
    f.project(&ws, "blog").await;
}

async fn a_release_or_a_rollback_over_the_quota_is_refused(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    release_of(&f, &ws, "web", SHA_A, &["web", "worker"]).await;
    release_of(&f, &ws, "web", SHA_B, &["web"]).await;
    assert_eq!(f.store.workspace_quota(&ws.id).await.unwrap().usage.instances, 1);
    let quota = WorkspaceQuota { instances: Some(1), ..WorkspaceQuota::default() };
    f.store.set_workspace_quota(&f.actor, &ws, &quota).await.unwrap();

    // Rolling back to the release with a worker would run two: refused, nothing queued.
    let deployments = || async {
        f.store
            .list_deployments(&ws.id, &project_slug("web"), &env_name("production"), &page(50, None))
            .await
            .unwrap()
            .items
    };
    let count = deployments().await.len();
    let message = quota_exceeded(
        f.store.rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(number(1))).await,
    );
    assert!(message.contains("quota of 1 instance: 1 instance now and this change asks for 1 more"), "{message}");
    assert_eq!(deployments().await.len(), count);

    // A build whose release adds a process type passes the queue (its plan is unknown there)
    // and is refused when it is recorded: the deployment fails with the quota's message.
    let (d, _) = f
        .store
        .queue_deployment(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(&sha(SHA_A)), None)
        .await
        .unwrap();
    f.store.transition_deployment(&pipeline(), &ws.id, &d.id, Transition::StartBuild, None).await.unwrap();
    let mut release = new_release("v3", Vec::new());
    release.plan.processes.insert("clock".parse().expect("a process type"), "node clock.js".into());
    let before = f.audit_rows().await;
    let message = quota_exceeded(f.store.create_release(&pipeline(), &ws.id, &d.id, release).await);
    let (status, reason) = status(&f, &ws, &d).await;
    assert_eq!(status, DeploymentStatus::Failed);
    assert!(reason.as_deref().is_some_and(|reason| reason.contains(&message)), "{reason:?}");
    let actions: Vec<_> = f.audit_rows_since(&before).await.into_iter().map(|row| row.action).collect();
    assert_eq!(actions, ["release.refused"]);
    let releases = f
        .store
        .list_releases(&ws.id, &project_slug("web"), &env_name("production"), &page(50, None))
        .await
        .unwrap()
        .items;
    assert_eq!(releases.len(), 2, "the refused release is not recorded");
    assert_eq!(f.store.workspace_quota(&ws.id).await.unwrap().usage.instances, 1);
}

async fn concurrent_scales_cannot_both_squeeze_under_the_quota(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let projects = ["a", "b", "c", "d"];
    for project in projects {
        f.project(&ws, project).await;
        release_of(&f, &ws, project, SHA_A, &["web"]).await;
    }
    let quota = WorkspaceQuota { instances: Some(5), ..WorkspaceQuota::default() };
    f.store.set_workspace_quota(&f.actor, &ws, &quota).await.unwrap();
    // Open enough connections first, so that the scales below really overlap.
    futures_like_join_all(projects.map(|_| f.store.workspace_quota(&ws.id))).await;
    // Each alone fits (4 + 1 = 5); any two together would run 6.
    let two = scale(&[("web", 2)]);
    let (slugs, production) = (projects.map(project_slug), env_name("production"));
    let results = futures_like_join_all(
        slugs.each_ref().map(|project| f.store.set_scale(&f.actor, &ws.id, project, &production, &two)),
    )
    .await;
    let granted = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(granted, 1, "{results:?}");
    for result in results.into_iter().filter(Result::is_err) {
        quota_exceeded(result);
    }
    assert_eq!(f.store.workspace_quota(&ws.id).await.unwrap().usage.instances, 5);
}

/// Runs the futures concurrently on this task and returns their outputs in order.
async fn futures_like_join_all<F: std::future::Future>(futures: [F; 4]) -> Vec<F::Output> {
    let [a, b, c, d] = futures;
    let (a, b, c, d) = tokio::join!(a, b, c, d);
    vec![a, b, c, d]
}
