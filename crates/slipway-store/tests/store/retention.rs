//! Release retention: which build directories `prune_artifacts` gives up (and records before
//! anything is removed), what the release list then says, and rollbacks to a pruned release.
//! The store touches no file; the pipeline removes what it is handed (see `slipway-pipeline`).

use slipway_core::api::{Instance, Release, RuntimeTarget, Workspace};
use slipway_core::deployment::{DeploymentNumber, DeploymentStatus, Transition};
use slipway_core::ids::{DeploymentId, EnvironmentId, ReleaseId};
use slipway_core::retention::ReleaseRetention;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use slipway_store::{Actor, PrunedBuild, StoreError};
use slipway_testkit::TestBackend;

use crate::support::*;

both_backends!(
    the_newest_releases_keep_their_artifacts_and_older_ones_are_recorded_pruned,
    a_rollback_to_a_pruned_release_is_refused_and_changes_nothing,
    the_active_desired_starting_and_running_releases_are_never_pruned,
    a_rollback_release_keeps_the_artifact_it_reuses,
    failed_builds_go_once_older_than_the_kept_releases,
    the_kubernetes_target_and_other_tenants_prune_nothing,
    an_artifact_of_another_workspace_is_never_given_up,
    project_files_name_every_directory_of_a_project,
    the_runtimes_kept_releases_use_are_named_on_the_whole_platform,
);

fn keep(n: u32) -> ReleaseRetention {
    ReleaseRetention::new(n).unwrap()
}

/// A distinct, well-formed commit per build.
fn commit(n: u64) -> String {
    format!("{n:040x}")
}

async fn production(f: &Fixture, ws: &Workspace) -> EnvironmentId {
    f.store.project(ws, &project_slug("web")).await.unwrap().environments[0].id.clone()
}

/// A release of commit `n` that goes live, as the agent would report it.
async fn live(f: &Fixture, ws: &Workspace, n: u64) -> (DeploymentId, ReleaseId) {
    let (d, release) = released(f, ws, &commit(n), &format!("v{n}")).await;
    f.store.release_live(&Actor::agent(), &ws.id, &d.environment_id, &release, None).await.unwrap();
    (d.id, release)
}

async fn prune(f: &Fixture, ws: &Workspace, env: &EnvironmentId, n: u32) -> Vec<PrunedBuild> {
    f.store.prune_artifacts(&pipeline(), &ws.id, env, keep(n)).await.unwrap()
}

/// `(number, rollback_available)` of every release, newest first.
async fn availability(f: &Fixture, ws: &Workspace) -> Vec<(u64, bool)> {
    listed(f, ws).await.iter().map(|r| (r.number.get(), r.rollback_available)).collect()
}

async fn listed(f: &Fixture, ws: &Workspace) -> Vec<Release> {
    f.store.list_releases(&ws.id, &project_slug("web"), &env_name("production"), &page(50, None)).await.unwrap().items
}

fn numbers(pruned: &[PrunedBuild]) -> Vec<(u64, bool)> {
    pruned.iter().map(|build| (build.number.get(), build.released)).collect()
}

