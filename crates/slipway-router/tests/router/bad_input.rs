//! Hostile and broken input over raw sockets against a real router on 127.0.0.1: malformed
//! request lines, invalid header bytes, request smuggling attempts, oversized heads and
//! bodies, slowloris, and upstreams that hang or break mid-response. Each is answered or closed
//! cleanly, and the router keeps serving other clients meanwhile.

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::{config, routes, Router, Upstream};
use http::StatusCode;
use slipway_router::{RouteTable, RouterSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A guard against hangs only; no assertion depends on how fast anything happens.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// One response read off a raw connection.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    head: String,
    body: Vec<u8>,
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("connect to router")
}

/// Reads one response (head, then a Content-Length body). `None` if the connection ended
/// before a whole head arrived.
async fn read_response(stream: &mut TcpStream) -> Option<RawResponse> {
    tokio::time::timeout(HANG_GUARD, async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let length = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let mut body = buf[head_end..].to_vec();
        while body.len() < length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
        Some(RawResponse { status, head, body })
    })
    .await
    .expect("a response or the end of the connection in time")
}

/// Whether the peer closes the connection (EOF or reset), discarding anything else it sends.
async fn closes(stream: &mut TcpStream) -> bool {
    tokio::time::timeout(HANG_GUARD, async {
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or(false)
}

/// Sends `request` on a fresh connection and reads one response, leaving the connection be.
async fn request_once(addr: SocketAddr, request: &[u8]) -> Option<RawResponse> {
    let mut stream = connect(addr).await;
    stream.write_all(request).await.expect("write request");
    read_response(&mut stream).await
}

/// Sends `request` on a fresh connection; returns the first response, if any, and whether
/// the router then closed the connection.
async fn exchange(addr: SocketAddr, request: &[u8]) -> (Option<RawResponse>, bool) {
    let mut stream = connect(addr).await;
    stream.write_all(request).await.expect("write request");
    let response = read_response(&mut stream).await;
    let closed = closes(&mut stream).await;
    (response, closed)
}

async fn app_router(config: RouterSettings) -> (Upstream, Router) {
    let app = Upstream::start("app").await;
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[app.addr])]));
    let router = Router::start(table, config).await;
    (app, router)
}

async fn assert_still_serving(router: &Router) {
    let reply = router.get("app.example", "/").await;
    assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "app"));
}

#[tokio::test]
async fn malformed_request_lines_get_400_and_close() {
    let config = config();
    let metrics = config.metrics.clone();
    let (app, router) = app_router(config).await;
    for request in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET\r\nHost: app.example\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: app.example\r\n\r\n",
        b"GET / FTP/1.1\r\nHost: app.example\r\n\r\n",
        b"G(T / HTTP/1.1\r\nHost: app.example\r\n\r\n",
        b"GET /a b HTTP/1.1\r\nHost: app.example\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\nHost: app.example\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", // a TLS ClientHello on the plain port
    ] {
        let (response, closed) = exchange(router.addr, request).await;
        let shown = String::from_utf8_lossy(request);
        let response = response.unwrap_or_else(|| panic!("no response to {shown:?}"));
        assert_eq!(response.status, 400, "{shown:?}: {}", response.head);
        assert!(closed, "{shown:?}: the connection is closed after the 400");
    }
    assert_eq!(app.requests(), 0, "nothing malformed reached the app");
    // hyper answered those itself; they still count, under the unrouted host.
    let counted = "slipway_router_requests_total{host=\"_unrouted\",class=\"4xx\"} 8";
    assert!(metrics.render().contains(counted), "{}", metrics.render());
    assert_still_serving(&router).await;
}

#[tokio::test]
async fn invalid_header_bytes_get_400_and_reach_no_app() {
    let (app, router) = app_router(config()).await;
    for request in [
        &b"GET / HTTP/1.1\r\nHost: app.example\r\nX-Bad: a\x00b\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: app.example\r\nX-Bad: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: app.example\r\nBad Name: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: app.example\r\nX-Bad\x01: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: app.example\r\n: no name\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: app.example\r\nno colon\r\n\r\n",
        // Obsolete line folding, a classic way to hide a header from one parser but not another.
        b"GET / HTTP/1.1\r\nHost: app.example\r\nX-Folded: a\r\n b\r\n\r\n",
    ] {
        let (response, closed) = exchange(router.addr, request).await;
        let shown = String::from_utf8_lossy(request);
        let response = response.unwrap_or_else(|| panic!("no response to {shown:?}"));
        assert_eq!(response.status, 400, "{shown:?}: {}", response.head);
        assert!(closed, "{shown:?}");
    }
    assert_eq!(app.requests(), 0);
    assert_still_serving(&router).await;
}

