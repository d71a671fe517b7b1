//! `GET|POST …/projects/{project}/environments`, `PATCH|DELETE …/environments/{env}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::api::{
    CreateEnvironmentRequest, Environment, ErrorEnvelope, RuntimeTarget, UpdateEnvironmentRequest,
};
use slipway_core::hostname::generated_hostname;
use slipway_core::names::EnvironmentName;
use slipway_core::role::Permission;
use slipway_core::ErrorCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, Caller};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_environments, create_environment))
        .routes(routes!(update_environment, delete_environment))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments", tag = "environments",
    params(("ws" = String, Path), ("project" = String, Path)),
    responses((status = 200, body = Vec<Environment>), (status = "4XX", body = ErrorEnvelope)))]
async fn list_environments(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((ws, project)): ApiPath<(String, String)>,
) -> Result<Json<Vec<Environment>>, ApiError> {
    let access = app.access(&caller, &ws, Permission::Read, "see environments").await?;
    let project = super::project_slug(&project)?;
    Ok(Json(app.store.project(&access.workspace, project.as_str()).await?.environments))
}

/// Adds an environment such as `staging`, at `<project>-<env>-<workspace>.<domain>`.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/projects/{project}/environments", tag = "environments",
    params(("ws" = String, Path), ("project" = String, Path)), request_body = CreateEnvironmentRequest,
    responses((status = 201, body = Environment), (status = "4XX", body = ErrorEnvelope)))]
async fn create_environment(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((ws, project)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<CreateEnvironmentRequest>,
) -> Result<(StatusCode, Json<Environment>), ApiError> {
    let access = app.access(&caller, &ws, Permission::ManageProjects, "create environments").await?;
    let project = super::project_slug(&project)?;
    let name = EnvironmentName::parse(&body.name)?;
    let hostname = generated_hostname(&project, &name, &access.workspace.slug, &app.config.platform_domain)?;
    let environment =
        app.store.create_environment(&caller.actor(), &access.workspace, project.as_str(), &name, &hostname).await?;
    Ok((StatusCode::CREATED, Json(environment)))
}

/// Switches where the environment runs: `local` (this machine's agent) or `kubernetes` (images
/// in the registry, manifests committed to the GitOps repository). Moving away from `local`
/// stops the environment's local instances; a release still starting is cancelled.
#[utoipa::path(patch, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}", tag = "environments",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)),
    request_body = UpdateEnvironmentRequest,
    responses((status = 200, body = Environment), (status = "4XX", body = ErrorEnvelope)))]
async fn update_environment(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((ws, project, env)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<UpdateEnvironmentRequest>,
) -> Result<Json<Environment>, ApiError> {
    let access = app.access(&caller, &ws, Permission::ManageProjects, "change environments").await?;
    let project = super::project_slug(&project)?;
    let env = super::environment_name(&env)?;
    let target = RuntimeTarget::parse(&body.target).ok_or_else(|| {
        let shown: String = body.target.chars().take(40).collect();
        ApiError::new(
            ErrorCode::InvalidTarget,
            format!("target `{}` is not `local` or `kubernetes`", shown.escape_debug()),
        )
    })?;
    let environment = app
        .store
        .set_environment_target(&caller.actor(), &access.workspace, project.as_str(), env.as_str(), target)
        .await?;
    Ok(Json(environment))
}

/// Deletes an environment other than `production`.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}", tag = "environments",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorEnvelope)))]
async fn delete_environment(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((ws, project, env)): ApiPath<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let access = app.access(&caller, &ws, Permission::ManageProjects, "delete environments").await?;
    let project = super::project_slug(&project)?;
    let env = super::environment_name(&env)?;
    app.store.delete_environment(&caller.actor(), access.id(), project.as_str(), env.as_str()).await?;
    Ok(StatusCode::NO_CONTENT)
}
