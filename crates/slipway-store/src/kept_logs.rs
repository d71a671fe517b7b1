//! Which log files on this machine the platform still keeps: the pipeline lists the files it
//! finds, and asks here which of them name a deployment or an environment that is gone, or a
//! deployment past the newest N of its environment (`slipway-pipeline`'s `log_retention.rs`).

use std::collections::HashSet;

use slipway_core::ids::{DeploymentId, EnvironmentId};
use sqlx::Row;

use crate::scope::Scope;
use crate::{Store, StoreError};

/// IDs per query: well under SQLite's and PostgreSQL's bound-parameter limits.
const CHUNK: usize = 500;

impl Store {
    /// Of `deployments`, those whose log is no longer kept: the deployment is gone (its
    /// environment was deleted) or is not among the `newest` deployments of its environment.
    pub async fn deployment_logs_past(
        &self,
        deployments: &[DeploymentId],
        newest: u32,
    ) -> Result<Vec<DeploymentId>, StoreError> {
        // The newest `newest` deployments of every environment these belong to; `newest` is a
        // number of ours, written into the SQL (each placeholder is bound once, in order).
        let kept = self
            .found(deployments.iter().map(DeploymentId::as_str), |marks| {
                format!(
                    "SELECT id FROM (
                         SELECT id, ROW_NUMBER() OVER (PARTITION BY environment_id ORDER BY number DESC) AS recent
                         FROM deployments
                         WHERE environment_id IN (SELECT environment_id FROM deployments WHERE id IN ({marks}))
                     ) AS ranked
                     WHERE recent <= {newest}"
                )
            })
            .await?;
        Ok(deployments.iter().filter(|id| !kept.contains(id.as_str())).cloned().collect())
    }

    /// Of `environments`, those that no longer exist.
    pub async fn environments_gone(&self, environments: &[EnvironmentId]) -> Result<Vec<EnvironmentId>, StoreError> {
        let present = self
            .found(environments.iter().map(EnvironmentId::as_str), |marks| {
                format!("SELECT id FROM environments WHERE id IN ({marks})")
            })
            .await?;
        Ok(environments.iter().filter(|id| !present.contains(id.as_str())).cloned().collect())
    }

    /// The IDs `sql(placeholders)` returns when asked about `ids`, [`CHUNK`] at a time, on the
    /// whole platform.
    async fn found<'a>(
        &self,
        ids: impl Iterator<Item = &'a str>,
        sql: impl Fn(&str) -> String,
    ) -> Result<HashSet<String>, StoreError> {
        let ids: Vec<&str> = ids.collect();
        let mut found = HashSet::new();
        let mut tx = self.read(Scope::Platform).await?;
        for chunk in ids.chunks(CHUNK) {
            let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = sql(&marks.join(", "));
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *tx).await? {
                found.insert(row.try_get::<String, _>(0)?);
            }
        }
        tx.commit().await?;
        Ok(found)
    }
}
