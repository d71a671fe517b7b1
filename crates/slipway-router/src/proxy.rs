//! One request through the router: pick a backend for its host, send it on a pooled (or new)
//! connection, and hand back the upstream response with its body streaming.
//!
//! Retries: a request moves to the next backend only when it certainly never reached the
//! previous one (connect refused or timed out, or a pooled connection that closed before the
//! request was written, which hyper proves by giving the request back). Once a byte may have
//! been sent, the outcome is final.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::header::{CONNECTION, EXPECT, HOST};
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::access_log::{AccessLogName, Entry};
use crate::backend::{Backend, InFlight, Sender};
use crate::body::{Lease, ProxyBody};
use crate::config::RouterSettings;
use crate::errors::{ProxyError, Side};
use crate::gauge::Gauge;
use crate::h1_client::{self, H1Body, H1Conn, H1Error};
use crate::headers::{self, RequestIds, X_REQUEST_ID};
use crate::limits::{self, RequestBody};
use crate::observe::{ObservedBody, Record};
use crate::pages;
use crate::table::{Lookup, RouteTable};
use crate::timers::Timers;

/// How many times routing starts over because the table changed under the request.
const MAX_ROUTING_ROUNDS: usize = 16;

/// How many pooled connections one request tries before opening a new one.
const MAX_POOLED_TRIES: usize = 3;

/// State shared by every connection of one `serve`.
pub(crate) struct Shared {
    pub(crate) table: RouteTable,
    pub(crate) config: RouterSettings,
    pub(crate) ids: RequestIds,
    /// Upgraded connections (WebSockets) still open; shutdown waits for them.
    pub(crate) tunnels: Arc<Gauge>,
    /// Becomes true when the shutdown grace period is over and tunnels must close.
    pub(crate) kill: watch::Receiver<bool>,
    /// Reusable timers for the upstream header timeout (and hyper's header-read timeout).
    pub(crate) timers: Timers,
}

/// One client connection: what every request on it needs, built once at accept.
pub(crate) struct Conn {
    pub(crate) shared: Arc<Shared>,
    /// The client's IP address, ready to go into X-Forwarded-For.
    ip: HeaderValue,
    /// Whether the client came over TLS (X-Forwarded-Proto); set by `server.rs` via `over_tls`.
    https: bool,
}

impl Conn {
    pub(crate) fn new(shared: Arc<Shared>, peer: SocketAddr) -> Self {
        // An IP address in text form is a valid header value.
        let ip = HeaderValue::from_str(&peer.ip().to_string()).unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        Conn { shared, ip, https: false }
    }

    /// Marks a connection accepted on the TLS listener.
    pub(crate) fn over_tls(mut self) -> Self {
        self.https = true;
        self
    }
}

