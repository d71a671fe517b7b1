//! Environments of a project and the routes (hostnames) of each. Hostnames
//! are unique on the whole platform: the `routes` primary key refuses a
//! collision even with a row this tenant cannot see.

use std::collections::BTreeMap;

use slipway_core::api::{Environment, RuntimeTarget, Workspace};
use slipway_core::hostname::{CustomDomain, Hostname};
use slipway_core::ids::{EnvironmentId, ProjectId, WorkspaceId};
use slipway_core::names::{EnvironmentName, ProjectSlug};
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::error::{on_duplicate, stored};
use crate::projects::{project_not_found, project_row};
use crate::resources::{own_resources, platform_defaults};
use crate::scope::{Scope, Tx};
use crate::{Store, StoreError};

pub(crate) fn environment_not_found(name: impl std::fmt::Display) -> StoreError {
    StoreError::not_found(ErrorCode::EnvironmentNotFound, format!("no environment `{name}` in this project"))
}

fn hostname_taken(host: &str) -> (ErrorCode, String) {
    (
        ErrorCode::HostnameTaken,
        format!("the hostname {host} is already in use on this platform; choose another slug or domain"),
    )
}

pub(crate) async fn insert_route(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    environment: &EnvironmentId,
    host: &str,
    kind: &str,
) -> Result<(), StoreError> {
    let (code, message) = hostname_taken(host);
    sqlx::query(
        "INSERT INTO routes (hostname, workspace_id, environment_id, kind, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(host)
    .bind(workspace.as_str())
    .bind(environment.as_str())
    .bind(kind)
    .bind(Timestamp::now().as_millis())
    .execute(&mut **tx)
    .await
    .map_err(on_duplicate(code, message))?;
    Ok(())
}

pub(crate) async fn insert_environment(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    project: &ProjectId,
    name: &EnvironmentName,
    hostname: &Hostname,
) -> Result<EnvironmentId, StoreError> {
    let id = EnvironmentId::generate();
    sqlx::query(
        "INSERT INTO environments (id, workspace_id, project_id, name, target, created_at)
         VALUES ($1, $2, $3, $4, 'local', $5)",
    )
    .bind(id.as_str())
    .bind(workspace.as_str())
    .bind(project.as_str())
    .bind(name.as_str())
    .bind(Timestamp::now().as_millis())
    .execute(&mut **tx)
    .await
    .map_err(on_duplicate(ErrorCode::EnvironmentExists, format!("environment `{name}` already exists")))?;
    insert_route(tx, workspace, &id, hostname.as_str(), "generated").await?;
    Ok(id)
}

/// The IDs of a project's environment, telling a missing project from a
/// missing environment.
pub(crate) async fn resolve_environment(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    project: &ProjectSlug,
    environment: &EnvironmentName,
) -> Result<(ProjectId, EnvironmentId), StoreError> {
    let row = sqlx::query(
        "SELECT p.id AS project_id, e.id AS environment_id FROM projects p
         LEFT JOIN environments e ON e.project_id = p.id AND e.name = $3
         WHERE p.workspace_id = $1 AND p.slug = $2",
    )
    .bind(workspace.as_str())
    .bind(project.as_str())
    .bind(environment.as_str())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| project_not_found(project))?;
    let environment_id: Option<String> = row.try_get("environment_id")?;
    let environment_id = environment_id.ok_or_else(|| environment_not_found(environment))?;
    Ok((
        stored(ProjectId::parse(&row.try_get::<String, _>("project_id")?))?,
        stored(EnvironmentId::parse(&environment_id))?,
    ))
}

impl Store {
    /// The environments (with hostnames) of the workspace's projects whose
    /// IDs lie in `first..=last` — one query for a whole page of projects.
    pub(crate) async fn environments_between(
        &self,
        tx: &mut Tx,
        workspace: &WorkspaceId,
        first: &str,
        last: &str,
    ) -> Result<BTreeMap<String, Vec<Environment>>, StoreError> {
        let defaults = platform_defaults(tx).await?;
        let rows = sqlx::query(
            "SELECT e.id, e.project_id, e.name, e.target, e.created_at, e.resource_memory, e.resource_cpu,
                    e.resource_max_processes, r.hostname, r.kind, r.https_redirect
             FROM environments e LEFT JOIN routes r ON r.environment_id = e.id
             WHERE e.workspace_id = $1 AND e.project_id >= $2 AND e.project_id <= $3
             ORDER BY e.project_id, e.id, r.kind DESC, r.created_at, r.hostname",
        )
        .bind(workspace.as_str())
        .bind(first)
        .bind(last)
        .fetch_all(&mut **tx)
        .await?;
        let mut by_project: BTreeMap<String, Vec<Environment>> = BTreeMap::new();
        for row in &rows {
            let id = stored(EnvironmentId::parse(&row.try_get::<String, _>("id")?))?;
            let environments = by_project.entry(row.try_get("project_id")?).or_default();
            if environments.last().is_none_or(|env| env.id != id) {
                let target: String = row.try_get("target")?;
                environments.push(Environment {
                    id,
                    name: stored(EnvironmentName::parse(&row.try_get::<String, _>("name")?))?,
                    url: String::new(),
                    hostnames: Vec::new(),
                    https_redirects: Vec::new(),
                    target: RuntimeTarget::parse(&target).ok_or_else(|| StoreError::Corrupt(target))?,
                    resources: own_resources(row)?.resolve(&defaults),
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                });
            }
            if let (Some(env), Some(host)) = (environments.last_mut(), row.try_get::<Option<String>, _>("hostname")?) {
                if row.try_get::<Option<i64>, _>("https_redirect")? == Some(1) {
                    env.https_redirects.push(host.clone());
                }
                env.hostnames.push(host);
            }
        }
        for env in by_project.values_mut().flatten() {
            // Routes come generated first, then custom domains in the order they were added.
            if let Some(url) = self.urls.primary_url(&env.hostnames) {
                env.url = url;
            }
        }
        Ok(by_project)
    }

