//! `GET …/environments/{env}/releases` and `POST …/environments/{env}/rollback`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::address::EnvironmentPath;
use slipway_core::api::{Deployment, ErrorEnvelope, Page, PageQuery, Release, RollbackRequest};
use slipway_core::deployment::DeploymentNumber;
use slipway_core::role::Permission;
use slipway_core::ErrorCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{page_of, page_request, ApiJson, ApiQuery, Caller, EnvironmentAddress};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_releases)).routes(routes!(rollback))
}

/// An environment's releases, newest first; `active` marks the one serving. `rollback_available`
/// says whether each can be rolled back to: on the local target only the artifacts of the last N
/// releases of the environment are kept (`SLIPWAY_RELEASE_RETENTION`, default 10; the active
/// release and one being started are always kept), so older ones say why they cannot
/// (`rollback_unavailable_reason`, `artifact_pruned_at`).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/releases", tag = "releases",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path), PageQuery),
    responses((status = 200, body = Page<Release>), (status = "4XX", body = ErrorEnvelope)))]
async fn list_releases(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<Release>>, ApiError> {
    let page = page_request(&query)?;
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::Read, "see releases").await?;
    Ok(Json(page_of(app.store.list_releases(access.id(), &project, &env, &page).await?)))
}

/// Re-activates an earlier release — its artifact and config snapshot —
/// without rebuilding, as a new deployment. On the Kubernetes target its image
/// is committed to GitOps again (a release that was never exported is refused).
/// A release whose artifact release retention removed answers 410 `RELEASE_PRUNED`
/// (deploy its commit again instead); a refused rollback changes nothing.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/rollback", tag = "releases",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)), request_body = RollbackRequest,
    responses((status = 201, body = Deployment), (status = "4XX", body = ErrorEnvelope)))]
async fn rollback(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    ApiJson(body): ApiJson<RollbackRequest>,
) -> Result<(StatusCode, Json<Deployment>), ApiError> {
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::Deploy, "roll back").await?;
    let number = body
        .release
        .map(|n| {
            DeploymentNumber::new(n).map_err(|_| ApiError::new(ErrorCode::InvalidRequest, "release numbers start at 1"))
        })
        .transpose()?;
    let deployment = app.store.rollback(&caller.actor(), access.id(), &project, &env, number).await?;
    Ok((StatusCode::CREATED, Json(deployment)))
}
