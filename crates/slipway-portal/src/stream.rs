//! Same-origin Server-Sent Events for the browser. `EventSource` cannot send
//! an Authorization header, so these routes take the session cookie, open
//! the API's stream in-process with its token and pass the events through.
//!
//! Lines travel in batches (the lines of one upstream chunk per event, one
//! per `data:` line), each with an `id:`: the position of its last line in
//! the stream. A browser
//! that reconnects says where it was (`Last-Event-ID`, or `?after=` when the
//! script reopens the stream itself) and the lines it has are skipped. The
//! API replays a build log from its first line on every request, so the
//! position is stable and resumption loses and repeats nothing. A runtime
//! log is a tail (its first line moves), so a reconnect there starts with a
//! `reset` event and the view is redrawn from the fresh tail.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use slipway_core::api::{Deployment, Page, Project};
use slipway_core::sse::SseParser;

use crate::api::{env_path, seg, Api};
use crate::extract::Session;
use crate::Portal;

/// How often the status stream asks the API for the projects' latest deployments.
const STATUS_POLL: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize)]
pub struct ResumeQuery {
    after: Option<String>,
}

/// The position the browser has already seen: `?after=` or `Last-Event-ID`.
fn resume_point(headers: &HeaderMap, query: &ResumeQuery) -> u64 {
    let header = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    query.after.as_deref().or(header).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

type Events = Sse<axum::response::sse::KeepAliveStream<futures::stream::BoxStream<'static, Result<Event, Infallible>>>>;

fn sse(stream: impl Stream<Item = Event> + Send + 'static) -> Events {
    Sse::new(stream.map(Ok).boxed()).keep_alive(KeepAlive::default())
}

/// A stream that says at once why there is nothing to stream, and ends.
fn ended(reason: String) -> Events {
    sse(futures::stream::iter([Event::default().event("end").data(reason)]))
}

/// `GET /w/{ws}/p/{project}/deployments/{number}/logs`: a build log.
pub async fn build_log(
    State(portal): State<Portal>,
    session: Session,
    Path((ws, project, number)): Path<(String, String, String)>,
    Query(query): Query<ResumeQuery>,
    headers: HeaderMap,
) -> Response {
    let Ok(number) = number.parse::<u64>() else {
        return ended("UNAVAILABLE: no such deployment".to_owned()).into_response();
    };
    let path = format!("{}/deployments/{number}/logs", env_path(&ws, &project));
    let skip = resume_point(&headers, &query);
    forward(&portal.api, &path, &session.token, skip, false).await.into_response()
}

/// `GET /w/{ws}/p/{project}/logs`: the runtime log, followed.
pub async fn runtime_log(
    State(portal): State<Portal>,
    session: Session,
    Path((ws, project)): Path<(String, String)>,
    Query(query): Query<ResumeQuery>,
    headers: HeaderMap,
) -> Response {
    let path = format!("{}/logs?follow=true&lines=200", env_path(&ws, &project));
    let reconnect = resume_point(&headers, &query) > 0;
    forward(&portal.api, &path, &session.token, 0, reconnect).await.into_response()
}

/// Opens the API stream at `path` and re-emits its events with positions,
/// leaving out the first `skip` lines.
async fn forward(api: &Api, path: &str, token: &str, skip: u64, reset: bool) -> Events {
    let response = api.send(Method::GET, path, Some(token), None, &[("accept", "text/event-stream".to_owned())]).await;
    if !response.status().is_success() {
        let status = response.status();
        let message = api_error(response).await.unwrap_or_else(|| "the log cannot be read".to_owned());
        return ended(format!("UNAVAILABLE: {message} ({status})"));
    }
    let mut body = response.into_body().into_data_stream();
    let (sender, receiver) = tokio::sync::mpsc::channel::<Event>(512);
    tokio::spawn(async move {
        if reset && sender.send(Event::default().event("reset").data("")).await.is_err() {
            return;
        }
        let mut parser = SseParser::default();
        let mut position = 0u64;
        loop {
            // A quiet log sends nothing, so notice a browser that left while waiting.
            let chunk = tokio::select! {
                next = body.next() => next,
                () = sender.closed() => return,
            };
            let Some(Ok(chunk)) = chunk else { break };
            // The lines of one chunk travel as one event (one line per `data:`
            // line, so the browser gets them joined by newlines) carrying the
            // position of its last line: thousands of lines a second become
            // tens of events, which is what lets the page keep up.
            let mut lines: Vec<String> = Vec::new();
            let mut events = Vec::new();
            for upstream in parser.push(&chunk) {
                match upstream.event.as_deref() {
                    None | Some("message") => {
                        position += 1;
                        if position > skip {
                            lines.push(upstream.data);
                        }
                    }
                    Some(name) => {
                        events.extend(batch(&mut lines, position));
                        events.push(Event::default().event(name).data(upstream.data));
                    }
                }
            }
            events.extend(batch(&mut lines, position));
            for event in events {
                if sender.send(event).await.is_err() {
                    return; // the browser went away; dropping the body ends the API's stream too
                }
            }
        }
    });
    let mut receiver = receiver;
    sse(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)))
}

/// The pending lines as one event whose id is the position of the last.
fn batch(lines: &mut Vec<String>, position: u64) -> Option<Event> {
    if lines.is_empty() {
        return None;
    }
    let data = std::mem::take(lines).join("\n");
    Some(Event::default().id(position.to_string()).data(data))
}

