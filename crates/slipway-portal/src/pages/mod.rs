//! The portal's pages, one file per page group. Handlers take the session,
//! call the API through [`crate::api::Api`] and render with maud; a failed
//! form is shown again with the API's message beside the offending field.

pub mod audit;
pub mod auth;
pub mod members;
pub mod project;
pub mod projects;
pub mod settings;
pub mod tokens;
pub mod workspaces;

use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use slipway_core::api::{Page, Workspace};

use crate::api::ApiFailure;
use crate::errors::PageError;
use crate::{session, Portal};

/// Errors shown beside form fields: (field, message).
pub type FieldErrors = Vec<(String, String)>;

/// `/`: the first workspace's projects, the workspace page when there is
/// none yet, or the sign-in page.
pub async fn home(State(portal): State<Portal>, headers: HeaderMap) -> Result<Response, PageError> {
    let Some(token) = session::token(&headers) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let workspaces: Page<Workspace> = portal.api.call(Method::GET, "/v1/workspaces?limit=1", Some(token), None).await?;
    Ok(match workspaces.items.first() {
        Some(ws) => Redirect::to(&format!("/w/{}", ws.slug)).into_response(),
        None => Redirect::to("/workspaces").into_response(),
    })
}

/// Puts an API refusal beside the field it is about. `fields` maps error
/// codes to field names; anything else is a form-level error (`""`), and a
/// lost session goes to the sign-in page.
pub fn field_errors(failure: ApiFailure, fields: &[(&str, &str)]) -> Result<FieldErrors, PageError> {
    if failure.is_unauthenticated() {
        return Err(PageError::SignIn);
    }
    if failure.status.is_server_error() {
        return Err(PageError::Api(failure));
    }
    let field = fields.iter().find(|(code, _)| *code == failure.code).map(|(_, field)| *field).unwrap_or("");
    Ok(vec![(field.to_owned(), failure.message)])
}

/// The form-level errors (those not tied to a field).
pub fn form_errors(errors: &FieldErrors) -> maud::Markup {
    maud::html! {
        @for (field, message) in errors {
            @if field.is_empty() { div.alert.error role="alert" { (message) } }
        }
    }
}

/// A redirect after a successful POST (303, so the browser GETs the target).
pub fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}