async fn the_newest_releases_keep_their_artifacts_and_older_ones_are_recorded_pruned(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let env = production(&f, &ws).await;

    let mut deployments = Vec::new();
    for n in 1..=3 {
        deployments.push(live(&f, &ws, n).await.0);
        assert!(prune(&f, &ws, &env, 3).await.is_empty(), "three releases fit a retention of three");
    }
    assert_eq!(availability(&f, &ws).await, [(3, true), (2, true), (1, true)]);

    let before = f.audit_rows().await;
    deployments.push(live(&f, &ws, 4).await.0);
    deployments.push(live(&f, &ws, 5).await.0);
    let pruned = prune(&f, &ws, &env, 3).await;
    assert_eq!(numbers(&pruned), [(1, true), (2, true)]);
    assert_eq!(
        pruned.iter().map(|build| build.deployment_id.clone()).collect::<Vec<_>>(),
        deployments[..2],
        "the build directories are named by the deployments that built them"
    );
    let audited: Vec<_> = f.audit_rows_since(&before).await.into_iter().map(|row| (row.action, row.target)).collect();
    assert!(audited.contains(&("build.prune".to_owned(), "deployment/1".to_owned())), "{audited:?}");
    assert!(audited.contains(&("build.prune".to_owned(), "deployment/2".to_owned())), "{audited:?}");
    // Recorded once: pruning again gives up nothing more.
    assert!(prune(&f, &ws, &env, 3).await.is_empty());

    let releases = listed(&f, &ws).await;
    assert_eq!(
        releases.iter().map(|r| (r.number.get(), r.active, r.rollback_available)).collect::<Vec<_>>(),
        [(5, true, true), (4, false, true), (3, false, true), (2, false, false), (1, false, false)]
    );
    for kept in &releases[..3] {
        assert_eq!((&kept.rollback_unavailable_reason, kept.artifact_pruned_at), (&None, None));
    }
    let oldest = &releases[4];
    let reason = oldest.rollback_unavailable_reason.as_deref().expect("a reason");
    assert!(reason.contains("release retention") && reason.contains("last 3 releases"), "{reason}");
    assert!(reason.contains(&commit(1)), "the reason names the commit to deploy again: {reason}");
    let pruned_at = oldest.artifact_pruned_at.expect("when it was pruned");
    assert!(pruned_at <= Timestamp::now());

    // The pruned deployments' history stays as it was.
    let first = f.store.deployment(&ws.id, &project_slug("web"), &env_name("production"), number(1)).await.unwrap();
    assert_eq!(first.status, DeploymentStatus::Superseded);

    // A smaller retention later gives up more; the active release stays whatever it is.
    assert_eq!(numbers(&prune(&f, &ws, &env, 1).await), [(3, true), (4, true)]);
    assert_eq!(availability(&f, &ws).await, [(5, true), (4, false), (3, false), (2, false), (1, false)]);
}

async fn a_rollback_to_a_pruned_release_is_refused_and_changes_nothing(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let env = production(&f, &ws).await;
    for n in 1..=4 {
        live(&f, &ws, n).await;
    }
    assert_eq!(numbers(&prune(&f, &ws, &env, 2).await), [(1, true), (2, true)]);

    let releases_before = listed(&f, &ws).await.len();
    let deployments_before =
        f.store.list_deployments(&ws.id, &project_slug("web"), &env_name("production"), &page(50, None)).await.unwrap();
    let desired_before = f.store.desired_state().await.unwrap();
    let audit_before = f.audit_rows().await;

    let refused =
        f.store.rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(number(2))).await;
    let message = match refused {
        Err(StoreError::Conflict { code: ErrorCode::ReleasePruned, message }) => message,
        other => panic!("expected RELEASE_PRUNED, got {other:?}"),
    };
    for part in ["release #2", "last 2 releases", &commit(2), "slipway deploy --commit"] {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }

    assert_eq!(listed(&f, &ws).await.len(), releases_before);
    let deployments_after =
        f.store.list_deployments(&ws.id, &project_slug("web"), &env_name("production"), &page(50, None)).await.unwrap();
    assert_eq!(deployments_after.items.len(), deployments_before.items.len());
    let desired_after = f.store.desired_state().await.unwrap();
    assert_eq!(
        desired_after.iter().map(|s| s.desired.as_ref().map(|d| d.id.clone())).collect::<Vec<_>>(),
        desired_before.iter().map(|s| s.desired.as_ref().map(|d| d.id.clone())).collect::<Vec<_>>()
    );
    assert!(f.audit_rows_since(&audit_before).await.is_empty(), "a refused rollback audits nothing");

    // A kept release still rolls back: the default, the one before the active one (#3).
    let back = f.store.rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), None).await.unwrap();
    assert_eq!((back.number, back.commit_sha), (number(5), Some(sha(&commit(3)))));
}

