//! API tokens of the signed-in user: create one (its secret is shown once,
//! on the page that answers the form, and never again) and revoke.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde_json::json;
use slipway_core::api::{CreatedToken, Page, Token};

use super::{field_errors, form_errors, see_other, FieldErrors};
use crate::api::seg;
use crate::errors::PageError;
use crate::extract::{Form, Session};
use crate::layout::{field_error, has_error, page, Chrome};
use crate::Portal;

pub async fn list(State(portal): State<Portal>, session: Session) -> Result<Response, PageError> {
    render(&portal, &session, StatusCode::OK, None, &Vec::new()).await
}

async fn render(
    portal: &Portal,
    session: &Session,
    status: StatusCode,
    created: Option<CreatedToken>,
    errors: &FieldErrors,
) -> Result<Response, PageError> {
    let chrome = Chrome::load(&portal.api, session, None).await?;
    let tokens: Page<Token> = portal.api.get("/v1/tokens?limit=200", &session.token).await?;
    let body = html! {
        div.page-head { div { h1 { "API tokens" } p.muted { "For the CLI, CI jobs and " span.mono { "git push" } " (as the password)." } } }
        @if let Some(created) = &created {
            div.alert.ok role="status" {
                p style="margin:0 0 6px" { "Token " strong { (created.name) } " created. Copy it now: it will not be shown again." }
                div.copyable { pre.code #new-token { (created.token) } button.small.secondary.hidden type="button" data-copy=(created.token) { "Copy" } }
            }
        }
        (form_errors(errors))
        section.panel {
            h2 { "Create a token" }
            form method="post" action="/tokens" novalidate {
                (chrome.csrf_field())
                div.row {
                    div.field {
                        label for="token-name" { "Name" }
                        input #token-name name="name" type="text" required placeholder="laptop"
                            aria-invalid=(has_error(errors, "name")) aria-describedby="name-error";
                        (field_error(errors, "name"))
                    }
                    button type="submit" { "Create token" }
                }
            }
        }
        section.panel {
            h2 { "Your tokens" }
            div.table-wrap {
                table {
                    thead { tr { th { "Name" } th { "Kind" } th.opt { "Created" } th { "Expires" } th { span.visually-hidden { "Actions" } } } }
                    tbody {
                        @for token in &tokens.items {
                            tr data-token=(token.name) {
                                td { (token.name) }
                                td.mono { (format!("{:?}", token.kind).to_lowercase()) }
                                td.opt.muted { (token.created_at.to_rfc3339().get(..10).unwrap_or_default()) }
                                td.muted { (token.expires_at.map(|t| t.to_rfc3339().get(..10).unwrap_or_default().to_owned()).unwrap_or_else(|| "never".to_owned())) }
                                td {
                                    form method="post" action={"/tokens/" (seg(&token.id.to_string())) "/revoke"} data-confirm={"Revoke " (token.name) "?"} {
                                        (chrome.csrf_field())
                                        button.small.danger type="submit" aria-label={"Revoke " (token.name)} { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok((status, page("API tokens", &chrome, body)).into_response())
}

pub async fn create(State(portal): State<Portal>, form: Form) -> Result<Response, PageError> {
    let body = json!({ "name": form.get("name") });
    match portal.api.call::<CreatedToken>(Method::POST, "/v1/tokens", Some(&form.session.token), Some(&body)).await {
        // Rendered, not redirected: the secret must reach the user exactly once and never sit in a URL.
        Ok(created) => render(&portal, &form.session, StatusCode::CREATED, Some(created), &Vec::new()).await,
        Err(failure) => {
            let errors = field_errors(failure, &[("INVALID_REQUEST", "name")])?;
            render(&portal, &form.session, StatusCode::UNPROCESSABLE_ENTITY, None, &errors).await
        }
    }
}

pub async fn revoke(State(portal): State<Portal>, Path(id): Path<String>, form: Form) -> Result<Response, PageError> {
    let path = format!("/v1/tokens/{}", seg(&id));
    match portal.api.call::<serde_json::Value>(Method::DELETE, &path, Some(&form.session.token), None).await {
        Ok(_) => Ok(see_other("/tokens")),
        Err(failure) => {
            let errors = field_errors(failure, &[])?;
            render(&portal, &form.session, StatusCode::UNPROCESSABLE_ENTITY, None, &errors).await
        }
    }
}
