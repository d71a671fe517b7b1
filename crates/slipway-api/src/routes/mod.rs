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
use slipway_core::ErrorCode;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
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
}
