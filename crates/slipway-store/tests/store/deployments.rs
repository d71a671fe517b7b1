//! Deployments: numbered per project, moved along the status machine.

use std::collections::BTreeSet;

use slipway_core::api::{Deployment, Workspace};
use slipway_core::deployment::{DeploymentNumber, DeploymentStatus, Transition};
use slipway_core::image_tag::CommitSha;
use slipway_core::ErrorCode;
use slipway_store::Actor;
use slipway_testkit::TestBackend;

use crate::support::*;

both_backends!(
    deployments_are_numbered_per_project,
    deployments_move_only_along_the_status_machine,
    deployments_list_newest_first_page_by_page,
    missing_deployments_are_not_found,
    concurrent_deployments_get_distinct_numbers,
);

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

async fn deploy(f: &Fixture, ws: &Workspace, project: &str, env: &str) -> Deployment {
    f.store.create_deployment(&f.actor, &ws.id, &project_slug(project), &env_name(env), None).await.unwrap()
}

fn number(n: u64) -> DeploymentNumber {
    DeploymentNumber::new(n).unwrap()
}

async fn deployments_are_numbered_per_project(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let web = f.project(&ws, "web").await;
    f.project(&ws, "api").await;
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

    let sha = CommitSha::parse(SHA).unwrap();
    let first = f
        .store
        .create_deployment(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(&sha))
        .await
        .unwrap();
    assert_eq!(first.number, DeploymentNumber::FIRST);
    assert_eq!(first.status, DeploymentStatus::Queued);
    assert_eq!(first.commit_sha.as_ref().map(CommitSha::as_str), Some(SHA));
    assert_eq!(first.environment_id, web.environments[0].id);
    assert_eq!(first.failure_reason, None);

    let numbers = [
        deploy(&f, &ws, "web", "production").await.number,
        deploy(&f, &ws, "web", "production").await.number,
        // The numbers belong to the project, whichever environment.
        deploy(&f, &ws, "web", "staging").await.number,
        deploy(&f, &ws, "api", "production").await.number,
        deploy(&f, &ws, "api", "production").await.number,
    ];
    assert_eq!(numbers.map(DeploymentNumber::get), [2, 3, 4, 1, 2]);

    // Another workspace's project of the same slug starts at 1 too.
    let other = f.workspace("other").await;
    f.project(&other, "web").await;
    assert_eq!(deploy(&f, &other, "web", "production").await.number, DeploymentNumber::FIRST);

    let stored = f
        .store
        .deployment(&ws.id, &project_slug("web"), &env_name("production"), DeploymentNumber::FIRST)
        .await
        .unwrap();
    assert_eq!(stored.id, first.id);
    assert_eq!(stored.commit_sha, Some(sha));
}

async fn deployments_move_only_along_the_status_machine(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let d = deploy(&f, &ws, "web", "production").await;

    let before = f.audit_rows().await;
    let mut status = Vec::new();
    for transition in [Transition::StartBuild, Transition::StartDeploy, Transition::GoLive] {
        let moved =
            f.store.transition_deployment(&Actor::system("builder"), &ws.id, &d.id, transition, None).await.unwrap();
        assert_eq!(moved.id, d.id);
        status.push(moved.status);
    }
    assert_eq!(status, [DeploymentStatus::Building, DeploymentStatus::Deploying, DeploymentStatus::Deployed]);
    let audited: Vec<(String, String, String)> =
        f.audit_rows_since(&before).await.into_iter().map(|row| (row.actor, row.action, row.target)).collect();
    let expected = ["deployment.building", "deployment.deploying", "deployment.deployed"]
        .map(|action| ("slipway".to_owned(), action.to_owned(), "project/web/production#1".to_owned()));
    assert_eq!(audited, expected, "every status change is audited");

    let live = f.store.deployment(&ws.id, &project_slug("web"), &env_name("production"), d.number).await.unwrap();
    for invalid in
        [Transition::StartBuild, Transition::StartDeploy, Transition::GoLive, Transition::Fail, Transition::Cancel]
    {
        let result =
            f.store.transition_deployment(&Actor::system("builder"), &ws.id, &d.id, invalid, Some("nope")).await;
        assert_eq!(conflict(result), ErrorCode::DeploymentStateConflict, "{invalid:?}");
    }
    let unchanged = f.store.deployment(&ws.id, &project_slug("web"), &env_name("production"), d.number).await.unwrap();
    assert_eq!(unchanged.status, DeploymentStatus::Deployed);
    assert_eq!(unchanged.updated_at, live.updated_at);
    assert_eq!(unchanged.failure_reason, None);

    let superseded = f
        .store
        .transition_deployment(&Actor::system("builder"), &ws.id, &d.id, Transition::Supersede, None)
        .await
        .unwrap();
    assert_eq!(superseded.status, DeploymentStatus::Superseded);

    // A failure keeps its reason, and a failed deployment stays failed.
    let broken = deploy(&f, &ws, "web", "production").await;
    f.store
        .transition_deployment(&Actor::system("builder"), &ws.id, &broken.id, Transition::StartBuild, None)
        .await
        .unwrap();
    let failed = f
        .store
        .transition_deployment(
            &Actor::system("builder"),
            &ws.id,
            &broken.id,
            Transition::Fail,
            Some("build failed: exit status 2"),
        )
        .await
        .unwrap();
    assert_eq!(failed.status, DeploymentStatus::Failed);
    assert_eq!(failed.failure_reason.as_deref(), Some("build failed: exit status 2"));
    assert_eq!(
        conflict(
            f.store
                .transition_deployment(&Actor::system("builder"), &ws.id, &broken.id, Transition::Cancel, Some("late"))
                .await
        ),
        ErrorCode::DeploymentStateConflict
    );
    let stored =
        f.store.deployment(&ws.id, &project_slug("web"), &env_name("production"), broken.number).await.unwrap();
    assert_eq!(stored.status, DeploymentStatus::Failed);
    assert_eq!(stored.failure_reason.as_deref(), Some("build failed: exit status 2"));

    let queued = deploy(&f, &ws, "web", "production").await;
    let cancelled = f
        .store
        .transition_deployment(&Actor::system("builder"), &ws.id, &queued.id, Transition::Cancel, None)
        .await
        .unwrap();
    assert_eq!(cancelled.status, DeploymentStatus::Cancelled);

    // Another tenant cannot move this workspace's deployment.
    let other = f.workspace("other").await;
    let fresh = deploy(&f, &ws, "web", "production").await;
    assert_eq!(
        not_found(
            f.store
                .transition_deployment(&Actor::system("builder"), &other.id, &fresh.id, Transition::StartBuild, None)
                .await
        ),
        ErrorCode::DeploymentNotFound
    );
    let stored = f.store.deployment(&ws.id, &project_slug("web"), &env_name("production"), fresh.number).await.unwrap();
    assert_eq!(stored.status, DeploymentStatus::Queued);
}

