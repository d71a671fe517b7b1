//! `GET|POST …/projects/{project}/environments`, `GET|PATCH|DELETE …/environments/{env}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::address::EnvironmentPath;
use slipway_core::api::{
    CreateEnvironmentRequest, Environment, ErrorEnvelope, ResourcesPatch, RuntimeTarget, UpdateEnvironmentRequest,
};
use slipway_core::hostname::generated_hostname;
use slipway_core::names::EnvironmentName;
use slipway_core::quota::ResourceLimits;
use slipway_core::resources::{Cpu, Memory, Resources};
use slipway_core::role::Permission;
use slipway_core::ErrorCode;
use slipway_store::ResourceChange;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, Caller, EnvironmentAddress, ProjectAddress};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_environments, create_environment)).routes(routes!(
        get_environment,
        update_environment,
        delete_environment
    ))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments", tag = "environments",
    params(("ws" = String, Path), ("project" = String, Path)),
    responses((status = 200, body = Vec<Environment>), (status = "4XX", body = ErrorEnvelope)))]
async fn list_environments(
    State(app): State<AppState>,
    caller: Caller,
    address: ProjectAddress,
) -> Result<Json<Vec<Environment>>, ApiError> {
    let (access, project) = app.access_project(&caller, address, Permission::Read, "see environments").await?;
    Ok(Json(app.store.project(&access.workspace, &project).await?.environments))
}

/// Adds an environment such as `staging`, at `<project>-<env>-<workspace>.<domain>`.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/projects/{project}/environments", tag = "environments",
    params(("ws" = String, Path), ("project" = String, Path)), request_body = CreateEnvironmentRequest,
    responses((status = 201, body = Environment), (status = "4XX", body = ErrorEnvelope)))]
async fn create_environment(
    State(app): State<AppState>,
    caller: Caller,
    address: ProjectAddress,
    ApiJson(body): ApiJson<CreateEnvironmentRequest>,
) -> Result<(StatusCode, Json<Environment>), ApiError> {
    let (access, project) =
        app.access_project(&caller, address, Permission::ManageProjects, "create environments").await?;
    let name = EnvironmentName::parse(&body.name)?;
    let hostname = generated_hostname(&project, &name, &access.workspace.slug, &app.config.platform_domain)?;
    let environment =
        app.store.create_environment(&caller.actor(), &access.workspace, &project, &name, &hostname).await?;
    Ok((StatusCode::CREATED, Json(environment)))
}

/// One environment, with the resources each of its instances gets.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}", tag = "environments",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)),
    responses((status = 200, body = Environment), (status = "4XX", body = ErrorEnvelope)))]
async fn get_environment(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
) -> Result<Json<Environment>, ApiError> {
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::Read, "see environments").await?;
    Ok(Json(app.store.environment(access.id(), &project, &env).await?))
}

/// Changes an environment's settings; absent ones stay as they are.
///
/// `target` (admins) switches where it runs: `local` (this machine's agent) or `kubernetes`
/// (images in the registry, manifests committed to the GitOps repository). Moving away from
/// `local` stops the environment's local instances; a release still starting is cancelled.
///
/// `resources` (developers, as for scale) sets what each instance may use: `memory` (`512M`,
/// `1G`), `cpu` (cores: `0.5`, `2`, `500m`), `max_processes`; `null` returns a figure to the
/// platform default. A figure over the platform's maximum is `INVALID_RESOURCES`; more memory
/// than the workspace's quota leaves room for is `QUOTA_EXCEEDED`; either way nothing changes.
/// The new figures reach the agent with the desired state; on the Kubernetes target the
/// environment's manifests are committed again with them.
#[utoipa::path(patch, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}", tag = "environments",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)),
    request_body = UpdateEnvironmentRequest,
    responses((status = 200, body = Environment), (status = "4XX", body = ErrorEnvelope)))]
