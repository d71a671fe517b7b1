//! `GET|POST …/environments/{env}/deployments`, `…/deployments/{number}`
//! and its live log `…/deployments/{number}/logs` (SSE).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use slipway_core::address::EnvironmentPath;
use slipway_core::api::{CreateDeploymentRequest, Deployment, ErrorEnvelope, Page, PageQuery};
use slipway_core::deployment::{DeploymentNumber, DeploymentStatus};
use slipway_core::image_tag::CommitSha;
use slipway_core::names::Branch;
use slipway_core::role::Permission;
use slipway_core::ErrorCode;
use slipway_store::IdempotencyKey;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{optional_json, page_of, page_request, ApiPath, ApiQuery, Caller, EnvironmentAddress};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deployments, create_deployment))
        .routes(routes!(get_deployment))
        .routes(routes!(deployment_logs))
}

/// An environment's deployments, newest first.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments",
    tag = "deployments",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path), PageQuery),
    responses((status = 200, body = Page<Deployment>), (status = "4XX", body = ErrorEnvelope)))]
async fn list_deployments(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<Deployment>>, ApiError> {
    let page = page_request(&query)?;
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::Read, "see deployments").await?;
    Ok(Json(page_of(app.store.list_deployments(access.id(), &project, &env, &page).await?)))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments/{number}",
    tag = "deployments",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path), ("number" = u64, Path)),
    responses((status = 200, body = Deployment), (status = "4XX", body = ErrorEnvelope)))]
async fn get_deployment(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    ApiPath(NumberParam { number }): ApiPath<NumberParam>,
) -> Result<Json<Deployment>, ApiError> {
    let number = parse_number(&number)?;
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::Read, "see deployments").await?;
    Ok(Json(app.store.deployment(access.id(), &project, &env, number).await?))
}

/// Deploys the head of the tracked branch (or `commit`, which must be in
/// Slipway's repository). Send an `Idempotency-Key` header to make retries safe.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments",
    tag = "deployments",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST return the first deployment")),
    request_body(content = Option<CreateDeploymentRequest>,
                 description = "Optional: without a body (or with only whitespace) the tracked branch head is deployed"),
    responses((status = 201, body = Deployment), (status = 200, description = "Replay of an Idempotency-Key", body = Deployment),
              (status = "4XX", body = ErrorEnvelope)))]
async fn create_deployment(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Deployment>), ApiError> {
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::Deploy, "deploy").await?;
    let request: CreateDeploymentRequest = optional_json(&headers, &body)?.unwrap_or_default();
    let key = headers.get("idempotency-key").map(idempotency_key).transpose()?;
    let platform = app.platform()?;
    let details = app.store.project(&access.workspace, &project).await?;
    if !details.environments.iter().any(|e| e.name == env) {
        return Err(ApiError::new(ErrorCode::EnvironmentNotFound, format!("no environment `{env}` in {project}")));
    }
    let repos = slipway_git::Repos::new(platform.layout.repos());
    let requested = request
        .commit
        .map(|commit| CommitSha::parse(&commit))
        .transpose()
        .map_err(|err| ApiError::new(ErrorCode::InvalidRequest, err.to_string()))?;
    let commit = match &requested {
        Some(commit) => {
            let repo = repos.path(&details.workspace_id, &details.id);
            if !slipway_git::source::has_commit(&repo, commit).await.unwrap_or(false) {
                return Err(ApiError::new(
                    ErrorCode::NothingToDeploy,
                    format!("commit {commit} is not in Slipway's repository; push it first"),
                ));
            }
            Some(commit.clone())
        }
        None if details.repo_url.is_some() => None, // the pipeline fetches the branch head
        None => {
            let branch = Branch::parse(&details.branch)?;
            let head = if repos.exists(&details.workspace_id, &details.id) {
                let repo = repos.path(&details.workspace_id, &details.id);
                slipway_git::source::branch_head(&repo, &branch).await.ok().flatten()
            } else {
                None
            };
            Some(head.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NothingToDeploy,
                    format!(
                        "nothing to deploy: push to branch {branch} of {} first",
                        git_remote(platform, &access.workspace.slug, &project)
                    ),
                )
            })?)
        }
    };
    // A retry is the same request even if the branch moved meanwhile: the
    // key remembers what was asked for, not what it resolved to.
    let idempotency = key.as_deref().map(|key| IdempotencyKey { key, requested_commit: requested.as_ref() });
    let (deployment, created) =
        app.store.queue_deployment(&caller.actor(), access.id(), &project, &env, commit.as_ref(), idempotency).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(deployment)))
}

/// The longest `Idempotency-Key`.
pub(crate) const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;

/// An `Idempotency-Key`: 1 to 200 printable ASCII characters (HTTP trims spaces around it).
pub(crate) fn idempotency_key(value: &HeaderValue) -> Result<String, ApiError> {
    let key = value.as_bytes();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN || !key.iter().all(|b| (b' '..=b'~').contains(b)) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible characters"),
        ));
    }
    Ok(String::from_utf8_lossy(key).into_owned())
}

fn git_remote(
    platform: &crate::PlatformPaths,
    workspace: &impl std::fmt::Display,
    project: &impl std::fmt::Display,
) -> String {
    format!("{}/git/{workspace}/{project}.git", platform.api_url)
}

/// The build-and-deploy log, as Server-Sent Events: every line so far, then
/// new lines live; an `end` event carries the final status.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/projects/{project}/environments/{env}/deployments/{number}/logs",
    tag = "deployments",
    params(("ws" = String, Path), ("project" = String, Path), ("env" = String, Path), ("number" = u64, Path)),
    responses((status = 200, content_type = "text/event-stream", description = "Log lines as `data:` events; `event: end` with the final status"),
              (status = "4XX", body = ErrorEnvelope)))]
async fn deployment_logs(
    State(app): State<AppState>,
    caller: Caller,
    address: EnvironmentAddress,
    ApiPath(NumberParam { number }): ApiPath<NumberParam>,
) -> Result<axum::response::Response, ApiError> {
    let number = parse_number(&number)?;
    let (access, EnvironmentPath { project, environment: env, .. }) =
        app.access_environment(&caller, address, Permission::Read, "see deployments").await?;
    let deployment = app.store.deployment(access.id(), &project, &env, number).await?;
    let path = app.platform()?.layout.deployment_log(&deployment.id);
    let store = app.store.clone();
    let workspace = access.id().clone();
    let done: crate::tail::Done = Box::new(move || {
        let (store, workspace, project, env) = (store.clone(), workspace.clone(), project.clone(), env.clone());
        Box::pin(async move {
            match store.deployment(&workspace, &project, &env, number).await {
                Ok(d) if d.status.is_final() || d.status == DeploymentStatus::Deployed => Some(d.status.to_string()),
                Ok(_) => None,
                Err(_) => Some("GONE".to_owned()),
            }
        })
    });
    Ok(crate::tail::follow(path, None, done).into_response())
}

/// `{number}` of a deployment's path.
#[derive(serde::Deserialize)]
struct NumberParam {
    number: String,
}

fn parse_number(number: &str) -> Result<DeploymentNumber, ApiError> {
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| DeploymentNumber::new(n).ok())
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidRequest, "a deployment number is a whole number from 1"))
}
