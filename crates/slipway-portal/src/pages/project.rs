//! The project page: status and live URL, the Deploy button, the live build
//! log of the current deployment, the success banner, the deployment history
//! (paginated, with Rollback per release), the runtime log tail, and the
//! settings of `settings.rs` (config vars, domains).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::json;
use slipway_core::api::{ConfigVar, Deployment, Page, Project, Release};
use slipway_core::role::Permission;

use super::projects::{live_url, push_lines};
use super::{field_errors, form_errors, see_other, FieldErrors};
use crate::api::{env_path, seg};
use crate::errors::PageError;
use crate::extract::{Form, Session};
use crate::layout::{badge, page, Chrome};
use crate::Portal;

/// Deployments per history page: the first view stays small however long the history is.
const HISTORY_PAGE: u32 = 20;

#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    cursor: Option<String>,
}

pub async fn show(
    State(portal): State<Portal>,
    session: Session,
    headers: HeaderMap,
    Path((ws, project)): Path<(String, String)>,
    Query(query): Query<HistoryQuery>,
) -> Result<Response, PageError> {
    render(&portal, &session, &headers, &ws, &project, query.cursor.as_deref(), StatusCode::OK, &Vec::new()).await
}

/// Everything the page shows, loaded from the API at once.
struct Loaded {
    project: Project,
    history: Page<Deployment>,
    latest: Option<Deployment>,
    releases: Vec<Release>,
    config: Vec<ConfigVar>,
    domains: Vec<String>,
}

async fn load(
    portal: &Portal,
    token: &str,
    ws: &str,
    project: &str,
    cursor: Option<&str>,
) -> Result<Loaded, PageError> {
    let env = env_path(ws, project);
    let history_path = match cursor {
        Some(cursor) => format!("{env}/deployments?limit={HISTORY_PAGE}&cursor={}", seg(cursor)),
        None => format!("{env}/deployments?limit={HISTORY_PAGE}"),
    };
    let api = &portal.api;
    let project_path = format!("/v1/workspaces/{}/projects/{}", seg(ws), seg(project));
    let (latest_path, releases_path) = (format!("{env}/deployments?limit=1"), format!("{env}/releases?limit=200"));
    let (config_path, domains_path) = (format!("{env}/config"), format!("{env}/domains"));
    let (project, history, latest, releases, config, domains) = tokio::join!(
        api.get::<Project>(&project_path, token),
        api.get::<Page<Deployment>>(&history_path, token),
        api.get::<Page<Deployment>>(&latest_path, token),
        api.get::<Page<Release>>(&releases_path, token),
        api.get::<Vec<ConfigVar>>(&config_path, token),
        api.get::<Vec<String>>(&domains_path, token),
    );
    Ok(Loaded {
        project: project?,
        history: history?,
        latest: latest?.items.into_iter().next(),
        releases: releases?.items,
        config: config?,
        domains: domains?,
    })
}

#[allow(clippy::too_many_arguments)] // one render for the page and for every form that failed on it
pub async fn render(
    portal: &Portal,
    session: &Session,
    headers: &HeaderMap,
    ws: &str,
    project: &str,
    cursor: Option<&str>,
    status: StatusCode,
    errors: &FieldErrors,
) -> Result<Response, PageError> {
    let (chrome, loaded) =
        tokio::join!(Chrome::load(&portal.api, session, Some(ws)), load(portal, &session.token, ws, project, cursor));
    let (chrome, loaded) = (chrome?, loaded?);
    let body = body(&chrome, headers, &loaded, cursor.is_some(), errors);
    Ok((status, page(loaded.project.slug.as_str(), &chrome, body)).into_response())
}

fn short(commit: Option<&slipway_core::image_tag::CommitSha>) -> String {
    commit.map(|c| c.as_str().chars().take(7).collect()).unwrap_or_else(|| "—".to_owned())
}

