//! Projects: creation (with the production environment and its hostnames),
//! listing with their environments, updates and deletion. Environments and
//! their routes are `environments.rs`.

use slipway_core::api::{Project, Workspace};
use slipway_core::build_timeout::BuildTimeout;
use slipway_core::hostname::{CustomDomain, Hostname};
use slipway_core::ids::{ProjectId, WorkspaceId};
use slipway_core::names::{Branch, EnvironmentName, ProjectSlug, RepoUrl};
use slipway_core::root_dir::RootDir;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::environments::{insert_environment, insert_route, resolve_environment};
use crate::error::{on_duplicate, stored};
use crate::page::{Order, PageRequest, Paged};
use crate::quotas::{lock_quota, project_count};
use crate::scope::{Scope, Tx};
use crate::{Store, StoreError};

/// A project to create, with the hostnames of its production environment.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub slug: ProjectSlug,
    pub repo_url: Option<RepoUrl>,
    pub branch: Branch,
    pub generated_hostname: Hostname,
    pub custom_domain: Option<CustomDomain>,
}

/// Changes to a project: `None` leaves a field alone; `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub repo_url: Option<Option<RepoUrl>>,
    pub branch: Option<Branch>,
    pub custom_domain: Option<Option<CustomDomain>>,
    /// `Some(None)` returns to [`BuildTimeout::DEFAULT`].
    pub build_timeout: Option<Option<BuildTimeout>>,
    /// `Some(None)` goes back to the repository's slipway.toml (or its root).
    pub root_dir: Option<Option<RootDir>>,
}

pub(crate) fn project_not_found(slug: &ProjectSlug) -> StoreError {
    StoreError::not_found(ErrorCode::ProjectNotFound, format!("no project `{slug}` in this workspace"))
}

/// The project row (without environments) for a slug.
pub(crate) async fn project_row(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    slug: &ProjectSlug,
) -> Result<AnyRow, StoreError> {
    sqlx::query("SELECT * FROM projects WHERE workspace_id = $1 AND slug = $2")
        .bind(workspace.as_str())
        .bind(slug.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| project_not_found(slug))
}

/// The app directory of a row holding `root_dir` (of `projects`), if the project names one.
pub(crate) fn root_dir_of(row: &AnyRow) -> Result<Option<RootDir>, StoreError> {
    row.try_get::<Option<String>, _>("root_dir")?.map(|dir| stored(RootDir::parse(&dir))).transpose()
}

/// The build timeout of a row holding `build_timeout_seconds` (of `projects`): its own, or the default.
pub(crate) fn build_timeout_of(row: &AnyRow) -> Result<BuildTimeout, StoreError> {
    match row.try_get::<Option<i64>, _>("build_timeout_seconds")? {
        Some(seconds) => stored(BuildTimeout::from_secs(
            u64::try_from(seconds).map_err(|_| StoreError::Corrupt(format!("build timeout {seconds}")))?,
        )),
        None => Ok(BuildTimeout::DEFAULT),
    }
}

