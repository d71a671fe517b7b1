//! The static file server behind `slipway serve-static DIR`, the process a static site's
//! instances run on this machine (the agent supervises it like any app; in a cluster the
//! image runs busybox httpd instead, see `slipway-image`). It serves files,
//! `index.html` for directories, and `/index.html` for extension-less paths
//! that match no file (single-page apps route on the client). Dot-files and
//! dot-directories (`.git`, `.env`) are never served, except `.well-known`.
//! There are no directory listings.
//!
//! The files are the tenant's, and so hostile: nothing outside the site's
//! root is ever served. Each request path is decoded and refused if it has a
//! `..` (also spelt `%2e%2e`); the file it names is then resolved with one
//! `canonicalize` (every symlink followed, relative or absolute, file or
//! directory) and served only when its canonical path is still under the
//! canonical root — the same for a directory's `index.html` and the SPA
//! fallback. What is served is the canonical path itself, so the file
//! opened is the file checked (a symlink swapped in between could only come
//! from a writer of the release, which the sandbox makes read-only).
//!
//! A hard link has no target to resolve: a regular file with more than one
//! link whose owner is not the root's owner is refused. Tenant code runs as
//! its own uid, and the kernel's `protected_hardlinks` stops it linking files
//! it does not own, so such a file should not exist; the check keeps it out
//! of the response anyway, at the cost of reading the `stat` that replaces
//! the directory test the server did before. Only regular files are served
//! (a FIFO would hang the request). Refusals answer 404, like a missing file.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use slipway_core::percent;
use tower::ServiceExt;
use tower_http::services::ServeFile;

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
    let router = router(&dir)?;
    // Without TCP_NODELAY a file's body waits behind its head for the router's delayed ACK (40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}

/// The site's root, resolved once at start.
#[derive(Debug)]
struct Site {
    /// Canonical: no symlinks, no `.` or `..`.
    root: PathBuf,
    /// Owner of the root; hard-linked files of other owners are refused.
    owner: u32,
}

/// Where a request path leads.
#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    /// A regular file inside the root, by its canonical path.
    File(PathBuf),
    /// A directory asked for without its trailing `/`.
    AddSlash,
    /// Nothing there: the SPA fallback may answer.
    Missing,
    /// Outside the root, hidden, not a regular file or an unreadable path.
    Refused,
}

fn router(dir: &Path) -> io::Result<Router> {
    let root = std::fs::canonicalize(dir)
        .map_err(|err| io::Error::new(err.kind(), format!("cannot serve {}: {err}", dir.display())))?;
    let owner = std::fs::metadata(&root)?.uid();
    let site = Arc::new(Site { root, owner });
    Ok(Router::new().fallback(move |request: Request| answer(site.clone(), request)))
}