/// The hyper service: every request gets a response, errors become pages.
pub(crate) async fn handle(conn: Arc<Conn>, request: Request<Incoming>) -> Result<Response<ObservedBody>, Infallible> {
    let shared = &*conn.shared;
    let config = &shared.config;
    let started = Instant::now();
    let (parts, body) = request.into_parts();

    let request_id = match parts.headers.get(&X_REQUEST_ID) {
        Some(id) if headers::is_sane_request_id(id) => id.clone(),
        _ => shared.ids.next(),
    };
    // The Host value is a cheap (reference-counted) clone, so the routing key can outlive the
    // request's headers, which are rewritten and sent on.
    let original_host = match parts.uri.authority() {
        Some(authority) => HeaderValue::from_str(authority.as_str()).ok(),
        None => single_host(&parts.headers),
    };
    let host = original_host
        .as_ref()
        .and_then(|value| value.to_str().ok())
        .map(headers::normalize_host)
        .filter(|host| !host.is_empty());

    let stats = config.metrics.host(host.as_deref(), |host| matches!(shared.table.lookup(host), Lookup::Found { .. }));
    let log = config.access_log.is_on().then(|| {
        // The host as routed, or as sent when it could not be read.
        let logged_host = host.as_deref().map(str::as_bytes).or(original_host.as_ref().map(HeaderValue::as_bytes));
        let path = Some(parts.uri.path());
        let entry = Entry::new(logged_host, Some(parts.method.clone()), path, request_id.clone(), conn.ip.clone());
        (entry, conn.shared.clone())
    });
    let mut record = Record::open(stats, started, log);
    // The access-log file of the route that took the request (set by `send`), so a hostname
    // moved to another environment meanwhile cannot put this request in the other's file.
    let mut site = None;

    let outcome = if limits::head_size(&parts) > config.max_header_bytes {
        Err(ProxyError::HeadersTooLarge { limit: config.max_header_bytes })
    } else if http_body::Body::size_hint(&body).lower() > config.max_body_bytes {
        // A Content-Length over the limit: refused before a byte of the body is read.
        Err(ProxyError::BodyTooLarge { limit: config.max_body_bytes })
    } else {
        match &host {
            Some(host) => forward(&conn, host, parts, body, original_host.clone(), &request_id, &mut site).await,
            None => Err(ProxyError::BadHost),
        }
    };
    let mut failure = None;
    let (mut response, backend) = match outcome {
        Ok((response, backend)) => (response, Some(backend)),
        Err(error) => {
            report(&error, host.as_deref(), &request_id);
            let refused_unread = matches!(error, ProxyError::HeadersTooLarge { .. } | ProxyError::BodyTooLarge { .. });
            if record.entry_mut().is_some() {
                failure = Some(error.to_string());
                if refused_unread {
                    // Refused before routing: the site the host names now.
                    site = host.as_deref().and_then(|host| shared.table.access_log(host));
                }
            }
            let mut page = pages::error_page(&error, host.as_deref());
            if refused_unread {
                // What is left of the request is not read; the connection cannot carry another.
                page.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
            }
            (page, error.backend())
        }
    };

    if let Some(entry) = record.entry_mut() {
        entry.backend = backend;
        entry.site = site;
        entry.set_error(failure);
    }
    response.headers_mut().insert(X_REQUEST_ID.clone(), request_id);
    let status = response.status().as_u16();
    let (parts, body) = response.into_parts();
    Ok(Response::from_parts(parts, ObservedBody::new(body, status, record)))
}

/// The Host header, if there is exactly one: two would let the router and the app disagree on
/// which site a request is for (RFC 9112 §3.2 says answer 400).
fn single_host(headers: &http::HeaderMap) -> Option<HeaderValue> {
    let mut hosts = headers.get_all(HOST).iter();
    let first = hosts.next().cloned();
    if hosts.next().is_some() {
        None
    } else {
        first
    }
}

fn report(error: &ProxyError, host: Option<&str>, request_id: &HeaderValue) {
    let host = host.unwrap_or("-");
    let request_id = request_id.to_str().unwrap_or("-");
    match error.side() {
        Side::Downstream => tracing::debug!(host, request_id, error = %error, "request not routed"),
        // Expected while an app has no instance up; the access log shows the 502 already.
        Side::Internal if matches!(error, ProxyError::NoBackends) => {
            tracing::debug!(host, request_id, error = %error, "request not routed")
        }
        // An app that fails every request must not turn the agent's log into a copy of its
        // access log (each failure is in the access log, with its error).
        Side::Upstream | Side::Internal => match FAILURES.allow() {
            Some(suppressed) => tracing::warn!(host, request_id, error = %error, cause = error_source(error),
                similar_since_last = suppressed, "request failed"),
            None => tracing::debug!(host, request_id, error = %error, "request failed"),
        },
    }
}

static FAILURES: OncePerSecond = OncePerSecond::new();

/// Lets one event through per second; counts the rest.
struct OncePerSecond {
    /// Seconds since the process started (`ORIGIN`) of the last event let through, plus one.
    last: AtomicU64,
    suppressed: AtomicU64,
}

