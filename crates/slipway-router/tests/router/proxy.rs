//! The router end to end over real sockets on 127.0.0.1: routing, error pages, failover,
//! timeouts, headers, streaming, WebSockets, atomic table switches, drain and shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{config, dead_addr, full, routes, start_ws_echo, Client, Router, Upstream, BIG};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Channel};
use slipway_router::{RouteTable, RouterSettings};
use slipway_testkit::eventually;

/// How long a load test may take to make its next step.
const LOAD_WAIT: Duration = Duration::from_secs(60);
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const DRAIN: Duration = Duration::from_secs(20);

#[tokio::test]
async fn routes_by_host_ignoring_case_port_and_trailing_dot() {
    let (shop, blog) = (Upstream::start("shop").await, Upstream::start("blog").await);
    let table = RouteTable::default();
    table.replace(routes(&[("shop.example", &[shop.addr]), ("blog.example", &[blog.addr])]));
    let router = Router::start(table, config()).await;

    for host in ["shop.example", "SHOP.Example", "shop.example:8000", "shop.example.", "Shop.Example.:8000"] {
        let reply = router.get(host, "/").await;
        assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "shop"), "Host: {host}");
    }
    let reply = router.get("blog.example", "/").await;
    assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "blog"));

    // Absolute-form request line: the authority routes (and wins over Host), the app gets
    // origin-form with the authority as its Host.
    let mut client = Client::connect(router.addr).await;
    let request =
        Request::get("http://blog.example/").header("host", "shop.example").body(full(Bytes::new())).expect("request");
    let reply = client.send(request).await.expect("response");
    assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "blog"));
    let seen = blog.state.last_headers.lock().expect("lock").clone().expect("a request reached blog");
    assert_eq!(seen["host"], "blog.example");

    // HEAD on a keep-alive connection, then another request on the same connection.
    let request = Request::head("/").header("host", "shop.example").body(full(Bytes::new())).expect("request");
    let reply = client.send(request).await.expect("response");
    assert_eq!((reply.status, reply.body.len()), (StatusCode::OK, 0));
    let reply = client.get("shop.example", "/").await;
    assert_eq!(reply.text(), "shop");
}

#[tokio::test]
async fn unknown_host_gets_a_404_page_with_the_host_escaped() {
    let router = Router::start(RouteTable::default(), config()).await;
    let reply = router.get("nothing.example", "/").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.text().contains("No app is served at nothing.example"), "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(reply.header("x-request-id").is_some());

    let reply = router.get("<script>alert(1)</script>.example", "/").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(!reply.text().contains("<script>"), "{}", reply.text());
    assert!(reply.text().contains("&lt;script&gt;alert(1)&lt;/script&gt;.example"), "{}", reply.text());
}

#[tokio::test]
async fn missing_or_repeated_host_is_a_400() {
    let router = Router::start(RouteTable::default(), config()).await;
    let mut client = Client::connect(router.addr).await;
    let reply = client.send(Request::get("/").body(full(Bytes::new())).expect("request")).await.expect("response");
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    let mut client = Client::connect(router.addr).await;
    let request = Request::get("/").header("host", "a.example").header("host", "b.example").body(full(Bytes::new()));
    let reply = client.send(request.expect("request")).await.expect("response");
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "two Host headers");
}

#[tokio::test]
async fn no_backends_and_refused_backends_get_a_502_page() {
    let dead = dead_addr().await;
    let table = RouteTable::default();
    table.replace(routes(&[("empty.example", &[]), ("dead.example", &[dead])]));
    let router = Router::start(table, config()).await;

    for host in ["empty.example", "dead.example"] {
        let reply = router.get(host, "/").await;
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{host}");
        let text = reply.text();
        assert!(text.contains(&format!("{host} has no healthy instance right now")), "{text}");
        assert!(!text.contains("127.0.0.1"), "the page must not name the instance: {text}");
    }
}

#[tokio::test]
async fn connect_failure_fails_over_to_the_next_backend() {
    let live = Upstream::start("live").await;
    let dead = dead_addr().await;
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[dead, live.addr])]));
    let router = Router::start(table, config()).await;

    let mut client = Client::connect(router.addr).await;
    for _ in 0..6 {
        let reply = client.get("app.example", "/").await;
        assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "live"));
    }
    assert_eq!(live.requests(), 6);
}

