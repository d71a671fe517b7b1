//! The `/v1` routes, one file per resource.

mod audit;
mod auth;
pub(crate) mod config;
pub(crate) mod deployments;
mod domains;
mod environments;
pub(crate) mod git;
pub(crate) mod logs;
mod manifests;
mod members;
pub(crate) mod metrics;
pub(crate) mod processes;
mod projects;
mod quotas;
mod releases;
pub(crate) mod tokens;
mod users;
mod workspaces;

use axum::Json;
use slipway_core::names::{EnvironmentName, ProjectSlug, WorkspaceSlug};
use slipway_core::role::Permission;
use slipway_core::ErrorCode;
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
        .merge(manifests::routes())
        .merge(config::routes())
        .merge(deployments::routes())
        .merge(audit::routes())
        .merge(releases::routes())
        .merge(logs::routes())
        .merge(processes::routes())
        .merge(domains::routes())
        .merge(quotas::routes())
}

/// Liveness and database readiness, for `slipway up` and load balancers.
pub(crate) async fn health(
    axum::extract::State(app): axum::extract::State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.store.ping().await?;
    let sandbox = if app.config.sandboxed { "enforced" } else { "off" };
    Ok(Json(serde_json::json!({ "status": "ok", "sandbox": sandbox })))
}

/// A name from a path that cannot exist is simply not found; parsing it
/// first also keeps hostile bytes (NUL, control characters) away from SQL.
fn not_found(code: ErrorCode, kind: &str, value: &str) -> ApiError {
    let shown: String = value.chars().take(80).collect();
    ApiError::new(code, format!("no {kind} `{}`", shown.escape_debug()))
}

pub(crate) fn project_slug(value: &str) -> Result<ProjectSlug, ApiError> {
    ProjectSlug::parse(value).map_err(|_| not_found(ErrorCode::ProjectNotFound, "project", value))
}

pub(crate) fn environment_name(value: &str) -> Result<EnvironmentName, ApiError> {
    EnvironmentName::parse(value).map_err(|_| not_found(ErrorCode::EnvironmentNotFound, "environment", value))
}

/// The longest display name, in characters once trimmed.
pub(crate) const NAME_MAX_CHARS: usize = 100;

/// A display name (of a workspace or a token): 1 to 100 printable characters.
pub(crate) fn printable_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "a name must be 1 to 100 printable characters"));
    }
    Ok(name.to_owned())
}

impl AppState {
    /// The platform's files, or 503 when this server runs without them.
    pub(crate) fn platform(&self) -> Result<&crate::PlatformPaths, ApiError> {
        self.config.platform.as_ref().ok_or_else(|| {
            ApiError::new(ErrorCode::Unavailable, "this server runs without the deploy pipeline (no data directory)")
        })
    }

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
        WorkspaceSlug::parse(slug).map_err(|_| not_found(ErrorCode::WorkspaceNotFound, "workspace", slug))?;
        let access = self.store.access(slug, &caller.auth.user).await?;
        if !access.allows(permission) {
            return Err(ApiError::forbidden(action));
        }
        Ok(access)
    }
}
