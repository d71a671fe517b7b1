//! Queuing deployments: numbering, the deploy job in the same transaction,
//! Idempotency-Keys, what the pipeline reads and records, and deployments
//! whose job gave up.

use slipway_core::api::DeploymentKind;
use slipway_core::deployment::{DeploymentNumber, DeploymentStatus, Transition};
use slipway_core::ids::DeploymentId;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use slipway_store::{Actor, Job, JobKind, NewProject, StoreError};
use slipway_testkit::TestBackend;

use crate::support::*;

both_backends!(
    queueing_a_deployment_enqueues_its_deploy_job,
    a_failed_queueing_leaves_no_job_and_no_key,
    the_pipeline_reads_and_records_a_deployment,
    idempotency_keys_replay_the_first_deployment,
    a_key_remembers_the_request_not_the_commit_it_resolved_to,
    concurrent_requests_with_one_key_make_one_deployment,
    deployments_whose_deploy_job_gave_up_are_failed,
);

async fn queueing_a_deployment_enqueues_its_deploy_job(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let web = f.project(&ws, "web").await;
    assert_eq!(JobKind::Deploy.as_str(), "deploy");

    let before = f.audit_rows().await;
    let (first, created) = f
        .store
        .queue_deployment(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(&sha(SHA_A)), None)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(first.number, DeploymentNumber::FIRST);
    assert_eq!(first.status, DeploymentStatus::Queued);
    assert_eq!(first.kind, DeploymentKind::Build);
    assert_eq!(first.commit_sha, Some(sha(SHA_A)));
    assert_eq!(first.environment_id, web.environments[0].id);
    assert_eq!((first.plan.as_ref(), first.release_id.as_ref()), (None, None));
    let audited: Vec<_> =
        f.audit_rows_since(&before).await.into_iter().map(|row| (row.action, row.target, row.actor)).collect();
    assert_eq!(audited, [("deployment.create".to_owned(), "project/web/production#1".to_owned(), "owner".to_owned())]);

    // The job exists as soon as the deployment does, names it, and is the
    // only one.
    let jobs = claim_all_deploy_jobs(&f).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].job.kind(), JobKind::Deploy);
    assert_eq!(jobs[0].job, Job::Deploy { workspace: ws.id.clone(), deployment: first.id.clone() });
    assert_eq!(jobs[0].job.workspace(), &ws.id);
    assert_eq!(jobs[0].attempt, 1);
    // Jobs of other kinds do not see it.
    assert!(f.store.claim_job("other", &[JobKind::GitopsScale], 60, Timestamp::now()).await.unwrap().is_none());

    // Numbering continues, one job per deployment; no commit means "the
    // branch head", resolved by the pipeline.
    let second = queue(&f, &ws, "production", None).await;
    let third = queue(&f, &ws, "production", Some(SHA_B)).await;
    assert_eq!([second.number.get(), third.number.get()], [2, 3]);
    assert_eq!(second.commit_sha, None);
    let payloads: Vec<DeploymentId> =
        claim_all_deploy_jobs(&f).await.into_iter().map(|job| deployment_of(&job.job)).collect();
    assert_eq!(payloads, [second.id.clone(), third.id.clone()]);

    // The deployments are listed like any other.
    let listed =
        f.store.list_deployments(&ws.id, &project_slug("web"), &env_name("production"), &page(10, None)).await.unwrap();
    assert_eq!(listed.items.iter().map(|d| d.number.get()).collect::<Vec<_>>(), [3, 2, 1]);
}

async fn a_failed_queueing_leaves_no_job_and_no_key(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;

    let result = f
        .store
        .queue_deployment(&f.actor, &ws.id, &project_slug("web"), &env_name("qa"), None, key("key-1", None))
        .await;
    assert_eq!(not_found(result), ErrorCode::EnvironmentNotFound);
    let result = f
        .store
        .queue_deployment(&f.actor, &ws.id, &project_slug("ghost"), &env_name("production"), None, key("key-2", None))
        .await;
    assert_eq!(not_found(result), ErrorCode::ProjectNotFound);
    assert!(claim_all_deploy_jobs(&f).await.is_empty(), "a job without its deployment was queued");
    assert!(f
        .store
        .list_deployments(&ws.id, &project_slug("web"), &env_name("production"), &page(10, None))
        .await
        .unwrap()
        .items
        .is_empty());

    // The keys of refused requests were not kept: using one for a valid
    // request creates a deployment, and it is number 1.
    let (d, created) = f
        .store
        .queue_deployment(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), None, key("key-1", None))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(d.number, DeploymentNumber::FIRST);
    assert_eq!(claim_all_deploy_jobs(&f).await.len(), 1);
}