#[tokio::test]
async fn upstream_that_never_answers_gets_a_504() {
    let hung = Upstream::start("hung").await;
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[hung.addr])]));
    let config = RouterSettings { upstream_header_timeout: Duration::from_millis(200), ..config() };
    let router = Router::start(table.clone(), config).await;

    let reply = router.get("app.example", "/hang").await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(reply.text().contains("app.example took too long to answer"), "{}", reply.text());
    assert_eq!(table.in_flight(hung.addr), 0);
    // The timed-out connection is not reused; the next request gets a fresh one and works.
    let reply = router.get("app.example", "/").await;
    assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "hung"));
}

#[tokio::test]
async fn sets_forwarded_headers_and_request_id() {
    let app = Upstream::start("app").await;
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[app.addr])]));
    let router = Router::start(table, config()).await;
    let mut client = Client::connect(router.addr).await;
    let seen = || app.state.last_headers.lock().expect("lock").clone().expect("a request reached the app");

    let request = Request::get("/")
        .header("host", "App.Example:8000")
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-forwarded-proto", "https")
        .header("x-request-id", "abc-123.4_5:6")
        .header("connection", "x-hop")
        .header("x-hop", "secret")
        .header("keep-alive", "timeout=5")
        .body(full(Bytes::new()))
        .expect("request");
    let reply = client.send(request).await.expect("response");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("x-request-id"), Some("abc-123.4_5:6"));
    let headers = seen();
    assert_eq!(headers["host"], "App.Example:8000", "Host is preserved");
    assert_eq!(headers["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-host"], "App.Example:8000");
    assert_eq!(headers["x-request-id"], "abc-123.4_5:6");
    assert!(!headers.contains_key("x-hop") && !headers.contains_key("keep-alive"), "{headers:?}");

    // No incoming id, or one that is not sane: a fresh one, the same on both sides.
    for incoming in [None, Some("has spaces and <stuff>"), Some(&*"a".repeat(129))] {
        let mut request = Request::get("/").header("host", "app.example");
        if let Some(id) = incoming {
            request = request.header("x-request-id", id);
        }
        let reply = client.send(request.body(full(Bytes::new())).expect("request")).await.expect("response");
        let returned = reply.header("x-request-id").expect("x-request-id on the response").to_owned();
        assert_eq!(returned.len(), 32);
        assert!(returned.bytes().all(|byte| byte.is_ascii_hexdigit()), "{returned}");
        let headers = seen();
        assert_eq!(headers["x-request-id"], returned.as_str());
        assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
        assert_eq!(headers["x-forwarded-host"], "app.example");
    }
}

#[tokio::test]
async fn streams_a_10_mb_response_without_buffering_it() {
    let app = Upstream::start("app").await;
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[app.addr])]));
    let router = Router::start(table, config()).await;
    let mut client = Client::connect(router.addr).await;

    let request = Request::get("/big").header("host", "app.example").body(full(Bytes::new())).expect("request");
    let response = client.send_streaming(request).await.expect("response head");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    // The upstream holds the rest back until the first chunk has reached us through the router.
    let first = body.frame().await.expect("a first frame").expect("frame ok").into_data().expect("data");
    let mut received = first.len();
    app.state.gate.notify_one();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("frame ok").into_data() {
            received += data.len();
        }
    }
    assert_eq!(received, BIG);
}

#[tokio::test]
async fn streams_a_large_request_body_up() {
    let app = Upstream::start("app").await;
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[app.addr])]));
    let router = Router::start(table, config()).await;
    let mut client = Client::connect(router.addr).await;

    let (mut tx, body) = Channel::<Bytes, std::convert::Infallible>::new(4);
    let request = Request::post("/upload").header("host", "app.example").body(body.boxed()).expect("request");
    let response = tokio::spawn(async move { client.send(request).await });
    let chunk = Bytes::from(vec![b'u'; 64 * 1024]);
    tx.send_data(chunk.clone()).await.expect("send first chunk");
    // The app has the first chunk before we send the second: nothing waits for the whole body.
    app.state.first_frame.notified().await;
    for _ in 1..BIG / chunk.len() {
        tx.send_data(chunk.clone()).await.expect("send chunk");
    }
    drop(tx);
    let reply = response.await.expect("client task").expect("response");
    assert_eq!((reply.status, reply.text()), (StatusCode::OK, BIG.to_string()));
}

