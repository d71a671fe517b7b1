//! What the router does with each kind of response an upstream may send to a request without a
//! body (the exchanges the router's own HTTP/1.1 client handles): every framing RFC 9112 allows,
//! interim responses, connection reuse only when the message ended where its framing said, and
//! hostile or broken responses — desync attempts, conflicting lengths, oversized heads — which
//! end in a 502 or a cut-off body and never leak into the next request.
//!
//! Each upstream here is a raw socket answering every request head it reads with the same bytes,
//! and counting the connections it accepted (reuse shows as fewer connections than requests).

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::{config, full, routes, Client, Router};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use slipway_router::RouteTable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An upstream that answers each request head with `answer`, then closes if `close` is set.
struct Scripted {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    async fn start(answer: &'static [u8], close: bool) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (count, seen) = (connections.clone(), heads.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head: Vec<u8> = buf.drain(..end + 4).collect();
                            seen.lock().unwrap().push(String::from_utf8_lossy(&head).into_owned());
                            if stream.write_all(answer).await.is_err() || close {
                                return;
                            }
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        Scripted { addr, connections, heads }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn router_for(upstream: &Scripted) -> Router {
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[upstream.addr]), ("other.example", &[upstream.addr])]));
    Router::start(table, config()).await
}

/// Sends one request on a new client connection; the status and the body, or the error that cut
/// the body off.
async fn fetch(router: &Router, method: Method) -> (StatusCode, Result<Vec<u8>, String>) {
    let mut client = Client::connect(router.addr).await;
    let request = Request::builder().method(method).uri("/page?q=1").header("host", "app.example");
    let response = client.send_streaming(request.body(full("")).unwrap()).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.map(|body| body.to_bytes().to_vec()).map_err(|e| e.to_string());
    (status, body)
}

#[tokio::test]
async fn every_framing_is_read_to_its_end_and_the_connection_reused_when_it_may_be() {
    // (what the upstream sends, what the client must get, whether the connection is reused)
    let cases: [(&'static [u8], &[u8], bool); 7] = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello", true),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello", b"hello", true),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", b"", true),
        // Chunked with an extension, a trailer, and a chunk split across the size boundary.
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
            b"hello world",
            true,
        ),
        // Interim responses are skipped; the final one is passed on.
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            b"ok",
            true,
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b"", true),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", b"ok", false),
    ];
    for (answer, expected, reused) in cases {
        let upstream = Scripted::start(answer, false).await;
        let router = router_for(&upstream).await;
        for _ in 0..2 {
            let (status, body) = fetch(&router, Method::GET).await;
            assert!(status.is_success(), "{}: {status}", String::from_utf8_lossy(answer));
            assert_eq!(body.as_deref(), Ok(expected), "{}", String::from_utf8_lossy(answer));
        }
        let want = if reused { 1 } else { 2 };
        assert_eq!(upstream.connections(), want, "connections for {}", String::from_utf8_lossy(answer));
    }

    // The app sees the request as sent (origin form, Host, forwarding headers), once per request.
    let upstream = Scripted::start(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false).await;
    let router = router_for(&upstream).await;
    let (status, _) = fetch(&router, Method::DELETE).await;
    assert_eq!(status, StatusCode::OK);
    let heads = upstream.heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    assert!(heads[0].starts_with("DELETE /page?q=1 HTTP/1.1\r\n"), "{}", heads[0]);
    for field in ["host: app.example\r\n", "x-forwarded-for: 127.0.0.1\r\n", "x-request-id: "] {
        assert!(heads[0].contains(field), "{field} in {}", heads[0]);
    }
}

