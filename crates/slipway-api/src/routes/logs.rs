//! `GET …/environments/{env}/logs`: the runtime log of an environment's
//! instances across releases, and `GET …/environments/{env}/access-log`: the
//! edge router's JSON line for each request it sent the environment; both as
//! Server-Sent Events (`?follow=true` keeps the stream open for new lines).

use std::path::PathBuf;

use axum::extract::State;
use axum::response::IntoResponse;
use slipway_core::address::EnvironmentPath;
use slipway_core::api::ErrorEnvelope;
use slipway_core::ids::EnvironmentId;
use slipway_core::layout::DataLayout;
use slipway_core::role::Permission;
use slipway_core::ErrorCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiQuery, Caller, EnvironmentAddress};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(runtime_logs)).routes(routes!(access_log))
}

/// Lines a log stream starts with when `lines` is not given, and the most it may ask for.
pub(crate) const DEFAULT_LINES: usize = 100;
pub(crate) const MAX_LINES: usize = 10_000;

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LogQuery {
    /// Keep streaming new lines.
    #[serde(default)]
    follow: bool,
    /// How many of the last lines to send first (default 100, at most 10,000).
    lines: Option<usize>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/logs", tag = "logs",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path), LogQuery),
    responses((status = 200, content_type = "text/event-stream", description = "Log lines as `data:` events"),
              (status = "4XX", body = ErrorEnvelope)))]
async fn runtime_logs(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<axum::response::Response, ApiError> {
    stream(&app, &caller, address, query, DataLayout::app_log).await
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/access-log", tag = "logs",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path), LogQuery),
    responses((status = 200, content_type = "text/event-stream",
               description = "One JSON object per request as `data:` events: time, host, method, path, status, \
                              duration_ms, bytes, request_id, backend, client"),
              (status = "4XX", body = ErrorEnvelope)))]
async fn access_log(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<axum::response::Response, ApiError> {
    stream(&app, &caller, address, query, DataLayout::access_log).await
}

/// Streams the log `file` keeps for the environment, to a caller who may read it.
async fn stream(
    app: &AppState,
    caller: &Caller,
    address: EnvironmentAddress,
    query: LogQuery,
    file: fn(&DataLayout, &EnvironmentId) -> PathBuf,
) -> Result<axum::response::Response, ApiError> {
    let lines = query.lines.unwrap_or(DEFAULT_LINES);
    if lines > MAX_LINES {
        return Err(ApiError::new(ErrorCode::InvalidRequest, format!("lines must be at most {MAX_LINES}")));
    }
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(caller, address, Permission::Read, "read logs").await?;
    let project = app.store.project(&access.workspace, &project).await?;
    let environment = project
        .environments
        .iter()
        .find(|e| e.name == env)
        .ok_or_else(|| ApiError::new(ErrorCode::EnvironmentNotFound, format!("no environment `{env}`")))?;
    let path = file(&app.platform()?.layout, &environment.id);
    let follow = query.follow;
    let done: crate::tail::Done = Box::new(move || Box::pin(async move { (!follow).then(|| "EOF".to_owned()) }));
    Ok(crate::tail::follow(path, Some(lines), done).into_response())
}