async fn the_active_desired_starting_and_running_releases_are_never_pruned(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let env = production(&f, &ws).await;

    let (_, r1) = live(&f, &ws, 1).await;
    // Release 2 is being started: desired, DEPLOYING. Release 1 serves.
    let (_, r2) = released(&f, &ws, &commit(2), "v2").await;
    assert!(prune(&f, &ws, &env, 1).await.is_empty(), "active #1 and desired #2 are kept");
    // #2 fails to start: desired goes back to #1, which serves on.
    f.store.release_failed(&Actor::agent(), &ws.id, &env, &r2, "it crashed").await.unwrap();
    let (_, r3) = released(&f, &ws, &commit(3), "v3").await;
    assert_eq!(numbers(&prune(&f, &ws, &env, 1).await), [(2, true)], "#1 is active, #3 desired");

    // #3 goes live while #1's instances still drain: the agent reports both.
    f.store.release_live(&Actor::agent(), &ws.id, &env, &r3, None).await.unwrap();
    let instance = |release: u64, state: &str| Instance {
        name: "web.1".into(),
        process: "web".into(),
        release: number(release),
        state: state.into(),
        port: None,
        restarts: 0,
        updated_at: Timestamp::now(),
        last_exit: None,
    };
    f.store.record_instances(&ws.id, &env, &[instance(1, "stopping"), instance(3, "running")]).await.unwrap();
    assert!(prune(&f, &ws, &env, 1).await.is_empty(), "#1 still has instances");
    f.store.record_instances(&ws.id, &env, &[instance(3, "running")]).await.unwrap();
    assert_eq!(numbers(&prune(&f, &ws, &env, 1).await), [(1, true)]);
    assert_eq!(availability(&f, &ws).await, [(3, true), (2, false), (1, false)]);
    assert_ne!(r1, r3);

    // A release still being started is kept even when it is neither newest nor desired. Every new
    // release cancels one still DEPLOYING, so only a stale row (or a future path) gets here: the
    // guard holds anyway.
    let (_, r4) = released(&f, &ws, &commit(4), "v4").await;
    f.store.release_live(&Actor::agent(), &ws.id, &env, &r4, None).await.unwrap();
    f.store.record_instances(&ws.id, &env, &[instance(4, "running")]).await.unwrap();
    let (d5, _) = released(&f, &ws, &commit(5), "v5").await;
    released(&f, &ws, &commit(6), "v6").await;
    assert_eq!(status(&f, &ws, &d5).await.0, DeploymentStatus::Cancelled, "#6 replaced #5");
    set_status(&f, &d5.id, "DEPLOYING").await;
    assert_eq!(numbers(&prune(&f, &ws, &env, 1).await), [(3, true)], "#6 newest, #5 starting, #4 active");
    set_status(&f, &d5.id, "CANCELLED").await;
    assert_eq!(numbers(&prune(&f, &ws, &env, 1).await), [(5, true)]);
}

async fn set_status(f: &Fixture, deployment: &DeploymentId, status: &str) {
    let mut tx = f.raw_platform().await;
    sqlx::query("UPDATE deployments SET status = $1 WHERE id = $2")
        .bind(status)
        .bind(deployment.as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn a_rollback_release_keeps_the_artifact_it_reuses(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let env = production(&f, &ws).await;
    let (d1, _) = live(&f, &ws, 1).await;
    live(&f, &ws, 2).await;
    // Release 3 re-activates release 1's artifact.
    let back = f
        .store
        .rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(number(1)))
        .await
        .unwrap();
    f.store.release_live(&Actor::agent(), &ws.id, &env, back.release_id.as_ref().unwrap(), None).await.unwrap();
    live(&f, &ws, 4).await;
    live(&f, &ws, 5).await;

    // Keeping two: #5 and #4. Release 3 (a rollback) is older, so release 1's directory goes now
    // — once, though two releases used it.
    let pruned = prune(&f, &ws, &env, 2).await;
    assert_eq!(numbers(&pruned), [(1, true), (2, true)]);
    assert_eq!(pruned[0].deployment_id, d1);
    assert_eq!(availability(&f, &ws).await, [(5, true), (4, true), (3, false), (2, false), (1, false)]);
    let refused =
        f.store.rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(number(3))).await;
    assert_eq!(conflict(refused), ErrorCode::ReleasePruned, "a rollback's release shares its artifact's fate");

    // The other way round: a kept rollback release keeps an old build's directory.
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let env = production(&f, &ws).await;
    live(&f, &ws, 1).await;
    live(&f, &ws, 2).await;
    live(&f, &ws, 3).await;
    let back = f
        .store
        .rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(number(1)))
        .await
        .unwrap();
    f.store.release_live(&Actor::agent(), &ws.id, &env, back.release_id.as_ref().unwrap(), None).await.unwrap();
    assert_eq!(numbers(&prune(&f, &ws, &env, 1).await), [(2, true), (3, true)], "#4 (active, newest) needs #1's");
    assert_eq!(availability(&f, &ws).await, [(4, true), (3, false), (2, false), (1, true)]);
}

