//! The durable job queue. Every call takes `now`, so time is chosen here
//! rather than waited for. The queue does not look into a job: these use
//! any kind, for workspaces and deployments that need not exist.

use std::collections::BTreeSet;

use slipway_core::address::EnvironmentPath;
use slipway_core::ids::{DeploymentId, JobId, WorkspaceId};
use slipway_core::names::{EnvironmentName, ProjectSlug, WorkspaceSlug};
use slipway_core::timestamp::Timestamp;
use slipway_store::{Job, JobKind, Store};
use slipway_testkit::TestBackend;
use sqlx::Row;

use crate::support::*;

both_backends!(
    a_job_is_claimed_once_until_its_lease_expires,
    a_renewed_lease_keeps_the_job,
    a_failed_job_is_retried_after_its_delay,
    a_job_fails_for_good_after_its_last_attempt,
    a_job_whose_last_lease_expires_fails_for_good,
    claims_filter_by_kind_and_take_the_oldest_first,
    concurrent_workers_claim_each_job_exactly_once,
    a_job_of_an_unknown_kind_or_with_a_bad_payload_fails_with_the_reason,
);

/// Two kinds standing for any: the queue treats every kind alike.
const BUILD: JobKind = JobKind::Deploy;
const GC: JobKind = JobKind::GitopsScale;

/// An arbitrary instant: the queue only compares the times it is given.
const T0: i64 = 1_800_000_000_000;
const LEASE: i64 = 30;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_millis(T0).plus_seconds(seconds)
}

/// A job of `kind` for a fresh workspace.
fn job(kind: JobKind) -> Job {
    job_for(WorkspaceId::generate(), kind)
}

fn job_for(workspace: WorkspaceId, kind: JobKind) -> Job {
    let environment = EnvironmentPath {
        workspace: WorkspaceSlug::parse("acme").unwrap(),
        project: ProjectSlug::parse("web").unwrap(),
        environment: EnvironmentName::parse("production").unwrap(),
    };
    let deployment = DeploymentId::generate();
    match kind {
        JobKind::Deploy => Job::Deploy { workspace, deployment },
        JobKind::GitopsRollback => Job::GitopsRollback { workspace, deployment },
        JobKind::GitopsRemove => Job::GitopsRemove { workspace, environment },
        JobKind::GitopsScale => Job::GitopsScale { workspace, environment },
    }
}

/// A job's status and last error, read under the store: nothing in the platform reads one job
/// by id, so the store has no method for it.
async fn job_state(f: &Fixture, id: &JobId) -> (&'static str, Option<String>) {
    let mut tx = f.raw_platform().await;
    let row = sqlx::query("SELECT status, last_error FROM jobs WHERE id = $1")
        .bind(id.as_str())
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let status = match row.get::<String, _>("status").as_str() {
        "queued" => "queued",
        "running" => "running",
        "done" => "done",
        "failed" => "failed",
        other => panic!("job {id} has an unknown status {other}"),
    };
    (status, row.get("last_error"))
}

async fn enqueue(store: &Store, kind: JobKind, max_attempts: u32) -> JobId {
    store.enqueue_job(&job(kind), max_attempts, at(0)).await.unwrap()
}

async fn a_job_is_claimed_once_until_its_lease_expires(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let queued = job_for(ws.id.clone(), BUILD);
    let id = f.store.enqueue_job(&queued, 3, at(0)).await.unwrap();
    assert_eq!(job_state(&f, &id).await, ("queued", None));

    let first = f.store.claim_job("w1", &[BUILD], LEASE, at(0)).await.unwrap().unwrap();
    assert_eq!(first.id, id);
    assert_eq!(first.attempt, 1);
    assert_eq!(first.job.kind(), BUILD);
    assert_eq!(first.job, queued);
    assert_eq!(first.job.workspace(), &ws.id);
    assert_eq!(first.lease_expires_at, at(LEASE));
    assert_eq!(job_state(&f, &id).await.0, "running");

    // Held: nobody else gets it while the lease runs, up to its last instant.
    assert!(f.store.claim_job("w2", &[BUILD], LEASE, at(0)).await.unwrap().is_none());
    assert!(f.store.claim_job("w2", &[BUILD], LEASE, at(LEASE - 1)).await.unwrap().is_none());

    // Expired: the next worker takes it over, and the first one has lost it.
    let second = f.store.claim_job("w2", &[BUILD], LEASE, at(LEASE + 1)).await.unwrap().unwrap();
    assert_eq!((second.id.clone(), second.attempt), (id.clone(), 2));
    assert_eq!(second.lease_expires_at, at(2 * LEASE + 1));
    assert!(!f.store.complete_job(&id, "w1", at(LEASE + 2)).await.unwrap());
    assert!(!f.store.fail_job(&id, "w1", "late", 0, at(LEASE + 2)).await.unwrap());
    assert!(!f.store.renew_job_lease(&id, "w1", LEASE, at(LEASE + 2)).await.unwrap());
    assert_eq!(job_state(&f, &id).await, ("running", None));

    assert!(f.store.complete_job(&id, "w2", at(LEASE + 3)).await.unwrap());
    assert_eq!(job_state(&f, &id).await, ("done", None));
    assert!(!f.store.complete_job(&id, "w2", at(LEASE + 4)).await.unwrap(), "done once");
    assert!(f.store.claim_job("w3", &[BUILD], LEASE, at(10_000)).await.unwrap().is_none());
}

