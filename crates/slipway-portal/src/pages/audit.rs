//! The audit log of a workspace, newest first, for admins and owners (the
//! API refuses everyone else, and the portal shows that refusal).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use slipway_core::api::{AuditEvent, Page};

use crate::api::seg;
use crate::errors::PageError;
use crate::extract::Session;
use crate::layout::{page, Chrome};
use crate::Portal;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    cursor: Option<String>,
}

pub async fn list(
    State(portal): State<Portal>,
    session: Session,
    Path(ws): Path<String>,
    Query(query): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let chrome = Chrome::load(&portal.api, &session, Some(&ws)).await?;
    let ws = chrome.ws().to_owned();
    let mut path = format!("/v1/workspaces/{}/audit?limit=50", seg(&ws));
    if let Some(cursor) = &query.cursor {
        path.push_str(&format!("&cursor={}", seg(cursor)));
    }
    let events: Page<AuditEvent> = portal.api.get(&path, &session.token).await?;
    let body = html! {
        div.page-head { div { h1 { "Audit log" } p.muted { "Every change in " span.mono { (ws) } ", newest first." } } }
        section.panel {
            @if events.items.is_empty() { p.muted { "Nothing has happened yet." } } @else {
                div.table-wrap {
                    table {
                        thead { tr { th { "When" } th { "Who" } th { "Action" } th { "Target" } } }
                        tbody {
                            @for event in &events.items {
                                tr {
                                    td.mono { (event.created_at.to_rfc3339().get(..19).unwrap_or_default().replace('T', " ")) }
                                    td { (event.actor) }
                                    td.mono { (event.action) }
                                    td.mono { (event.target) }
                                }
                            }
                        }
                    }
                }
            }
            nav.pager {
                @if query.cursor.is_some() { a.button.small.secondary href={"/w/" (ws) "/audit"} { "Newest" } }
                @if let Some(next) = &events.next_cursor {
                    a.button.small.secondary href={"/w/" (ws) "/audit?cursor=" (seg(next))} rel="next" { "Older" }
                }
            }
        }
    };
    Ok(page("Audit log", &chrome, body).into_response())
}
