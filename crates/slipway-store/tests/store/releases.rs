//! Releases: what a finished build records, the desired state the agent
//! reads, going live or failing to start, and rollback.

use slipway_core::api::{DeploymentKind, Instance, Release, Workspace};
use slipway_core::deployment::{DeploymentNumber, DeploymentStatus, Transition};
use slipway_core::ids::{EnvironmentId, ReleaseId};
use slipway_core::names::ConfigVarName;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use slipway_store::{Actor, ConfigValue, EnvironmentState, NewProject, StoreError};
use slipway_testkit::TestBackend;
use sqlx::{Any, Row, Transaction};

use crate::support::*;

both_backends!(
    a_release_makes_its_deployment_deploying_and_desired,
    a_newer_release_cancels_one_not_yet_live,
    going_live_supersedes_the_previous_deployment,
    a_failed_start_falls_back_to_the_active_release,
    rollback_reuses_an_earlier_release,
    rollback_without_a_target_is_release_not_found,
);

fn value(name: &str, value: &str, secret: bool) -> ConfigValue {
    ConfigValue { name: name.into(), value: value.into(), secret }
}

async fn set_config(f: &Fixture, ws: &Workspace, pairs: &[(&str, &str)], secret: bool) {
    let vars: Vec<_> = pairs.iter().map(|(n, v)| (ConfigVarName::parse(n).unwrap(), (*v).to_owned())).collect();
    f.store.set_config(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), &vars, secret).await.unwrap();
}

/// The state the agent reads, for one environment.
async fn desired_of(f: &Fixture, environment: &EnvironmentId) -> Option<EnvironmentState> {
    f.store.desired_state().await.unwrap().into_iter().find(|state| &state.environment_id == environment)
}

async fn releases(f: &Fixture, ws: &Workspace) -> Vec<Release> {
    f.store.list_releases(&ws.id, &project_slug("web"), &env_name("production"), &page(50, None)).await.unwrap().items
}