/// A build of commit `n` that fails: it made no release.
async fn fail(f: &Fixture, ws: &Workspace, n: u64) -> DeploymentId {
    let d = queue(f, ws, "production", Some(&commit(n))).await;
    f.store.transition_deployment(&pipeline(), &ws.id, &d.id, Transition::StartBuild, None).await.unwrap();
    f.store.transition_deployment(&pipeline(), &ws.id, &d.id, Transition::Fail, Some("npm ci failed")).await.unwrap();
    d.id
}

async fn failed_builds_go_once_older_than_the_kept_releases(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let env = production(&f, &ws).await;
    let failed1 = fail(&f, &ws, 1).await;
    assert!(prune(&f, &ws, &env, 1).await.is_empty(), "no release yet: nothing to be older than");
    live(&f, &ws, 2).await;
    fail(&f, &ws, 3).await;
    // A build still running is never touched, however old.
    let building = queue(&f, &ws, "production", Some(&commit(4))).await;
    f.store.transition_deployment(&pipeline(), &ws.id, &building.id, Transition::StartBuild, None).await.unwrap();
    live(&f, &ws, 5).await;

    // Keeping one (#5): release #2 and the failed #1 and #3 are older.
    let pruned = prune(&f, &ws, &env, 1).await;
    assert_eq!(numbers(&pruned), [(1, false), (2, true), (3, false)]);
    assert_eq!(pruned[0].deployment_id, failed1);
    let (status, reason) = status(&f, &ws, &building).await;
    assert_eq!((status, reason), (DeploymentStatus::Building, None));

    // Keeping two, #5 and #2, would have kept #3 (younger than #2) but not #1.
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let env = production(&f, &ws).await;
    fail(&f, &ws, 1).await;
    live(&f, &ws, 2).await;
    fail(&f, &ws, 3).await;
    live(&f, &ws, 4).await;
    assert_eq!(numbers(&prune(&f, &ws, &env, 2).await), [(1, false)]);
}

async fn the_kubernetes_target_and_other_tenants_prune_nothing(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let env = production(&f, &ws).await;
    for n in 1..=3 {
        live(&f, &ws, n).await;
    }
    // Another tenant naming this environment finds nothing to prune.
    let other = f.workspace("other").await;
    assert!(f.store.prune_artifacts(&pipeline(), &other.id, &env, keep(1)).await.unwrap().is_empty());

    f.store
        .set_environment_target(&f.actor, &ws, &project_slug("web"), &env_name("production"), RuntimeTarget::Kubernetes)
        .await
        .unwrap();
    assert!(prune(&f, &ws, &env, 1).await.is_empty(), "images, not directories");
    // Back on the local target, retention applies again.
    f.store
        .set_environment_target(&f.actor, &ws, &project_slug("web"), &env_name("production"), RuntimeTarget::Local)
        .await
        .unwrap();
    assert_eq!(numbers(&prune(&f, &ws, &env, 1).await), [(1, true), (2, true)]);
}

