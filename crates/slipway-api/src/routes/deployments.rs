//! `GET …/environments/{env}/deployments` and `…/deployments/{number}`.
//! Creating deployments arrives with the deploy pipeline.

use axum::extract::State;
use axum::Json;
use slipway_core::api::{Deployment, ErrorEnvelope, Page, PageQuery};
use slipway_core::deployment::BuildNumber;
use slipway_core::role::Permission;
use slipway_core::ErrorCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{page_of, page_request, ApiPath, ApiQuery, Caller};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_deployments)).routes(routes!(get_deployment))
}

/// An environment's deployments, newest first.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments",
    tag = "deployments",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path), PageQuery),
    responses((status = 200, body = Page<Deployment>), (status = "4XX", body = ErrorEnvelope)))]
async fn list_deployments(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((ws, project, env)): ApiPath<(String, String, String)>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<Deployment>>, ApiError> {
    let page = page_request(&query)?;
    let access = app.access(&caller, &ws, Permission::Read, "see deployments").await?;
    let project = super::project_slug(&project)?;
    let env = super::environment_name(&env)?;
    Ok(Json(page_of(app.store.list_deployments(access.id(), project.as_str(), env.as_str(), &page).await?)))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments/{number}",
    tag = "deployments",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path), ("number" = u64, Path)),
    responses((status = 200, body = Deployment), (status = "4XX", body = ErrorEnvelope)))]
async fn get_deployment(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((ws, project, env, number)): ApiPath<(String, String, String, String)>,
) -> Result<Json<Deployment>, ApiError> {
    let number = number
        .parse::<u64>()
        .ok()
        .and_then(|n| BuildNumber::new(n).ok())
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidRequest, "a deployment number is a whole number from 1"))?;
    let access = app.access(&caller, &ws, Permission::Read, "see deployments").await?;
    let project = super::project_slug(&project)?;
    let env = super::environment_name(&env)?;
    Ok(Json(app.store.deployment(access.id(), project.as_str(), env.as_str(), number).await?))
}
