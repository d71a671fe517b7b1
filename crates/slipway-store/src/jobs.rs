//! The durable job queue: rows claimed with a lease. A worker that dies
//! leaves its lease to expire, and the job is claimed again; after
//! `max_attempts` claims it fails with the last error kept. What a job asks
//! for, and how it is stored, is `job.rs`.
//!
//! Every function takes `now`, so the worker loop passes the clock and tests
//! pass chosen instants instead of sleeping.

use slipway_core::ids::JobId;
use slipway_core::timestamp::Timestamp;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::stored;
use crate::job::{unknown_kind, Job, JobKind, StoredJob};
use crate::scope::{Backend, Scope, Tx};
use crate::{Store, StoreError};

/// A job a worker holds until `lease_expires_at`.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: JobId,
    pub job: Job,
    /// 1 on the first claim.
    pub attempt: u32,
    pub lease_expires_at: Timestamp,
}

/// The condition for "job $1 is running under worker $2's lease".
const HELD: &str = "id = $1 AND lease_owner = $2 AND status = 'running'";

/// A claimed row, or why its job cannot run (it is failed with that reason instead).
fn claimed_from(row: &AnyRow) -> Result<Result<ClaimedJob, String>, StoreError> {
    let (kind, payload): (String, String) = (row.try_get("kind")?, row.try_get("payload")?);
    let workspace: Option<String> = row.try_get("workspace_id")?;
    let job = match Job::decode(StoredJob { kind: &kind, payload: &payload, workspace: workspace.as_deref() }) {
        Ok(job) => job,
        Err(reason) => return Ok(Err(reason)),
    };
    Ok(Ok(ClaimedJob {
        id: stored(JobId::parse(&row.try_get::<String, _>("id")?))?,
        job,
        attempt: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        lease_expires_at: Timestamp::from_millis(row.try_get("lease_expires_at")?),
    }))
}

/// Queues `job` inside the caller's transaction, so the job exists exactly
/// when the change that asked for it does.
pub(crate) async fn insert_job(tx: &mut Tx, job: &Job, now: Timestamp) -> Result<JobId, StoreError> {
    insert(tx, job, job.max_attempts(), now).await
}

