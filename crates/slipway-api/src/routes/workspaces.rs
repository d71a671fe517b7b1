//! `GET|POST /v1/workspaces`, `GET|DELETE /v1/workspaces/{ws}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::api::{CreateWorkspaceRequest, ErrorEnvelope, Page, PageQuery, Workspace};
use slipway_core::names::WorkspaceSlug;
use slipway_core::role::Permission;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{page_of, page_request, ApiJson, ApiQuery, Caller, WorkspaceAddress};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workspaces, create_workspace))
        .routes(routes!(get_workspace, delete_workspace))
}

/// The workspaces the caller belongs to (all of them for a platform admin).
#[utoipa::path(get, path = "/v1/workspaces", tag = "workspaces", params(PageQuery),
    responses((status = 200, body = Page<Workspace>), (status = "4XX", body = ErrorEnvelope)))]
async fn list_workspaces(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<Workspace>>, ApiError> {
    let page = app.store.list_workspaces(&caller.auth.user, &page_request(&query)?).await?;
    Ok(Json(page_of(page)))
}

/// Creates a workspace with the caller as its owner.
#[utoipa::path(post, path = "/v1/workspaces", tag = "workspaces", request_body = CreateWorkspaceRequest,
    responses((status = 201, body = Workspace), (status = "4XX", body = ErrorEnvelope)))]
async fn create_workspace(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateWorkspaceRequest>,
) -> Result<(StatusCode, Json<Workspace>), ApiError> {
    let slug = WorkspaceSlug::parse(&body.slug)?;
    let name = super::printable_name(body.name.as_deref().unwrap_or(slug.as_str()))?;
    let workspace = app.store.create_workspace(&caller.actor(), &caller.auth.user.id, &slug, &name).await?;
    Ok((StatusCode::CREATED, Json(workspace)))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}", tag = "workspaces", params(("ws" = String, Path)),
    responses((status = 200, body = Workspace), (status = "4XX", body = ErrorEnvelope)))]
async fn get_workspace(
    State(app): State<AppState>,
    caller: Caller,
    address: WorkspaceAddress,
) -> Result<Json<Workspace>, ApiError> {
    let access = app.access_workspace(&caller, address, Permission::Read, "see this workspace").await?;
    Ok(Json(access.workspace))
}

/// Deletes the workspace and everything in it (owners only). The audit log stays.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}", tag = "workspaces", params(("ws" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorEnvelope)))]
async fn delete_workspace(
    State(app): State<AppState>,
    caller: Caller,
    address: WorkspaceAddress,
) -> Result<StatusCode, ApiError> {
    let access = app.access_workspace(&caller, address, Permission::Own, "delete this workspace").await?;
    app.store.delete_workspace(&caller.actor(), &access.workspace).await?;
    Ok(StatusCode::NO_CONTENT)
}