async fn answer(site: Arc<Site>, request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET,HEAD"));
        return response;
    }
    let raw_path = request.uri().path().to_owned();
    let Some(relative) = relative_path(&raw_path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let wants_directory = raw_path.ends_with('/');
    let spa_route = !relative.file_name().is_some_and(|name| name.to_string_lossy().contains('.'));
    let resolved = tokio::task::spawn_blocking(move || match site.resolve(&relative, wants_directory) {
        Resolved::Missing if spa_route => site.resolve(Path::new("index.html"), false),
        resolved => resolved,
    })
    .await
    .unwrap_or(Resolved::Refused);
    match resolved {
        Resolved::File(path) => match ServeFile::new(path).oneshot(request).await {
            Ok(response) => response.map(Body::new),
            Err(never) => match never {},
        },
        Resolved::AddSlash => {
            // Leading slashes collapsed: `//host/` would send the browser to another site.
            let mut location = format!("/{}/", raw_path.trim_start_matches('/'));
            if let Some(query) = request.uri().query() {
                location = format!("{location}?{query}");
            }
            match HeaderValue::try_from(location) {
                Ok(location) => (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response(),
                Err(_) => StatusCode::NOT_FOUND.into_response(),
            }
        }
        Resolved::Missing | Resolved::Refused => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The request path as a relative path of plain names: percent-decoded per
/// segment, empty and `.` segments dropped. `None` for `..`, hidden names,
/// an encoded `/`, `\` or NUL, and anything not UTF-8.
fn relative_path(raw: &str) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    for segment in raw.split('/') {
        let decoded = String::from_utf8(percent::decode(segment)?).ok()?;
        match decoded.as_str() {
            "" | "." => {}
            ".." => return None,
            name if hidden(name) || name.contains(['/', '\\', '\0']) => return None,
            name => path.push(name),
        }
    }
    Some(path)
}

fn hidden(name: &str) -> bool {
    name.starts_with('.') && name != ".well-known"
}

impl Site {
    /// Where `relative` (plain names only) leads, every symlink followed.
    fn resolve(&self, relative: &Path, wants_directory: bool) -> Resolved {
        let (real, meta) = match self.inside(&self.root.join(relative)) {
            Ok(found) => found,
            Err(resolved) => return resolved,
        };
        if !meta.is_dir() {
            return self.regular_file(real, &meta);
        }
        if !wants_directory {
            return Resolved::AddSlash;
        }
        match self.inside(&real.join("index.html")) {
            Ok((index, meta)) => self.regular_file(index, &meta),
            Err(resolved) => resolved,
        }
    }

    /// The canonical form of `path` and its metadata, if it exists and stays
    /// inside the root without passing a hidden name.
    fn inside(&self, path: &Path) -> Result<(PathBuf, std::fs::Metadata), Resolved> {
        const ENOTDIR: i32 = 20;
        let missing_or_refused = |err: io::Error| {
            if err.kind() == io::ErrorKind::NotFound || err.raw_os_error() == Some(ENOTDIR) {
                Resolved::Missing
            } else {
                // A symlink loop, a permission error: nothing to show.
                Resolved::Refused
            }
        };
        let real = std::fs::canonicalize(path).map_err(missing_or_refused)?;
        let within = real.strip_prefix(&self.root).map_err(|_| Resolved::Refused)?;
        if within.components().any(|c| matches!(c, Component::Normal(name) if hidden(&name.to_string_lossy()))) {
            return Err(Resolved::Refused);
        }
        // `real` has no symlinks left, so this `stat` is of the file itself.
        let meta = std::fs::metadata(&real).map_err(missing_or_refused)?;
        Ok((real, meta))
    }

    fn regular_file(&self, real: PathBuf, meta: &std::fs::Metadata) -> Resolved {
        if !meta.is_file() {
            return Resolved::Refused;
        }
        if meta.nlink() > 1 && meta.uid() != self.owner {
            return Resolved::Refused;
        }
        Resolved::File(real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    async fn get(dir: &Path, path: &str) -> (StatusCode, String) {
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response: Response = router(dir).expect("router").oneshot(request).await.expect("infallible");
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
        std::fs::create_dir_all(root.join(".well-known")).expect("mkdir");
        std::fs::write(root.join("index.html"), "<h1>home</h1>").expect("write");
        std::fs::write(root.join("app.js"), "console.log(1)").expect("write");
        std::fs::write(root.join("docs/index.html"), "<h1>docs</h1>").expect("write");
        std::fs::write(root.join(".git/config"), "secret").expect("write");
        std::fs::write(root.join(".env"), "SECRET=1").expect("write");
        std::fs::write(root.join(".well-known/security.txt"), "contact").expect("write");

        assert_eq!(get(root, "/").await, (StatusCode::OK, "<h1>home</h1>".to_owned()));
        assert_eq!(get(root, "/app.js").await, (StatusCode::OK, "console.log(1)".to_owned()));
        assert_eq!(get(root, "/docs/").await, (StatusCode::OK, "<h1>docs</h1>".to_owned()));
        assert_eq!(get(root, "/settings/profile").await, (StatusCode::OK, "<h1>home</h1>".to_owned()));
        assert_eq!(get(root, "/.well-known/security.txt").await.1, "contact");
        assert_eq!(get(root, "/%61pp.js").await.1, "console.log(1)", "percent-encoded names are decoded");
        assert_eq!(get(root, "/missing.js").await.0, StatusCode::NOT_FOUND);
        for hidden in ["/.git/config", "/.env", "/%2egit/config", "/%2Eenv", "/docs/../.env"] {
            assert_eq!(get(root, hidden).await.0, StatusCode::NOT_FOUND, "{hidden}");
        }
        assert_eq!(get(root, "/../../etc/passwd").await.0, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn directories_without_a_slash_redirect_on_this_site_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("docs")).expect("mkdir");
        std::fs::write(dir.path().join("docs/index.html"), "docs").expect("write");
        let router = router(dir.path()).expect("router");
        for (path, location) in [("/docs", "/docs/"), ("//docs?x=1", "/docs/?x=1")] {
            let request = Request::get(path).body(Body::empty()).expect("request");
            let response = router.clone().oneshot(request).await.expect("infallible");
            assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT, "{path}");
            assert_eq!(response.headers()[header::LOCATION], location, "{path}");
        }
        let post = Request::post("/docs/").body(Body::empty()).expect("request");
        assert_eq!(router.oneshot(post).await.expect("infallible").status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn request_paths_become_plain_names_or_nothing() {
        assert_eq!(relative_path("/a/./b//c"), Some(PathBuf::from("a/b/c")));
        assert_eq!(relative_path("/"), Some(PathBuf::new()));
        for refused in
            ["/..", "/a/../b", "/%2e%2e/x", "/%2E%2E", "/.%2e/x", "/a%2fb", "/a%5cb", "/a%00", "/%ff", "/%zz", "/%"]
        {
            assert_eq!(relative_path(refused), None, "{refused}");
        }
    }

    #[test]
    fn a_missing_root_is_an_error_that_names_it() {
        let err = router(Path::new("/nonexistent/site")).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/site"), "{err}");
    }
}
