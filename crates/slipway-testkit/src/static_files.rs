//! A plain HTTP file server over a directory, on 127.0.0.1: the stand-in for
//! a download site (runtime mirrors) or a "dumb HTTP" git server (a bare
//! repository after `git update-server-info`). A directory answers with its
//! `index.json`; paths are percent-decoded; nothing outside the directory and
//! no dot-file is served. It stops when dropped.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

pub struct StaticFiles {
    pub url: String,
    requests: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StaticFiles {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StaticFiles {
    pub async fn serve(root: &Path) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the file server");
        let url = format!("http://127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let requests = Arc::new(AtomicU64::new(0));
        let (dir, counter) = (root.to_owned(), requests.clone());
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let (dir, counter) = (dir.clone(), counter.clone());
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        counter.fetch_add(1, Ordering::Relaxed);
                        let answer = answer(&dir, request.uri().path());
                        async move { Ok::<_, std::convert::Infallible>(answer) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, requests, task }
    }

    /// The requests served so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

fn answer(root: &Path, path: &str) -> hyper::Response<Full<Bytes>> {
    let decoded = slipway_core::percent::decode(path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let relative = decoded.as_deref().unwrap_or("..").trim_start_matches('/');
    let safe = !relative.split('/').any(|part| part == ".." || part.starts_with('.'));
    let mut file = root.join(relative);
    if file.is_dir() {
        file = file.join("index.json");
    }
    match std::fs::read(&file).ok().filter(|_| safe) {
        Some(bytes) => hyper::Response::new(Full::new(Bytes::from(bytes))),
        None => {
            let mut answer = hyper::Response::new(Full::new(Bytes::from_static(b"not found")));
            *answer.status_mut() = hyper::StatusCode::NOT_FOUND;
            answer
        }
    }
}