async fn a_renewed_lease_keeps_the_job(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let id = enqueue(&f.store, BUILD, 3).await;
    f.store.claim_job("w1", &[BUILD], LEASE, at(0)).await.unwrap().unwrap();

    assert!(f.store.renew_job_lease(&id, "w1", LEASE, at(20)).await.unwrap());
    assert!(!f.store.renew_job_lease(&id, "w2", LEASE, at(20)).await.unwrap(), "not w2's lease");
    assert!(f.store.claim_job("w2", &[BUILD], LEASE, at(LEASE + 1)).await.unwrap().is_none());
    // A lease that has run out cannot be renewed, only lost.
    assert!(!f.store.renew_job_lease(&id, "w1", LEASE, at(20 + LEASE)).await.unwrap());
    let taken = f.store.claim_job("w2", &[BUILD], LEASE, at(20 + LEASE)).await.unwrap().unwrap();
    assert_eq!((taken.id, taken.attempt), (id, 2));
}

async fn a_failed_job_is_retried_after_its_delay(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let id = enqueue(&f.store, BUILD, 3).await;
    f.store.claim_job("w1", &[BUILD], LEASE, at(0)).await.unwrap().unwrap();

    assert!(f.store.fail_job(&id, "w1", "registry unreachable", 60, at(1)).await.unwrap());
    assert_eq!(job_state(&f, &id).await, ("queued", Some("registry unreachable".to_owned())));
    assert!(!f.store.complete_job(&id, "w1", at(2)).await.unwrap(), "no longer held");
    assert!(f.store.claim_job("w1", &[BUILD], LEASE, at(60)).await.unwrap().is_none());
    let retry = f.store.claim_job("w2", &[BUILD], LEASE, at(61)).await.unwrap().unwrap();
    assert_eq!((retry.id.clone(), retry.attempt), (id.clone(), 2));
    assert!(f.store.complete_job(&id, "w2", at(62)).await.unwrap());
    assert_eq!(job_state(&f, &id).await.0, "done");
}

async fn a_job_fails_for_good_after_its_last_attempt(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let id = enqueue(&f.store, BUILD, 2).await;

    let one = f.store.claim_job("w1", &[BUILD], LEASE, at(0)).await.unwrap().unwrap();
    assert_eq!(one.attempt, 1);
    assert!(f.store.fail_job(&id, "w1", "first failure", 0, at(1)).await.unwrap());
    let two = f.store.claim_job("w1", &[BUILD], LEASE, at(1)).await.unwrap().unwrap();
    assert_eq!(two.attempt, 2);
    assert!(f.store.fail_job(&id, "w1", "second failure", 0, at(2)).await.unwrap());

    assert_eq!(job_state(&f, &id).await, ("failed", Some("second failure".to_owned())));
    assert!(f.store.claim_job("w1", &[BUILD], LEASE, at(1_000)).await.unwrap().is_none());
    assert_eq!(job_state(&f, &id).await.0, "failed");
}

async fn a_job_whose_last_lease_expires_fails_for_good(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    // Failed once with an error, then abandoned on its last attempt: the error stays.
    let errored = enqueue(&f.store, BUILD, 2).await;
    f.store.claim_job("w1", &[BUILD], LEASE, at(0)).await.unwrap().unwrap();
    assert!(f.store.fail_job(&errored, "w1", "out of memory", 0, at(1)).await.unwrap());
    let last = f.store.claim_job("w1", &[BUILD], LEASE, at(1)).await.unwrap().unwrap();
    assert_eq!((last.id.clone(), last.attempt), (errored.clone(), 2));

    // Abandoned on its only attempt, without any error.
    let silent = enqueue(&f.store, GC, 1).await;
    f.store.claim_job("w1", &[GC], LEASE, at(1)).await.unwrap().unwrap();

    // Still running while the leases hold; any later claim settles them.
    assert_eq!(job_state(&f, &errored).await.0, "running");
    assert!(f.store.claim_job("w2", &[BUILD, GC], LEASE, at(1 + LEASE)).await.unwrap().is_none());
    assert_eq!(job_state(&f, &errored).await, ("failed", Some("out of memory".to_owned())));
    let (status, error) = job_state(&f, &silent).await;
    assert_eq!(status, "failed");
    assert!(error.as_deref().is_some_and(|e| e.contains("lease expired")), "{error:?}");
    assert!(!f.store.complete_job(&silent, "w1", at(2 + LEASE)).await.unwrap());
    assert_eq!(job_state(&f, &silent).await.0, "failed");
}

