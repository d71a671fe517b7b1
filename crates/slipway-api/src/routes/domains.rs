//! `GET|POST …/environments/{env}/domains`, `PATCH|DELETE …/domains/{hostname}`:
//! custom domains of an environment, unique on the whole platform, and the HTTPS redirect of
//! each hostname.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::address::EnvironmentPath;
use slipway_core::api::{AddDomainRequest, Environment, ErrorEnvelope, UpdateDomainRequest};
use slipway_core::hostname::CustomDomain;
use slipway_core::role::Permission;
use slipway_core::ErrorCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, Caller, EnvironmentAddress};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_domains, add_domain)).routes(routes!(update_domain, remove_domain))
}

/// `{hostname}` of a domain's path.
#[derive(serde::Deserialize)]
struct HostnameParam {
    hostname: String,
}

/// Every hostname of the environment, generated first.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/domains", tag = "domains",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)),
    responses((status = 200, body = Vec<String>), (status = "4XX", body = ErrorEnvelope)))]
async fn list_domains(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
) -> Result<Json<Vec<String>>, ApiError> {
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::Read, "see domains").await?;
    let project = app.store.project(&access.workspace, &project).await?;
    let environment = project
        .environments
        .into_iter()
        .find(|e| e.name == env)
        .ok_or_else(|| ApiError::new(ErrorCode::EnvironmentNotFound, format!("no environment `{env}`")))?;
    Ok(Json(environment.hostnames))
}

/// Routes a custom domain to the environment; the first custom domain becomes its primary URL.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/domains", tag = "domains",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)), request_body = AddDomainRequest,
    responses((status = 201, body = Environment), (status = "4XX", body = ErrorEnvelope)))]
async fn add_domain(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    ApiJson(body): ApiJson<AddDomainRequest>,
) -> Result<(StatusCode, Json<Environment>), ApiError> {
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::ManageProjects, "add domains").await?;
    let domain = CustomDomain::parse(&body.hostname, &app.config.platform_domain)?;
    let environment = app.store.add_domain(&caller.actor(), &access.workspace, &project, &env, &domain).await?;
    Ok((StatusCode::CREATED, Json(environment)))
}

/// Turns the HTTP→HTTPS redirect of a hostname (generated or custom) on or off.
#[utoipa::path(patch, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/domains/{hostname}",
    tag = "domains",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path), ("hostname" = String, Path)),
    request_body = UpdateDomainRequest,
    responses((status = 200, body = Environment), (status = "4XX", body = ErrorEnvelope)))]
async fn update_domain(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    ApiPath(HostnameParam { hostname }): ApiPath<HostnameParam>,
    ApiJson(body): ApiJson<UpdateDomainRequest>,
) -> Result<Json<Environment>, ApiError> {
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::ManageProjects, "change domains").await?;
    let hostname = hostname.to_ascii_lowercase();
    let environment = app
        .store
        .set_https_redirect(&caller.actor(), &access.workspace, &project, &env, &hostname, body.https_redirect)
        .await?;
    Ok(Json(environment))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/domains/{hostname}",
    tag = "domains",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path), ("hostname" = String, Path)),
    responses((status = 200, body = Environment), (status = "4XX", body = ErrorEnvelope)))]
async fn remove_domain(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    ApiPath(HostnameParam { hostname }): ApiPath<HostnameParam>,
) -> Result<Json<Environment>, ApiError> {
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::ManageProjects, "remove domains").await?;
    let hostname = hostname.to_ascii_lowercase();
    Ok(Json(app.store.remove_domain(&caller.actor(), &access.workspace, &project, &env, &hostname).await?))
}