impl Store {
    async fn projects_from(
        &self,
        tx: &mut Tx,
        workspace: &Workspace,
        rows: &[AnyRow],
    ) -> Result<Vec<Project>, StoreError> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(Vec::new());
        };
        let (first, last): (String, String) = (first.try_get("id")?, last.try_get("id")?);
        let (first, last) = if first <= last { (first, last) } else { (last, first) };
        let mut environments = self.environments_between(tx, &workspace.id, &first, &last).await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let environments = environments.remove(&id).unwrap_or_default();
                let url = environments
                    .iter()
                    .find(|env| env.name.is_production())
                    .map(|env| env.url.clone())
                    .unwrap_or_default();
                let repo_url: Option<String> = row.try_get("repo_url")?;
                Ok(Project {
                    id: stored(ProjectId::parse(&id))?,
                    workspace_id: workspace.id.clone(),
                    slug: stored(ProjectSlug::parse(&row.try_get::<String, _>("slug")?))?,
                    workspace: workspace.slug.clone(),
                    repo_url,
                    branch: row.try_get("branch")?,
                    url,
                    environments,
                    build_timeout: build_timeout_of(row)?.as_secs(),
                    root_dir: root_dir_of(row)?.map(|dir| dir.to_string()),
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                    // Measured on disk by the API, not stored.
                    disk_usage: None,
                })
            })
            .collect()
    }

    pub async fn create_project(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        new: NewProject,
    ) -> Result<Project, StoreError> {
        let id = ProjectId::generate();
        let mut tx = self.write(Scope::Tenant(&workspace.id)).await?;
        let quota = lock_quota(&mut tx, self.backend, &workspace.id).await?;
        quota.check_new_project(project_count(&mut tx, &workspace.id).await?)?;
        sqlx::query(
            "INSERT INTO projects (id, workspace_id, slug, repo_url, branch, next_build_number, created_at)
             VALUES ($1, $2, $3, $4, $5, 1, $6)",
        )
        .bind(id.as_str())
        .bind(workspace.id.as_str())
        .bind(new.slug.as_str())
        .bind(new.repo_url.as_ref().map(RepoUrl::as_str))
        .bind(new.branch.as_str())
        .bind(Timestamp::now().as_millis())
        .execute(&mut *tx)
        .await
        .map_err(on_duplicate(ErrorCode::ProjectExists, format!("project `{}` already exists here", new.slug)))?;
        let production =
            insert_environment(&mut tx, &workspace.id, &id, &EnvironmentName::production(), &new.generated_hostname)
                .await?;
        if let Some(domain) = &new.custom_domain {
            insert_route(&mut tx, &workspace.id, &production, domain.as_str(), "custom").await?;
        }
        audit::record(&mut tx, Some(&workspace.id), actor, "project.create", &format!("project/{}", new.slug)).await?;
        let row = project_row(&mut tx, &workspace.id, &new.slug).await?;
        let project = self.projects_from(&mut tx, workspace, &[row]).await?.remove(0);
        tx.commit().await?;
        Ok(project)
    }

    pub async fn list_projects(&self, workspace: &Workspace, page: &PageRequest) -> Result<Paged<Project>, StoreError> {
        let mut tx = self.read(Scope::Tenant(&workspace.id)).await?;
        let (cmp, dir) = Order::OldestFirst.sql();
        let rows = sqlx::query(&format!(
            "SELECT * FROM projects WHERE workspace_id = $1 AND ($2 IS NULL OR id {cmp} $2) ORDER BY id {dir} LIMIT $3"
        ))
        .bind(workspace.id.as_str())
        .bind(page.bound())
        .bind(page.fetch())
        .fetch_all(&mut *tx)
        .await?;
        let projects = self.projects_from(&mut tx, workspace, &rows).await?;
        tx.commit().await?;
        Ok(Paged::from_rows(projects, page, |p| p.id.to_string()))
    }

    pub async fn project(&self, workspace: &Workspace, slug: &ProjectSlug) -> Result<Project, StoreError> {
        let mut tx = self.read(Scope::Tenant(&workspace.id)).await?;
        let row = project_row(&mut tx, &workspace.id, slug).await?;
        let project = self.projects_from(&mut tx, workspace, &[row]).await?.remove(0);
        tx.commit().await?;
        Ok(project)
    }

    /// The ID of a project, by slug.
    pub async fn project_id(&self, workspace: &WorkspaceId, slug: &ProjectSlug) -> Result<ProjectId, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let row = project_row(&mut tx, workspace, slug).await?;
        tx.commit().await?;
        stored(ProjectId::parse(&row.try_get::<String, _>("id")?))
    }

    pub async fn update_project(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        slug: &ProjectSlug,
        patch: ProjectPatch,
    ) -> Result<Project, StoreError> {
        let mut tx = self.write(Scope::Tenant(&workspace.id)).await?;
        let (project, production) =
            resolve_environment(&mut tx, &workspace.id, slug, &EnvironmentName::production()).await?;
        if let Some(repo_url) = &patch.repo_url {
            sqlx::query("UPDATE projects SET repo_url = $1 WHERE id = $2")
                .bind(repo_url.as_ref().map(RepoUrl::as_str))
                .bind(project.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(branch) = &patch.branch {
            sqlx::query("UPDATE projects SET branch = $1 WHERE id = $2")
                .bind(branch.as_str())
                .bind(project.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(timeout) = patch.build_timeout {
            sqlx::query("UPDATE projects SET build_timeout_seconds = $1 WHERE id = $2")
                .bind(timeout.map(|timeout| i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX)))
                .bind(project.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(root) = &patch.root_dir {
            sqlx::query("UPDATE projects SET root_dir = $1 WHERE id = $2")
                .bind(root.as_ref().map(RootDir::as_str))
                .bind(project.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(domain) = &patch.custom_domain {
            sqlx::query("DELETE FROM routes WHERE environment_id = $1 AND kind = 'custom'")
                .bind(production.as_str())
                .execute(&mut *tx)
                .await?;
            if let Some(domain) = domain {
                insert_route(&mut tx, &workspace.id, &production, domain.as_str(), "custom").await?;
            }
        }
        audit::record(&mut tx, Some(&workspace.id), actor, "project.update", &format!("project/{slug}")).await?;
        let row = project_row(&mut tx, &workspace.id, slug).await?;
        let updated = self.projects_from(&mut tx, workspace, &[row]).await?.remove(0);
        tx.commit().await?;
        self.desired_changed();
        Ok(updated)
    }

    /// Deletes a project with its environments, routes, config and deployments.
    pub async fn delete_project(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        slug: &ProjectSlug,
    ) -> Result<(), StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        let deleted = sqlx::query("DELETE FROM projects WHERE workspace_id = $1 AND slug = $2")
            .bind(workspace.as_str())
            .bind(slug.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(project_not_found(slug));
        }
        audit::record(&mut tx, Some(workspace), actor, "project.delete", &format!("project/{slug}")).await?;
        tx.commit().await?;
        self.desired_changed();
        Ok(())
    }
}