impl OncePerSecond {
    const fn new() -> Self {
        OncePerSecond { last: AtomicU64::new(0), suppressed: AtomicU64::new(0) }
    }

    /// `Some(events suppressed since the last one let through)` if this one goes through.
    fn allow(&self) -> Option<u64> {
        static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let now = ORIGIN.get_or_init(std::time::Instant::now).elapsed().as_secs() + 1;
        let last = self.last.load(Ordering::Relaxed);
        if last != now && self.last.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

fn error_source(error: &ProxyError) -> Option<String> {
    std::error::Error::source(error).map(ToString::to_string)
}

/// Rewrites the request for the upstream, sends it, and shapes the response for the client.
async fn forward(
    conn: &Conn,
    host: &str,
    mut parts: Parts,
    body: Incoming,
    original_host: Option<HeaderValue>,
    request_id: &HeaderValue,
    site: &mut Option<AccessLogName>,
) -> Result<(Response<ProxyBody>, SocketAddr), ProxyError> {
    let shared = &*conn.shared;
    let upgrade = headers::wants_upgrade(&parts.headers);
    headers::strip_hop_by_hop(&mut parts.headers, upgrade);
    // The router answers 100-continue itself (hyper does when the body is first read), so the
    // upstream should not wait for a go-ahead of its own.
    parts.headers.remove(EXPECT);
    let absolute_form = parts.uri.authority().is_some();
    // The app sees the Host the client sent; for an absolute-form request line that is the
    // authority (RFC 9112 §3.2.2), and HTTP/1.0 clients may send none at all.
    if absolute_form || !parts.headers.contains_key(HOST) {
        if let Some(host) = &original_host {
            parts.headers.insert(HOST, host.clone());
        }
    }
    headers::set_forwarded(&mut parts.headers, &conn.ip, original_host, conn.https);
    parts.headers.insert(X_REQUEST_ID.clone(), request_id.clone());
    if absolute_form {
        // `GET http://host/path` becomes origin-form `GET /path` for the app.
        let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
        parts.uri = Uri::try_from(path).unwrap_or_else(|_| Uri::from_static("/"));
    }
    parts.version = Version::HTTP_11;

    // A request without a body that does not upgrade (most of them) goes through our own
    // client; the others through hyper's (see `h1_client.rs`).
    let mut client_upgrade = None;
    let outgoing = if !upgrade && http_body::Body::is_end_stream(&body) {
        Outgoing::Bodiless(parts)
    } else {
        let mut request = Request::from_parts(parts, RequestBody::new(body, shared.config.max_body_bytes));
        client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
        Outgoing::Streamed(request)
    };

    let Exchange { answer, in_flight } = send(shared, host, outgoing, site).await?;
    let backend = in_flight.backend().addr;
    let (mut parts, body) = match answer {
        Answer::Bodiless(response) => {
            let (parts, body) = response.into_parts();
            (parts, ProxyBody::bodiless(body, in_flight))
        }
        Answer::Streamed { mut response, conn } => {
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                let Some(client_upgrade) = client_upgrade else {
                    return Err(ProxyError::UnexpectedUpgrade { backend });
                };
                let upstream_upgrade = hyper::upgrade::on(&mut response);
                crate::upgrade::spawn_tunnel(shared, client_upgrade, upstream_upgrade, in_flight);
                let (mut parts, _empty) = response.into_parts();
                headers::strip_hop_by_hop(&mut parts.headers, true);
                return Ok((Response::from_parts(parts, ProxyBody::empty()), backend));
            }
            let (parts, body) = response.into_parts();
            (parts, ProxyBody::upstream(body, Lease { in_flight, conn: Some(conn) }))
        }
    };
    headers::strip_hop_by_hop(&mut parts.headers, false);
    Ok((Response::from_parts(parts, body), backend))
}

/// A request on its way to an upstream: for hyper's client with its body, or for ours as its
/// head alone.
enum Outgoing {
    Streamed(Request<RequestBody>),
    Bodiless(Parts),
}

/// The response head from an upstream, from the client that sent the request.
enum Answer {
    /// With the hyper connection, which goes back to the pool after the body.
    Streamed { response: Response<Incoming>, conn: Sender },
    /// The body holds its connection.
    Bodiless(Response<H1Body>),
}

/// A response head from an upstream, with what the response body must hold on to.
struct Exchange {
    answer: Answer,
    in_flight: InFlight,
}

/// Why one backend did not answer, with the request if it certainly was not sent.
struct Failed {
    error: ProxyError,
    unsent: Option<Box<Outgoing>>,
}

impl Failed {
    fn unsent(error: ProxyError, request: Outgoing) -> Self {
        Failed { error, unsent: Some(Box::new(request)) }
    }