/// Retention removes directories: even a release row naming another workspace's build as its
/// artifact (no API writes one) never hands that build out to be removed, nor records it pruned.
async fn an_artifact_of_another_workspace_is_never_given_up(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let env = production(&f, &ws).await;
    let other = f.workspace("other").await;
    f.project(&other, "web").await;
    let (theirs, _) = live(&f, &other, 1).await;
    for n in 1..=3 {
        live(&f, &ws, n).await;
    }
    let mut tx = f.raw_platform().await;
    sqlx::query("UPDATE releases SET artifact_deployment_id = $1 WHERE workspace_id = $2 AND number = 1")
        .bind(theirs.as_str())
        .bind(ws.id.as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let pruned = prune(&f, &ws, &env, 1).await;
    assert_eq!(numbers(&pruned), [(2, true)], "{pruned:?}");
    assert!(pruned.iter().all(|build| build.deployment_id != theirs), "{pruned:?}");
    assert!(f.store.pruned_builds(std::slice::from_ref(&theirs)).await.unwrap().is_empty());
    assert_eq!(availability(&f, &other).await, [(1, true)]);
}

async fn project_files_name_every_directory_of_a_project(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let web = f.project(&ws, "web").await;
    f.store
        .create_environment(
            &f.actor,
            &ws,
            &project_slug("web"),
            &env_name("staging"),
            &generated("acme", "web", "staging"),
        )
        .await
        .unwrap();
    let env = production(&f, &ws).await;
    let (d1, _) = live(&f, &ws, 1).await;
    let (d2, _) = live(&f, &ws, 2).await;
    let back = f
        .store
        .rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(number(1)))
        .await
        .unwrap();
    f.store.release_live(&Actor::agent(), &ws.id, &env, back.release_id.as_ref().unwrap(), None).await.unwrap();
    let (d4, _) = live(&f, &ws, 4).await;
    assert_eq!(numbers(&prune(&f, &ws, &env, 1).await), [(1, true), (2, true)]);

    let files = f.store.project_files(&ws.id, &project_slug("web")).await.unwrap();
    assert_eq!((&files.workspace_id, &files.project_id), (&ws.id, &web.id));
    let mut environments =
        f.store.project(&ws, &project_slug("web")).await.unwrap().environments.into_iter().map(|e| e.id);
    assert_eq!(files.environments.len(), 2);
    assert!(environments.all(|id| files.environments.contains(&id)));
    assert_eq!(files.deployments, [d1, d2, back.id.clone(), d4.clone()], "every deployment has a build log");
    assert_eq!(files.builds, [d4], "pruned builds and the rollback (it built nothing) have no directory");

    // Another tenant cannot ask for this project's files, nor learn which builds were pruned but
    // through the platform's own sweep.
    let other = f.workspace("other").await;
    assert_eq!(not_found(f.store.project_files(&other.id, &project_slug("web")).await), ErrorCode::ProjectNotFound);
    let all = files.deployments.clone();
    let pruned = f.store.pruned_builds(&all).await.unwrap();
    assert_eq!(pruned.len(), 2);
    assert!(pruned.contains(&all[0]) && pruned.contains(&all[1]));
    assert!(f.store.pruned_builds(&[]).await.unwrap().is_empty());
    assert_eq!(DeploymentNumber::FIRST, number(1));
}

async fn the_runtimes_kept_releases_use_are_named_on_the_whole_platform(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let env = production(&f, &ws).await;
    for n in 1..=3 {
        live(&f, &ws, n).await;
    }
    let other = f.workspace("other").await;
    f.project(&other, "web").await;
    live(&f, &other, 9).await;
    let dirs =
        |names: &[&str]| names.iter().map(|n| format!("/runtimes/node/{n}")).collect::<std::collections::HashSet<_>>();
    assert_eq!(f.store.runtime_dirs_in_use().await.unwrap(), dirs(&["v1", "v2", "v3", "v9"]));
    prune(&f, &ws, &env, 1).await;
    assert_eq!(f.store.runtime_dirs_in_use().await.unwrap(), dirs(&["v3", "v9"]), "pruned builds need no runtime");
}
