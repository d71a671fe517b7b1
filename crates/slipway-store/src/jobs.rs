//! The durable job queue: rows claimed with a lease. A worker that dies
//! leaves its lease to expire, and the job is claimed again; after
//! `max_attempts` claims it fails with the last error kept.
//!
//! Every function takes `now`, so the worker loop passes the clock and tests
//! pass chosen instants instead of sleeping.

use slipway_core::ids::{JobId, WorkspaceId};
use slipway_core::timestamp::Timestamp;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::stored;
use crate::scope::{Backend, Scope, Tx};
use crate::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    /// JSON or any text the worker of `kind` understands.
    pub payload: String,
    pub workspace: Option<WorkspaceId>,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
}

/// A job a worker holds until `lease_expires_at`.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: String,
    pub payload: String,
    pub workspace: Option<WorkspaceId>,
    /// 1 on the first claim.
    pub attempt: u32,
    pub lease_expires_at: Timestamp,
}

/// The condition for "job $1 is running under worker $2's lease".
const HELD: &str = "id = $1 AND lease_owner = $2 AND status = 'running'";

fn claimed_from(row: &AnyRow) -> Result<ClaimedJob, StoreError> {
    let workspace: Option<String> = row.try_get("workspace_id")?;
    Ok(ClaimedJob {
        id: stored(JobId::parse(&row.try_get::<String, _>("id")?))?,
        kind: row.try_get("kind")?,
        payload: row.try_get("payload")?,
        workspace: workspace.map(|id| stored(WorkspaceId::parse(&id))).transpose()?,
        attempt: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        lease_expires_at: Timestamp::from_millis(row.try_get("lease_expires_at")?),
    })
}

/// Queues a job inside the caller's transaction, so the job exists exactly
/// when the change that asked for it does.
pub(crate) async fn insert_job(tx: &mut Tx, job: &NewJob, now: Timestamp) -> Result<JobId, StoreError> {
    let id = JobId::generate();
    sqlx::query(
        "INSERT INTO jobs (id, workspace_id, kind, payload, status, attempts, max_attempts, run_after, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6, $6)",
    )
    .bind(id.as_str())
    .bind(job.workspace.as_ref().map(WorkspaceId::as_str))
    .bind(&job.kind)
    .bind(&job.payload)
    .bind(i64::from(job.max_attempts.max(1)))
    .bind(now.as_millis())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

impl Store {
    pub async fn enqueue_job(&self, job: &NewJob, now: Timestamp) -> Result<JobId, StoreError> {
        let mut tx = self.write(Scope::Platform).await?;
        let id = insert_job(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claims the oldest runnable job of one of `kinds` for `worker`: a queued
    /// job that is due, or a running one whose lease has expired.
    pub async fn claim_job(
        &self,
        worker: &str,
        kinds: &[&str],
        lease_seconds: i64,
        now: Timestamp,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        let mut tx = self.write(Scope::Platform).await?;
        let now_ms = now.as_millis();
        // Jobs whose last lease ran out on their final attempt fail for good.
        sqlx::query(
            "UPDATE jobs SET status = 'failed', updated_at = $1,
                 last_error = COALESCE(last_error, 'the worker stopped without finishing (lease expired)')
             WHERE status = 'running' AND lease_expires_at <= $1 AND attempts >= max_attempts",
        )
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        // Kinds are the caller's own constants; they are bound, never spliced.
        let kind_params: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 5)).collect();
        let lock = match self.backend {
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
            query = query.bind(*kind);
        }
        let row = query.fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        row.as_ref().map(claimed_from).transpose()
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

    /// A job's status and last error, for operators and tests.
    pub async fn job_status(&self, job: &JobId) -> Result<(JobStatus, Option<String>), StoreError> {
        let mut tx = self.read(Scope::Platform).await?;
        let row = sqlx::query("SELECT status, last_error FROM jobs WHERE id = $1")
            .bind(job.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("job {job} does not exist")))?;
        tx.commit().await?;
        let status = match row.try_get::<String, _>("status")?.as_str() {
            "queued" => JobStatus::Queued,
            "running" => JobStatus::Running,
            "done" => JobStatus::Done,
            "failed" => JobStatus::Failed,
            other => return Err(StoreError::Corrupt(format!("job status {other}"))),
        };
        Ok((status, row.try_get("last_error")?))
    }
}
