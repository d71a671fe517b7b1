//! The Kubernetes target's records: switching an environment's target, the
//! image and GitOps commit a deployment records, what a render reads, and a
//! release that could not be committed.

use slipway_core::api::RuntimeTarget;
use slipway_core::deployment::DeploymentStatus;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use slipway_store::{Actor, Job, JobKind};
use slipway_testkit::TestBackend;

use crate::support::*;

both_backends!(a_kubernetes_release_is_committed_or_fails_without_the_agent);

const IMAGE: &str = "registry.example.com/acme/web:tag@sha256:0123";

async fn a_kubernetes_release_is_committed_or_fails_without_the_agent(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    let switched = f
        .store
        .set_environment_target(&f.actor, &ws, &project_slug("web"), &env_name("production"), RuntimeTarget::Kubernetes)
        .await
        .unwrap();
    assert_eq!(switched.target, RuntimeTarget::Kubernetes);

    let (first, release) = released(&f, &ws, &"a".repeat(40), "one").await;
    // The local agent never sees an environment of the Kubernetes target.
    assert!(f.store.desired_state().await.unwrap().is_empty());
    f.store.record_image(&ws.id, &first.id, IMAGE).await.unwrap();
    let source = f.store.render_source(&ws.id, &project_slug("web"), &env_name("production"), None).await.unwrap();
    assert_eq!((&source.release, source.number, source.target), (&release, first.number, RuntimeTarget::Kubernetes));
    assert_eq!(source.image.as_deref(), Some(IMAGE));
    assert_eq!(source.created_by.as_ref(), Some(&f.owner.id));
    assert_eq!(source.commit_sha.as_ref().map(|sha| sha.as_str()), Some("a".repeat(40).as_str()));
    assert_eq!(source.hostnames, [generated("acme", "web", "production").as_str()]);

    let gitops = "c".repeat(40);
    f.store.release_live(&Actor::pipeline(), &ws.id, &first.environment_id, &release, Some(&gitops)).await.unwrap();
    let stored = f.store.deployment(&ws.id, &project_slug("web"), &env_name("production"), first.number).await.unwrap();
    assert_eq!(stored.status, DeploymentStatus::Deployed);
    assert_eq!((stored.image.as_deref(), stored.gitops_commit.as_deref()), (Some(IMAGE), Some(gitops.as_str())));

    // A release that cannot be committed fails; the committed one stays what the cluster runs.
    let (second, failed) = released(&f, &ws, &"b".repeat(40), "two").await;
    f.store
        .release_failed(&Actor::pipeline(), &ws.id, &second.environment_id, &failed, "the remote refused")
        .await
        .unwrap();
    assert_eq!(status(&f, &ws, &second).await, (DeploymentStatus::Failed, Some("the remote refused".into())));
    assert_eq!(status(&f, &ws, &first).await.0, DeploymentStatus::Deployed);
    let source = f.store.render_source(&ws.id, &project_slug("web"), &env_name("production"), None).await.unwrap();
    assert_eq!(source.release, release);
    // A rollback deploys an exported release's image again through a queued GitOps job; a
    // release that was never exported is refused and changes nothing.
    assert_eq!(
        conflict(
            f.store
                .rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(second.number))
                .await
        ),
        ErrorCode::DeploymentStateConflict
    );
    assert!(f.store.claim_job("test", &[JobKind::GitopsRollback], 60, Timestamp::now()).await.unwrap().is_none());
    let back = f
        .store
        .rollback(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), Some(first.number))
        .await
        .unwrap();
    assert_eq!((back.status, back.image.as_deref()), (DeploymentStatus::Deploying, Some(IMAGE)));
    let job = f.store.claim_job("test", &[JobKind::GitopsRollback], 60, Timestamp::now()).await.unwrap().unwrap();
    assert_eq!(job.job, Job::GitopsRollback { workspace: ws.id.clone(), deployment: back.id.clone() });
    // Back to local: the environment's GitOps folder is queued for removal (it had commits).
    f.store
        .set_environment_target(&f.actor, &ws, &project_slug("web"), &env_name("production"), RuntimeTarget::Local)
        .await
        .unwrap();
    let job = f.store.claim_job("test", &[JobKind::GitopsRemove], 60, Timestamp::now()).await.unwrap().unwrap();
    let Job::GitopsRemove { workspace, environment } = job.job else { panic!("{job:?}") };
    assert_eq!((environment.to_string().as_str(), workspace), ("acme/web/production", ws.id.clone()));
    assert_eq!(
        f.store.environment_target(&ws.id, &project_slug("web"), &env_name("production")).await.unwrap(),
        RuntimeTarget::Local
    );
    let actions: Vec<String> = f.audit_rows().await.into_iter().map(|row| row.action).collect();
    for action in ["environment.target", "release.live", "release.failed"] {
        assert!(actions.iter().any(|a| a == action), "{action} not audited: {actions:?}");
    }
}