async fn update_environment(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    ApiJson(body): ApiJson<UpdateEnvironmentRequest>,
) -> Result<Json<Environment>, ApiError> {
    let (permission, action) = match body.target {
        Some(_) => (Permission::ManageProjects, "change where environments run"),
        None => (Permission::Deploy, "resize processes"),
    };
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, permission, action).await?;
    // Everything is checked before anything is stored.
    let target = body.target.as_deref().map(parse_target).transpose()?;
    let change = body.resources.as_ref().map(|patch| resource_change(patch, &app.config.resources)).transpose()?;
    let actor = caller.actor();
    // Resources first: their quota check is the one step that can still refuse, and must find
    // nothing changed yet.
    let resized = match change.filter(|change| !change.is_empty()) {
        Some(change) => {
            Some(app.store.set_environment_resources(&actor, &access.workspace, &project, &env, &change).await?)
        }
        None => None,
    };
    let environment = match (target, resized) {
        (Some(target), _) => {
            app.store.set_environment_target(&actor, &access.workspace, &project, &env, target).await?
        }
        (None, Some(resized)) => resized,
        (None, None) => {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "nothing to change: send `target`, or `resources` with memory, cpu or max_processes",
            ))
        }
    };
    Ok(Json(environment))
}

fn parse_target(text: &str) -> Result<RuntimeTarget, ApiError> {
    RuntimeTarget::parse(text).ok_or_else(|| {
        let shown: String = text.chars().take(40).collect();
        ApiError::new(
            ErrorCode::InvalidTarget,
            format!("target `{}` is not `local` or `kubernetes`", shown.escape_debug()),
        )
    })
}

fn invalid_resources(message: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::InvalidResources, message.to_string())
}

/// A figure as typed, if it is short and printable enough to be one (and to be quoted back).
fn figure<'a>(what: &str, text: &'a str) -> Result<&'a str, ApiError> {
    if text.len() > 32 || text.chars().any(char::is_control) {
        let shown: String = text.chars().take(32).collect();
        return Err(invalid_resources(format!("`{}…` is not a {what} figure", shown.escape_debug())));
    }
    Ok(text)
}

/// A memory figure (`512M`, `8G`) as typed; `INVALID_RESOURCES` otherwise. Quotas take it too.
pub(super) fn parse_memory(text: &str) -> Result<Memory, ApiError> {
    figure("memory", text).and_then(|text| Memory::parse(text).map_err(invalid_resources))
}

/// The figures of `patch`, parsed and held to the platform's maxima.
fn resource_change(patch: &ResourcesPatch, limits: &ResourceLimits) -> Result<ResourceChange, ApiError> {
    let parse_cpu = |text: &str| figure("cpu", text).and_then(|text| Cpu::parse(text).map_err(invalid_resources));
    let memory = patch.memory.as_ref().map(|m| m.as_deref().map(parse_memory).transpose()).transpose()?;
    let cpu = patch.cpu.as_ref().map(|c| c.as_deref().map(parse_cpu).transpose()).transpose()?;
    let max_processes = patch
        .max_processes
        .map(|count| {
            count
                .map(|count| {
                    u32::try_from(count)
                        .map_err(|_| invalid_resources(format!("max_processes {count} is not a process count")))
                })
                .transpose()
        })
        .transpose()?;
    let change = ResourceChange { memory, cpu, max_processes };
    // The figures being set, each against its maximum (unset ones are the platform's own).
    let asked = Resources {
        memory: change.memory.flatten().unwrap_or(limits.default.memory),
        cpu: change.cpu.flatten().unwrap_or(limits.default.cpu),
        max_processes: change.max_processes.flatten().unwrap_or(limits.default.max_processes),
    };
    limits.check(&asked).map_err(invalid_resources)?;
    Ok(change)
}

/// Deletes an environment other than `production`.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}", tag = "environments",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorEnvelope)))]
async fn delete_environment(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
) -> Result<StatusCode, ApiError> {
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::ManageProjects, "delete environments").await?;
    app.store.delete_environment(&caller.actor(), access.id(), &project, &env).await?;
    Ok(StatusCode::NO_CONTENT)
}