async fn insert(tx: &mut Tx, job: &Job, max_attempts: u32, now: Timestamp) -> Result<JobId, StoreError> {
    let id = JobId::generate();
    sqlx::query(
        "INSERT INTO jobs (id, workspace_id, kind, payload, status, attempts, max_attempts, run_after, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6, $6)",
    )
    .bind(id.as_str())
    .bind(job.workspace().as_str())
    .bind(job.kind().as_str())
    .bind(job.payload())
    .bind(i64::from(max_attempts.max(1)))
    .bind(now.as_millis())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

impl Store {
    /// Queues `job` on its own, claimable `max_attempts` times (the store queues the jobs that
    /// go with a change itself, in the change's transaction).
    pub async fn enqueue_job(&self, job: &Job, max_attempts: u32, now: Timestamp) -> Result<JobId, StoreError> {
        let mut tx = self.write(Scope::Platform).await?;
        let id = insert(&mut tx, job, max_attempts, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claims the oldest runnable job of one of `kinds` for `worker`: a queued
    /// job that is due, or a running one whose lease has expired. A job this
    /// version cannot read (an unknown kind, a payload that does not decode)
    /// is failed with the reason, never run.
    pub async fn claim_job(
        &self,
        worker: &str,
        kinds: &[JobKind],
        lease_seconds: i64,
        now: Timestamp,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        loop {
            let mut tx = self.write(Scope::Platform).await?;
            settle_unrunnable(&mut tx, now).await?;
            let Some(row) = claim_row(&mut tx, self.backend, worker, kinds, lease_seconds, now).await? else {
                tx.commit().await?;
                return Ok(None);
            };
            match claimed_from(&row)? {
                Ok(claimed) => {
                    tx.commit().await?;
                    return Ok(Some(claimed));
                }
                Err(reason) => {
                    let id: String = row.try_get("id")?;
                    tracing::error!(job = %id, %reason, "a queued job cannot be read; failing it");
                    sqlx::query(
                        "UPDATE jobs SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL,
                             last_error = $1, updated_at = $2 WHERE id = $3",
                    )
                    .bind(reason)
                    .bind(now.as_millis())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                }
            }
        }
    }

    /// Extends a held lease; false if the lease was lost to another worker.
    pub async fn renew_job_lease(
        &self,
        job: &JobId,
        worker: &str,
        lease_seconds: i64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write(Scope::Platform).await?;
        let held = sqlx::query(&format!(
            "UPDATE jobs SET lease_expires_at = $3, updated_at = $4 WHERE {HELD} AND lease_expires_at > $4"
        ))
        .bind(job.as_str())
        .bind(worker)
        .bind(now.plus_seconds(lease_seconds).as_millis())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(held == 1)
    }

    /// Marks a held job done; false if the lease was lost meanwhile.
    pub async fn complete_job(&self, job: &JobId, worker: &str, now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.write(Scope::Platform).await?;
        let held = sqlx::query(&format!("UPDATE jobs SET status = 'done', updated_at = $3 WHERE {HELD}"))
            .bind(job.as_str())
            .bind(worker)
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(held == 1)
    }

    /// Gives a held job back after an error: queued again after
    /// `retry_after_seconds`, or failed if it has used its attempts.
    pub async fn fail_job(
        &self,
        job: &JobId,
        worker: &str,
        error: &str,
        retry_after_seconds: i64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write(Scope::Platform).await?;
        let held = sqlx::query(&format!(
            "UPDATE jobs SET status = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END,
                 run_after = $3, lease_owner = NULL, lease_expires_at = NULL, last_error = $4, updated_at = $5
             WHERE {HELD}"
        ))
        .bind(job.as_str())
        .bind(worker)
        .bind(now.plus_seconds(retry_after_seconds).as_millis())
        .bind(error)
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(held == 1)
    }
}

/// Fails for good the jobs whose last lease ran out on their final attempt, and every job of a
/// kind this version does not know (no claim would ever take it).
async fn settle_unrunnable(tx: &mut Tx, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE jobs SET status = 'failed', updated_at = $1,
             last_error = COALESCE(last_error, 'the worker stopped without finishing (lease expired)')
         WHERE status = 'running' AND lease_expires_at <= $1 AND attempts >= max_attempts",
    )
    .bind(now.as_millis())
    .execute(&mut **tx)
    .await?;
    // Kinds are the queue's own constants; they are bound, never spliced.
    let known: Vec<String> = (1..=JobKind::ALL.len()).map(|i| format!("${i}")).collect();
    let unknown = format!(
        "SELECT id, kind FROM jobs WHERE status IN ('queued', 'running') AND kind NOT IN ({})",
        known.join(", ")
    );
    let mut query = sqlx::query(&unknown);
    for kind in JobKind::ALL {
        query = query.bind(kind.as_str());
    }
    for row in query.fetch_all(&mut **tx).await? {
        let (id, kind): (String, String) = (row.try_get("id")?, row.try_get("kind")?);
        tracing::error!(job = %id, %kind, "a queued job has an unknown kind; failing it");
        sqlx::query(
            "UPDATE jobs SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL, last_error = $1,
                 updated_at = $2 WHERE id = $3",
        )
        .bind(unknown_kind(&kind))
        .bind(now.as_millis())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Takes the oldest runnable row of `kinds` under `worker`'s lease.
async fn claim_row(
    tx: &mut Tx,
    backend: Backend,
    worker: &str,
    kinds: &[JobKind],
    lease_seconds: i64,
    now: Timestamp,
) -> Result<Option<AnyRow>, StoreError> {
    let now_ms = now.as_millis();
    // Kinds are the queue's own constants; they are bound, never spliced.
    let kind_params: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 5)).collect();
    let lock = match backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        // SQLite: BEGIN IMMEDIATE already made this the only writer.
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $1,
             lease_expires_at = $2, updated_at = $3
         WHERE id = (
             SELECT id FROM jobs
             WHERE kind IN ({kinds}) AND attempts < max_attempts
               AND ((status = 'queued' AND run_after <= $4) OR (status = 'running' AND lease_expires_at <= $4))
             ORDER BY run_after, id LIMIT 1 {lock})
         RETURNING *",
        kinds = if kind_params.is_empty() { "NULL".to_owned() } else { kind_params.join(", ") },
    );
    let mut query =
        sqlx::query(&sql).bind(worker).bind(now.plus_seconds(lease_seconds).as_millis()).bind(now_ms).bind(now_ms);
    for kind in kinds {
        query = query.bind(kind.as_str());
    }
    Ok(query.fetch_optional(&mut **tx).await?)
}