async fn claims_filter_by_kind_and_take_the_oldest_first(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let b1 = enqueue(&f.store, BUILD, 1).await;
    let gc = enqueue(&f.store, GC, 1).await;
    let b2 = enqueue(&f.store, BUILD, 1).await;
    // Due later, though enqueued first among the deploys.
    let late = f.store.enqueue_job(&job(JobKind::GitopsRemove), 1, at(100)).await.unwrap();
    let early = f.store.enqueue_job(&job(JobKind::GitopsRemove), 1, at(50)).await.unwrap();

    let claim = |kinds: &'static [JobKind], now| f.store.claim_job("w", kinds, LEASE, now);
    assert!(claim(&[], at(0)).await.unwrap().is_none());
    assert!(claim(&[JobKind::GitopsRollback], at(0)).await.unwrap().is_none(), "no job of that kind");
    assert_eq!(claim(&[GC], at(0)).await.unwrap().unwrap().id, gc);
    assert_eq!(claim(&[BUILD, GC], at(0)).await.unwrap().unwrap().id, b1);
    assert_eq!(claim(&[BUILD, GC], at(0)).await.unwrap().unwrap().id, b2);
    assert!(claim(&[BUILD, GC], at(0)).await.unwrap().is_none());

    assert!(claim(&[JobKind::GitopsRemove], at(49)).await.unwrap().is_none(), "not due yet");
    assert_eq!(claim(&[JobKind::GitopsRemove], at(100)).await.unwrap().unwrap().id, early);
    assert_eq!(claim(&[JobKind::GitopsRemove], at(100)).await.unwrap().unwrap().id, late);
}

async fn concurrent_workers_claim_each_job_exactly_once(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let mut enqueued = BTreeSet::new();
    for _ in 0..20 {
        enqueued.insert(enqueue(&f.store, BUILD, 1).await);
    }

    let workers: Vec<_> = (0..8)
        .map(|i| {
            let store = f.store.clone();
            tokio::spawn(async move {
                let worker = format!("w{i}");
                let mut claimed = Vec::new();
                while let Some(job) = store.claim_job(&worker, &[BUILD], LEASE, at(1)).await.unwrap() {
                    claimed.push(job.id);
                }
                claimed
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }

    assert_eq!(claimed.len(), 20, "every job handed out once: {claimed:?}");
    assert_eq!(claimed.into_iter().collect::<BTreeSet<_>>(), enqueued);
    for id in &enqueued {
        assert_eq!(job_state(&f, id).await.0, "running");
    }
}

/// Rows this version cannot read — written by another version, or damaged — are failed with
/// the reason by the next claim, and never handed out as something else (a deploy).
async fn a_job_of_an_unknown_kind_or_with_a_bad_payload_fails_with_the_reason(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let workspace = WorkspaceId::generate();
    let rows = [
        ("unknown", "build", DeploymentId::generate().to_string()),
        ("bad-payload", "deploy", "acme/web/production".to_owned()),
        ("bad-path", "gitops-scale", "acme/web".to_owned()),
    ];
    let mut tx = f.raw_platform().await;
    for (id, kind, payload) in &rows {
        sqlx::query(
            "INSERT INTO jobs (id, workspace_id, kind, payload, status, attempts, max_attempts, run_after, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'queued', 0, 2, $5, $5, $5)",
        )
        .bind(format!("job_{id}"))
        .bind(workspace.as_str())
        .bind(*kind)
        .bind(payload)
        .bind(at(0).as_millis())
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let good = enqueue(&f.store, BUILD, 2).await;

    // A worker of every kind gets the one good job, and nothing after it.
    let claimed = f.store.claim_job("w", &JobKind::ALL, LEASE, at(1)).await.unwrap().unwrap();
    assert_eq!(claimed.id, good);
    assert!(f.store.claim_job("w", &JobKind::ALL, LEASE, at(2)).await.unwrap().is_none());

    let mut tx = f.raw_platform().await;
    let failed: Vec<(String, String, Option<String>)> =
        sqlx::query("SELECT id, status, last_error FROM jobs WHERE id <> $1 ORDER BY id")
            .bind(good.as_str())
            .fetch_all(&mut *tx)
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get("id"), row.get("status"), row.get("last_error")))
            .collect();
    tx.commit().await.unwrap();
    let reason =
        |kind: &str, payload: &str| format!("the {kind} job's payload `{payload}` does not decode; it was not run");
    assert_eq!(
        failed,
        [
            ("job_bad-path".to_owned(), "failed".to_owned(), Some(reason("gitops-scale", "acme/web"))),
            ("job_bad-payload".to_owned(), "failed".to_owned(), Some(reason("deploy", "acme/web/production"))),
            (
                "job_unknown".to_owned(),
                "failed".to_owned(),
                Some("this version of Slipway has no job of kind `build`; it was not run".to_owned())
            ),
        ]
    );
}
