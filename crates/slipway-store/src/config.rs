//! Config vars of an environment. Every value is sealed at rest; a secret's
//! value is never returned by a read that a person sees.

use slipway_core::api::ConfigVar;
use slipway_core::ids::{EnvironmentId, WorkspaceId};
use slipway_core::names::{ConfigVarName, EnvironmentName, ProjectSlug};
use slipway_core::redact::Redactor;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::environments::resolve_environment;
use crate::error::stored;
use crate::scope::{Scope, Tx};
use crate::{Store, StoreError};

impl crate::ConfigValue {
    /// What hides the secret values of `config` (a release's snapshot) in the log lines kept
    /// of the release's build and run.
    pub fn redactor(config: &[Self]) -> Redactor {
        Redactor::new(config.iter().filter(|v| v.secret).map(|v| (v.name.as_str(), v.value.as_str())))
    }
}

fn seal_context(environment: &EnvironmentId, name: &str) -> String {
    format!("{environment}/{name}")
}

impl Store {
    pub(crate) async fn read_config(
        &self,
        tx: &mut Tx,
        environment: &EnvironmentId,
    ) -> Result<Vec<(ConfigVar, String)>, StoreError> {
        let rows = sqlx::query("SELECT * FROM config_vars WHERE environment_id = $1 ORDER BY name")
            .bind(environment.as_str())
            .fetch_all(&mut **tx)
            .await?;
        rows.iter()
            .map(|row| {
                let name: String = row.try_get("name")?;
                let plain =
                    self.sealer.open(&seal_context(environment, &name), &row.try_get::<String, _>("sealed_value")?)?;
                let secret = row.try_get::<i64, _>("secret")? == 1;
                let var = ConfigVar {
                    name: stored(ConfigVarName::parse(&name))?,
                    value: (!secret).then(|| plain.clone()),
                    secret,
                    updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
                };
                Ok((var, plain))
            })
            .collect()
    }

    /// An environment's config vars as people may see them: secrets masked.
    pub async fn list_config(
        &self,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
    ) -> Result<Vec<ConfigVar>, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let (_, environment) = resolve_environment(&mut tx, workspace, project, environment).await?;
        let vars = self.read_config(&mut tx, &environment).await?;
        tx.commit().await?;
        Ok(vars.into_iter().map(|(var, _)| var).collect())
    }

    /// Every var in clear with its secret flag: the snapshot a release keeps.
    pub async fn config_snapshot(
        &self,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
    ) -> Result<Vec<crate::ConfigValue>, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let (_, environment) = resolve_environment(&mut tx, workspace, project, environment).await?;
        let vars = self.read_config(&mut tx, &environment).await?;
        tx.commit().await?;
        Ok(vars
            .into_iter()
            .map(|(var, value)| crate::ConfigValue { name: var.name.to_string(), value, secret: var.secret })
            .collect())
    }

    /// Sets (adds or replaces) config vars; returns the whole set, masked.
    pub async fn set_config(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        vars: &[(ConfigVarName, String)],
        secret: bool,
    ) -> Result<Vec<ConfigVar>, StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let (_, environment_id) = resolve_environment(&mut tx, workspace, project, environment).await?;
        let now = Timestamp::now().as_millis();
        for (name, value) in vars {
            let sealed = self.sealer.seal(&seal_context(&environment_id, name.as_str()), value)?;
            sqlx::query(
                "INSERT INTO config_vars (workspace_id, environment_id, name, sealed_value, secret, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (environment_id, name)
                 DO UPDATE SET sealed_value = excluded.sealed_value, secret = excluded.secret, updated_at = excluded.updated_at",
            )
            .bind(workspace.as_str())
            .bind(environment_id.as_str())
            .bind(name.as_str())
            .bind(sealed)
            .bind(i64::from(secret))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let names: Vec<&str> = vars.iter().map(|(name, _)| name.as_str()).collect();
        let target = format!("project/{project}/{environment}/config:{}", names.join(","));
        audit::record(&mut tx, Some(workspace), actor, "config.set", &target).await?;
        let all = self.read_config(&mut tx, &environment_id).await?;
        tx.commit().await?;
        Ok(all.into_iter().map(|(var, _)| var).collect())
    }

    /// Removes config vars. If any name is not set, nothing is removed.
    pub async fn unset_config(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        names: &[ConfigVarName],
    ) -> Result<Vec<ConfigVar>, StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let (_, environment_id) = resolve_environment(&mut tx, workspace, project, environment).await?;
        for name in names {
            let removed = sqlx::query("DELETE FROM config_vars WHERE environment_id = $1 AND name = $2")
                .bind(environment_id.as_str())
                .bind(name.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if removed == 0 {
                // Dropping `tx` rolls back the names removed so far.
                return Err(StoreError::not_found(
                    ErrorCode::ConfigVarNotFound,
                    format!("config var {name} is not set"),
                ));
            }
        }
        let names: Vec<&str> = names.iter().map(ConfigVarName::as_str).collect();
        let target = format!("project/{project}/{environment}/config:{}", names.join(","));
        audit::record(&mut tx, Some(workspace), actor, "config.unset", &target).await?;
        let all = self.read_config(&mut tx, &environment_id).await?;
        tx.commit().await?;
        Ok(all.into_iter().map(|(var, _)| var).collect())
    }
}
