//! `GET|PUT /v1/workspaces/{ws}/quotas`: what a workspace may use in all, and
//! what it uses. Members read it; only a platform admin sets it. The store
//! enforces it on every change that would grow the workspace.

use axum::extract::State;
use axum::Json;
use slipway_core::api::{ErrorEnvelope, QuotaReport, SetQuotaRequest};
use slipway_core::quota::WorkspaceQuota;
use slipway_core::role::Permission;
use slipway_core::ErrorCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, Caller, WorkspaceAddress};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_quota, set_quota))
}

/// The workspace's quota (`null`: unlimited) and its use: memory in bytes, instances of every
/// environment at its scale, projects.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/quotas", tag = "quotas", params(("ws" = String, Path)),
    responses((status = 200, body = QuotaReport), (status = "4XX", body = ErrorEnvelope)))]
async fn get_quota(
    State(app): State<AppState>,
    caller: Caller,
    address: WorkspaceAddress,
) -> Result<Json<QuotaReport>, ApiError> {
    let access = app.access_workspace(&caller, address, Permission::Read, "see quotas").await?;
    Ok(Json(app.store.workspace_quota(access.id()).await?))
}

/// Sets the whole quota (platform admins only); an absent or `null` figure is unlimited. A
/// quota under the current use stops nothing: it refuses deployments, scales, resizes and new
/// projects that would grow the workspace further (`QUOTA_EXCEEDED`).
#[utoipa::path(put, path = "/v1/workspaces/{ws}/quotas", tag = "quotas", params(("ws" = String, Path)),
    request_body = SetQuotaRequest,
    responses((status = 200, body = QuotaReport), (status = "4XX", body = ErrorEnvelope)))]
async fn set_quota(
    State(app): State<AppState>,
    caller: Caller,
    address: WorkspaceAddress,
    ApiJson(body): ApiJson<SetQuotaRequest>,
) -> Result<Json<QuotaReport>, ApiError> {
    let access = app.access_workspace(&caller, address, Permission::Read, "see quotas").await?;
    if !caller.auth.user.is_admin {
        return Err(ApiError::forbidden("set quotas (platform admins only)"));
    }
    let count = |what: &str, value: Option<i64>| {
        value
            .map(|n| {
                u32::try_from(n).map_err(|_| {
                    ApiError::new(ErrorCode::InvalidRequest, format!("{what} must be a count from 0, not {n}"))
                })
            })
            .transpose()
    };
    let quota = WorkspaceQuota {
        memory: body.memory.as_deref().map(super::environments::parse_memory).transpose()?,
        instances: count("instances", body.instances)?,
        projects: count("projects", body.projects)?,
    };
    Ok(Json(app.store.set_workspace_quota(&caller.actor(), &access.workspace, &quota).await?))
}
