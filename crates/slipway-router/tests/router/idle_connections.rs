//! Thousands of idle keep-alive connections: the router keeps serving new clients, and its
//! memory grows by a bounded amount per connection. Its own test binary, so that no other test
//! runs in the process while its resident set size is measured.

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::{config, routes, Router, Upstream};
use http::StatusCode;
use slipway_router::RouteTable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WANTED: usize = 2_000;
/// A generous bound; the measured figure is printed.
const MAX_BYTES_PER_CONNECTION: u64 = 64 * 1024;

fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status.lines().find(|line| line.starts_with(field)).expect("field in /proc/self/status");
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("a number of KiB")
}

fn open_files_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("read /proc/self/limits");
    let line = limits.lines().find(|line| line.starts_with("Max open files")).expect("open files line");
    line.split_whitespace().nth(3).and_then(|soft| soft.parse().ok()).unwrap_or(1024)
}

/// Opens a connection and makes one keep-alive request on it, so the router has a real,
/// now idle, HTTP/1.1 connection.
async fn idle_connection(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(b"GET / HTTP/1.1\r\nHost: app.example\r\n\r\n").await.expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !(buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.ends_with(b"app")) {
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(n > 0, "the router closed a fresh keep-alive connection");
        buf.extend_from_slice(&chunk[..n]);
    }
    assert!(buf.starts_with(b"HTTP/1.1 200 "), "{}", String::from_utf8_lossy(&buf));
    stream
}

#[tokio::test]
async fn thousands_of_idle_connections_cost_bounded_memory_and_block_no_one() {
    // Each connection takes two descriptors in this process (the client's and the router's).
    let limit = open_files_limit();
    let count = WANTED.min(limit.saturating_sub(256) / 2);
    assert!(count >= 100, "open files limit {limit} is too low for this test");

    let app = Upstream::start("app").await;
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[app.addr])]));
    let router = Router::start(table, config()).await;

    // Warm up allocator arenas and the upstream pool so the measurement sees connections only.
    let warm: Vec<TcpStream> = futures::future::join_all((0..64).map(|_| idle_connection(router.addr))).await;
    drop(warm);

    let before = proc_status_kib("VmRSS:");
    let mut idle = Vec::with_capacity(count);
    for _ in 0..count {
        idle.push(idle_connection(router.addr).await);
    }
    let after = proc_status_kib("VmRSS:");

    // A new client is served while all of them sit idle.
    let reply = router.get("app.example", "/").await;
    assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "app"));

    let per_connection = after.saturating_sub(before) * 1024 / count as u64;
    println!(
        "{count} idle keep-alive connections: RSS {before} KiB -> {after} KiB, {per_connection} bytes per \
         connection (router and client side together)"
    );
    assert!(
        per_connection < MAX_BYTES_PER_CONNECTION,
        "{per_connection} bytes per idle connection (RSS {before} KiB -> {after} KiB for {count})"
    );
    drop(idle);
}
