//! The access log end to end: one JSON line per request in its site's file, written off the
//! request path, rotated, sampled, and dropped (and counted) rather than waited for.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use slipway_logs::{rotated_nth, Rotation};
use slipway_router::{AccessLog, AccessLogMode, AccessLogName, Metrics, RouteTable, RouteTarget, RouterSettings};
use slipway_testkit::eventually;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{config, full, Client, Router, Upstream};

const SITE: &str = "env-shop";

struct Logged {
    dir: tempfile::TempDir,
    metrics: Metrics,
    access_log: AccessLog,
    router: Router,
    app: Upstream,
}

impl Logged {
    /// A router with `app.example` → an upstream logged as [`SITE`], and `empty.example` with
    /// no instance, in the same site.
    async fn start(mode: AccessLogMode, rotation: Rotation) -> Logged {
        Self::start_in(tempfile::tempdir().expect("temp dir"), mode, rotation).await
    }

    async fn start_in(dir: tempfile::TempDir, mode: AccessLogMode, rotation: Rotation) -> Logged {
        let app = Upstream::start("app").await;
        let site = Some(AccessLogName::parse(SITE).expect("a name"));
        let table = RouteTable::default();
        table.replace(HashMap::from([
            ("app.example".to_owned(), RouteTarget { backends: vec![app.addr], access_log: site.clone() }),
            ("empty.example".to_owned(), RouteTarget { backends: vec![], access_log: site }),
        ]));
        let metrics = Metrics::default();
        let access_log = AccessLog::start(dir.path().to_owned(), mode, rotation, &metrics).expect("access log");
        let settings = RouterSettings { access_log: access_log.clone(), metrics: metrics.clone(), ..config() };
        let router = Router::start(table, settings).await;
        Logged { dir, metrics, access_log, router, app }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    /// Every line of `name`'s file, each parsed (a line that is not JSON fails the test).
    fn lines(&self, name: &str) -> Vec<serde_json::Value> {
        assert!(self.access_log.flush(Duration::from_secs(10)), "the access log flushes");
        parse(&self.file(name))
    }

    fn counted(&self, outcome: &str) -> u64 {
        let text = self.metrics.render();
        let prefix = format!("slipway_router_access_log_lines_total{{outcome=\"{outcome}\"}} ");
        let line = text.lines().find_map(|line| line.strip_prefix(&prefix)).expect("the counter is rendered");
        line.parse().expect("a count")
    }
}

fn parse(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))).collect()
}