#[tokio::test]
async fn conflicting_content_lengths_are_refused() {
    let (app, router) = app_router(config()).await;
    for request in [
        &b"POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"[..],
        b"POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: 5, 6\r\n\r\nhello!",
        b"POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: -5\r\n\r\nhello",
        b"POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: 0x5\r\n\r\nhello",
        b"POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: +5\r\n\r\nhello",
        b"POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: 99999999999999999999999\r\n\r\nhello",
    ] {
        let (response, closed) = exchange(router.addr, request).await;
        let shown = String::from_utf8_lossy(request);
        let response = response.unwrap_or_else(|| panic!("no response to {shown:?}"));
        assert_eq!(response.status, 400, "{shown:?}: {}", response.head);
        assert!(closed, "{shown:?}");
    }
    assert_eq!(app.requests(), 0);

    // Repeated but equal lengths are one length (RFC 9110 §8.6): the body goes up whole.
    let mut stream = connect(router.addr).await;
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .expect("write");
    let response = read_response(&mut stream).await.expect("a response");
    assert_eq!((response.status, response.body.as_slice()), (200, &b"5"[..]));
}

#[tokio::test]
async fn transfer_encoding_smuggling_attempts_are_refused_or_neutralised() {
    let (app, router) = app_router(config()).await;
    // Transfer-Encoding that does not end in chunked, or obfuscated, or on HTTP/1.0: 400.
    for request in [
        &b"POST /upload HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: gzip\r\n\r\nhello"[..],
        b"POST /upload HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        b"POST /upload HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        b"POST /upload HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
        b"POST /upload HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        b"POST /upload HTTP/1.0\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ] {
        let (response, closed) = exchange(router.addr, request).await;
        let shown = String::from_utf8_lossy(request);
        let response = response.unwrap_or_else(|| panic!("no response to {shown:?}"));
        assert_eq!(response.status, 400, "{shown:?}: {}", response.head);
        assert!(closed, "{shown:?}");
    }
    assert_eq!(app.requests(), 0);

    // Content-Length with Transfer-Encoding, either order (CL.TE and TE.CL): the router frames
    // the body by Transfer-Encoding alone (RFC 9112 §6.3), drops Content-Length, answers once
    // and closes the connection, so the bytes after the chunked body, a smuggled second
    // request, are never read as a request.
    for request in [
        &b"POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\
           0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: app.example\r\n\r\n"[..],
        b"POST /upload HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n\
           0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: app.example\r\n\r\n",
    ] {
        let before = app.requests();
        let mut stream = connect(router.addr).await;
        stream.write_all(request).await.expect("write");
        let response = read_response(&mut stream).await.expect("a response");
        assert_eq!((response.status, response.body.as_slice()), (200, &b"0"[..]), "{}", response.head);
        assert!(closes(&mut stream).await, "the connection closes after a CL+TE request");
        assert_eq!(app.requests(), before + 1, "only the framed request reached the app");
    }
    let seen = app.state.last_headers.lock().expect("lock").clone();
    assert!(seen.is_none(), "no request reached the app's `/` route (the smuggled one would be `/smuggled`)");
    assert_still_serving(&router).await;
}