both_backends!(a_read_back_deployment_waits_for_the_cluster);

async fn a_read_back_deployment_waits_for_the_cluster(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "web").await;
    f.store
        .set_environment_target(&f.actor, &ws, &project_slug("web"), &env_name("production"), RuntimeTarget::Kubernetes)
        .await
        .unwrap();
    let other = f.workspace("other").await;
    f.project(&other, "web").await;

    let (first, release) = released(&f, &ws, &"a".repeat(40), "one").await;
    f.store.record_image(&ws.id, &first.id, IMAGE).await.unwrap();
    assert!(f.store.awaiting_cluster().await.unwrap().is_empty(), "nothing committed yet");
    let gitops = "c".repeat(40);
    f.store.record_gitops_commit(&ws.id, &first.environment_id, &release, &gitops).await.unwrap();
    // Committed is not live: the deployment waits, listed for the watcher with what it needs.
    assert_eq!(status(&f, &ws, &first).await.0, DeploymentStatus::Deploying);
    let awaiting = f.store.awaiting_cluster().await.unwrap();
    assert_eq!(awaiting.len(), 1, "{awaiting:?}");
    let wait = &awaiting[0];
    assert_eq!(
        (wait.workspace.as_str(), wait.project.as_str(), wait.environment.as_str()),
        ("acme", "web", "production")
    );
    assert_eq!((&wait.deployment, wait.number, &wait.release), (&first.id, first.number, &release));
    assert_eq!((wait.image.as_str(), wait.gitops_commit.as_str()), (IMAGE, gitops.as_str()));
    assert_eq!(wait.active_release, None, "a first deployment has nothing live before it");
    // Another workspace cannot record a commit for it.
    let foreign = f.store.record_gitops_commit(&other.id, &first.environment_id, &release, &"d".repeat(40)).await;
    assert!(foreign.is_err(), "{foreign:?}");

    f.store.release_live(&Actor::cluster(), &ws.id, &first.environment_id, &release, None).await.unwrap();
    let stored = f.store.deployment(&ws.id, &project_slug("web"), &env_name("production"), first.number).await.unwrap();
    assert_eq!((stored.status, stored.gitops_commit.as_deref()), (DeploymentStatus::Deployed, Some(gitops.as_str())));
    assert!(f.store.awaiting_cluster().await.unwrap().is_empty());

    // The next one fails in the cluster: FAILED with the reason, the first keeps running.
    let (second, failed) = released(&f, &ws, &"b".repeat(40), "two").await;
    f.store.record_image(&ws.id, &second.id, IMAGE).await.unwrap();
    f.store.record_gitops_commit(&ws.id, &second.environment_id, &failed, &"e".repeat(40)).await.unwrap();
    let awaiting = f.store.awaiting_cluster().await.unwrap();
    assert_eq!(awaiting.len(), 1);
    assert_eq!(awaiting[0].active_release.as_ref(), Some(&release), "the live release, to restore on failure");
    f.store
        .release_failed(&Actor::cluster(), &ws.id, &second.environment_id, &failed, "pod web-1 cannot start")
        .await
        .unwrap();
    assert_eq!(status(&f, &ws, &second).await, (DeploymentStatus::Failed, Some("pod web-1 cannot start".into())));
    assert_eq!(status(&f, &ws, &first).await.0, DeploymentStatus::Deployed);
    assert!(f.store.awaiting_cluster().await.unwrap().is_empty());
    let source = f.store.render_source(&ws.id, &project_slug("web"), &env_name("production"), None).await.unwrap();
    assert_eq!(source.release, release, "the environment's desired release is the live one again");

    // A scale change of a committed Kubernetes environment queues its GitOps commit; the
    // other workspace's environment (local, nothing committed) queues nothing.
    let scale = std::collections::BTreeMap::from([("web".parse().expect("a process type"), 3)]);
    f.store.set_scale(&f.actor, &other.id, &project_slug("web"), &env_name("production"), &scale).await.unwrap();
    assert!(f.store.claim_job("test", &[JobKind::GitopsScale], 60, Timestamp::now()).await.unwrap().is_none());
    f.store.set_scale(&f.actor, &ws.id, &project_slug("web"), &env_name("production"), &scale).await.unwrap();
    let job = f.store.claim_job("test", &[JobKind::GitopsScale], 60, Timestamp::now()).await.unwrap().unwrap();
    let Job::GitopsScale { workspace, environment } = job.job else { panic!("{job:?}") };
    assert_eq!((environment.to_string().as_str(), workspace), ("acme/web/production", ws.id.clone()));
    let stored =
        f.store.render_source(&ws.id, &project_slug("web"), &env_name("production"), None).await.unwrap().scale;
    assert_eq!(stored, std::collections::BTreeMap::from([("web".to_owned(), 3)]));
}