#[tokio::test]
async fn round_robin_over_two_backends_on_pooled_connections() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[a.addr, b.addr])]));
    let router = Router::start(table, config()).await;

    let mut client = Client::connect(router.addr).await;
    let mut seen = Vec::new();
    for _ in 0..20 {
        seen.push(client.get("app.example", "/").await.text());
    }
    assert!(seen.windows(2).all(|pair| pair[0] != pair[1]), "strict alternation: {seen:?}");
    assert_eq!((a.requests(), b.requests()), (10, 10));
    let connections = a.state.connections.load(Ordering::SeqCst) + b.state.connections.load(Ordering::SeqCst);
    assert_eq!(connections, 2, "one pooled connection per backend for sequential requests");
}

#[tokio::test]
async fn websocket_echo_through_the_router() {
    let (ws_addr, _ws_task) = start_ws_echo().await;
    let table = RouteTable::default();
    table.replace(routes(&[("ws.example", &[ws_addr])]));
    let router = Router::start(table.clone(), config()).await;

    let stream = TcpStream::connect(router.addr).await.expect("connect");
    let (mut ws, response) =
        tokio_tungstenite::client_async("ws://ws.example/socket", stream).await.expect("websocket handshake");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert!(response.headers().contains_key("x-request-id"));
    for text in ["hello", "through", "the router"] {
        ws.send(Message::text(text)).await.expect("send");
        let echoed = ws.next().await.expect("a reply").expect("reply ok");
        assert_eq!(echoed, Message::text(text));
    }
    ws.send(Message::binary(vec![0u8, 1, 2, 255])).await.expect("send binary");
    assert_eq!(ws.next().await.expect("a reply").expect("reply ok"), Message::binary(vec![0u8, 1, 2, 255]));
    assert_eq!(table.in_flight(ws_addr), 1, "an open WebSocket counts as in flight");

    ws.close(None).await.expect("close");
    while let Some(Ok(_)) = ws.next().await {}
    drop(ws);
    assert!(table.drain(ws_addr, DRAIN).await, "the tunnel ends when both sides have closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_under_load_loses_no_request() {
    const TASKS: usize = 8;
    const PER_TASK: usize = 250;
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[a.addr])]));
    let router = Router::start(table.clone(), config()).await;

    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (done, addr) = (done.clone(), router.addr);
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            let mut answers: HashMap<String, usize> = HashMap::new();
            let mut failures = Vec::new();
            for _ in 0..PER_TASK {
                let request = Request::get("/").header("host", "app.example").body(full(Bytes::new()));
                match client.send(request.expect("request")).await {
                    Ok(reply) if reply.status == StatusCode::OK => *answers.entry(reply.text()).or_default() += 1,
                    Ok(reply) => failures.push(format!("{} {}", reply.status, reply.text())),
                    Err(error) => {
                        failures.push(error.to_string());
                        client = Client::connect(addr).await;
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
            (answers, failures)
        }));
    }

    let total = TASKS * PER_TASK;
    let (mut old, mut new) = (&a, &b);
    for switch in 1..=6 {
        let progress = |done: &AtomicUsize| done.load(Ordering::SeqCst) >= switch * total / 10;
        eventually("the load to make progress", LOAD_WAIT, async || progress(&done).then_some(())).await;
        table.replace(routes(&[("app.example", &[new.addr])]));
        assert!(table.drain(old.addr, DRAIN).await, "{} drained", old.name);
        assert_eq!(table.in_flight(old.addr), 0);
        // Once drained, the old backend gets nothing more while it is out of the table.
        let before = old.requests();
        let mark = done.load(Ordering::SeqCst);
        let more = (mark + total / 32).min(total);
        eventually("more requests answered", LOAD_WAIT, async || (done.load(Ordering::SeqCst) >= more).then_some(()))
            .await;
        assert_eq!(old.requests(), before, "{} got requests after it was drained", old.name);
        std::mem::swap(&mut old, &mut new);
    }
    // The agent's real sequence: swap in a new instance, drain the old one, kill it.
    let c = Upstream::start("c").await;
    table.replace(routes(&[("app.example", &[c.addr])]));
    assert!(table.drain(old.addr, DRAIN).await, "{} drained", old.name);
    drop(a);
    drop(b);
    eventually("the load to finish", LOAD_WAIT, async || (done.load(Ordering::SeqCst) >= total).then_some(())).await;

    let mut answers: HashMap<String, usize> = HashMap::new();
    let mut failures = Vec::new();
    for task in tasks {
        let (task_answers, task_failures) = task.await.expect("client task");
        for (name, count) in task_answers {
            *answers.entry(name).or_default() += count;
        }
        failures.extend(task_failures);
    }
    assert!(failures.is_empty(), "{} failed requests: {:?}", failures.len(), &failures[..failures.len().min(5)]);
    assert_eq!(answers.values().sum::<usize>(), total);
    assert!(["a", "b"].iter().all(|name| answers.get(*name).copied().unwrap_or(0) > 0), "{answers:?}");
}

