//! `GET …/environments/{env}/manifests`: the Kubernetes manifests a deployment of the
//! environment commits to the GitOps repository, as one multi-document YAML text, for review
//! (`slipway gitops render`). Rendered from the environment's desired (else active) release —
//! its build plan and config snapshot — with the environment's hostnames and scale, by the
//! deploy pipeline's own `preview_manifests`. Secret config vars appear by name only (as
//! ExternalSecret keys); their values are never in a manifest.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use slipway_core::api::ErrorEnvelope;
use slipway_core::role::Permission;
use slipway_core::ErrorCode;
use slipway_pipeline::preview_manifests;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Caller, EnvironmentAddress};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(manifests))
}

/// The manifests of the environment's desired (else active) release, as `text/yaml`; each
/// document starts with a comment naming its file in `apps/<ws>/<project>/<env>/`.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/manifests",
    tag = "environments",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)),
    responses((status = 200, content_type = "text/yaml", body = String,
                description = "Multi-document YAML, one document per file of the environment's GitOps folder"),
              (status = "4XX", body = ErrorEnvelope)))]
async fn manifests(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
) -> Result<Response, ApiError> {
    let (access, path) = app.access_environment(&caller, address, Permission::Read, "see manifests").await?;
    let source = app.store.render_source(access.id(), &path.project, &path.environment, None).await?;
    let text = preview_manifests(&path, &source, app.config.registry.as_ref(), &app.config.cluster)
        .map_err(|message| ApiError::new(ErrorCode::RenderFailed, message))?;
    Ok(([(header::CONTENT_TYPE, "text/yaml; charset=utf-8")], text).into_response())
}