async fn a_release_makes_its_deployment_deploying_and_desired(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    // A custom domain that sorts before the generated name: the generated
    // hostname still comes first.
    let new = NewProject { custom_domain: Some(custom_domain("aaa.example.com")), ..new_project(&ws, "web") };
    let web = f.store.create_project(&f.actor, &ws, new).await.unwrap();
    let production = web.environments[0].id.clone();
    set_config(&f, &ws, &[("PLAIN", "1")], false).await;
    set_config(&f, &ws, &[("API_TOKEN", "s3cret")], true).await;

    let snapshot = f.store.config_snapshot(&ws.id, &project_slug("web"), &env_name("production")).await.unwrap();
    assert_eq!(snapshot, [value("API_TOKEN", "s3cret", true), value("PLAIN", "1", false)]);
    assert!(f.store.desired_state().await.unwrap().is_empty(), "nothing to run before the first release");

    let d = queue(&f, &ws, "production", Some(SHA_A)).await;
    // Only a deployment being built can get a release.
    let early = f.store.create_release(&pipeline(), &ws.id, &d.id, new_release("v1", snapshot.clone())).await;
    assert_eq!(conflict(early), ErrorCode::DeploymentStateConflict);
    f.store.transition_deployment(&pipeline(), &ws.id, &d.id, Transition::StartBuild, None).await.unwrap();
    // Nor can another tenant record one.
    let other = f.workspace("other").await;
    let foreign = f.store.create_release(&pipeline(), &other.id, &d.id, new_release("v1", snapshot.clone())).await;
    assert_eq!(not_found(foreign), ErrorCode::DeploymentNotFound);

    let before = f.audit_rows().await;
    let release = f.store.create_release(&pipeline(), &ws.id, &d.id, new_release("v1", snapshot)).await.unwrap();
    let audited: Vec<_> = f.audit_rows_since(&before).await.into_iter().map(|row| (row.action, row.target)).collect();
    assert_eq!(audited, [("release.create".to_owned(), "release/1".to_owned())]);

    let stored = f.store.deployment(&ws.id, &project_slug("web"), &env_name("production"), d.number).await.unwrap();
    assert_eq!(stored.status, DeploymentStatus::Deploying);
    assert_eq!(stored.release_id.as_ref(), Some(&release));
    assert_eq!(stored.plan, Some(plan("node v1.js")));
    assert_eq!(stored.failure_reason, None);

    let states = f.store.desired_state().await.unwrap();
    assert_eq!(states.len(), 1);
    let state = &states[0];
    assert_eq!(state.workspace_id, ws.id);
    assert_eq!(state.environment_id, production);
    assert_eq!((state.project.as_str(), state.environment.as_str()), ("web", "production"));
    assert_eq!(state.hostnames, [generated("acme", "web", "production").to_string(), "aaa.example.com".to_owned()]);
    assert_eq!(state.active_release, None, "nothing serves until the agent says so");
    assert!(state.scale.is_empty(), "{:?}", state.scale);
    let spec = state.desired.as_ref().expect("a desired release");
    assert_eq!(spec.id, release);
    assert_eq!(spec.number, DeploymentNumber::FIRST);
    assert_eq!(spec.deployment_id, d.id);
    assert_eq!(spec.artifact_dir, "/artifacts/v1");
    assert_eq!(spec.plan, plan("node v1.js"));
    assert_eq!(spec.runtime_env, runtime_env("v1"));
    // The agent gets secrets in clear, flagged, to redact them in logs.
    assert_eq!(spec.config, [value("API_TOKEN", "s3cret", true), value("PLAIN", "1", false)]);

    // The snapshot is sealed at rest like config vars: no value in clear.
    let mut tx = f.raw_platform().await;
    let row = sqlx::query("SELECT sealed_config, config_names FROM releases WHERE id = $1")
        .bind(release.as_str())
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let sealed: String = row.get("sealed_config");
    assert!(!sealed.contains("s3cret") && !sealed.contains("PLAIN"), "the snapshot is stored in clear: {sealed}");
    assert_eq!(row.get::<String, _>("config_names"), r#"["API_TOKEN","PLAIN"]"#);

    // A release for a deployment that moved on is refused and changes nothing.
    let again = f.store.create_release(&pipeline(), &ws.id, &d.id, new_release("v1b", Vec::new())).await;
    assert_eq!(conflict(again), ErrorCode::DeploymentStateConflict);
    assert_eq!(releases(&f, &ws).await.len(), 1);
    assert_eq!(desired_of(&f, &production).await.unwrap().desired.unwrap().id, release);
}

async fn a_newer_release_cancels_one_not_yet_live(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let web = f.project(&ws, "web").await;
    let production = web.environments[0].id.clone();
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

    let (first, _) = released(&f, &ws, SHA_A, "v1").await;
    // A staging deployment waiting to go live is another environment's business.
    let staging = queue(&f, &ws, "staging", Some(SHA_A)).await;
    f.store.transition_deployment(&pipeline(), &ws.id, &staging.id, Transition::StartBuild, None).await.unwrap();
    f.store.create_release(&pipeline(), &ws.id, &staging.id, new_release("s1", Vec::new())).await.unwrap();

    let (second, release) = released(&f, &ws, SHA_B, "v2").await;
    assert_eq!(second.number, number(3));
    assert_eq!(
        status(&f, &ws, &first).await,
        (DeploymentStatus::Cancelled, Some("replaced by #3 before it went live".to_owned()))
    );
    assert_eq!(status(&f, &ws, &second).await.0, DeploymentStatus::Deploying);
    let staged = f.store.deployment(&ws.id, &project_slug("web"), &env_name("staging"), staging.number).await.unwrap();
    assert_eq!(staged.status, DeploymentStatus::Deploying);
    let state = desired_of(&f, &production).await.unwrap();
    assert_eq!(state.desired.map(|spec| (spec.id, spec.number)), Some((release, number(3))));
    assert_eq!(f.store.desired_state().await.unwrap().len(), 2, "production and staging both have a release");

    // The cancelled release can no longer go live.
    let cancelled_release = releases(&f, &ws).await.into_iter().find(|r| r.number == first.number).unwrap().id;
    let late = f.store.release_live(&Actor::agent(), &ws.id, &production, &cancelled_release, None).await;
    assert_eq!(conflict(late), ErrorCode::DeploymentStateConflict);
    assert_eq!(desired_of(&f, &production).await.unwrap().active_release, None);
}

async fn going_live_supersedes_the_previous_deployment(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let web = f.project(&ws, "web").await;
    let production = web.environments[0].id.clone();
    set_config(&f, &ws, &[("PLAIN", "1")], false).await;

    let (first, r1) = released(&f, &ws, SHA_A, "v1").await;
    let before = f.audit_rows().await;
    f.store.release_live(&Actor::agent(), &ws.id, &production, &r1, None).await.unwrap();
    let audited: Vec<_> =
        f.audit_rows_since(&before).await.into_iter().map(|row| (row.action, row.target, row.actor)).collect();
    assert_eq!(audited, [("release.live".to_owned(), format!("release/{r1}"), "slipway".to_owned())]);
    assert_eq!(status(&f, &ws, &first).await.0, DeploymentStatus::Deployed);
    let state = desired_of(&f, &production).await.unwrap();
    assert_eq!(state.active_release.as_ref(), Some(&r1));
    assert_eq!(state.desired.map(|spec| spec.id), Some(r1.clone()));

    let listed = releases(&f, &ws).await;
    assert_eq!(listed.len(), 1);
    let only = &listed[0];
    assert!(only.active);
    assert_eq!((only.id.clone(), only.number, only.kind), (r1.clone(), DeploymentNumber::FIRST, DeploymentKind::Build));
    assert_eq!(only.commit_sha, Some(sha(SHA_A)));
    assert_eq!(only.processes, plan("node v1.js").processes);
    assert_eq!(only.config, ["PLAIN"]);

    let (second, r2) = released(&f, &ws, SHA_B, "v2").await;
    // Until the agent reports, the old release serves and the new one is desired.
    let state = desired_of(&f, &production).await.unwrap();
    assert_eq!(state.active_release.as_ref(), Some(&r1));
    assert_eq!(state.desired.map(|spec| spec.id), Some(r2.clone()));
    assert_eq!(status(&f, &ws, &first).await.0, DeploymentStatus::Deployed);

    f.store.release_live(&Actor::agent(), &ws.id, &production, &r2, None).await.unwrap();
    assert_eq!(status(&f, &ws, &first).await.0, DeploymentStatus::Superseded);
    assert_eq!(status(&f, &ws, &second).await.0, DeploymentStatus::Deployed);
    let listed = releases(&f, &ws).await;
    let summary: Vec<(u64, bool)> = listed.iter().map(|r| (r.number.get(), r.active)).collect();
    assert_eq!(summary, [(2, true), (1, false)], "newest first, exactly one active");
    assert_eq!(desired_of(&f, &production).await.unwrap().active_release, Some(r2.clone()));

    // Reporting the same release again is refused and changes nothing.
    let again = f.store.release_live(&Actor::agent(), &ws.id, &production, &r2, None).await;
    assert_eq!(conflict(again), ErrorCode::DeploymentStateConflict);
    assert_eq!(status(&f, &ws, &second).await.0, DeploymentStatus::Deployed);
    assert_eq!(status(&f, &ws, &first).await.0, DeploymentStatus::Superseded);

    // A release the agent names must be this environment's.
    let staging = f
        .store
        .create_environment(
            &f.actor,
            &ws,
            &project_slug("web"),
            &env_name("staging"),
            &generated("acme", "web", "staging"),
        )
        .await
        .unwrap();
    let other = f.workspace("other").await;
    for (workspace, environment, release) in [
        (&ws.id, &production, ReleaseId::generate()),
        (&ws.id, &staging.id, r2.clone()),
        (&other.id, &production, r2.clone()),
    ] {
        let live = f.store.release_live(&Actor::agent(), workspace, environment, &release, None).await;
        assert_eq!(not_found(live), ErrorCode::ReleaseNotFound);
        let failed = f.store.release_failed(&Actor::agent(), workspace, environment, &release, "no").await;
        assert_eq!(not_found(failed), ErrorCode::ReleaseNotFound);
    }
    assert_eq!(status(&f, &ws, &second).await, (DeploymentStatus::Deployed, None));

    // Releases page newest first.
    let page1 =
        f.store.list_releases(&ws.id, &project_slug("web"), &env_name("production"), &page(1, None)).await.unwrap();
    assert_eq!(page1.items.iter().map(|r| r.number.get()).collect::<Vec<_>>(), [2]);
    let page2 = f
        .store
        .list_releases(&ws.id, &project_slug("web"), &env_name("production"), &page(1, page1.next))
        .await
        .unwrap();
    assert_eq!(page2.items.iter().map(|r| r.number.get()).collect::<Vec<_>>(), [1]);
    assert_eq!(page2.next, None);
    // Another tenant sees none of them.
    assert_eq!(
        not_found(
            f.store.list_releases(&other.id, &project_slug("web"), &env_name("production"), &page(10, None)).await
        ),
        ErrorCode::ProjectNotFound
    );
    assert_eq!(
        not_found(f.store.list_releases(&ws.id, &project_slug("web"), &env_name("qa"), &page(10, None)).await),
        ErrorCode::EnvironmentNotFound
    );
}

async fn a_failed_start_falls_back_to_the_active_release(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let web = f.project(&ws, "web").await;
    let production = web.environments[0].id.clone();

    // The first release fails to start: nothing is desired any more.
    let (first, r1) = released(&f, &ws, SHA_A, "v1").await;
    let before = f.audit_rows().await;
    f.store
        .release_failed(&Actor::agent(), &ws.id, &production, &r1, "web exited with status 1 before it was healthy")
        .await
        .unwrap();
    let audited: Vec<_> = f.audit_rows_since(&before).await.into_iter().map(|row| row.action).collect();
    assert_eq!(audited, ["release.failed"]);
    assert_eq!(
        status(&f, &ws, &first).await,
        (DeploymentStatus::Failed, Some("web exited with status 1 before it was healthy".to_owned()))
    );
    assert!(desired_of(&f, &production).await.is_none(), "the failed release is still asked for");

    // A good release goes live; a later one fails: the good one stays desired.
    let (second, r2) = released(&f, &ws, SHA_B, "v2").await;
    f.store.release_live(&Actor::agent(), &ws.id, &production, &r2, None).await.unwrap();
    let (third, r3) = released(&f, &ws, SHA_A, "v3").await;
    assert_eq!(desired_of(&f, &production).await.unwrap().desired.map(|spec| spec.id), Some(r3.clone()));
    f.store.release_failed(&Actor::agent(), &ws.id, &production, &r3, "health check timed out").await.unwrap();
    let state = desired_of(&f, &production).await.unwrap();
    assert_eq!(state.active_release.as_ref(), Some(&r2));
    let spec = state.desired.expect("the active release stays desired");
    assert_eq!((spec.id, spec.artifact_dir.as_str()), (r2.clone(), "/artifacts/v2"));
    assert_eq!(status(&f, &ws, &third).await, (DeploymentStatus::Failed, Some("health check timed out".to_owned())));
    assert_eq!(status(&f, &ws, &second).await.0, DeploymentStatus::Deployed, "the serving deployment is untouched");
    let summary: Vec<(u64, bool)> = releases(&f, &ws).await.iter().map(|r| (r.number.get(), r.active)).collect();
    assert_eq!(summary, [(3, false), (2, true), (1, false)]);

    // A late failure report of a release that is no longer desired does not
    // move what is desired.
    let (_, r4) = released(&f, &ws, SHA_B, "v4").await;
    f.store.release_failed(&Actor::agent(), &ws.id, &production, &r3, "late report").await.unwrap();
    assert_eq!(desired_of(&f, &production).await.unwrap().desired.map(|spec| spec.id), Some(r4));
    assert_eq!(status(&f, &ws, &third).await.1.as_deref(), Some("health check timed out"));
}

async fn rollback_reuses_an_earlier_release(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let web = f.project(&ws, "web").await;
    let production = web.environments[0].id.clone();
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

    set_config(&f, &ws, &[("PLAIN", "1")], false).await;
    set_config(&f, &ws, &[("API_TOKEN", "first-secret")], true).await;
    let (_, r1) = released(&f, &ws, SHA_A, "v1").await;
    f.store.release_live(&Actor::agent(), &ws.id, &production, &r1, None).await.unwrap();
    // The config changes after release 1; release 2 snapshots the new one.
    set_config(&f, &ws, &[("PLAIN", "2")], false).await;
    set_config(&f, &ws, &[("API_TOKEN", "second-secret"), ("ADDED", "x")], true).await;
    let (second, r2) = released(&f, &ws, SHA_B, "v2").await;
    f.store.release_live(&Actor::agent(), &ws.id, &production, &r2, None).await.unwrap();

    // By default: the release before the active one.
    let before = f.audit_rows().await;
    let rollback =
        f.store.rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), None).await.unwrap();
    assert_eq!(rollback.kind, DeploymentKind::Rollback);
    assert_eq!(rollback.status, DeploymentStatus::Deploying);
    assert_eq!(rollback.number, number(3));
    assert_eq!(rollback.commit_sha, Some(sha(SHA_A)));
    assert_eq!(rollback.plan, Some(plan("node v1.js")));
    let r3 = rollback.release_id.clone().expect("the rollback's release");
    assert!(r3 != r1 && r3 != r2, "a rollback makes a new release");
    let audited: Vec<_> = f.audit_rows_since(&before).await.into_iter().map(|row| (row.action, row.target)).collect();
    assert_eq!(
        audited,
        [
            ("deployment.rollback".to_owned(), "project/web/production#3".to_owned()),
            ("release.create".to_owned(), "release/3".to_owned()),
        ]
    );

    // The agent is asked for release 1's artifact, plan and config — not
    // today's config.
    let state = desired_of(&f, &production).await.unwrap();
    assert_eq!(state.active_release.as_ref(), Some(&r2), "release 2 serves until the rollback is live");
    let spec = state.desired.expect("the rollback's release is desired");
    assert_eq!(
        (spec.id.clone(), spec.number, spec.deployment_id.clone()),
        (r3.clone(), number(3), rollback.id.clone())
    );
    assert_eq!(spec.artifact_dir, "/artifacts/v1");
    assert_eq!(spec.plan, plan("node v1.js"));
    assert_eq!(spec.runtime_env, runtime_env("v1"));
    assert_eq!(spec.config, [value("API_TOKEN", "first-secret", true), value("PLAIN", "1", false)]);

    let listed = releases(&f, &ws).await;
    let summary: Vec<_> = listed.iter().map(|r| (r.number.get(), r.kind, r.active, r.config.clone())).collect();
    assert_eq!(
        summary,
        [
            (3, DeploymentKind::Rollback, false, vec!["API_TOKEN".to_owned(), "PLAIN".to_owned()]),
            (2, DeploymentKind::Build, true, vec!["ADDED".to_owned(), "API_TOKEN".to_owned(), "PLAIN".to_owned()]),
            (1, DeploymentKind::Build, false, vec!["API_TOKEN".to_owned(), "PLAIN".to_owned()]),
        ]
    );

    let before = f.audit_rows().await;
    f.store.release_live(&Actor::agent(), &ws.id, &production, &r3, None).await.unwrap();
    assert_eq!(status(&f, &ws, &second).await.0, DeploymentStatus::Superseded);
    assert_eq!(status(&f, &ws, &rollback).await.0, DeploymentStatus::Deployed);
    let audited: Vec<_> = f.audit_rows_since(&before).await.into_iter().map(|row| row.action).collect();
    assert_eq!(audited, ["release.live"]);

    // By number: back to release 2, with its own snapshot.
    let forward = f
        .store
        .rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(number(2)))
        .await
        .unwrap();
    assert_eq!((forward.number, forward.kind), (number(4), DeploymentKind::Rollback));
    assert_eq!(forward.commit_sha, Some(sha(SHA_B)));
    let spec = desired_of(&f, &production).await.unwrap().desired.unwrap();
    assert_eq!((spec.number, spec.artifact_dir.as_str()), (number(4), "/artifacts/v2"));
    assert_eq!(
        spec.config,
        [value("ADDED", "x", true), value("API_TOKEN", "second-secret", true), value("PLAIN", "2", false)]
    );

    // A rollback replaces a deployment still waiting to go live, as a build does.
    let replaced = f
        .store
        .rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(number(1)))
        .await
        .unwrap();
    assert_eq!(
        status(&f, &ws, &forward).await,
        (DeploymentStatus::Cancelled, Some("replaced by #5 before it went live".to_owned()))
    );
    assert_eq!(desired_of(&f, &production).await.unwrap().desired.unwrap().deployment_id, replaced.id);

    // Unknown numbers, and releases of another environment, are not found.
    for missing in [99, 6] {
        let result = f
            .store
            .rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(number(missing)))
            .await;
        assert_eq!(not_found(result), ErrorCode::ReleaseNotFound, "#{missing}");
    }
    let staging = queue(&f, &ws, "staging", Some(SHA_A)).await;
    f.store.transition_deployment(&pipeline(), &ws.id, &staging.id, Transition::StartBuild, None).await.unwrap();
    f.store.create_release(&pipeline(), &ws.id, &staging.id, new_release("s", Vec::new())).await.unwrap();
    let result =
        f.store.rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(staging.number)).await;
    assert_eq!(not_found(result), ErrorCode::ReleaseNotFound, "a staging release is not production's");
    assert_eq!(
        not_found(f.store.rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("qa"), None).await),
        ErrorCode::EnvironmentNotFound
    );
    let other = f.workspace("other").await;
    assert_eq!(
        not_found(f.store.rollback(&f.actor, &other.id, &project_slug("web"), &env_name("production"), None).await),
        ErrorCode::ProjectNotFound
    );
}

