//! The JSON access log end to end. Its own test binary: it installs a `tracing` subscriber for
//! its thread, and no other test should hit the log's call site first.

// The router tests' own helpers (tests/router/support.rs), shared within this crate only.
#[path = "router/support.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use slipway_router::{RouteTable, RouterSettings};
use slipway_testkit::eventually;
use support::{config, full, routes, Router, Upstream};

/// A `tracing` writer that collects output in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn access_log_has_one_json_line_per_request_with_its_id() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("slipway_router::access=info")
        .with_writer({
            let captured = captured.clone();
            move || captured.clone()
        })
        .with_ansi(false)
        .without_time()
        .with_level(false)
        .with_target(false)
        .finish();
    // The test runtime is single-threaded, so the router's tasks log on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = Upstream::start("app").await;
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[app.addr])]));
    let router = Router::start(table, RouterSettings { access_log: true, ..config() }).await;
    let mut client = support::Client::connect(router.addr).await;
    let request = Request::get("/hello?q=1").header("host", "app.example").header("x-request-id", "req-42");
    let reply = client.send(request.body(full(Bytes::new())).expect("request")).await.expect("response");
    assert_eq!(reply.status, StatusCode::OK);
    let reply = client.get("nowhere.example", "/x\"y").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let generated = reply.header("x-request-id").expect("id").to_owned();

    let lines = || String::from_utf8_lossy(&captured.0.lock().expect("lock")).lines().count();
    eventually("two access-log lines", Duration::from_secs(10), async || (lines() >= 2).then_some(())).await;
    let text = String::from_utf8_lossy(&captured.0.lock().expect("lock")).into_owned();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(lines.len(), 2, "{text}");
    let first = lines[0];
    assert!(first.starts_with("{\"time\":\"") && first.ends_with('}'), "{first}");
    for field in [
        "\"host\":\"app.example\"",
        "\"method\":\"GET\"",
        "\"path\":\"/hello\"",
        "\"status\":200",
        "\"bytes\":3",
        "\"request_id\":\"req-42\"",
        &format!("\"backend\":\"{}\"", app.addr),
        "\"client\":\"127.0.0.1\"",
        "\"duration_ms\":",
    ] {
        assert!(first.contains(field), "{field} in {first}");
    }
    let second = lines[1];
    for field in [
        "\"host\":\"nowhere.example\"",
        "\"path\":\"/x\\\"y\"",
        "\"status\":404",
        "\"backend\":null",
        &format!("\"request_id\":\"{generated}\""),
    ] {
        assert!(second.contains(field), "{field} in {second}");
    }

    // A request hyper cannot parse (and answers 400 itself) is logged too, without host or path.
    let mut raw = tokio::net::TcpStream::connect(router.addr).await.expect("connect");
    tokio::io::AsyncWriteExt::write_all(&mut raw, b"GARBAGE\r\n\r\n").await.expect("write");
    let mut answer = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut raw, &mut answer).await;
    assert!(answer.starts_with(b"HTTP/1.1 400"), "{}", String::from_utf8_lossy(&answer));
    let count = || String::from_utf8_lossy(&captured.0.lock().expect("lock")).lines().count();
    eventually("a line for the refused request", Duration::from_secs(10), async || (count() >= 3).then_some(())).await;
    let text = String::from_utf8_lossy(&captured.0.lock().expect("lock")).into_owned();
    let third = text.lines().nth(2).expect("third line").trim().to_owned();
    for field in ["\"host\":null", "\"path\":null", "\"status\":400", "\"request_id\":\"", "\"error\":\"invalid"] {
        assert!(third.contains(field), "{field} in {third}");
    }
}