#[tokio::test]
async fn oversized_heads_get_431() {
    let config = RouterSettings { max_header_bytes: 16 * 1024, ..config() };
    let (app, router) = app_router(config).await;

    // Just under the limit passes.
    let ok = format!("GET / HTTP/1.1\r\nHost: app.example\r\nX-Big: {}\r\n\r\n", "a".repeat(15 * 1024));
    let mut stream = connect(router.addr).await;
    stream.write_all(ok.as_bytes()).await.expect("write");
    assert_eq!(read_response(&mut stream).await.expect("a response").status, 200);

    // Over the limit: a 431 page from the router.
    let over = format!("GET / HTTP/1.1\r\nHost: app.example\r\nX-Big: {}\r\n\r\n", "a".repeat(20 * 1024));
    let (response, closed) = exchange(router.addr, over.as_bytes()).await;
    let response = response.expect("a response");
    assert_eq!(response.status, 431, "{}", response.head);
    assert!(String::from_utf8_lossy(&response.body).contains("The request headers are too large."));
    assert!(closed);

    // Many small fields adding up past the limit.
    let mut many = String::from("GET / HTTP/1.1\r\nHost: app.example\r\n");
    for i in 0..90 {
        many.push_str(&format!("X-Field-{i}: {}\r\n", "b".repeat(200)));
    }
    many.push_str("\r\n");
    let (response, _) = exchange(router.addr, many.as_bytes()).await;
    assert_eq!(response.expect("a response").status, 431);

    // Far over the limit: hyper stops reading at its hard limit and answers a bare 431.
    let mut stream = connect(router.addr).await;
    let huge = format!("GET / HTTP/1.1\r\nHost: app.example\r\nX-Big: {}", "a".repeat(1024 * 1024));
    // The router may close before it has read all of it; a failed write is expected then.
    let _ = stream.write_all(huge.as_bytes()).await;
    let response = read_response(&mut stream).await.expect("a response");
    assert_eq!(response.status, 431, "{}", response.head);
    assert!(closes(&mut stream).await);

    // Too many fields (hyper's limit of 100), however small.
    let mut fields = String::from("GET / HTTP/1.1\r\nHost: app.example\r\n");
    for i in 0..120 {
        fields.push_str(&format!("X-{i}: 1\r\n"));
    }
    fields.push_str("\r\n");
    let (response, _) = exchange(router.addr, fields.as_bytes()).await;
    assert_eq!(response.expect("a response").status, 431);

    assert_eq!(app.requests(), 1, "only the head under the limit reached the app");
    assert_still_serving(&router).await;
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    const LIMIT: u64 = 256 * 1024;
    let config = RouterSettings { max_body_bytes: LIMIT, ..config() };
    let (app, router) = app_router(config).await;

    // A declared length over the limit: 413 before any of the body is sent.
    let request = format!("POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: {}\r\n\r\n", LIMIT + 1);
    let mut stream = connect(router.addr).await;
    stream.write_all(request.as_bytes()).await.expect("write");
    let response = read_response(&mut stream).await.expect("a response");
    assert_eq!(response.status, 413, "{}", response.head);
    assert!(String::from_utf8_lossy(&response.body).contains("The request body is too large."));
    assert!(response.head.to_ascii_lowercase().contains("connection: close"), "{}", response.head);
    assert!(closes(&mut stream).await);
    assert_eq!(app.requests(), 0);

    // Exactly the limit passes.
    let mut stream = connect(router.addr).await;
    let head = format!("POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: {LIMIT}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(&vec![b'x'; LIMIT as usize]).await.expect("write body");
    let response = read_response(&mut stream).await.expect("a response");
    assert_eq!((response.status, response.body), (200, LIMIT.to_string().into_bytes()));

    // A chunked body that grows past the limit: the upstream request is aborted and the client
    // gets 413 (the app had not answered yet).
    let mut stream = connect(router.addr).await;
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .expect("write head");
    let (mut read, mut write) = stream.into_split();
    let writer: JoinHandle<()> = tokio::spawn(async move {
        let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, "c".repeat(16 * 1024));
        // Goes on until the router stops reading; bounded so a router that never does cannot
        // make the test run forever.
        for _ in 0..(4 * LIMIT / (16 * 1024)) {
            if write.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(HANG_GUARD, read.read_to_end(&mut buf)).await.expect("the router ends the response");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    writer.abort();
    assert_still_serving(&router).await;
}

#[tokio::test]
async fn slowloris_is_closed_after_the_header_read_timeout_while_others_are_served() {
    let config = RouterSettings { header_read_timeout: Duration::from_millis(300), ..config() };
    let (app, router) = app_router(config).await;

    // A few bytes, then silence.
    let mut silent = connect(router.addr).await;
    silent.write_all(b"GET / HTTP/1.1\r\nHo").await.expect("write");
    // One byte at a time, forever: the timeout covers the whole head, not the gap between bytes.
    let trickle = connect(router.addr).await;
    let (mut trickle_read, mut trickle_write) = trickle.into_split();
    let trickler = tokio::spawn(async move {
        let head = b"GET / HTTP/1.1\r\nHost: app.example\r\nX-Slow: ";
        for byte in head.iter().chain(std::iter::repeat(&b'a')) {
            if trickle_write.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });

    // Meanwhile other clients are served.
    for _ in 0..3 {
        assert_still_serving(&router).await;
    }
    assert!(closes(&mut silent).await, "the silent client is closed");
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(HANG_GUARD, trickle_read.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "the trickling client is closed");
    trickler.abort();
    assert_eq!(app.requests(), 3, "neither slow request reached the app");
    assert_still_serving(&router).await;
}

/// A raw upstream on 127.0.0.1:0 that reads a request head, writes `misbehave`, then closes or
/// (without `then_close`) reads on and never writes again.
async fn raw_upstream(misbehave: &'static [u8], then_close: bool) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = stream.write_all(misbehave).await;
                if then_close {
                    drop(stream);
                } else {
                    // Keep reading (and dropping) whatever comes, never answering any more.
                    while let Ok(n) = stream.read(&mut chunk).await {
                        if n == 0 {
                            break;
                        }
                    }
                }
            });
        }
    });
    (addr, task)
}

