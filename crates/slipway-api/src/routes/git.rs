//! The git remote: `http://<api>/git/<workspace>/<project>.git`, smart HTTP
//! served by git itself (see `slipway-git`). HTTP basic auth with an API
//! token as the password; `viewer` may fetch, `developer` and up may push.
//! These routes speak git's protocol, so they are not in the OpenAPI document.
//!
//! `/git/_platform/gitops.git` is Slipway's own GitOps repository (the
//! default `SLIPWAY_GITOPS_REMOTE`): platform admins may fetch it (and give
//! Argo CD an admin's token to read it); nobody may push, since the deploy
//! pipeline alone writes it, on disk. `_platform` cannot be a workspace slug.

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use slipway_core::role::Permission;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use slipway_git::smart_http::{self, Service};
use slipway_git::Repos;
use tokio_util::io::ReaderStream;

use crate::error::ApiError;
use crate::extract::{ApiPath, Caller, ProjectAddress};
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/git/{ws}/{repo}/info/refs", get(info_refs))
        .route("/git/{ws}/{repo}/git-upload-pack", post(upload_pack))
        .route("/git/{ws}/{repo}/git-receive-pack", post(receive_pack))
}

#[derive(serde::Deserialize)]
struct ServiceQuery {
    service: Option<String>,
}

/// 401 with a Basic challenge, so git asks for credentials.
fn challenge(message: &str) -> Response {
    let mut response = ApiError::new(ErrorCode::AuthRequired, message).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Slipway\""));
    response
}

/// The token in `Basic <user:token>` (the user part is ignored) or `Bearer <token>`.
fn presented_token(authorization: &str) -> Option<String> {
    let token = match authorization.strip_prefix("Basic ") {
        Some(encoded) => {
            let pair = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
            pair.split_once(':')?.1.to_owned()
        }
        None => authorization.strip_prefix("Bearer ")?.to_owned(),
    };
    (!token.is_empty()).then_some(token)
}

/// The caller from `Authorization: Basic <user:token>` (or a Bearer token).
async fn git_caller(app: &AppState, headers: &HeaderMap, request_id: String) -> Result<Caller, Response> {
    let hint = "use an API token as the password (`slipway tokens:create git`)";
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err(challenge(&format!("authentication required: {hint}")));
    };
    let Some(token) = presented_token(value) else {
        return Err(challenge(&format!("no token in the credentials: {hint}")));
    };
    match app.store.authenticate(&token, Timestamp::now()).await {
        Ok(auth) => Ok(Caller { auth, request_id }),
        Err(_) => Err(challenge(&format!("the token is unknown, expired or revoked: {hint}"))),
    }
}

/// The repository a request names, after checking the caller may use it.
struct Target {
    repo: std::path::PathBuf,
    caller: Caller,
    workspace: String,
    project: String,
    branch: String,
}

async fn target(
    app: &AppState,
    headers: &HeaderMap,
    ws: &str,
    repo: &str,
    service: Service,
) -> Result<Target, Response> {
    let request_id = headers.get(crate::REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let caller = git_caller(app, headers, request_id).await?;
    if ws == PLATFORM_NAMESPACE {
        return platform_target(app, caller, repo, service).map_err(IntoResponse::into_response);
    }
    let (permission, action) = match service {
        Service::UploadPack => (Permission::Read, "fetch this repository"),
        Service::ReceivePack => (Permission::Deploy, "push to this repository"),
    };
    let inner = async {
        let platform = app.platform()?;
        let address = ProjectAddress::new(ws, repo.strip_suffix(".git").unwrap_or(repo));
        let (access, slug) = app.access_project(&caller, address, permission, action).await?;
        let project = app.store.project(&access.workspace, &slug).await?;
        let repos = Repos::new(platform.layout.repos());
        let path = repos.ensure(&project.workspace_id, &project.id).await.map_err(git_error)?;
        Ok::<_, ApiError>((path, access.workspace.slug.to_string(), project.slug.to_string(), project.branch))
    };
    let (repo, workspace, project, branch) = inner.await.map_err(IntoResponse::into_response)?;
    Ok(Target { repo, caller, workspace, project, branch })
}

/// The path segment of the platform's own repositories.
const PLATFORM_NAMESPACE: &str = "_platform";

/// `/git/_platform/gitops.git`: fetch only, platform admins only.
fn platform_target(app: &AppState, caller: Caller, repo: &str, service: Service) -> Result<Target, ApiError> {
    if !caller.auth.user.is_admin {
        return Err(ApiError::forbidden("fetch the platform's GitOps repository (platform admins only)"));
    }
    if repo != "gitops.git" {
        return Err(ApiError::new(ErrorCode::NotFound, "the platform serves only /git/_platform/gitops.git"));
    }
    if service == Service::ReceivePack {
        return Err(ApiError::forbidden(
            "push to the GitOps repository: Slipway alone writes it, one commit per deployment",
        ));
    }
    let path = app.platform()?.layout.gitops_repo();
    if !path.join("HEAD").exists() {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "there is no GitOps repository yet: the first deployment to the kubernetes target creates it",
        ));
    }
    Ok(Target {
        repo: path,
        caller,
        workspace: PLATFORM_NAMESPACE.to_owned(),
        project: "gitops".to_owned(),
        branch: "main".to_owned(),
    })
}

