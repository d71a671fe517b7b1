//! A workspace's projects (cards with live status badges and the live URL
//! to copy or open) and the new-project form (push-to-deploy or a
//! repository URL and branch, with an optional custom domain).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde_json::json;
use slipway_core::api::{Page, Project};
use slipway_core::role::Permission;

use super::{field_errors, form_errors, see_other, FieldErrors};
use crate::api::seg;
use crate::errors::PageError;
use crate::extract::{Form, Session};
use crate::layout::{badge, field_error, has_error, page, Chrome};
use crate::stream::latest_deployment;
use crate::Portal;

/// A URL with copy and open actions.
pub fn live_url(url: &str) -> Markup {
    html! {
        span.url {
            a href=(url) target="_blank" rel="noopener" data-live-url { (url) }
            button.small.secondary.hidden type="button" data-copy=(url) aria-label={"Copy " (url)} { "Copy" }
            a.button.small.secondary href=(url) target="_blank" rel="noopener" aria-label={"Open " (url)} { "Open" }
        }
    }
}

pub async fn list(
    State(portal): State<Portal>,
    session: Session,
    Path(ws): Path<String>,
) -> Result<Response, PageError> {
    let chrome = Chrome::load(&portal.api, &session, Some(&ws)).await?;
    let ws = chrome.ws().to_owned();
    let projects: Page<Project> =
        portal.api.get(&format!("/v1/workspaces/{}/projects?limit=200", seg(&ws)), &session.token).await?;
    let latest = futures::future::join_all(
        projects.items.iter().map(|p| latest_deployment(&portal.api, &session.token, &ws, p.slug.as_str())),
    )
    .await;
    let title = chrome.current.as_ref().map(|w| w.name.clone()).unwrap_or_default();
    let body = html! {
        div.page-head data-status-stream={"/w/" (ws) "/status"} {
            div { h1 { (title) } p.muted { "Projects in " span.mono { (ws) } } }
            @if chrome.can(Permission::ManageProjects) { a.button href={"/w/" (ws) "/new"} { "New project" } }
        }
        @if projects.items.is_empty() {
            section.panel.empty {
                h2 { "No projects yet" }
                p.muted { "Create a project, push your code, and get a live URL." }
                @if chrome.can(Permission::ManageProjects) { a.button href={"/w/" (ws) "/new"} { "Create your first project" } }
            }
        }
        div.grid {
            @for (project, deployment) in projects.items.iter().zip(&latest) {
                article.card {
                    div style="display:flex;justify-content:space-between;gap:8px;align-items:start" {
                        h3 { a href={"/w/" (ws) "/p/" (project.slug)} { (project.slug) } }
                        span data-project-badge=(project.slug) {
                            (badge(deployment.as_ref().map(|d| d.status.as_str())))
                        }
                    }
                    (live_url(&project.url))
                    p.muted style="margin:8px 0 0;font-size:13px" {
                        @match deployment {
                            Some(d) => { "#" (d.number) " · " (d.commit_sha.as_ref().map(|c| c.as_str().chars().take(7).collect::<String>()).unwrap_or_else(|| "—".to_owned())) }
                            None => { "Not deployed yet" }
                        }
                    }
                }
            }
        }
    };
    // Badges in the cards are replaced by the live ones the status stream sends.
    let body = html! { (body) };
    Ok(page(&title, &chrome, body).into_response())
}

