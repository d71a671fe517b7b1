//! `GET /metrics`: Prometheus text for platform admins — deployments by
//! status, plus the edge router's per-app request counts, latencies and
//! in-flight gauges, which the agent (another process) writes to a file.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use slipway_core::ErrorCode;

use crate::error::ApiError;
use crate::extract::Caller;
use crate::AppState;

pub(crate) async fn metrics(State(app): State<AppState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    if !caller.auth.user.is_admin {
        return Err(ApiError::new(ErrorCode::Forbidden, "metrics name every app's hostnames: platform admins only"));
    }
    let mut text = String::from(
        "# HELP slipway_deployments Deployments on the platform by status.\n# TYPE slipway_deployments gauge\n",
    );
    for (status, count) in app.store.deployment_counts().await? {
        text.push_str(&format!("slipway_deployments{{status=\"{status}\"}} {count}\n"));
    }
    if let Some(platform) = &app.config.platform {
        if let Ok(router) = tokio::fs::read_to_string(platform.layout.router_metrics()).await {
            text.push_str(&router);
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