async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn each_request_gets_one_json_line_in_its_sites_file() {
    let logged = Logged::start(AccessLogMode::On, Rotation::DEFAULT).await;
    let mut client = Client::connect(logged.router.addr).await;
    let request = Request::get("/hello?token=secret").header("host", "App.Example").header("x-request-id", "req-42");
    let reply = client.send(request.body(full(Bytes::new())).expect("request")).await.expect("response");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(client.get("empty.example", "/").await.status, StatusCode::BAD_GATEWAY);
    let reply = client.get("nowhere.example", "/x\"y").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let generated = reply.header("x-request-id").expect("an id").to_owned();
    // A request hyper cannot parse (and answers 400 itself) is logged too, without host or path.
    assert!(raw(logged.router.addr, b"GARBAGE\r\n\r\n").await.starts_with("HTTP/1.1 400"));

    let site = logged.lines(SITE);
    assert_eq!(site.len(), 2, "{site:?}");
    let first = &site[0];
    assert_eq!(first["host"], "app.example");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["path"], "/hello", "the query is not logged");
    assert_eq!(first["status"], 200);
    assert_eq!(first["bytes"], 3);
    assert_eq!(first["request_id"], "req-42");
    assert_eq!(first["backend"], logged.app.addr.to_string());
    assert_eq!(first["client"], "127.0.0.1");
    assert!(first["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert!(first["time"].as_str().is_some_and(|time| time.ends_with('Z')));
    assert_eq!(site[1]["host"], "empty.example");
    assert_eq!(site[1]["status"], 502);
    assert_eq!(site[1]["backend"], serde_json::Value::Null);
    assert!(site[1]["error"].is_string(), "a line the router answered itself says why: {}", site[1]);
    assert!(first.get("error").is_none(), "{first}");

    let unrouted = logged.lines("_unrouted");
    assert_eq!(unrouted.len(), 2, "{unrouted:?}");
    assert_eq!(unrouted[0]["host"], "nowhere.example");
    assert_eq!(unrouted[0]["path"], "/x\"y");
    assert_eq!(unrouted[0]["status"], 404);
    assert_eq!(unrouted[0]["request_id"], generated.as_str());
    let refused = &unrouted[1];
    assert_eq!((refused["host"].is_null(), refused["path"].is_null(), &refused["status"]), (true, true, &400.into()));
    assert!(refused["error"].as_str().is_some_and(|error| error.contains("invalid")), "{refused}");
    assert!(refused["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(logged.counted("written"), 4);
    assert_eq!(logged.counted("dropped"), 0);
}

#[tokio::test]
async fn hostile_hosts_and_paths_are_cut_escaped_and_still_json() {
    let logged = Logged::start(AccessLogMode::On, Rotation::DEFAULT).await;
    let addr = logged.router.addr;
    let long_host = "h".repeat(8 * 1024);
    let long_path = format!("/{}", "p%22\\".repeat(2048));
    let request = format!("GET {long_path} HTTP/1.1\r\nHost: {long_host}\r\nConnection: close\r\n\r\n");
    assert!(raw(addr, request.as_bytes()).await.starts_with("HTTP/1.1 404"));
    let answer = raw(addr, b"GET /cafe HTTP/1.1\r\nHost: sh\xffp.example\r\nConnection: close\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    // Not UTF-8, and a control byte, in the request line: hyper refuses both.
    for line in [b"GET /caf\xff\xfe HTTP/1.1".as_slice(), b"GET /a\"b\x01 HTTP/1.1"] {
        let answer = raw(addr, &[line, b"\r\nHost: app.example\r\nConnection: close\r\n\r\n"].concat()).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    }

    let lines = logged.lines("_unrouted");
    assert_eq!(lines.len(), 4, "{lines:?}");
    let host = lines[0]["host"].as_str().expect("the host");
    assert!(host.starts_with("hhhh") && host.ends_with('…') && host.len() <= 256, "{} bytes", host.len());
    let path = lines[0]["path"].as_str().expect("the path");
    assert!(path.starts_with("/p%22") && path.ends_with('…') && path.len() <= 2048, "{} bytes", path.len());
    // Bytes that are not UTF-8 are replaced, never written raw.
    assert_eq!(lines[1]["host"], "sh\u{fffd}p.example");
    assert_eq!(lines[1]["status"], 400);
    for refused in &lines[2..] {
        assert!(refused["error"].is_string() && refused["path"].is_null(), "{refused}");
    }
}

#[tokio::test]
async fn files_rotate_at_the_configured_size_and_keep_the_configured_count() {
    let rotation = Rotation { max_bytes: 2048, keep: 2 };
    let logged = Logged::start(AccessLogMode::On, rotation).await;
    let mut client = Client::connect(logged.router.addr).await;
    for _ in 0..60 {
        assert_eq!(client.get("app.example", "/").await.status, StatusCode::OK);
    }
    logged.lines(SITE);
    let live = logged.file(SITE);
    for path in [live.clone(), rotated_nth(&live, 1), rotated_nth(&live, 2)] {
        let size = std::fs::metadata(&path).map(|meta| meta.len()).unwrap_or(0);
        assert!(size > 0 && size <= 2048, "{} holds {size} bytes", path.display());
        parse(&path); // whole lines only: every one parses
    }
    assert!(!rotated_nth(&live, 3).exists(), "only two rotated files are kept");
}

#[tokio::test]
async fn sampling_keeps_one_in_n_and_every_failure() {
    let logged = Logged::start(AccessLogMode::Sample(3.try_into().expect("3")), Rotation::DEFAULT).await;
    let mut client = Client::connect(logged.router.addr).await;
    for _ in 0..9 {
        assert_eq!(client.get("app.example", "/").await.status, StatusCode::OK);
    }
    for _ in 0..2 {
        assert_eq!(client.get("empty.example", "/").await.status, StatusCode::BAD_GATEWAY);
    }
    let lines = logged.lines(SITE);
    let status = |code: u64| lines.iter().filter(|line| line["status"] == code).count();
    assert_eq!((status(200), status(502)), (3, 2), "{lines:?}");
}

#[tokio::test]
async fn off_writes_nothing() {
    let logged = Logged::start(AccessLogMode::Off, Rotation::DEFAULT).await;
    assert_eq!(logged.router.get("app.example", "/").await.status, StatusCode::OK);
    assert!(!logged.access_log.flush(Duration::from_secs(1)), "there is no writer to flush");
    assert_eq!(std::fs::read_dir(logged.dir.path()).expect("dir").count(), 0);
}

/// A log directory that cannot be written (here a file stands where it should be): requests
/// are served all the same, the lines are dropped and counted, and writing resumes by itself.
#[tokio::test]
async fn an_unwritable_log_directory_drops_and_counts_and_resumes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = dir.path().join("logs");
    std::fs::write(&logs, "not a directory").expect("write");
    let app = Upstream::start("app").await;
    let table = RouteTable::default();
    table.replace(HashMap::from([("app.example".to_owned(), vec![app.addr])]));
    let metrics = Metrics::default();
    let access_log =
        AccessLog::start(logs.clone(), AccessLogMode::On, Rotation::DEFAULT, &metrics).expect("access log");
    let router =
        Router::start(table, RouterSettings { access_log: access_log.clone(), metrics: metrics.clone(), ..config() })
            .await;
    let counted = |outcome: &str| {
        let prefix = format!("slipway_router_access_log_lines_total{{outcome=\"{outcome}\"}} ");
        let text = metrics.render();
        text.lines().find_map(|line| line.strip_prefix(&prefix).map(str::to_owned)).expect("rendered").parse::<u64>()
    };
    for _ in 0..20 {
        assert_eq!(router.get("app.example", "/").await.status, StatusCode::OK);
    }
    assert!(access_log.flush(Duration::from_secs(10)));
    assert_eq!((counted("dropped"), counted("written")), (Ok(20), Ok(0)));

    std::fs::remove_file(&logs).expect("remove");
    eventually("the access log written again", Duration::from_secs(30), async || {
        assert_eq!(router.get("app.example", "/").await.status, StatusCode::OK);
        access_log.flush(Duration::from_secs(10));
        (counted("written").unwrap_or(0) > 0).then_some(())
    })
    .await;
    assert!(!parse(&logs.join("_unrouted.log")).is_empty());
}

/// The writer is held in `open` on a FIFO nobody reads, as a hung disk would hold it; requests
/// go on being answered, the queue stays bounded and what does not fit is dropped and counted.
#[tokio::test]
async fn a_stalled_writer_drops_and_counts_instead_of_blocking_requests() {
    const REQUESTS: u64 = 12_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join(format!("{SITE}.log"));
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let logged = Logged::start_in(dir, AccessLogMode::On, Rotation::DEFAULT).await;

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let addr = logged.router.addr;
        tasks.spawn(async move {
            let mut client = Client::connect(addr).await;
            for _ in 0..REQUESTS / 8 {
                assert_eq!(client.get("app.example", "/").await.status, StatusCode::OK);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("every request is answered while the log is stuck");
    }
    let dropped = logged.counted("dropped");
    // What the writer took before it stuck (at most one 64 KiB buffer) plus the queue.
    assert!(dropped >= REQUESTS - 8192 - 1024, "{dropped} of {REQUESTS} dropped: the queue must be bounded");
    assert_eq!(logged.counted("written"), 0);

    // A reader comes: the writer goes on with what it kept.
    let (chunks, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut fifo = std::fs::File::open(&fifo).expect("open the FIFO");
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(n @ 1..) = fifo.read(&mut buffer) {
            if chunks.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    eventually("the kept lines written", Duration::from_secs(30), async || {
        (logged.counted("written") + dropped >= REQUESTS).then_some(())
    })
    .await;
    assert_eq!(logged.counted("written") + logged.counted("dropped"), REQUESTS);
    let mut text = Vec::new();
    while text.iter().filter(|&&b| b == b'\n').count() < usize::try_from(logged.counted("written")).expect("count") {
        text.extend(received.recv_timeout(Duration::from_secs(30)).expect("the written lines arrive"));
    }
    for line in String::from_utf8(text).expect("UTF-8").lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
}
