//! The workspace page: every workspace of the user (the switcher's `?go=`
//! lands here too) and the form to create one.

use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use serde_json::json;
use slipway_core::api::Workspace;

use super::{field_errors, form_errors, see_other, FieldErrors};
use crate::errors::PageError;
use crate::extract::{Form, Session};
use crate::layout::{field_error, has_error, page, Chrome};
use crate::Portal;

#[derive(Debug, Deserialize)]
pub struct SwitchQuery {
    go: Option<String>,
}

pub async fn list(
    State(portal): State<Portal>,
    session: Session,
    Query(query): Query<SwitchQuery>,
) -> Result<Response, PageError> {
    if let Some(go) = query.go.filter(|go| !go.is_empty()) {
        return Ok(see_other(&format!("/w/{}", crate::api::seg(&go))));
    }
    render(&portal, &session, StatusCode::OK, "", "", &Vec::new()).await
}

async fn render(
    portal: &Portal,
    session: &Session,
    status: StatusCode,
    slug: &str,
    name: &str,
    errors: &FieldErrors,
) -> Result<Response, PageError> {
    let chrome = Chrome::load(&portal.api, session, None).await?;
    let body = html! {
        div.page-head { div { h1 { "Workspaces" } p.muted { "A workspace is a team: its projects, members and tokens." } } }
        @if chrome.workspaces.is_empty() {
            div.alert.ok { "You have no workspace yet. Create one to start deploying." }
        }
        div.grid {
            @for ws in &chrome.workspaces {
                a.card href={"/w/" (ws.slug)} {
                    h3 { (ws.name) }
                    p.muted.mono { (ws.slug) " · " (ws.role.map(|r| r.as_str()).unwrap_or("platform admin")) }
                }
            }
        }
        section.panel style="margin-top:18px" {
            h2 { "Create a workspace" }
            (form_errors(errors))
            form method="post" action="/workspaces" novalidate {
                (chrome.csrf_field())
                div.row {
                    div.field {
                        label for="slug" { "Slug" }
                        input #slug name="slug" type="text" required value=(slug) placeholder="acme"
                            aria-invalid=(has_error(errors, "slug")) aria-describedby="slug-hint slug-error";
                        p.hint #slug-hint { "Lower-case letters, digits and dashes; part of every app URL." }
                        (field_error(errors, "slug"))
                    }
                    div.field {
                        label for="name" { "Display name " span.muted { "(optional)" } }
                        input #name name="name" type="text" value=(name) placeholder="Acme Inc."
                            aria-invalid=(has_error(errors, "name"));
                        (field_error(errors, "name"))
                    }
                    button type="submit" { "Create workspace" }
                }
            }
        }
    };
    Ok((status, page("Workspaces", &chrome, body)).into_response())
}

pub async fn create(State(portal): State<Portal>, form: Form) -> Result<Response, PageError> {
    let (slug, name) = (form.get("slug"), form.get("name"));
    let mut body = json!({ "slug": slug });
    if !name.is_empty() {
        body["name"] = json!(name);
    }
    match portal.api.call::<Workspace>(Method::POST, "/v1/workspaces", Some(&form.session.token), Some(&body)).await {
        Ok(ws) => Ok(see_other(&format!("/w/{}", ws.slug))),
        Err(failure) => {
            let errors = field_errors(
                failure,
                &[("INVALID_SLUG", "slug"), ("WORKSPACE_EXISTS", "slug"), ("INVALID_REQUEST", "name")],
            )?;
            render(&portal, &form.session, StatusCode::UNPROCESSABLE_ENTITY, slug, name, &errors).await
        }
    }
}
