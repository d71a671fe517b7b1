//! Which log files on this machine the platform still keeps: the pipeline lists the files it
//! finds, and asks here which of them name a deployment or an environment that is gone, or a
//! deployment past the newest N of its environment (`slipway-pipeline`'s `log_retention.rs`).

use std::collections::HashSet;

use slipway_core::ids::{DeploymentId, EnvironmentId};
use sqlx::Row;

use crate::error::stored;
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
        let mut kept = HashSet::new();
        let mut tx = self.read(Scope::Platform).await?;
        for chunk in deployments.chunks(CHUNK) {
            // The newest `newest` deployments of every environment these belong to; `newest` is
            // a number of ours, written into the SQL (each placeholder is bound once, in order).
            let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT id FROM (
                     SELECT id, ROW_NUMBER() OVER (PARTITION BY environment_id ORDER BY number DESC) AS recent
                     FROM deployments
                     WHERE environment_id IN (SELECT environment_id FROM deployments WHERE id IN ({}))
                 ) AS ranked
                 WHERE recent <= {newest}",
                marks.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&mut *tx).await? {
                kept.insert(stored(DeploymentId::parse(&row.try_get::<String, _>(0)?))?);
            }
        }
        tx.commit().await?;
        Ok(deployments.iter().filter(|id| !kept.contains(*id)).cloned().collect())
    }

    /// Of `environments`, those that no longer exist.
    pub async fn environments_gone(&self, environments: &[EnvironmentId]) -> Result<Vec<EnvironmentId>, StoreError> {
        let mut present = HashSet::new();
        let mut tx = self.read(Scope::Platform).await?;
        for chunk in environments.chunks(CHUNK) {
            let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!("SELECT id FROM environments WHERE id IN ({})", marks.join(", "));
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&mut *tx).await? {
                present.insert(stored(EnvironmentId::parse(&row.try_get::<String, _>(0)?))?);
            }
        }
        tx.commit().await?;
        Ok(environments.iter().filter(|id| !present.contains(*id)).cloned().collect())
    }
}