async fn the_pipeline_reads_and_records_a_deployment(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let repo = slipway_core::names::RepoUrl::parse("https://example.com/acme/web.git").unwrap();
    let new = NewProject {
        repo_url: Some(repo.clone()),
        branch: slipway_core::names::Branch::parse("release").unwrap(),
        ..new_project(&ws, "web")
    };
    f.store.create_project(&f.actor, &ws, new).await.unwrap();
    let d = queue(&f, &ws, "production", None).await;

    let context = f.store.deployment_context(&ws.id, &d.id).await.unwrap();
    assert_eq!(context.deployment.id, d.id);
    assert_eq!(context.deployment.status, DeploymentStatus::Queued);
    assert_eq!(
        (context.workspace.as_str(), context.project.as_str(), context.environment.as_str()),
        ("acme", "web", "production")
    );
    assert_eq!(context.repo_url.as_deref(), Some(repo.as_str()));
    assert_eq!(context.branch, "release");

    // The pipeline resolves the commit and detects the plan.
    f.store.record_commit(&ws.id, &d.id, &sha(SHA_B)).await.unwrap();
    f.store.record_plan(&ws.id, &d.id, &plan("node server.js")).await.unwrap();
    let stored = f.store.deployment(&ws.id, &project_slug("web"), &env_name("production"), d.number).await.unwrap();
    assert_eq!(stored.commit_sha, Some(sha(SHA_B)));
    assert_eq!(stored.plan, Some(plan("node server.js")));
    assert_eq!(f.store.deployment_context(&ws.id, &d.id).await.unwrap().deployment.commit_sha, Some(sha(SHA_B)));

    // Another tenant cannot read the context, nor record on it.
    let other = f.workspace("other").await;
    assert_eq!(not_found(f.store.deployment_context(&other.id, &d.id).await), ErrorCode::DeploymentNotFound);
    assert_eq!(not_found(f.store.record_commit(&other.id, &d.id, &sha(SHA_A)).await), ErrorCode::DeploymentNotFound);
    assert_eq!(
        not_found(f.store.record_plan(&other.id, &d.id, &plan("node evil.js")).await),
        ErrorCode::DeploymentNotFound
    );
    let stored = f.store.deployment(&ws.id, &project_slug("web"), &env_name("production"), d.number).await.unwrap();
    assert_eq!(stored.commit_sha, Some(sha(SHA_B)), "another workspace rewrote the commit");
    assert_eq!(stored.plan, Some(plan("node server.js")), "another workspace rewrote the plan");
    assert_eq!(
        not_found(f.store.deployment_context(&ws.id, &DeploymentId::generate()).await),
        ErrorCode::DeploymentNotFound
    );
}

