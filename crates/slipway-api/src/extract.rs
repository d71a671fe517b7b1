//! Request extractors that reject in the API's own error envelope, the
//! bearer-token extractor that names the caller, and the address a path names
//! (`{ws}`, `{ws}/{project}`, `{ws}/{project}/{env}`): parsed here once, and handed
//! to a handler only by the role check on its workspace. JSON bodies are `body.rs`.

use axum::extract::{FromRef, FromRequestParts, Path, Query};
use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use slipway_core::address::EnvironmentPath;
use slipway_core::api::PageQuery;
use slipway_core::names::{EnvironmentName, ProjectSlug, WorkspaceSlug};
use slipway_core::role::Permission;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use slipway_store::{Access, Actor, Authenticated, PageRequest, Paged};

pub use crate::body::{optional_json, ApiJson};
use crate::error::ApiError;
use crate::AppState;

/// Path parameters, rejected in the envelope.
#[derive(FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Query parameters, rejected in the envelope.
#[derive(FromRequestParts)]
#[from_request(via(Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// The authenticated caller of a request.
pub struct Caller {
    pub auth: Authenticated,
    pub request_id: String,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.auth.user.id.clone()),
            username: self.auth.user.username.to_string(),
            request_id: self.request_id.clone(),
        }
    }
}

pub(crate) fn request_id(parts: &Parts) -> String {
    parts.headers.get(crate::REQUEST_ID_HEADER).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned()
}

impl<S> FromRequestParts<S> for Caller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).ok_or_else(|| {
            ApiError::new(ErrorCode::AuthRequired, "send an API token as `Authorization: Bearer <token>`")
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::new(ErrorCode::TokenInvalid, "the Authorization header must be `Bearer <token>`")
            })?;
        let auth = app.store.authenticate(token, Timestamp::now()).await?;
        Ok(Caller { auth, request_id: request_id(parts) })
    }
}

/// `Option<Caller>`: no `Authorization` header means anonymous; a header
/// that does not check out is still an error.
impl<S> axum::extract::OptionalFromRequestParts<S> for Caller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if parts.headers.contains_key(axum::http::header::AUTHORIZATION) {
            <Caller as FromRequestParts<S>>::from_request_parts(parts, state).await.map(Some)
        } else {
            Ok(None)
        }
    }
}

/// The request ID of any request, for handlers without a caller (login).
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId(request_id(parts)))
    }
}

/// A name from a path that cannot exist is simply not found; parsing it
/// first also keeps hostile bytes (NUL, control characters) away from SQL.
fn not_found(code: ErrorCode, kind: &str, value: &str) -> ApiError {
    let shown: String = value.chars().take(80).collect();
    ApiError::new(code, format!("no {kind} `{}`", shown.escape_debug()))
}

/// A path segment parsed into its core type, or the answer for one that cannot name anything.
/// The answer waits for the role check, so a stranger learns nothing from it.
type Segment<T> = Result<T, ApiError>;

/// `…/workspaces/{ws}`: the workspace a request names. A handler gets it (as its [`Access`])
/// only from [`AppState::access_workspace`].
pub struct WorkspaceAddress {
    workspace: Segment<WorkspaceSlug>,
}

/// `…/workspaces/{ws}/projects/{project}`; a handler gets the project's slug only from
/// [`AppState::access_project`].
pub struct ProjectAddress {
    workspace: WorkspaceAddress,
    project: Segment<ProjectSlug>,
}

/// `…/projects/{project}/environments/{env}`; a handler gets its [`EnvironmentPath`] only from
/// [`AppState::access_environment`].
pub struct EnvironmentAddress {
    project: ProjectAddress,
    environment: Segment<EnvironmentName>,
}

impl WorkspaceAddress {
    fn new(ws: &str) -> Self {
        let workspace = WorkspaceSlug::parse(ws).map_err(|_| not_found(ErrorCode::WorkspaceNotFound, "workspace", ws));
        Self { workspace }
    }
}

impl ProjectAddress {
    /// The address of `project` in `ws`, as a path spells them (the git remote's too).
    pub(crate) fn new(ws: &str, project: &str) -> Self {
        let slug = ProjectSlug::parse(project).map_err(|_| not_found(ErrorCode::ProjectNotFound, "project", project));
        Self { workspace: WorkspaceAddress::new(ws), project: slug }
    }
}

