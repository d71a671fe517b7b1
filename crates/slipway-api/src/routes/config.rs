//! `GET|PUT|DELETE …/environments/{env}/config`: config vars, secrets masked.

use axum::extract::State;
use axum::Json;
use slipway_core::address::EnvironmentPath;
use slipway_core::api::{ConfigVar, ErrorEnvelope, SetConfigRequest, UnsetConfigQuery};
use slipway_core::names::{check_config_var_value, ConfigVarName};
use slipway_core::role::Permission;
use slipway_core::ErrorCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller, EnvironmentAddress};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_config, set_config, unset_config))
}

/// Most vars one request may set or unset.
pub(crate) const MAX_VARS_PER_CALL: usize = 100;

#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/config", tag = "config",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)),
    responses((status = 200, body = Vec<ConfigVar>), (status = "4XX", body = ErrorEnvelope)))]
async fn list_config(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
) -> Result<Json<Vec<ConfigVar>>, ApiError> {
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::Read, "see config vars").await?;
    Ok(Json(app.store.list_config(access.id(), &project, &env).await?))
}

/// Sets config vars; with `secret: true` their values are never shown again.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/config", tag = "config",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)),
    request_body = SetConfigRequest,
    responses((status = 200, body = Vec<ConfigVar>), (status = "4XX", body = ErrorEnvelope)))]
async fn set_config(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    ApiJson(body): ApiJson<SetConfigRequest>,
) -> Result<Json<Vec<ConfigVar>>, ApiError> {
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::Deploy, "set config vars").await?;
    if body.vars.is_empty() || body.vars.len() > MAX_VARS_PER_CALL {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "set 1 to 100 vars per request"));
    }
    let vars = body
        .vars
        .into_iter()
        .map(|(name, value)| {
            let name = ConfigVarName::parse(&name)?;
            check_config_var_value(&name, &value)?;
            Ok((name, value))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(app.store.set_config(&caller.actor(), access.id(), &project, &env, &vars, body.secret).await?))
}

/// Removes config vars; if any is not set, none is removed.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/config", tag = "config",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path), UnsetConfigQuery),
    responses((status = 200, body = Vec<ConfigVar>), (status = "4XX", body = ErrorEnvelope)))]
async fn unset_config(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    ApiQuery(query): ApiQuery<UnsetConfigQuery>,
) -> Result<Json<Vec<ConfigVar>>, ApiError> {
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::Deploy, "unset config vars").await?;
    let names = parse_names(&query.names)?;
    Ok(Json(app.store.unset_config(&caller.actor(), access.id(), &project, &env, &names).await?))
}

/// `names=A,B`: 1 to 100 names, empty ones between commas skipped.
pub(crate) fn parse_names(names: &str) -> Result<Vec<ConfigVarName>, ApiError> {
    let names =
        names.split(',').filter(|name| !name.is_empty()).map(ConfigVarName::parse).collect::<Result<Vec<_>, _>>()?;
    if names.is_empty() || names.len() > MAX_VARS_PER_CALL {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "name 1 to 100 vars in `names`"));
    }
    Ok(names)
}