fn git_error(err: slipway_git::GitError) -> ApiError {
    ApiError {
        code: ErrorCode::Internal,
        message: "the git repository is unavailable".into(),
        internal: Some(err.to_string()),
    }
}

async fn info_refs(
    State(app): State<AppState>,
    ApiPath((ws, repo)): ApiPath<(String, String)>,
    Query(query): Query<ServiceQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(service) = query.service.as_deref().and_then(Service::parse) else {
        return ApiError::new(
            ErrorCode::InvalidRequest,
            "only smart HTTP is served: ?service=git-upload-pack or git-receive-pack",
        )
        .into_response();
    };
    let target = match target(&app, &headers, &ws, &repo, service).await {
        Ok(target) => target,
        Err(response) => return response,
    };
    match smart_http::advertise(service, &target.repo).await {
        Ok(body) => (
            [(header::CONTENT_TYPE, service.advertisement_type()), (header::CACHE_CONTROL, "no-cache".to_owned())],
            body,
        )
            .into_response(),
        Err(err) => git_error(err).into_response(),
    }
}

async fn upload_pack(
    State(app): State<AppState>,
    ApiPath((ws, repo)): ApiPath<(String, String)>,
    request: Request,
) -> Response {
    rpc(app, ws, repo, request, Service::UploadPack).await
}

async fn receive_pack(
    State(app): State<AppState>,
    ApiPath((ws, repo)): ApiPath<(String, String)>,
    request: Request,
) -> Response {
    rpc(app, ws, repo, request, Service::ReceivePack).await
}

async fn rpc(app: AppState, ws: String, repo: String, request: Request, service: Service) -> Response {
    let (parts, body) = request.into_parts();
    let target = match target(&app, &parts.headers, &ws, &repo, service).await {
        Ok(target) => target,
        Err(response) => return response,
    };
    let gzip = parts.headers.get(header::CONTENT_ENCODING).is_some_and(|v| v.as_bytes() == b"gzip");
    // The post-receive hook calls the API back as the pusher.
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(presented_token)
        .unwrap_or_default();
    let env = match app.platform() {
        Ok(platform) => vec![
            ("SLIPWAY_BIN".to_owned(), platform.slipway_bin.to_string_lossy().into_owned()),
            ("SLIPWAY_API_URL".to_owned(), platform.api_url.clone()),
            ("SLIPWAY_TOKEN".to_owned(), token),
            ("SLIPWAY_WORKSPACE".to_owned(), target.workspace.clone()),
            ("SLIPWAY_APP".to_owned(), target.project.clone()),
            ("SLIPWAY_BRANCH".to_owned(), target.branch.clone()),
            ("SLIPWAY_PUSHER".to_owned(), target.caller.auth.user.username.to_string()),
        ],
        Err(err) => return err.into_response(),
    };
    let body = body.into_data_stream();
    match smart_http::rpc(service, &target.repo, body, gzip, &env) {
        Ok(output) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, service.result_type()), (header::CACHE_CONTROL, "no-cache".to_owned())],
            Body::from_stream(ReaderStream::new(output)),
        )
            .into_response(),
        Err(err) => git_error(err).into_response(),
    }
}
