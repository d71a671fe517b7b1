//! `GET …/environments/{env}/instances` (what the agent runs) and
//! `PUT …/environments/{env}/scale` (how many it should run).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use slipway_core::api::{ErrorEnvelope, Instance, ScaleRequest};
use slipway_core::role::Permission;
use slipway_core::ErrorCode;
use slipway_store::MAX_SCALE;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, Caller};
use crate::AppState;

/// The longest process type name; its characters are those of [`valid_process_type`].
pub(crate) const MAX_PROCESS_TYPE_LEN: usize = 63;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_instances)).routes(routes!(scale))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/instances", tag = "processes",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)),
    responses((status = 200, body = Vec<Instance>), (status = "4XX", body = ErrorEnvelope)))]
async fn list_instances(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((ws, project, env)): ApiPath<(String, String, String)>,
) -> Result<Json<Vec<Instance>>, ApiError> {
    let access = app.access(&caller, &ws, Permission::Read, "see instances").await?;
    let project = super::project_slug(&project)?;
    let env = super::environment_name(&env)?;
    Ok(Json(app.store.list_instances(access.id(), project.as_str(), env.as_str()).await?))
}

/// Sets instances per process type (0 stops a type); the agent rolls the
/// change out without downtime. Answers the whole scale.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/scale", tag = "processes",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)), request_body = ScaleRequest,
    responses((status = 200, body = BTreeMap<String, u32>), (status = "4XX", body = ErrorEnvelope)))]
async fn scale(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((ws, project, env)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<ScaleRequest>,
) -> Result<Json<BTreeMap<String, u32>>, ApiError> {
    let access = app.access(&caller, &ws, Permission::Deploy, "scale processes").await?;
    let project = super::project_slug(&project)?;
    let env = super::environment_name(&env)?;
    if body.processes.is_empty() {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "name at least one process type, e.g. {\"web\": 2}"));
    }
    for (process, count) in &body.processes {
        if !valid_process_type(process) {
            return Err(ApiError::new(ErrorCode::InvalidRequest, "process types are 1-63 of a-z, 0-9, `-`, `_`"));
        }
        if *count > MAX_SCALE {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("at most {MAX_SCALE} instances per process type"),
            ));
        }
    }
    Ok(Json(app.store.set_scale(&caller.actor(), access.id(), project.as_str(), env.as_str(), &body.processes).await?))
}

pub(crate) fn valid_process_type(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_PROCESS_TYPE_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
