//! The router's metrics end to end: requests of every status class through a real router to
//! real upstreams, then `Metrics::render`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use crate::support::{config, dead_addr, full, routes, start_ws_echo, Body, Router, Upstream};
use futures::StreamExt;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use slipway_router::{Metrics, RouteTable, RouterSettings};
use slipway_testkit::eventually;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// An upstream that answers `/status/NNN` with status NNN.
async fn status_upstream() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let service = service_fn(|request: Request<Incoming>| async move {
                    let status = request
                        .uri()
                        .path()
                        .strip_prefix("/status/")
                        .and_then(|code| code.parse::<u16>().ok())
                        .and_then(|code| StatusCode::from_u16(code).ok())
                        .unwrap_or(StatusCode::OK);
                    let mut response = Response::new(full("status"));
                    *response.status_mut() = status;
                    Ok::<Response<Body>, Infallible>(response)
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (addr, task)
}

fn line_value(text: &str, prefix: &str) -> Option<String> {
    text.lines().find_map(|line| line.strip_prefix(prefix).map(|rest| rest.trim().to_owned()))
}

#[tokio::test]
async fn counts_every_status_class_latency_and_in_flight() {
    const N: usize = 3;
    let (status_addr, _status_task) = status_upstream().await;
    let (ws_addr, _ws_task) = start_ws_echo().await;
    let slow = Upstream::start("slow").await;
    let dead = dead_addr().await;
    let table = RouteTable::default();
    table.replace(routes(&[
        ("app.example", &[status_addr]),
        ("ws.example", &[ws_addr]),
        ("slow.example", &[slow.addr]),
        ("dead.example", &[dead]),
    ]));
    let metrics = Metrics::default();
    let router = Router::start(table, RouterSettings { metrics: metrics.clone(), ..config() }).await;

    for _ in 0..N {
        for code in [200, 201, 302, 404, 503] {
            let reply = router.get("app.example", &format!("/status/{code}")).await;
            assert_eq!(reply.status.as_u16(), code);
        }
        // 1xx: a WebSocket handshake is answered 101.
        let stream = TcpStream::connect(router.addr).await.expect("connect");
        let (mut ws, response) = tokio_tungstenite::client_async("ws://ws.example/", stream).await.expect("handshake");
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        ws.close(None).await.expect("close");
        while let Some(Ok(_)) = ws.next().await {}
        // The router's own answers count for the host too: 502 with no instance up.
        assert_eq!(router.get("dead.example", "/").await.status, StatusCode::BAD_GATEWAY);
        // Unknown hosts share one entry, whatever they are called.
        assert_eq!(router.get(&format!("scan-{}.example", rand_suffix()), "/").await.status, StatusCode::NOT_FOUND);
    }

    // In flight while the upstream holds the request.
    let addr = router.addr;
    let pending = tokio::spawn(async move {
        let mut client = crate::support::Client::connect(addr).await;
        client.get("slow.example", "/wait").await
    });
    slow.state.arrived.notified().await;
    assert_eq!(line_value(&metrics.render(), "slipway_router_in_flight{host=\"slow.example\"}").as_deref(), Some("1"));
    slow.state.gate.notify_one();
    assert_eq!(pending.await.expect("client").status, StatusCode::OK);

    // Bodies end (and requests stop counting in flight) just after the client has its reply.
    let settled = || {
        let text = metrics.render();
        text.lines().filter(|line| line.starts_with("slipway_router_in_flight{")).all(|line| line.ends_with(" 0"))
    };
    eventually("in flight to return to 0", Duration::from_secs(10), async || settled().then_some(())).await;

    let text = metrics.render();
    println!("{text}");
    let n = N.to_string();
    for (prefix, want) in [
        ("slipway_router_requests_total{host=\"app.example\",class=\"1xx\"}", "0"),
        ("slipway_router_requests_total{host=\"app.example\",class=\"2xx\"}", &*(2 * N).to_string()),
        ("slipway_router_requests_total{host=\"app.example\",class=\"3xx\"}", &n),
        ("slipway_router_requests_total{host=\"app.example\",class=\"4xx\"}", &n),
        ("slipway_router_requests_total{host=\"app.example\",class=\"5xx\"}", &n),
        ("slipway_router_requests_total{host=\"ws.example\",class=\"1xx\"}", &n),
        ("slipway_router_requests_total{host=\"dead.example\",class=\"5xx\"}", &n),
        ("slipway_router_requests_total{host=\"_unrouted\",class=\"4xx\"}", &n),
        ("slipway_router_requests_total{host=\"slow.example\",class=\"2xx\"}", "1"),
        ("slipway_router_request_duration_seconds_count{host=\"app.example\"}", &*(5 * N).to_string()),
        ("slipway_router_request_duration_seconds_bucket{host=\"app.example\",le=\"+Inf\"}", &*(5 * N).to_string()),
        ("slipway_router_request_duration_seconds_count{host=\"ws.example\"}", &n),
        ("slipway_router_in_flight{host=\"app.example\"}", "0"),
    ] {
        assert_eq!(line_value(&text, prefix).as_deref(), Some(want), "{prefix} in\n{text}");
    }
    assert!(!text.contains("scan-"), "unknown hosts get no series of their own");
    // Buckets are cumulative: never decreasing, ending at the count.
    let buckets: Vec<u64> = text
        .lines()
        .filter(|line| line.starts_with("slipway_router_request_duration_seconds_bucket{host=\"app.example\""))
        .map(|line| line.rsplit(' ').next().and_then(|v| v.parse().ok()).expect("a count"))
        .collect();
    assert!(buckets.windows(2).all(|pair| pair[0] <= pair[1]), "{buckets:?}");
    assert_eq!(buckets.last().copied(), Some(5 * N as u64));
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new().build_hasher().finish()
}