#[tokio::test]
async fn a_body_until_close_and_a_head_response_are_framed_as_rfc_9112_says() {
    // No length at all: the body is everything until the upstream closes.
    let upstream = Scripted::start(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", true).await;
    let router = router_for(&upstream).await;
    let (status, body) = fetch(&router, Method::GET).await;
    assert_eq!((status, body.as_deref()), (StatusCode::OK, Ok(&b"all of it"[..])));

    // HEAD: the Content-Length describes the body a GET would get; none follows.
    let upstream = Scripted::start(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false).await;
    let router = router_for(&upstream).await;
    for _ in 0..2 {
        let (status, body) = fetch(&router, Method::HEAD).await;
        assert_eq!((status, body.as_deref()), (StatusCode::OK, Ok(&b""[..])));
    }
    assert_eq!(upstream.connections(), 1, "the connection carries the next request");
}

#[tokio::test]
async fn a_response_smuggled_behind_another_never_answers_the_next_request() {
    // Content-Length and Transfer-Encoding together (the body is framed by the chunking alone,
    // which ends before the bytes that look like a second response; the client gets no
    // Content-Length), and a body longer than its Content-Length: either way the leftover must
    // not be read as the next request's response.
    // A message with both is not trusted to end where either says, even with nothing after it.
    let cases: [&'static [u8]; 3] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ];
    for answer in cases {
        let upstream = Scripted::start(answer, false).await;
        let router = router_for(&upstream).await;
        for _ in 0..3 {
            let (status, body) = fetch(&router, Method::GET).await;
            assert_eq!(
                (status, body.as_deref()),
                (StatusCode::OK, Ok(&b"hello"[..])),
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
        assert_eq!(upstream.connections(), 3, "no connection reused after {}", String::from_utf8_lossy(answer));
    }
}

#[tokio::test]
async fn malformed_heads_are_a_502_that_names_nothing_internal() {
    let many_fields: &'static [u8] = Box::leak(
        format!("HTTP/1.1 200 OK\r\n{}Content-Length: 0\r\n\r\n", "X-A: b\r\n".repeat(101))
            .into_bytes()
            .into_boxed_slice(),
    );
    let huge_head: &'static [u8] = Box::leak(
        format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 0\r\n\r\n", "a".repeat(70_000))
            .into_bytes()
            .into_boxed_slice(),
    );
    let cases: [&'static [u8]; 9] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip, chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
        many_fields,
        huge_head,
    ];
    for answer in cases {
        let shown = String::from_utf8_lossy(&answer[..answer.len().min(80)]).into_owned();
        let upstream = Scripted::start(answer, false).await;
        let router = router_for(&upstream).await;
        let (status, body) = fetch(&router, Method::GET).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{shown}");
        let page = String::from_utf8(body.unwrap()).unwrap();
        assert!(!page.contains("127.0.0.1") && !page.contains("Content-Length"), "{page}");
        // The router goes on serving.
        let fine = Scripted::start(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false).await;
        let (status, _) = fetch(&router_for(&fine).await, Method::GET).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_broken_chunked_body_is_cut_off_after_the_head() {
    // The head is fine, so it is passed on; the body breaks later, so the client's connection
    // ends before a complete body (it can tell the response is incomplete).
    let cases: [&'static [u8]; 3] = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
    ];
    for answer in cases {
        let upstream = Scripted::start(answer, true).await;
        let router = router_for(&upstream).await;
        let (status, body) = fetch(&router, Method::GET).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(answer));
        assert!(body.is_err(), "the body of {} is cut off: {body:?}", String::from_utf8_lossy(answer));
    }
}

#[tokio::test]
async fn a_pooled_connection_the_upstream_closed_is_not_used_again() {
    // The upstream answers and closes without saying so (no `Connection: close`): the idle
    // connection in the pool is found closed, and the next request opens a new one and succeeds.
    let upstream = Scripted::start(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true).await;
    let router = router_for(&upstream).await;
    let (status, _) = fetch(&router, Method::GET).await;
    assert_eq!(status, StatusCode::OK);
    // On loopback the close follows the response at once; the pause lets the router's event
    // loop take it in before the next request arrives.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    for _ in 0..3 {
        let (status, body) = fetch(&router, Method::GET).await;
        assert_eq!((status, body.as_deref()), (StatusCode::OK, Ok(&b"ok"[..])));
    }
    assert_eq!(upstream.connections(), 4);
}