#[tokio::test]
async fn upstreams_that_hang_or_break_fail_cleanly_while_others_are_served() {
    let app = Upstream::start("app").await;
    let (hang, _hang_task) = raw_upstream(b"", false).await;
    let (closes_at_once, _t1) = raw_upstream(b"", true).await;
    let (garbage, _t2) = raw_upstream(b"NOT HTTP AT ALL\r\n\r\n", true).await;
    let (head_only, _t3) = raw_upstream(b"HTTP/1.1 200 OK\r\nContent-Type: text/pl", true).await;
    let (mid_body, _t4) = raw_upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial body", true).await;
    let table = RouteTable::default();
    table.replace(routes(&[
        ("app.example", &[app.addr]),
        ("hang.example", &[hang]),
        ("closes.example", &[closes_at_once]),
        ("garbage.example", &[garbage]),
        ("head.example", &[head_only]),
        ("body.example", &[mid_body]),
    ]));
    let config = RouterSettings { upstream_header_timeout: Duration::from_millis(300), ..config() };
    let router = Router::start(table.clone(), config).await;

    // The hanging upstream holds one client while others are answered.
    let addr = router.addr;
    let hung = tokio::spawn(async move {
        request_once(addr, b"GET / HTTP/1.1\r\nHost: hang.example\r\n\r\n").await.expect("a response")
    });
    for _ in 0..3 {
        assert_still_serving(&router).await;
    }
    let response = hung.await.expect("task");
    assert_eq!(response.status, 504);
    let text = String::from_utf8_lossy(&response.body).into_owned();
    assert!(text.contains("hang.example took too long to answer"), "{text}");

    // No response head yet: 502, and the page names nothing internal.
    for host in ["closes.example", "garbage.example", "head.example"] {
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let response = request_once(router.addr, request.as_bytes()).await;
        let response = response.unwrap_or_else(|| panic!("no response for {host}"));
        assert_eq!(response.status, 502, "{host}: {}", response.head);
        let text = String::from_utf8_lossy(&response.body).into_owned();
        assert!(!text.contains("127.0.0.1") && !text.contains("NOT HTTP") && !text.contains("hyper"), "{text}");
        assert_still_serving(&router).await;
    }

    // Broken after the head was forwarded: the client gets the head and part of the body, then
    // its connection ends (it can tell from the short body that the response is incomplete).
    let mut stream = connect(router.addr).await;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: body.example\r\n\r\n").await.expect("write");
    let response = read_response(&mut stream).await.expect("a response head");
    assert_eq!(response.status, 200);
    assert!(response.body.len() < 100_000, "the body is cut short");
    assert!(closes(&mut stream).await);

    assert_still_serving(&router).await;
    for backend in [hang, closes_at_once, garbage, head_only, mid_body] {
        assert!(table.drain(backend, HANG_GUARD).await, "{backend} has nothing in flight");
    }
}

#[tokio::test]
async fn a_body_growing_past_the_limit_after_the_response_started_closes_the_connection() {
    const LIMIT: u64 = 64 * 1024;
    // This app answers as soon as it has the request head, before reading the body.
    let (early, _task) = raw_upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nearly", false).await;
    let app = Upstream::start("app").await;
    let table = RouteTable::default();
    table.replace(routes(&[("early.example", &[early]), ("app.example", &[app.addr])]));
    let router = Router::start(table.clone(), RouterSettings { max_body_bytes: LIMIT, ..config() }).await;

    let mut stream = connect(router.addr).await;
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: early.example\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .expect("write head");
    // The response head reaches the client before any of the body is sent.
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(HANG_GUARD, stream.read(&mut byte)).await.expect("a head in time").expect("read");
        assert!(n > 0, "closed before the response head");
        buf.push(byte[0]);
    }
    assert!(buf.starts_with(b"HTTP/1.1 200 "), "{}", String::from_utf8_lossy(&buf));
    let (mut read, mut write) = stream.into_split();
    let writer: JoinHandle<()> = tokio::spawn(async move {
        let chunk = format!("{:x}\r\n{}\r\n", 8 * 1024, "c".repeat(8 * 1024));
        for _ in 0..(4 * LIMIT / (8 * 1024)) {
            if write.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        // Hold the connection open: only the router may end it.
        std::future::pending::<()>().await;
    });
    let ended = tokio::time::timeout(HANG_GUARD, read.read_to_end(&mut buf)).await;
    writer.abort();
    assert!(ended.is_ok(), "the router closes the connection");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200 "), "the response had started: {text}");
    assert!(text.len() < 100_000, "and is cut short");
    assert!(table.drain(early, HANG_GUARD).await, "nothing stays in flight");
    assert_still_serving(&router).await;
}
