//! `GET|POST /v1/workspaces/{ws}/projects`, `GET|PATCH|DELETE …/projects/{project}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::api::{CreateProjectRequest, ErrorEnvelope, Page, PageQuery, Project, UpdateProjectRequest};
use slipway_core::build_timeout::BuildTimeout;
use slipway_core::hostname::{generated_hostname, CustomDomain};
use slipway_core::names::{Branch, EnvironmentName, ProjectSlug, RepoUrl};
use slipway_core::role::Permission;
use slipway_core::root_dir::RootDir;
use slipway_core::ErrorCode;
use slipway_store::{NewProject, ProjectPatch};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{page_of, page_request, ApiJson, ApiQuery, Caller, ProjectAddress, WorkspaceAddress};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_projects, create_project)).routes(routes!(
        get_project,
        update_project,
        delete_project
    ))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects", tag = "projects",
    params(("ws" = String, Path), PageQuery),
    responses((status = 200, body = Page<Project>), (status = "4XX", body = ErrorEnvelope)))]
async fn list_projects(
    State(app): State<AppState>,
    caller: Caller,
    address: WorkspaceAddress,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<Project>>, ApiError> {
    let page = page_request(&query)?;
    let access = app.access_workspace(&caller, address, Permission::Read, "see projects").await?;
    Ok(Json(page_of(app.store.list_projects(&access.workspace, &page).await?)))
}

/// Creates a project with its `production` environment and hostname.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/projects", tag = "projects",
    params(("ws" = String, Path)), request_body = CreateProjectRequest,
    responses((status = 201, body = Project), (status = "4XX", body = ErrorEnvelope)))]
async fn create_project(
    State(app): State<AppState>,
    caller: Caller,
    address: WorkspaceAddress,
    ApiJson(body): ApiJson<CreateProjectRequest>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    let access = app.access_workspace(&caller, address, Permission::ManageProjects, "create projects").await?;
    let slug = ProjectSlug::parse(&body.slug)?;
    let domain = &app.config.platform_domain;
    let new = NewProject {
        generated_hostname: generated_hostname(&slug, &EnvironmentName::production(), &access.workspace.slug, domain)?,
        slug,
        repo_url: body.repo_url.as_deref().map(|url| repo_url(&app, url)).transpose()?,
        branch: body.branch.as_deref().map_or(Ok(Branch::default_branch()), Branch::parse)?,
        custom_domain: body.custom_domain.as_deref().map(|d| CustomDomain::parse(d, domain)).transpose()?,
    };
    let project = app.store.create_project(&caller.actor(), &access.workspace, new).await?;
    Ok((StatusCode::CREATED, Json(project)))
}

/// A project with its environments and, from a control plane that runs with the platform's data
/// dir, `disk_usage`: the bytes its repository, kept builds, build cache and logs take on this
/// machine. That figure is measured at most once a minute (a request may answer one up to five
/// minutes old while a new one is measured); `disk_usage.measured_at` says when, and
/// `disk_usage.complete` is false when the walk stopped at its limit (2 s or a million entries).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}", tag = "projects",
    params(("ws" = String, Path), ("project" = String, Path)),
    responses((status = 200, body = Project), (status = "4XX", body = ErrorEnvelope)))]
async fn get_project(
    State(app): State<AppState>,
    caller: Caller,
    address: ProjectAddress,
) -> Result<Json<Project>, ApiError> {
    let (access, slug) = app.access_project(&caller, address, Permission::Read, "see projects").await?;
    let mut project = app.store.project(&access.workspace, &slug).await?;
    if let Some(platform) = &app.config.platform {
        let usage = app.disk_usage.usage(&app.store, &platform.layout, access.id(), &slug).await?;
        project.disk_usage = Some(usage);
    }
    Ok(Json(project))
}

/// Changes the tracked repository, branch, custom domain, build timeout or app directory. Every field is checked
/// before anything changes.
#[utoipa::path(patch, path = "/v1/workspaces/{ws}/projects/{project}", tag = "projects",
    params(("ws" = String, Path), ("project" = String, Path)), request_body = UpdateProjectRequest,
    responses((status = 200, body = Project), (status = "4XX", body = ErrorEnvelope)))]
async fn update_project(
    State(app): State<AppState>,
    caller: Caller,
    address: ProjectAddress,
    ApiJson(body): ApiJson<UpdateProjectRequest>,
) -> Result<Json<Project>, ApiError> {
    let (access, project) = app.access_project(&caller, address, Permission::ManageProjects, "change projects").await?;
    let domain = &app.config.platform_domain;
    let patch = ProjectPatch {
        repo_url: body.repo_url.map(|url| url.as_deref().map(|url| repo_url(&app, url)).transpose()).transpose()?,
        branch: body.branch.as_deref().map(Branch::parse).transpose()?,
        custom_domain: body
            .custom_domain
            .map(|d| d.as_deref().map(|d| CustomDomain::parse(d, domain)).transpose())
            .transpose()?,
        build_timeout: body.build_timeout.map(|seconds| seconds.map(build_timeout).transpose()).transpose()?,
        root_dir: body
            .root_dir
            .map(|dir| {
                dir.as_deref()
                    .map(|dir| {
                        RootDir::parse(dir).map_err(|err| ApiError::new(ErrorCode::InvalidRequest, err.to_string()))
                    })
                    .transpose()
            })
            .transpose()?,
    };
    Ok(Json(app.store.update_project(&caller.actor(), &access.workspace, &project, patch).await?))
}

/// A build timeout in seconds, if it is within 1 minute to 2 hours.
fn build_timeout(seconds: i64) -> Result<BuildTimeout, ApiError> {
    u64::try_from(seconds)
        .ok()
        .and_then(|seconds| BuildTimeout::from_secs(seconds).ok())
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidRequest, build_timeout_range()))
}

/// What `build_timeout` may be, for the refusal (and the document, which states the same figures).
fn build_timeout_range() -> String {
    format!(
        "build_timeout must be {} to {} seconds (1 minute to 2 hours), or null for the default of {}",
        BuildTimeout::MIN_SECS,
        BuildTimeout::MAX_SECS,
        BuildTimeout::DEFAULT.as_secs()
    )
}

/// A repository URL as typed, if it parses and the platform's policy lets projects track it.
fn repo_url(app: &AppState, text: &str) -> Result<RepoUrl, ApiError> {
    Ok(app.config.repo_policy.admit(RepoUrl::parse(text)?)?)
}

/// Deletes the project with its environments, config and deployments.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/projects/{project}", tag = "projects",
    params(("ws" = String, Path), ("project" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorEnvelope)))]
async fn delete_project(
    State(app): State<AppState>,
    caller: Caller,
    address: ProjectAddress,
) -> Result<StatusCode, ApiError> {
    let (access, project) = app.access_project(&caller, address, Permission::ManageProjects, "delete projects").await?;
    app.store.delete_project(&caller.actor(), access.id(), &project).await?;
    Ok(StatusCode::NO_CONTENT)
}