async fn deployments_list_newest_first_page_by_page(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
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
    for i in 0..5 {
        deploy(&f, &ws, "web", "production").await;
        if i == 2 {
            // Deployments of other environments are listed there, not here.
            deploy(&f, &ws, "web", "staging").await;
        }
    }

    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let listed = f
            .store
            .list_deployments(&ws.id, &project_slug("web"), &env_name("production"), &page(2, after))
            .await
            .unwrap();
        pages.push(listed.items.iter().map(|d| d.number.get()).collect::<Vec<_>>());
        after = listed.next;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(pages, [vec![6, 5], vec![3, 2], vec![1]]);

    let staging =
        f.store.list_deployments(&ws.id, &project_slug("web"), &env_name("staging"), &page(10, None)).await.unwrap();
    assert_eq!(staging.items.iter().map(|d| d.number.get()).collect::<Vec<_>>(), [4]);
    assert_eq!(staging.next, None);
}

async fn missing_deployments_are_not_found(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let d = deploy(&f, &ws, "web", "production").await;

    assert_eq!(
        not_found(f.store.deployment(&ws.id, &project_slug("web"), &env_name("production"), number(2)).await),
        ErrorCode::DeploymentNotFound
    );
    assert_eq!(
        not_found(f.store.deployment(&ws.id, &project_slug("web"), &env_name("qa"), d.number).await),
        ErrorCode::EnvironmentNotFound
    );
    assert_eq!(
        not_found(f.store.deployment(&ws.id, &project_slug("api"), &env_name("production"), d.number).await),
        ErrorCode::ProjectNotFound
    );
    assert_eq!(
        not_found(f.store.create_deployment(&f.actor, &ws.id, &project_slug("web"), &env_name("qa"), None).await),
        ErrorCode::EnvironmentNotFound
    );
    assert_eq!(
        not_found(
            f.store.list_deployments(&ws.id, &project_slug("api"), &env_name("production"), &page(5, None)).await
        ),
        ErrorCode::ProjectNotFound
    );
    let other = f.workspace("other").await;
    assert_eq!(
        not_found(f.store.deployment(&other.id, &project_slug("web"), &env_name("production"), d.number).await),
        ErrorCode::ProjectNotFound
    );
    let unknown = slipway_core::ids::DeploymentId::generate();
    assert_eq!(
        not_found(
            f.store
                .transition_deployment(&Actor::system("builder"), &ws.id, &unknown, Transition::StartBuild, None)
                .await
        ),
        ErrorCode::DeploymentNotFound
    );
}

async fn concurrent_deployments_get_distinct_numbers(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, actor, id) = (f.store.clone(), f.actor.clone(), ws.id.clone());
            tokio::spawn(async move {
                store.create_deployment(&actor, &id, &project_slug("web"), &env_name("production"), None).await
            })
        })
        .collect();
    let mut numbers = BTreeSet::new();
    for task in tasks {
        numbers.insert(task.await.unwrap().unwrap().number.get());
    }
    assert_eq!(numbers, (1..=8).collect());
    assert_eq!(deploy(&f, &ws, "web", "production").await.number, number(9));
}