async fn rollback_without_a_target_is_release_not_found(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let web = f.project(&ws, "web").await;
    let production = web.environments[0].id.clone();

    // No release at all.
    assert_eq!(
        not_found(f.store.rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), None).await),
        ErrorCode::ReleaseNotFound
    );
    // One release, not live yet: nothing is active, nothing is before it.
    let (_, r1) = released(&f, &ws, SHA_A, "v1").await;
    assert_eq!(
        not_found(f.store.rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), None).await),
        ErrorCode::ReleaseNotFound
    );
    // One live release: there is none before it.
    f.store.release_live(&Actor::agent(), &ws.id, &production, &r1, None).await.unwrap();
    let result = f.store.rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), None).await;
    match &result {
        Err(StoreError::NotFound { message, .. }) => assert!(message.contains("earlier release"), "{message}"),
        other => panic!("expected not found, got {other:?}"),
    }
    // Nothing was created by the refused rollbacks.
    let deployments = f
        .store
        .list_deployments(&ws.id, &project_slug("web"), &env_name("production"), &page(10, None))
        .await
        .unwrap()
        .items;
    assert_eq!(deployments.len(), 1);
    assert_eq!(releases(&f, &ws).await.len(), 1);
    // Rolling back to the active release by number is allowed: it redeploys it.
    let again = f
        .store
        .rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(DeploymentNumber::FIRST))
        .await
        .unwrap();
    assert_eq!((again.number, again.kind), (number(2), DeploymentKind::Rollback));
}

