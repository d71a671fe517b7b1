//! `GET …/environments/{env}/manifests`: the Kubernetes manifests a deployment of the
//! environment commits to the GitOps repository, as one multi-document YAML text, for review
//! (`slipway gitops render`). Rendered from the environment's desired (else active) release —
//! its build plan and config snapshot — with the environment's hostnames and scale, through
//! the same `slipway_gitops::app_environment` the deploy pipeline uses. Secret config vars
//! appear by name only (as ExternalSecret keys); their values are never in a manifest.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use slipway_core::api::{ErrorEnvelope, RuntimeTarget};
use slipway_core::image_tag::ImageTag;
use slipway_core::role::Permission;
use slipway_core::ErrorCode;
use slipway_gitops::{app_environment, render_environment, ReleaseSource};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiPath, Caller};
use crate::AppState;

/// Stands in for the registry in a preview when `SLIPWAY_REGISTRY` is not set (`.invalid` is
/// reserved, so it can never name a real host).
const PLACEHOLDER_REGISTRY: &str = "registry.invalid/slipway";

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
    ApiPath((ws, project, env)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let access = app.access(&caller, &ws, Permission::Read, "see manifests").await?;
    let project = super::project_slug(&project)?;
    let env = super::environment_name(&env)?;
    let source = app.store.render_source(access.id(), project.as_str(), env.as_str(), None).await?;
    let render_failed = |message: String| ApiError::new(ErrorCode::RenderFailed, message);
    let mut notes = vec![format!(
        "# Manifests of {}/{project}/{env} at release #{} (target: {}), as a deployment commits them to\n\
         # apps/{}/{project}/{env}/ of the GitOps repository.",
        access.workspace.slug,
        source.number,
        source.target.as_str(),
        access.workspace.slug
    )];
    if source.target == RuntimeTarget::Local {
        notes.push("# The environment runs on the local target: nothing is committed until it is switched.".into());
    }
    let image = match &source.image {
        Some(image) => image.clone(),
        None => {
            let (Some(user), Some(commit)) = (source.created_by.clone(), source.commit_sha.clone()) else {
                return Err(render_failed(format!(
                    "release #{} has no user or commit to name its image tag after; deploy again",
                    source.number
                )));
            };
            let tag = ImageTag::new(user, source.number, commit);
            let repository = match &app.config.registry {
                Some(registry) => {
                    format!("{}/{}", registry.host(), registry.repository(&access.workspace.slug, &project))
                }
                None => {
                    notes.push(format!("# SLIPWAY_REGISTRY is not set: {PLACEHOLDER_REGISTRY} stands in for it."));
                    format!("{PLACEHOLDER_REGISTRY}/{}/{project}", access.workspace.slug)
                }
            };
            notes.push("# This release was not exported: the image is the tag a deployment would push.".into());
            format!("{repository}:{tag}")
        }
    };
    let plan = slipway_image::container_plan(&source.plan);
    let environment = app_environment(&ReleaseSource {
        workspace: access.workspace.slug.as_str(),
        project: project.as_str(),
        environment: env.as_str(),
        deployment: source.number.get(),
        image: &image,
        plan: &plan,
        scale: &source.scale,
        hostnames: &source.hostnames,
        config: source.config.iter().map(|var| (var.name.as_str(), var.value.as_str(), var.secret)).collect(),
        port: slipway_image::DEFAULT_PORT,
        resources: source.resources,
        quota: source.quota,
    })
    .map_err(|err| render_failed(err.to_string()))?;
    let manifests =
        render_environment(&environment, &app.config.cluster).map_err(|err| render_failed(err.to_string()))?;
    let mut text = notes.join("\n");
    text.push('\n');
    text.push_str(&manifests.to_multi_document());
    Ok(([(header::CONTENT_TYPE, "text/yaml; charset=utf-8")], text).into_response())
}
