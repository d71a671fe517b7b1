//! The static file server behind `slipway serve-static DIR`: files,
//! `index.html` for directories, and `/index.html` for extension-less paths
//! that match no file (single-page apps route on the client). Dot-files and
//! dot-directories (`.git`, `.env`) are never served, except `.well-known`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::Request;
use axum::handler::HandlerWithoutStateExt;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

/// Serves `dir` on `addr` until `shutdown` completes, then drains open requests.
pub async fn serve_static(
    dir: PathBuf,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_static_on(listener, dir, shutdown).await
}

/// [`serve_static`] on a listener already bound (tests bind port 0).
pub async fn serve_static_on(
    listener: tokio::net::TcpListener,
    dir: PathBuf,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // Without TCP_NODELAY a file's body waits behind its head for the router's delayed ACK (40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(dir)).with_graceful_shutdown(shutdown).await
}

fn router(dir: PathBuf) -> Router {
    let index = dir.join("index.html");
    let spa = move |request: Request| async move {
        let last = request.uri().path().rsplit('/').next().unwrap_or_default();
        if last.contains('.') || !index.is_file() {
            return StatusCode::NOT_FOUND.into_response();
        }
        match ServeFile::new(&index).oneshot(request).await {
            Ok(response) => response.map(Body::new),
            Err(never) => match never {},
        }
    };
    let files = ServeDir::new(dir).append_index_html_on_directories(true).fallback(spa.into_service());
    let guarded = move |request: Request| {
        let files = files.clone();
        async move {
            let hidden = request.uri().path().split('/').any(|s| s.starts_with('.') && s != ".well-known");
            if hidden {
                return StatusCode::NOT_FOUND.into_response();
            }
            match files.oneshot(request).await {
                Ok(response) => response.map(Body::new),
                Err(never) => match never {},
            }
        }
    };
    Router::new().fallback(guarded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use axum::response::Response;

    async fn get(dir: &std::path::Path, path: &str) -> (StatusCode, String) {
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response: Response = router(dir.to_owned()).oneshot(request).await.expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn files_directories_spa_fallback_and_hidden_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("docs")).expect("mkdir");
        std::fs::create_dir_all(root.join(".git")).expect("mkdir");
        std::fs::write(root.join("index.html"), "<h1>home</h1>").expect("write");
        std::fs::write(root.join("app.js"), "console.log(1)").expect("write");
        std::fs::write(root.join("docs/index.html"), "<h1>docs</h1>").expect("write");
        std::fs::write(root.join(".git/config"), "secret").expect("write");
        std::fs::write(root.join(".env"), "SECRET=1").expect("write");

        assert_eq!(get(root, "/").await, (StatusCode::OK, "<h1>home</h1>".to_owned()));
        assert_eq!(get(root, "/app.js").await, (StatusCode::OK, "console.log(1)".to_owned()));
        assert_eq!(get(root, "/docs/").await, (StatusCode::OK, "<h1>docs</h1>".to_owned()));
        assert_eq!(get(root, "/settings/profile").await, (StatusCode::OK, "<h1>home</h1>".to_owned()));
        assert_eq!(get(root, "/missing.js").await.0, StatusCode::NOT_FOUND);
        assert_eq!(get(root, "/.git/config").await.0, StatusCode::NOT_FOUND);
        assert_eq!(get(root, "/.env").await.0, StatusCode::NOT_FOUND);
        assert_eq!(get(root, "/../../etc/passwd").await.0, StatusCode::NOT_FOUND);
    }
}