    pub async fn create_environment(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        project: &ProjectSlug,
        name: &EnvironmentName,
        hostname: &Hostname,
    ) -> Result<Environment, StoreError> {
        let mut tx = self.write(Scope::Tenant(&workspace.id)).await?;
        let row = project_row(&mut tx, &workspace.id, project).await?;
        let project_id = stored(ProjectId::parse(&row.try_get::<String, _>("id")?))?;
        let id = insert_environment(&mut tx, &workspace.id, &project_id, name, hostname).await?;
        audit::record(&mut tx, Some(&workspace.id), actor, "environment.create", &format!("project/{project}/{name}"))
            .await?;
        let mut environments =
            self.environments_between(&mut tx, &workspace.id, project_id.as_str(), project_id.as_str()).await?;
        tx.commit().await?;
        environments
            .remove(project_id.as_str())
            .and_then(|envs| envs.into_iter().find(|env| env.id == id))
            .ok_or_else(|| StoreError::Corrupt(format!("environment {id} vanished while it was created")))
    }

    /// Routes a custom domain to an environment (many per environment);
    /// a domain in use anywhere on the platform is refused.
    pub async fn add_domain(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        domain: &CustomDomain,
    ) -> Result<Environment, StoreError> {
        let mut tx = self.write(Scope::Tenant(&workspace.id)).await?;
        let (project_id, environment_id) = resolve_environment(&mut tx, &workspace.id, project, environment).await?;
        insert_route(&mut tx, &workspace.id, &environment_id, domain.as_str(), "custom").await?;
        let target = format!("project/{project}/{environment}:{domain}");
        audit::record(&mut tx, Some(&workspace.id), actor, "domain.add", &target).await?;
        let environment = self.environment_of(&mut tx, &workspace.id, &project_id, &environment_id).await?;
        tx.commit().await?;
        self.desired_changed();
        Ok(environment)
    }

    /// Stops routing a custom domain (generated hostnames cannot be removed).
    pub async fn remove_domain(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        domain: &str,
    ) -> Result<Environment, StoreError> {
        let mut tx = self.write(Scope::Tenant(&workspace.id)).await?;
        let (project_id, environment_id) = resolve_environment(&mut tx, &workspace.id, project, environment).await?;
        let removed = sqlx::query("DELETE FROM routes WHERE environment_id = $1 AND hostname = $2 AND kind = 'custom'")
            .bind(environment_id.as_str())
            .bind(domain)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(StoreError::not_found(
                ErrorCode::DomainNotFound,
                format!("{domain} is not a custom domain of {project} ({environment})"),
            ));
        }
        let target = format!("project/{project}/{environment}:{domain}");
        audit::record(&mut tx, Some(&workspace.id), actor, "domain.remove", &target).await?;
        let environment = self.environment_of(&mut tx, &workspace.id, &project_id, &environment_id).await?;
        tx.commit().await?;
        self.desired_changed();
        Ok(environment)
    }

    /// One environment of a project, with its effective resources.
    pub async fn environment(
        &self,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        environment: &EnvironmentName,
    ) -> Result<Environment, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let (project_id, environment_id) = resolve_environment(&mut tx, workspace, project, environment).await?;
        let environment = self.environment_of(&mut tx, workspace, &project_id, &environment_id).await?;
        tx.commit().await?;
        Ok(environment)
    }

    pub(crate) async fn environment_of(
        &self,
        tx: &mut Tx,
        workspace: &WorkspaceId,
        project: &ProjectId,
        environment: &EnvironmentId,
    ) -> Result<Environment, StoreError> {
        self.environments_between(tx, workspace, project.as_str(), project.as_str())
            .await?
            .remove(project.as_str())
            .and_then(|envs| envs.into_iter().find(|env| &env.id == environment))
            .ok_or_else(|| StoreError::Corrupt(format!("environment {environment} vanished")))
    }

    pub async fn delete_environment(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        project: &ProjectSlug,
        name: &EnvironmentName,
    ) -> Result<(), StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let (_, environment) = resolve_environment(&mut tx, workspace, project, name).await?;
        if name.is_production() {
            return Err(StoreError::conflict(
                ErrorCode::EnvironmentProtected,
                "the production environment cannot be deleted; delete the project instead",
            ));
        }
        sqlx::query("DELETE FROM environments WHERE id = $1").bind(environment.as_str()).execute(&mut *tx).await?;
        audit::record(&mut tx, Some(workspace), actor, "environment.delete", &format!("project/{project}/{name}"))
            .await?;
        tx.commit().await?;
        self.desired_changed();
        Ok(())
    }
}
