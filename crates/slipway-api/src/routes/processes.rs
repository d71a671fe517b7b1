//! `GET …/environments/{env}/instances` (what the agent runs) and
//! `PUT …/environments/{env}/scale` (how many it should run).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use slipway_core::address::EnvironmentPath;
use slipway_core::api::{ErrorEnvelope, Instance, ScaleRequest};
use slipway_core::process_type::ProcessType;
use slipway_core::role::Permission;
use slipway_core::ErrorCode;
use slipway_store::MAX_SCALE;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, Caller, EnvironmentAddress};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_instances)).routes(routes!(scale))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/instances", tag = "processes",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)),
    responses((status = 200, body = Vec<Instance>), (status = "4XX", body = ErrorEnvelope)))]
async fn list_instances(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
) -> Result<Json<Vec<Instance>>, ApiError> {
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::Read, "see instances").await?;
    Ok(Json(app.store.list_instances(access.id(), &project, &env).await?))
}

/// Sets instances per process type (0 stops a type); the agent rolls the
/// change out without downtime. Answers the whole scale.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/scale", tag = "processes",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)), request_body = ScaleRequest,
    responses((status = 200, body = BTreeMap<String, u32>), (status = "4XX", body = ErrorEnvelope)))]
async fn scale(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    ApiJson(body): ApiJson<ScaleRequest>,
) -> Result<Json<BTreeMap<String, u32>>, ApiError> {
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::Deploy, "scale processes").await?;
    if body.processes.is_empty() {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "name at least one process type, e.g. {\"web\": 2}"));
    }
    let mut scale = BTreeMap::new();
    for (process, count) in body.processes {
        // The rule of Procfiles and manifests: a type named here is one a release can have.
        let process = ProcessType::parse(&process)?;
        if count > MAX_SCALE {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("at most {MAX_SCALE} instances per process type"),
            ));
        }
        scale.insert(process, count);
    }
    Ok(Json(app.store.set_scale(&caller.actor(), access.id(), &project, &env, &scale).await?))
}