/// PostgreSQL only: the tables of the release pipeline are isolated like
/// the others.
#[tokio::test]
async fn release_tables_are_isolated_between_tenants() {
    let f = Fixture::new(TestBackend::Postgres).await;
    let a = f.workspace("alpha").await;
    let b = f.workspace("beta").await;
    let web = f.project(&a, "web").await;
    f.project(&b, "web").await;
    let (d, release) = {
        let (d, _) = f
            .store
            .queue_deployment(
                &f.actor,
                &a.id,
                &project_slug("web"),
                &env_name("production"),
                Some(&sha(SHA_A)),
                key("k", Some(&sha(SHA_A))),
            )
            .await
            .unwrap();
        f.store.transition_deployment(&pipeline(), &a.id, &d.id, Transition::StartBuild, None).await.unwrap();
        let release = f.store.create_release(&pipeline(), &a.id, &d.id, new_release("v1", Vec::new())).await.unwrap();
        (d, release)
    };
    // What the agent reports it runs for A.
    let instance = Instance {
        name: "web.1".into(),
        process: "web".into(),
        release: d.number,
        state: "running".into(),
        port: Some(40001),
        restarts: 0,
        last_exit: Some("out of memory (limit 512 MiB)".to_owned()),
        updated_at: Timestamp::now(),
    };
    f.store.record_instances(&a.id, &web.environments[0].id, &[instance]).await.unwrap();

    for (table, key) in
        [("releases", "workspace_id"), ("instances", "workspace_id"), ("idempotency_keys", "workspace_id")]
    {
        let sql = format!("SELECT count(*) FROM {table} WHERE {key} = $1");
        let all = format!("SELECT count(*) FROM {table}");
        let mut tx = f.raw_platform().await;
        assert!(count(&mut tx, &sql, a.id.as_str()).await > 0, "{table}: no row of A to hide");
        tx.commit().await.unwrap();
        let mut tx = as_tenant(&f, a.id.as_str()).await;
        assert!(count(&mut tx, &sql, a.id.as_str()).await > 0, "{table}: A cannot see its own rows");
        tx.commit().await.unwrap();
        let mut tx = as_tenant(&f, b.id.as_str()).await;
        assert_eq!(count(&mut tx, &sql, a.id.as_str()).await, 0, "{table}: B sees A's rows");
        let unfiltered: i64 = sqlx::query(&all).fetch_one(&mut *tx).await.unwrap().get(0);
        assert_eq!(unfiltered, 0, "{table}: B's unfiltered query sees A's rows");
        tx.commit().await.unwrap();
    }

    // B cannot plant an idempotency key in A that would replay B's choice.
    let mut tx = as_tenant(&f, b.id.as_str()).await;
    let planted = sqlx::query(
        "INSERT INTO idempotency_keys (workspace_id, key, request, deployment_id, created_at) VALUES ($1, 'x', 'r', $2, 0)",
    )
    .bind(a.id.as_str())
    .bind(d.id.as_str())
    .execute(&mut *tx)
    .await;
    let err = planted.expect_err("B wrote a row of A");
    assert_eq!(err.as_database_error().and_then(|db| db.code()).as_deref(), Some("42501"), "{err}");
    tx.rollback().await.unwrap();

    // And the store's own calls keep to their tenant.
    let result = f
        .store
        .queue_deployment(
            &f.actor,
            &b.id,
            &project_slug("web"),
            &env_name("production"),
            Some(&sha(SHA_A)),
            key("k", Some(&sha(SHA_A))),
        )
        .await;
    assert!(result.unwrap().1, "B's key `k` is B's own");
    assert_eq!(
        f.store
            .list_releases(&b.id, &project_slug("web"), &env_name("production"), &page(10, None))
            .await
            .unwrap()
            .items
            .len(),
        0
    );
    assert_eq!(
        f.store
            .list_releases(&a.id, &project_slug("web"), &env_name("production"), &page(10, None))
            .await
            .unwrap()
            .items[0]
            .id,
        release
    );
}

async fn as_tenant(f: &Fixture, workspace: &str) -> Transaction<'static, Any> {
    let mut tx = f.db.pool().await.begin().await.unwrap();
    sqlx::query("SELECT set_config('slipway.workspace_id', $1, true)").bind(workspace).execute(&mut *tx).await.unwrap();
    tx
}

async fn count(tx: &mut Transaction<'static, Any>, sql: &str, bind: &str) -> i64 {
    sqlx::query(sql).bind(bind).fetch_one(&mut **tx).await.unwrap().get(0)
}
