//! The router as the agent runs it ([`slipway_router::Router`]): one single-threaded runtime per
//! worker, each with its own `SO_REUSEPORT` sockets on one shared address and its own upstream
//! pool. Checked over real sockets: every connection is served whichever worker accepts it,
//! keep-alive connections to the app are reused, route changes reach every worker, and
//! shutdown lets an in-flight request finish.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::support::{config, routes, Client, Upstream};
use http::StatusCode;
use slipway_router::{CertStore, Challenges, RouteTable, Router, RouterSpec};
use slipway_testkit::eventually;

fn spec(table: RouteTable, workers: usize) -> RouterSpec {
    RouterSpec {
        http: "127.0.0.1:0".parse().expect("addr"),
        https: None,
        table,
        config: config(),
        certs: CertStore::default(),
        challenges: Challenges::default(),
        workers,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_worker_serves_reuses_its_upstream_connections_and_sees_route_changes() {
    let (shop, blog) = (Upstream::start("shop").await, Upstream::start("blog").await);
    let table = RouteTable::default();
    table.replace(routes(&[("shop.example", &[shop.addr])]));
    let router = Router::start(spec(table.clone(), 3)).expect("router starts");
    let addr = router.http_addr();
    assert_ne!(addr.port(), 0, "port 0 is resolved to one port shared by the workers");

    // 24 client connections (the kernel spreads them over the 3 sockets), 10 requests each.
    let mut clients = Vec::new();
    for _ in 0..24 {
        clients.push(Client::connect(addr).await);
    }
    for _ in 0..10 {
        for client in &mut clients {
            let reply = client.get("shop.example", "/").await;
            assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "shop"));
        }
    }
    assert_eq!(shop.requests(), 240);
    // Each worker keeps its own pool, so at most as many upstream connections as requests ever
    // ran at once per worker; sequential requests reuse them.
    let opened = shop.state.connections.load(Ordering::SeqCst);
    assert!(opened <= 3, "pooled upstream connections are reused: {opened} opened for 240 sequential requests");

    // A route change made on another thread applies to every worker's next request.
    table.replace(routes(&[("shop.example", &[blog.addr])]));
    for client in &mut clients {
        assert_eq!(client.get("shop.example", "/").await.text(), "blog");
    }
    router.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_and_finishes_the_request_in_flight() {
    let app = Upstream::start("app").await;
    let table = RouteTable::default();
    table.replace(routes(&[("app.example", &[app.addr])]));
    let router = Router::start(spec(table, 2)).expect("router starts");
    let addr = router.http_addr();

    let mut client = Client::connect(addr).await;
    let waiting = tokio::spawn(async move { client.get("app.example", "/wait").await });
    app.state.arrived.notified().await;

    let shutdown = tokio::spawn(router.shutdown());
    // New connections are refused once every worker has closed its socket.
    eventually("every worker to close its listening socket", Duration::from_secs(5), async || {
        Client::try_connect(addr).await.is_err().then_some(())
    })
    .await;
    assert!(!shutdown.is_finished(), "shutdown waits for the request in flight");

    app.state.gate.notify_one();
    let reply = waiting.await.expect("client task");
    assert_eq!((reply.status, reply.text().as_str()), (StatusCode::OK, "app"));
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .expect("shutdown ends once the request is answered")
        .expect("join")
        .expect("clean shutdown");
}

#[tokio::test]
async fn a_port_taken_by_another_socket_is_an_error_not_a_shared_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut spec = spec(RouteTable::default(), 2);
    spec.http = taken.local_addr().expect("addr");
    let error = Router::start(spec).err().expect("binding a port held without SO_REUSEPORT fails");
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
}
