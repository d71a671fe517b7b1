//! `GET|POST /v1/workspaces/{ws}/members`, `PATCH|DELETE …/members/{username}`.
//! Admins manage members below owner; only owners grant or take `owner`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::api::{AddMemberRequest, ErrorEnvelope, Member, UpdateMemberRequest};
use slipway_core::names::Username;
use slipway_core::role::{Permission, Role};
use slipway_store::Access;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, Caller, WorkspaceAddress};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_members, add_member)).routes(routes!(update_member, remove_member))
}

/// `{username}` of a member's path.
#[derive(serde::Deserialize)]
struct UsernameParam {
    username: String,
}

/// Owners alone may touch the owner role, in either direction.
fn check_owner_rule(access: &Access, roles: &[Role]) -> Result<(), ApiError> {
    if roles.contains(&Role::Owner) && !access.allows(Permission::Own) {
        return Err(ApiError::forbidden("grant or take the owner role"));
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/members", tag = "members", params(("ws" = String, Path)),
    responses((status = 200, body = Vec<Member>), (status = "4XX", body = ErrorEnvelope)))]
async fn list_members(
    State(app): State<AppState>,
    caller: Caller,
    address: WorkspaceAddress,
) -> Result<Json<Vec<Member>>, ApiError> {
    let access = app.access_workspace(&caller, address, Permission::Read, "see members").await?;
    Ok(Json(app.store.list_members(access.id()).await?))
}

/// Adds an existing user to the workspace with a role.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/members", tag = "members", params(("ws" = String, Path)),
    request_body = AddMemberRequest,
    responses((status = 201, body = Member), (status = "4XX", body = ErrorEnvelope)))]
async fn add_member(
    State(app): State<AppState>,
    caller: Caller,
    address: WorkspaceAddress,
    ApiJson(body): ApiJson<AddMemberRequest>,
) -> Result<(StatusCode, Json<Member>), ApiError> {
    let access = app.access_workspace(&caller, address, Permission::Administer, "add members").await?;
    let username = Username::parse(&body.username)?;
    let role = Role::parse(&body.role)?;
    check_owner_rule(&access, &[role])?;
    let user = app.store.user_by_username(&username).await?;
    let member = app.store.add_member(&caller.actor(), access.id(), &user, role).await?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// Changes a member's role.
#[utoipa::path(patch, path = "/v1/workspaces/{ws}/members/{username}", tag = "members",
    params(("ws" = String, Path), ("username" = String, Path)), request_body = UpdateMemberRequest,
    responses((status = 200, body = Member), (status = "4XX", body = ErrorEnvelope)))]
async fn update_member(
    State(app): State<AppState>,
    caller: Caller,
    address: WorkspaceAddress,
    ApiPath(UsernameParam { username }): ApiPath<UsernameParam>,
    ApiJson(body): ApiJson<UpdateMemberRequest>,
) -> Result<Json<Member>, ApiError> {
    let access = app.access_workspace(&caller, address, Permission::Administer, "change roles").await?;
    let role = Role::parse(&body.role)?;
    let member = app.store.member(access.id(), &Username::parse(&username)?).await?;
    check_owner_rule(&access, &[role, member.role])?;
    Ok(Json(app.store.change_member_role(&caller.actor(), access.id(), &member, role).await?))
}

/// Removes a member from the workspace.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/members/{username}", tag = "members",
    params(("ws" = String, Path), ("username" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorEnvelope)))]
async fn remove_member(
    State(app): State<AppState>,
    caller: Caller,
    address: WorkspaceAddress,
    ApiPath(UsernameParam { username }): ApiPath<UsernameParam>,
) -> Result<StatusCode, ApiError> {
    let access = app.access_workspace(&caller, address, Permission::Administer, "remove members").await?;
    let member = app.store.member(access.id(), &Username::parse(&username)?).await?;
    check_owner_rule(&access, &[member.role])?;
    app.store.remove_member(&caller.actor(), access.id(), &member).await?;
    Ok(StatusCode::NO_CONTENT)
}