/// How long a deployment took (or has been going), e.g. `42s` or `3m 5s`.
fn duration(deployment: &Deployment) -> String {
    let millis = deployment.updated_at.as_millis().saturating_sub(deployment.created_at.as_millis()).max(0);
    let seconds = millis / 1000;
    if seconds < 60 {
        format!("{seconds}s")
    } else {
        format!("{}m {}s", seconds / 60, seconds % 60)
    }
}

fn body(chrome: &Chrome, headers: &HeaderMap, loaded: &Loaded, paged: bool, errors: &FieldErrors) -> Markup {
    let ws = chrome.ws();
    let project = &loaded.project;
    let slug = project.slug.as_str();
    let base = format!("/w/{ws}/p/{slug}");
    let can_deploy = chrome.can(Permission::Deploy);
    let active = loaded.releases.iter().find(|r| r.active).map(|r| r.id.clone());
    let (remote, push) = push_lines(headers, ws, slug, &project.branch);
    let form_level = html! { (form_errors(&errors.iter().filter(|(f, _)| f.is_empty()).cloned().collect::<Vec<_>>())) };
    html! {
        div.page-head data-status-stream={"/w/" (ws) "/status"} {
            div {
                h1 { (slug) " " span data-project-badge=(slug) data-current-badge { (badge(loaded.latest.as_ref().map(|d| d.status.as_str()))) } }
                (live_url(&project.url))
            }
            @if can_deploy {
                form method="post" action={(base) "/deploy"} {
                    (chrome.csrf_field())
                    input type="hidden" name="idempotency_key" value=(crate::csrf::fresh());
                    button #deploy type="submit" { "Deploy" }
                }
            }
        }
        (form_level)
        div #deploy-banner.alert.ok.hidden role="status" {
            "Deployed. Your app is live at " a href=(project.url) target="_blank" rel="noopener" { (project.url) }
        }
        @let latest = loaded.latest.as_ref();
        // Always present: when the first deployment starts (a push, another tab) the script shows it here.
        section.panel #build aria-labelledby="build-title" class=[latest.is_none().then_some("hidden")] {
            div.log-meta {
                h2 #build-title style="margin:0" {
                    "Build log " span.mono data-log-number { @if let Some(d) = latest { "#" (d.number) } }
                }
                span aria-live="polite" data-log-state { "" }
            }
            @if let Some(reason) = latest.and_then(|d| d.failure_reason.as_ref()) { div.alert.error { (reason) } }
            div #build-log.log tabindex="0" role="log" aria-label="Build log"
                data-project=(slug) data-number=[latest.map(|d| d.number)]
                data-base={(base) "/deployments/"}
                data-src=[latest.map(|d| format!("{base}/deployments/{}/logs", d.number))] {}
        }
        // Open until the first deployment; afterwards one click away.
        details.panel #connect open[latest.is_none()] {
            summary { "Deploy with git push" }
            @if let Some(repo) = &project.repo_url {
                p { "Tracks " span.mono { (repo) } " branch " span.mono { (project.branch) } ". Press Deploy to build its head, or push to Slipway directly:" }
            } @else {
                p.muted { "Run these in your app's directory. Use your username and an API token ("
                    a href="/tokens" { "create one" } ") as the password." }
            }
            div.copyable { pre.code data-git-remote { (remote) } button.small.secondary.hidden type="button" data-copy=(remote) { "Copy" } }
            div.copyable { pre.code data-git-push { (push) } button.small.secondary.hidden type="button" data-copy=(push) { "Copy" } }
        }
        section.panel #history aria-labelledby="history-title" {
            h2 #history-title { "Deployments" }
            @if loaded.history.items.is_empty() { p.muted { "No deployments yet." } } @else {
                div.table-wrap {
                    table {
                        thead { tr { th { "#" } th { "Status" } th { "Commit" } th.opt { "Kind" } th { "Duration" } th.opt { "Started" } th { span.visually-hidden { "Actions" } } } }
                        tbody {
                            @for d in &loaded.history.items {
                                tr data-deployment=(d.number) {
                                    td.mono { (d.number) }
                                    td { (badge(Some(d.status.as_str()))) }
                                    td.mono { (short(d.commit_sha.as_ref())) }
                                    td.opt { (format!("{:?}", d.kind).to_lowercase()) }
                                    td { (duration(d)) }
                                    td.opt.muted { (d.created_at.to_rfc3339().get(..16).unwrap_or_default().replace('T', " ")) }
                                    td {
                                        @if can_deploy && d.release_id.is_some() && d.release_id != active {
                                            form method="post" action={(base) "/rollback"} data-confirm={"Roll back to release #" (d.number) "?"} {
                                                (chrome.csrf_field())
                                                input type="hidden" name="release" value=(d.number);
                                                button.small.secondary type="submit" aria-label={"Roll back to #" (d.number)} { "Rollback" }
                                            }
                                        } @else if d.release_id.is_some() && d.release_id == active {
                                            span.muted { "live" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="Deployment pages" {
                @if paged { a.button.small.secondary href=(base) { "Newest" } }
                @if let Some(next) = &loaded.history.next_cursor {
                    a.button.small.secondary href={(base) "?cursor=" (seg(next)) "#history"} rel="next" { "Older" }
                }
            }
        }
        section.panel aria-labelledby="runtime-title" {
            div.log-meta { h2 #runtime-title style="margin:0" { "Runtime logs" } span aria-live="polite" data-log-state { "" } }
            div #runtime-log.log tabindex="0" role="log" aria-label="Runtime logs" data-src={(base) "/logs"} {}
        }
        (super::settings::config_section(chrome, &base, &loaded.config, errors))
        (super::settings::domains_section(chrome, &base, &loaded.domains, errors))
    }
}

pub async fn deploy(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Path((ws, project)): Path<(String, String)>,
    form: Form,
) -> Result<Response, PageError> {
    let path = format!("{}/deployments", env_path(&ws, &project));
    let key = form.get("idempotency_key").to_owned();
    let extra: Vec<(&str, String)> = if key.is_empty() { Vec::new() } else { vec![("idempotency-key", key)] };
    let result = portal
        .api
        .call_with::<Deployment>(Method::POST, &path, Some(&form.session.token), Some(&json!({})), &extra)
        .await;
    after(&portal, &form.session, &headers, &ws, &project, result.map(|_| ()), &[], "build").await
}

pub async fn rollback(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Path((ws, project)): Path<(String, String)>,
    form: Form,
) -> Result<Response, PageError> {
    let Ok(release) = form.get("release").parse::<u64>() else {
        return Err(PageError::BadRequest("choose a release to roll back to".to_owned()));
    };
    let path = format!("{}/rollback", env_path(&ws, &project));
    let body = json!({ "release": release });
    let result = portal.api.call::<Deployment>(Method::POST, &path, Some(&form.session.token), Some(&body)).await;
    after(&portal, &form.session, &headers, &ws, &project, result.map(|_| ()), &[], "build").await
}

#[allow(clippy::too_many_arguments)] // the page's address, the outcome, and where to show it
/// After a project form: back to the page on success (at `#build`, where the
/// new deployment's log plays), or the page again with the error beside its field.
pub async fn after(
    portal: &Portal,
    session: &Session,
    headers: &HeaderMap,
    ws: &str,
    project: &str,
    result: Result<(), crate::api::ApiFailure>,
    fields: &[(&str, &str)],
    anchor: &str,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(see_other(&format!("/w/{}/p/{}#{anchor}", seg(ws), seg(project)))),
        // The page itself is gone; a missing config var or domain is a field error like any other.
        Err(failure)
            if matches!(
                failure.code.as_str(),
                "PROJECT_NOT_FOUND" | "WORKSPACE_NOT_FOUND" | "ENVIRONMENT_NOT_FOUND"
            ) =>
        {
            Err(PageError::Api(failure))
        }
        Err(failure) => {
            let errors = field_errors(failure, fields)?;
            render(portal, session, headers, ws, project, None, StatusCode::UNPROCESSABLE_ENTITY, &errors).await
        }
    }
}
