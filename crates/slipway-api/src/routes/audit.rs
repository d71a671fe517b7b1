//! `GET /v1/workspaces/{ws}/audit`: who did what, newest first (admins).

use axum::extract::State;
use axum::Json;
use slipway_core::api::{AuditEvent, ErrorEnvelope, Page, PageQuery};
use slipway_core::role::Permission;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{page_of, page_request, ApiQuery, Caller, WorkspaceAddress};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_events))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/audit", tag = "audit", params(("ws" = String, Path), PageQuery),
    responses((status = 200, body = Page<AuditEvent>), (status = "4XX", body = ErrorEnvelope)))]
async fn list_audit_events(
    State(app): State<AppState>,
    caller: Caller,
    address: WorkspaceAddress,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<AuditEvent>>, ApiError> {
    let page = page_request(&query)?;
    let access = app.access_workspace(&caller, address, Permission::Administer, "read the audit log").await?;
    Ok(Json(page_of(app.store.list_audit_events(access.id(), &page).await?)))
}