#[tokio::test]
async fn drain_waits_for_a_slow_in_flight_request() {
    let (slow, other) = (Upstream::start("slow").await, Upstream::start("other").await);
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[slow.addr])]));
    let router = Router::start(table.clone(), config()).await;

    let mut client = Client::connect(router.addr).await;
    let pending = tokio::spawn(async move { client.get("app.example", "/wait").await });
    slow.state.arrived.notified().await;
    assert_eq!(table.in_flight(slow.addr), 1);

    table.replace(routes(&[("app.example", &[other.addr])]));
    assert_eq!(table.in_flight(slow.addr), 1, "in-flight requests keep their backend after replace");
    assert!(!table.drain(slow.addr, Duration::from_millis(50)).await, "drain times out while the request waits");
    assert_eq!(router.get("app.example", "/").await.text(), "other");

    let drain = tokio::spawn({
        let table = table.clone();
        async move { table.drain(slow.addr, DRAIN).await }
    });
    slow.state.gate.notify_one();
    assert!(drain.await.expect("drain task"));
    assert_eq!(slow.state.answered.load(Ordering::SeqCst), 1, "drain returned after the slow request was answered");
    let reply = pending.await.expect("client task");
    assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "slow"));
    assert_eq!(table.in_flight(slow.addr), 0);
}

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_an_in_flight_request_finish() {
    let slow = Upstream::start("slow").await;
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[slow.addr])]));
    let mut router = Router::start(table.clone(), config()).await;

    let mut client = Client::connect(router.addr).await;
    let pending = tokio::spawn(async move { client.get("app.example", "/wait").await });
    slow.state.arrived.notified().await;

    router.signal_shutdown();
    let addr = router.addr;
    eventually("the listener to close at shutdown", Duration::from_secs(5), async || {
        TcpStream::connect(addr).await.is_err().then_some(())
    })
    .await;
    assert!(!router.task.is_finished(), "serve waits for the in-flight request");

    slow.state.gate.notify_one();
    let reply = pending.await.expect("client task");
    assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "slow"));
    let served = (&mut router.task).await.expect("serve task");
    assert!(served.is_ok(), "{served:?}");
}

#[tokio::test]
async fn shutdown_waits_for_an_open_websocket() {
    let (ws_addr, _ws_task) = start_ws_echo().await;
    let table = RouteTable::default();
    table.replace(routes(&[("ws.example", &[ws_addr])]));
    let mut router = Router::start(table, config()).await;

    let stream = TcpStream::connect(router.addr).await.expect("connect");
    let (mut ws, _) = tokio_tungstenite::client_async("ws://ws.example/", stream).await.expect("websocket handshake");
    router.signal_shutdown();
    // Still bridged after shutdown began (well within the grace period).
    for text in ["still", "here"] {
        ws.send(Message::text(text)).await.expect("send");
        assert_eq!(ws.next().await.expect("a reply").expect("reply ok"), Message::text(text));
    }
    assert!(!router.task.is_finished(), "serve waits for the upgraded connection");
    ws.close(None).await.expect("close");
    while let Some(Ok(_)) = ws.next().await {}
    drop(ws);
    let served = (&mut router.task).await.expect("serve task");
    assert!(served.is_ok(), "{served:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_the_app_closed_is_not_used() {
    let app = Upstream::start_with_idle_timeout("app", Some(Duration::from_millis(20))).await;
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[app.addr])]));
    let router = Router::start(table, config()).await;
    let mut client = Client::connect(router.addr).await;
    for round in 1..=5 {
        let reply = client.get("app.example", "/").await;
        assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "app"), "round {round}");
        // Wait until the app has closed the connection the router pooled.
        let closed = || app.state.closed.load(Ordering::SeqCst) >= round;
        eventually("the app to close the pooled connection", Duration::from_secs(10), async || closed().then_some(()))
            .await;
    }
}

#[tokio::test]
async fn post_with_a_body_to_a_refusing_then_live_backend_keeps_the_body() {
    let live = Upstream::start("live").await;
    let dead = dead_addr().await;
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[dead, live.addr])]));
    let router = Router::start(table, config()).await;
    let mut client = Client::connect(router.addr).await;
    for _ in 0..4 {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/upload")
            .header("host", "app.example")
            .body(full("twelve bytes"))
            .expect("request");
        let reply = client.send(request).await.expect("response");
        assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "12"));
    }
}
