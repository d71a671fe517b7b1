//! The `/v1` routes, one file per resource.

mod audit;
mod auth;
mod config;
mod deployments;
mod environments;
mod members;
mod projects;
mod tokens;
mod users;
mod workspaces;

use axum::Json;
use slipway_core::role::Permission;
use slipway_store::Access;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::extract::Caller;
use crate::AppState;

pub(crate) fn all() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::routes())
        .merge(users::routes())
        .merge(tokens::routes())
        .merge(workspaces::routes())
        .merge(members::routes())
        .merge(projects::routes())
        .merge(environments::routes())
        .merge(config::routes())
        .merge(deployments::routes())
        .merge(audit::routes())
}

/// Liveness and database readiness, for `slipway up` and load balancers.
pub(crate) async fn health(
    axum::extract::State(app): axum::extract::State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.store.ping().await?;
    Ok(Json(serde_json::json!({ "status": "ok" })))
}

impl AppState {
    /// The caller's access to workspace `slug`, if their role allows
    /// `permission`. Not a member: 404, as if it did not exist. A member
    /// whose role is too low: 403 naming the `action`.
    pub(crate) async fn access(
        &self,
        caller: &Caller,
        slug: &str,
        permission: Permission,
        action: &str,
    ) -> Result<Access, ApiError> {
        let access = self.store.access(slug, &caller.auth.user).await?;
        if !access.allows(permission) {
            return Err(ApiError::forbidden(action));
        }
        Ok(access)
    }
}