/// Why the API refused a stream: its error message, or a description.
async fn api_error(response: Response) -> Option<String> {
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024).await.ok()?;
    let envelope: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    envelope["error"]["message"].as_str().map(str::to_owned)
}

/// What the status stream reports of one project.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
struct ProjectStatus {
    status: String,
    number: Option<u64>,
}

/// `GET /w/{ws}/status`: `status` events with every project's latest
/// deployment status and number, sent at first and then whenever one changes.
pub async fn status(State(portal): State<Portal>, session: Session, Path(ws): Path<String>) -> Response {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Event>(4);
    tokio::spawn(async move {
        let mut last: Option<BTreeMap<String, ProjectStatus>> = None;
        loop {
            match statuses(&portal.api, &session.token, &ws).await {
                Ok(now) => {
                    if last.as_ref() != Some(&now) {
                        let data = serde_json::to_string(&now).unwrap_or_else(|_| "{}".to_owned());
                        if sender.send(Event::default().event("status").data(data)).await.is_err() {
                            return;
                        }
                        last = Some(now);
                    }
                }
                Err(()) => {
                    let _ = sender.send(Event::default().event("end").data("UNAVAILABLE")).await;
                    return;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(STATUS_POLL) => {}
                _ = sender.closed() => return,
            }
        }
    });
    sse(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))).into_response()
}

async fn statuses(api: &Api, token: &str, ws: &str) -> Result<BTreeMap<String, ProjectStatus>, ()> {
    let projects: Page<Project> =
        api.get(&format!("/v1/workspaces/{}/projects?limit=200", seg(ws)), token).await.map_err(|_| ())?;
    let mut all = BTreeMap::new();
    for project in projects.items {
        let latest = latest_deployment(api, token, ws, project.slug.as_str()).await;
        let status = ProjectStatus {
            status: latest.as_ref().map(|d| d.status.to_string()).unwrap_or_else(|| "NO DEPLOYS".to_owned()),
            number: latest.map(|d| d.number.get()),
        };
        all.insert(project.slug.to_string(), status);
    }
    Ok(all)
}

/// The newest deployment of a project's production environment, if any.
pub async fn latest_deployment(api: &Api, token: &str, ws: &str, project: &str) -> Option<Deployment> {
    let page: Page<Deployment> =
        api.get(&format!("{}/deployments?limit=1", env_path(ws, project)), token).await.ok()?;
    page.items.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An API stand-in whose stream replays ten lines and ends, like a finished build log.
    fn ten_lines() -> Api {
        let route = axum::routing::get(|| async {
            let mut events: Vec<Result<Event, Infallible>> =
                (1..=10).map(|n| Ok(Event::default().data(format!("line {n}")))).collect();
            events.push(Ok(Event::default().event("end").data("DEPLOYED")));
            Sse::new(futures::stream::iter(events))
        });
        Api::new(axum::Router::new().route("/v1/log", route))
    }

    async fn body_of(events: Events) -> String {
        let bytes = axum::body::to_bytes(events.into_response().into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_reconnect_resumes_after_the_last_line_seen() {
        let api = ten_lines();
        let first = body_of(forward(&api, "/v1/log", "t", 0, false).await).await;
        assert_eq!(lines_and_ids(&first, 0).0, (1..=10).map(|n| format!("line {n}")).collect::<Vec<_>>());
        let resumed = body_of(forward(&api, "/v1/log", "t", 7, false).await).await;
        // Nothing the browser had is sent again, nothing after it is lost, and
        // each batch's id is the position of its last line.
        let (lines, ids) = lines_and_ids(&resumed, 7);
        assert_eq!(lines, ["line 8", "line 9", "line 10"]);
        assert_eq!(ids.last().map(String::as_str), Some("10"));
        assert!(resumed.ends_with("event: end\ndata: DEPLOYED\n\n"), "{resumed}");
    }

    /// The log lines and the ids of an SSE body that skipped `skip` lines
    /// (keep-alives and `end` left out); checks that every batch's id is the
    /// position of its last line.
    fn lines_and_ids(body: &str, skip: usize) -> (Vec<String>, Vec<String>) {
        let (mut lines, mut ids) = (Vec::new(), Vec::new());
        for block in body.split("\n\n").filter(|b| b.starts_with("id:") || b.starts_with("data:")) {
            lines.extend(block.lines().filter_map(|l| l.strip_prefix("data: ")).map(str::to_owned));
            let id = block.lines().find_map(|l| l.strip_prefix("id: ")).expect("every batch has an id");
            assert_eq!(id, (skip + lines.len()).to_string(), "{body}");
            ids.push(id.to_owned());
        }
        (lines, ids)
    }

    #[test]
    fn the_resume_point_comes_from_the_query_or_the_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(resume_point(&headers, &ResumeQuery { after: None }), 0);
        headers.insert("last-event-id", "12".parse().unwrap());
        assert_eq!(resume_point(&headers, &ResumeQuery { after: None }), 12);
        assert_eq!(resume_point(&headers, &ResumeQuery { after: Some("30".into()) }), 30);
        assert_eq!(resume_point(&headers, &ResumeQuery { after: Some("junk".into()) }), 0);
    }
}