async fn idempotency_keys_replay_the_first_deployment(backend: TestBackend) {
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
    let a = sha(SHA_A);

    let (first, created) = f
        .store
        .queue_deployment(
            &f.actor,
            &ws.id,
            &project_slug("web"),
            &env_name("production"),
            Some(&a),
            key("retry-1", Some(&a)),
        )
        .await
        .unwrap();
    assert!(created);
    let before = f.audit_rows().await;
    let (again, created) = f
        .store
        .queue_deployment(
            &f.actor,
            &ws.id,
            &project_slug("web"),
            &env_name("production"),
            Some(&a),
            key("retry-1", Some(&a)),
        )
        .await
        .unwrap();
    assert!(!created, "a replay must say it created nothing");
    assert_eq!(again.id, first.id);
    assert_eq!(again.number, first.number);
    assert!(f.audit_rows_since(&before).await.is_empty(), "a replay changes nothing, so it audits nothing");
    assert_eq!(claim_all_deploy_jobs(&f).await.len(), 1, "a replay must not queue a second job");

    // The replay shows the deployment as it is now.
    f.store.transition_deployment(&pipeline(), &ws.id, &first.id, Transition::StartBuild, None).await.unwrap();
    let (now, created) = f
        .store
        .queue_deployment(
            &f.actor,
            &ws.id,
            &project_slug("web"),
            &env_name("production"),
            Some(&a),
            key("retry-1", Some(&a)),
        )
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(now.status, DeploymentStatus::Building);

    // The same key for anything else is refused, and changes nothing.
    let b = sha(SHA_B);
    for (env, commit) in [("production", Some(&b)), ("production", None), ("staging", Some(&a))] {
        let result = f
            .store
            .queue_deployment(&f.actor, &ws.id, &project_slug("web"), &env_name(env), commit, key("retry-1", commit))
            .await;
        match &result {
            Err(StoreError::Conflict { message, .. }) => assert!(message.contains("Idempotency-Key"), "{message}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(conflict(result), ErrorCode::IdempotencyKeyReused, "{env} {commit:?}");
    }
    assert_eq!(
        f.store
            .list_deployments(&ws.id, &project_slug("web"), &env_name("production"), &page(10, None))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(claim_all_deploy_jobs(&f).await.is_empty());

    // Another key is another request.
    let (second, created) = f
        .store
        .queue_deployment(
            &f.actor,
            &ws.id,
            &project_slug("web"),
            &env_name("production"),
            Some(&a),
            key("retry-2", Some(&a)),
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(second.number, number(2));

    // Keys belong to a workspace: another tenant's identical key is new.
    let other = f.workspace("other").await;
    f.project(&other, "web").await;
    let (theirs, created) = f
        .store
        .queue_deployment(
            &f.actor,
            &other.id,
            &project_slug("web"),
            &env_name("production"),
            Some(&a),
            key("retry-1", Some(&a)),
        )
        .await
        .unwrap();
    assert!(created, "another workspace's key must not replay this one's deployment");
    assert_ne!(theirs.id, first.id);
    assert_eq!(theirs.number, DeploymentNumber::FIRST);
    // ...and a different request under it there is refused there only.
    let (ours, created) = f
        .store
        .queue_deployment(
            &f.actor,
            &ws.id,
            &project_slug("web"),
            &env_name("production"),
            Some(&a),
            key("retry-1", Some(&a)),
        )
        .await
        .unwrap();
    assert_eq!((ours.id, created), (first.id, false));
}

async fn a_key_remembers_the_request_not_the_commit_it_resolved_to(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let (a, b) = (sha(SHA_A), sha(SHA_B));

    // "Deploy the branch head" resolved to A.
    let (first, created) = f
        .store
        .queue_deployment(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(&a), key("head", None))
        .await
        .unwrap();
    assert!(created);
    // The branch moved to B before the client retried: still a replay.
    let (retry, created) = f
        .store
        .queue_deployment(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(&b), key("head", None))
        .await
        .unwrap();
    assert_eq!((retry.id, retry.commit_sha, created), (first.id.clone(), Some(a.clone()), false));
    // Naming a commit is another request, even the one the head was.
    for named in [&a, &b] {
        let result = f
            .store
            .queue_deployment(
                &f.actor,
                &ws.id,
                &project_slug("web"),
                &env_name("production"),
                Some(named),
                key("head", Some(named)),
            )
            .await;
        assert_eq!(conflict(result), ErrorCode::IdempotencyKeyReused);
    }
    let (named, created) = f
        .store
        .queue_deployment(
            &f.actor,
            &ws.id,
            &project_slug("web"),
            &env_name("production"),
            Some(&b),
            key("named", Some(&b)),
        )
        .await
        .unwrap();
    assert!(created);
    let result = f
        .store
        .queue_deployment(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(&b), key("named", None))
        .await;
    assert_eq!(conflict(result), ErrorCode::IdempotencyKeyReused);
    assert_eq!(named.number, number(2));
    assert_eq!(claim_all_deploy_jobs(&f).await.len(), 2);
}

async fn concurrent_requests_with_one_key_make_one_deployment(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;

    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (store, actor, id) = (f.store.clone(), f.actor.clone(), ws.id.clone());
            tokio::spawn(async move {
                store
                    .queue_deployment(
                        &actor,
                        &id,
                        &project_slug("web"),
                        &env_name("production"),
                        Some(&sha(SHA_A)),
                        key("same", Some(&sha(SHA_A))),
                    )
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    let mut created = 0;
    for task in tasks {
        let (d, new) = task.await.unwrap().unwrap_or_else(|err| panic!("a retried request failed: {err:?}"));
        ids.push(d.id);
        created += usize::from(new);
    }
    assert_eq!(created, 1, "exactly one request creates the deployment");
    ids.dedup();
    assert_eq!(ids.len(), 1, "every request answers with the same deployment");
    assert_eq!(claim_all_deploy_jobs(&f).await.len(), 1);
    assert_eq!(
        f.store
            .list_deployments(&ws.id, &project_slug("web"), &env_name("production"), &page(10, None))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

async fn deployments_whose_deploy_job_gave_up_are_failed(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let other = f.workspace("other").await;
    f.project(&other, "web").await;

    // Two deployments whose workers died on both attempts (leases ran out),
    // in two workspaces; one still being built; one released meanwhile.
    let abandoned = queue(&f, &ws, "production", Some(SHA_A)).await;
    let (theirs, _) = f
        .store
        .queue_deployment(&f.actor, &other.id, &project_slug("web"), &env_name("production"), None, None)
        .await
        .unwrap();
    let now = Timestamp::now();
    let lease = 30;
    let mut claimed = Vec::new();
    for attempt in 0..2 {
        let at = now.plus_seconds(attempt * (lease + 1));
        while let Some(job) = f.store.claim_job("dying-worker", &[JobKind::Deploy], lease, at).await.unwrap() {
            claimed.push((deployment_of(&job.job), job.attempt));
        }
    }
    assert_eq!(claimed.len(), 4, "{claimed:?}");
    let (building, _) = released(&f, &ws, SHA_B, "v2").await;
    let in_progress = queue(&f, &ws, "production", None).await;
    // The next claim after the last lease ran out fails those jobs for good.
    let after = now.plus_seconds(3 * (lease + 1));
    let next = f.store.claim_job("worker", &[JobKind::Deploy], lease, after).await.unwrap().expect("the fresh jobs");
    // The released deployment's job is claimed now; the newest stays queued.
    assert_eq!(deployment_of(&next.job), building.id);
    f.store.transition_deployment(&pipeline(), &ws.id, &abandoned.id, Transition::StartBuild, None).await.unwrap();

    let before = f.audit_rows().await;
    assert_eq!(f.store.fail_abandoned_deployments(&Actor::janitor()).await.unwrap(), 2);
    let (status_now, reason) = status(&f, &ws, &abandoned).await;
    assert_eq!(status_now, DeploymentStatus::Failed);
    assert!(reason.as_deref().is_some_and(|r| r.contains("deploy again")), "{reason:?}");
    let theirs =
        f.store.deployment(&other.id, &project_slug("web"), &env_name("production"), theirs.number).await.unwrap();
    assert_eq!(theirs.status, DeploymentStatus::Failed, "every tenant's abandoned deployments");
    assert_eq!(status(&f, &ws, &building).await.0, DeploymentStatus::Deploying);
    assert_eq!(status(&f, &ws, &in_progress).await.0, DeploymentStatus::Queued);
    // Each is audited in its own workspace, as the janitor's doing.
    let mut audited: Vec<_> = f
        .audit_rows_since(&before)
        .await
        .into_iter()
        .map(|row| (row.workspace_id, row.action, row.target, row.actor, row.request_id))
        .collect();
    audited.sort();
    let janitor = |workspace: &slipway_core::api::Workspace, number: DeploymentNumber| {
        let target = format!("project/web/production#{number}");
        (
            Some(workspace.id.to_string()),
            "deployment.failed".to_owned(),
            target,
            "slipway".to_owned(),
            "janitor".to_owned(),
        )
    };
    let mut expected = vec![janitor(&ws, abandoned.number), janitor(&other, theirs.number)];
    expected.sort();
    assert_eq!(audited, expected);
    // Nothing more to do the second time.
    let before = f.audit_rows().await;
    assert_eq!(f.store.fail_abandoned_deployments(&Actor::janitor()).await.unwrap(), 0);
    assert!(f.audit_rows_since(&before).await.is_empty());
}