fn new_form(chrome: &Chrome, values: &Form2, errors: &FieldErrors) -> Markup {
    let ws = chrome.ws();
    html! {
        div.page-head { div { h1 { "New project" } p.muted { "In " span.mono { (ws) } } } }
        section.panel {
            (form_errors(errors))
            form method="post" action={"/w/" (ws) "/new"} novalidate {
                (chrome.csrf_field())
                div.field {
                    label for="slug" { "Project name" }
                    input #slug name="slug" type="text" required value=(values.slug) placeholder="web"
                        aria-invalid=(has_error(errors, "slug")) aria-describedby="slug-hint slug-error";
                    p.hint #slug-hint { "Lower-case letters, digits and dashes. Your app will live at "
                        span.mono { "<name>-" (ws) ".<domain>" } "." }
                    (field_error(errors, "slug"))
                }
                fieldset.field style="border:0;padding:0;margin:0 0 14px" {
                    legend style="font-weight:550;margin-bottom:6px" { "Source" }
                    p.hint style="margin-top:0" { "Leave the repository empty to deploy with " span.mono { "git push" } "." }
                    div.row {
                        div.field {
                            label for="repo_url" { "Repository URL " span.muted { "(optional)" } }
                            input #repo_url name="repo_url" type="url" value=(values.repo_url)
                                placeholder="https://github.com/acme/web.git"
                                aria-invalid=(has_error(errors, "repo_url"));
                            (field_error(errors, "repo_url"))
                        }
                        div.field style="flex:0 1 140px" {
                            label for="branch" { "Branch" }
                            input #branch name="branch" type="text" value=(values.branch) placeholder="main"
                                aria-invalid=(has_error(errors, "branch"));
                            (field_error(errors, "branch"))
                        }
                    }
                }
                div.field {
                    label for="custom_domain" { "Custom domain " span.muted { "(optional)" } }
                    input #custom_domain name="custom_domain" type="text" value=(values.custom_domain)
                        placeholder="www.example.com" aria-invalid=(has_error(errors, "custom_domain"));
                    (field_error(errors, "custom_domain"))
                }
                button type="submit" { "Create project" }
            }
        }
    }
}

/// What the new-project form was filled with.
#[derive(Default)]
struct Form2 {
    slug: String,
    repo_url: String,
    branch: String,
    custom_domain: String,
}

pub async fn new_page(
    State(portal): State<Portal>,
    session: Session,
    Path(ws): Path<String>,
) -> Result<Response, PageError> {
    let chrome = Chrome::load(&portal.api, &session, Some(&ws)).await?;
    let values = Form2 { branch: "main".to_owned(), ..Form2::default() };
    Ok(page("New project", &chrome, new_form(&chrome, &values, &Vec::new())).into_response())
}

pub async fn create(State(portal): State<Portal>, Path(ws): Path<String>, form: Form) -> Result<Response, PageError> {
    let values = Form2 {
        slug: form.get("slug").to_owned(),
        repo_url: form.get("repo_url").to_owned(),
        branch: form.get("branch").to_owned(),
        custom_domain: form.get("custom_domain").to_owned(),
    };
    let mut body = json!({ "slug": values.slug });
    for (key, value) in
        [("repo_url", &values.repo_url), ("branch", &values.branch), ("custom_domain", &values.custom_domain)]
    {
        if !value.is_empty() {
            body[key] = json!(value);
        }
    }
    let path = format!("/v1/workspaces/{}/projects", seg(&ws));
    match portal.api.call::<Project>(Method::POST, &path, Some(&form.session.token), Some(&body)).await {
        Ok(project) => Ok(see_other(&format!("/w/{}/p/{}", project.workspace, project.slug))),
        Err(failure) => {
            let errors = field_errors(
                failure,
                &[
                    ("INVALID_SLUG", "slug"),
                    ("PROJECT_EXISTS", "slug"),
                    ("HOSTNAME_TAKEN", "slug"),
                    ("HOSTNAME_TOO_LONG", "slug"),
                    ("INVALID_REPO_URL", "repo_url"),
                    ("INVALID_BRANCH", "branch"),
                    ("INVALID_DOMAIN", "custom_domain"),
                    ("INVALID_HOSTNAME", "custom_domain"),
                ],
            )?;
            let chrome = Chrome::load(&portal.api, &form.session, Some(&ws)).await?;
            let markup = page("New project", &chrome, new_form(&chrome, &values, &errors));
            Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response())
        }
    }
}

/// The lines a user runs to deploy by push.
pub fn push_lines(headers: &HeaderMap, ws: &str, project: &str, branch: &str) -> (String, String) {
    let remote = format!("{}/git/{ws}/{project}.git", crate::session::origin(headers));
    (format!("git remote add slipway {remote}"), format!("git push slipway {branch}"))
}