impl EnvironmentAddress {
    fn new(ws: &str, project: &str, env: &str) -> Self {
        let name =
            EnvironmentName::parse(env).map_err(|_| not_found(ErrorCode::EnvironmentNotFound, "environment", env));
        Self { project: ProjectAddress::new(ws, project), environment: name }
    }
}

/// The path parameters each address is read from; other parameters of a route are left to
/// the handler.
#[derive(serde::Deserialize)]
struct WorkspaceParams {
    ws: String,
}

#[derive(serde::Deserialize)]
struct ProjectParams {
    ws: String,
    project: String,
}

#[derive(serde::Deserialize)]
struct EnvironmentParams {
    ws: String,
    project: String,
    env: String,
}

impl<S: Send + Sync> FromRequestParts<S> for WorkspaceAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ApiPath(WorkspaceParams { ws }) = ApiPath::from_request_parts(parts, state).await?;
        Ok(Self::new(&ws))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ProjectAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ApiPath(ProjectParams { ws, project }) = ApiPath::from_request_parts(parts, state).await?;
        Ok(Self::new(&ws, &project))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for EnvironmentAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ApiPath(EnvironmentParams { ws, project, env }) = ApiPath::from_request_parts(parts, state).await?;
        Ok(Self::new(&ws, &project, &env))
    }
}

impl AppState {
    /// The caller's access to the workspace `address` names, if their role allows
    /// `permission`. Not a member (or a slug that cannot exist): 404, as if it did not exist. A
    /// member whose role is too low: 403 naming the `action`.
    pub(crate) async fn access_workspace(
        &self,
        caller: &Caller,
        address: WorkspaceAddress,
        permission: Permission,
        action: &str,
    ) -> Result<Access, ApiError> {
        let slug = address.workspace?;
        let access = self.store.access(&slug, &caller.auth.user).await?;
        if !access.allows(permission) {
            return Err(ApiError::forbidden(action));
        }
        Ok(access)
    }

    /// [`Self::access_workspace`], then the project's slug (a slug that cannot exist is not
    /// found). Whether the project exists is the store's to say.
    pub(crate) async fn access_project(
        &self,
        caller: &Caller,
        address: ProjectAddress,
        permission: Permission,
        action: &str,
    ) -> Result<(Access, ProjectSlug), ApiError> {
        let access = self.access_workspace(caller, address.workspace, permission, action).await?;
        Ok((access, address.project?))
    }

    /// [`Self::access_project`], then the environment's name: the environment's whole path.
    pub(crate) async fn access_environment(
        &self,
        caller: &Caller,
        address: EnvironmentAddress,
        permission: Permission,
        action: &str,
    ) -> Result<(Access, EnvironmentPath), ApiError> {
        let (access, project) = self.access_project(caller, address.project, permission, action).await?;
        let environment = address.environment?;
        let path = EnvironmentPath { workspace: access.workspace.slug.clone(), project, environment };
        Ok((access, path))
    }
}

const CURSOR_PREFIX: &str = "c1.";
pub(crate) const DEFAULT_LIMIT: u32 = 50;

/// Turns `?limit=&cursor=` into a store page request.
pub fn page_request(query: &PageQuery) -> Result<PageRequest, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=PageRequest::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("limit must be between 1 and {}", PageRequest::MAX_LIMIT),
        ));
    }
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    Ok(PageRequest { after, limit })
}

fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::new(ErrorCode::InvalidCursor, "the cursor is not one this server issued");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let id = text.strip_prefix(CURSOR_PREFIX).ok_or_else(invalid)?;
    let id_shaped = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    id_shaped.then(|| id.to_owned()).ok_or_else(invalid)
}

/// A store page as the API's `Page`, with an opaque cursor.
pub fn page_of<T>(paged: Paged<T>) -> slipway_core::api::Page<T> {
    slipway_core::api::Page {
        items: paged.items,
        next_cursor: paged.next.map(|id| URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{id}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let page = page_of(Paged { items: vec![1], next: Some("prj_0123".into()) });
        let cursor = page.next_cursor.unwrap();
        let request = page_request(&PageQuery { limit: Some(10), cursor: Some(cursor) }).unwrap();
        assert_eq!(request.after.as_deref(), Some("prj_0123"));
        for forged in ["", "!!", "YWJj", &URL_SAFE_NO_PAD.encode("c1.x' OR 1=1")] {
            let err = page_request(&PageQuery { limit: None, cursor: Some(forged.into()) }).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidCursor, "{forged}");
        }
        for limit in [0, 201] {
            let err = page_request(&PageQuery { limit: Some(limit), cursor: None }).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest);
        }
    }
}