    fn sent(error: ProxyError) -> Self {
        Failed { error, unsent: None }
    }

    /// The request, if it may go to another connection or backend: the error says a retry is
    /// safe and we still hold every byte of the request.
    fn retryable(self) -> Result<(ProxyError, Outgoing), ProxyError> {
        match self {
            Failed { error, unsent: Some(request) } if error.retry_safe() => Ok((error, *request)),
            Failed { error, .. } => Err(error),
        }
    }
}

/// Round robin over the host's backends, moving on only when the request was not sent.
///
/// `site` is set to the access-log file of the route the request was last routed with.
async fn send(
    shared: &Shared,
    host: &str,
    mut request: Outgoing,
    site: &mut Option<AccessLogName>,
) -> Result<Exchange, ProxyError> {
    for _round in 0..MAX_ROUTING_ROUNDS {
        let (route, generation) = match shared.table.lookup(host) {
            Lookup::Unknown => {
                *site = None;
                return Err(ProxyError::UnknownHost);
            }
            Lookup::Found { route, generation } => (route, generation),
        };
        if shared.config.access_log.is_on() {
            site.clone_from(&route.access_log);
        }
        let count = route.backends.len();
        if count == 0 {
            return Err(ProxyError::NoBackends);
        }
        let start = route.start();
        let mut last_error = None;
        let mut stale = false;
        for step in 0..count {
            let backend = &route.backends[(start + step) % count];
            let Some(in_flight) = shared.table.enter(backend, generation) else {
                stale = true; // The table changed under us: route again with the new one.
                break;
            };
            let sent = match request {
                Outgoing::Streamed(request) => send_streamed(backend, request, shared).await,
                Outgoing::Bodiless(parts) => send_bodiless(backend, parts, shared).await,
            };
            match sent {
                Ok(answer) => return Ok(Exchange { answer, in_flight }),
                Err(failed) => {
                    let (error, returned) = failed.retryable()?;
                    tracing::debug!(host, error = %error, "trying the next backend");
                    request = returned;
                    last_error = Some(error);
                }
            }
        }
        if !stale {
            return Err(last_error.unwrap_or(ProxyError::NoBackends));
        }
    }
    Err(ProxyError::TableChurn)
}

/// Sends on a pooled hyper connection of `backend` if one is alive, else on a new one.
async fn send_streamed(
    backend: &Backend,
    mut request: Request<RequestBody>,
    shared: &Shared,
) -> Result<Answer, Failed> {
    let config = &shared.config;
    for _ in 0..MAX_POOLED_TRIES {
        let Some(conn) = backend.checkout(config.idle_timeout) else { break };
        match exchange(backend.addr, conn, request, shared).await {
            Ok(answer) => return Ok(answer),
            // A pooled connection that closed under us: try another one.
            Err(HyperFailed { error, unsent: Some(returned) }) if error.retry_safe() => request = *returned,
            Err(HyperFailed { error, .. }) => return Err(Failed::sent(error)),
        }
    }
    match backend.connect(config.connect_timeout).await {
        Ok(conn) => exchange(backend.addr, conn, request, shared).await.map_err(Failed::from),
        Err(error) => Err(Failed::unsent(error, Outgoing::Streamed(request))),
    }
}

/// Sends with our own client, on a pooled connection of `backend` if one is open, else on a new one.
async fn send_bodiless(backend: &Backend, parts: Parts, shared: &Shared) -> Result<Answer, Failed> {
    let config = &shared.config;
    for _ in 0..MAX_POOLED_TRIES {
        let Some(conn) = backend.checkout_h1(config.idle_timeout) else { break };
        match exchange_bodiless(backend.addr, conn, &parts, shared).await {
            Ok(response) => return Ok(Answer::Bodiless(response)),
            // A pooled connection that failed before taking a byte: try another one.
            Err(error) if error.retry_safe() => {}
            Err(error) => return Err(Failed::sent(error)),
        }
    }
    let conn = match backend.connect_h1(config.connect_timeout).await {
        Ok(conn) => conn,
        Err(error) => return Err(Failed::unsent(error, Outgoing::Bodiless(parts))),
    };
    match exchange_bodiless(backend.addr, conn, &parts, shared).await {
        Ok(response) => Ok(Answer::Bodiless(response)),
        Err(error) if error.retry_safe() => Err(Failed::unsent(error, Outgoing::Bodiless(parts))),
        Err(error) => Err(Failed::sent(error)),
    }
}

async fn exchange_bodiless(
    backend: SocketAddr,
    conn: H1Conn,
    parts: &Parts,
    shared: &Shared,
) -> Result<Response<H1Body>, ProxyError> {
    let timeout = shared.config.upstream_header_timeout;
    // On timeout the send future is dropped, and the connection with it.
    match shared.timers.timeout(timeout, conn.send(parts)).await {
        Some(Ok(response)) => Ok(response),
        Some(Err(h1_client::Failed { error: H1Error::UnexpectedUpgrade, .. })) => {
            Err(ProxyError::UnexpectedUpgrade { backend })
        }
        Some(Err(h1_client::Failed { error, sent: false })) => {
            Err(ProxyError::NotSent { backend, source: error.into() })
        }
        Some(Err(h1_client::Failed { error, sent: true })) => {
            Err(ProxyError::Upstream { backend, source: error.into() })
        }
        None => Err(ProxyError::HeaderTimeout { backend, timeout }),
    }
}

/// Why hyper's client did not answer, with the request if hyper gave it back unsent.
struct HyperFailed {
    error: ProxyError,
    unsent: Option<Box<Request<RequestBody>>>,
}

impl From<HyperFailed> for Failed {
    fn from(failed: HyperFailed) -> Self {
        Failed { error: failed.error, unsent: failed.unsent.map(|request| Box::new(Outgoing::Streamed(*request))) }
    }
}

async fn exchange(
    backend: SocketAddr,
    mut conn: Sender,
    request: Request<RequestBody>,
    shared: &Shared,
) -> Result<Answer, HyperFailed> {
    let config = &shared.config;
    let timeout = config.upstream_header_timeout;
    let sent = |error| HyperFailed { error, unsent: None };
    // On timeout the send future is dropped, which makes hyper close that connection.
    match shared.timers.timeout(timeout, conn.try_send_request(request)).await {
        Some(Ok(response)) => Ok(Answer::Streamed { response, conn }),
        Some(Err(mut error)) => match error.take_message() {
            Some(request) => Err(HyperFailed {
                error: ProxyError::NotSent { backend, source: error.into_error().into() },
                unsent: Some(Box::new(request)),
            }),
            None => {
                let source = error.into_error();
                if limits::is_body_too_large(&source) {
                    Err(sent(ProxyError::BodyTooLarge { limit: config.max_body_bytes }))
                } else {
                    Err(sent(ProxyError::Upstream { backend, source: source.into() }))
                }
            }
        },
        None => Err(sent(ProxyError::HeaderTimeout { backend, timeout })),
    }
}
