//! The static file server behind `slipway serve-static DIR`, on real sockets: the sample
//! site, and a root next to a secret that no request may reach, whatever its spelling or the
//! links inside the root.

use slipway_agent::serve_static_on;

#[tokio::test]
async fn static_site_is_served_from_its_folder() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/static/public");
    // What `slipway serve-static public` does, on a port bound here.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_static_on(listener, folder, async move {
        let _ = stopped.await;
    }));
    let body = reqwest::get(format!("http://127.0.0.1:{port}/")).await.expect("GET /").text().await.expect("body");
    assert!(body.contains("hello from a static site"), "{body}");
    let spa = reqwest::get(format!("http://127.0.0.1:{port}/some/route")).await.expect("GET");
    assert_eq!(spa.status(), 200);
    let _ = stop.send(());
    server.await.expect("join").expect("server ran and stopped cleanly");
}

/// A static site served by `serve_static_on`, stopped on drop, next to a
/// secret outside its root that no request may reach.
struct Site {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    outside: std::path::PathBuf,
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

const SECRET: &str = "TOP SECRET of another tenant";

impl Site {
    /// A root with `index.html`, `app.js`, `docs/index.html`, and beside it
    /// `outside/secret.txt` and `outside/dir/secret.txt`; `arrange` adds more
    /// before the server starts.
    async fn start(arrange: impl FnOnce(&std::path::Path, &std::path::Path)) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let (root, outside) = (dir.path().join("site"), dir.path().join("outside"));
        std::fs::create_dir_all(root.join("docs")).expect("mkdir");
        std::fs::create_dir_all(outside.join("dir")).expect("mkdir");
        std::fs::write(root.join("app.js"), "console.log(1)").expect("write");
        std::fs::write(root.join("docs/index.html"), "<h1>docs</h1>").expect("write");
        std::fs::write(outside.join("secret.txt"), SECRET).expect("write");
        std::fs::write(outside.join("dir/secret.txt"), SECRET).expect("write");
        arrange(&root, &outside);
        if root.join("index.html").symlink_metadata().is_err() {
            std::fs::write(root.join("index.html"), "<h1>home</h1>").expect("write");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_static_on(listener, root.clone(), async move {
            let _ = stopped.await;
        }));
        Site { _dir: dir, root, outside, port, stop: Some(stop) }
    }

    /// `GET path` sent as written (no client-side normalisation of `..` or
    /// `%2e%2e`): the status and the body.
    async fn get(&self, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: site.localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("receive");
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status line");
        let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
        (status, body)
    }

    /// Asserts that `path` answers 404 without a byte of the secret.
    async fn refuses(&self, path: &str) {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 404, "{path} answered {status}: {body}");
        assert!(!body.contains(SECRET), "{path} leaked the secret");
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[tokio::test]
async fn symlinks_out_of_the_root_are_refused_and_those_within_it_are_served() {
    use std::os::unix::fs::symlink;
    let site = Site::start(|root, outside| {
        symlink(outside.join("secret.txt"), root.join("absolute.txt")).expect("symlink");
        symlink("../outside/secret.txt", root.join("relative.txt")).expect("symlink");
        symlink(outside.join("dir"), root.join("linked-dir")).expect("symlink");
        symlink("../../outside", root.join("docs/up")).expect("symlink");
        symlink("/etc/passwd", root.join("passwd")).expect("symlink");
        symlink("/", root.join("slash")).expect("symlink");
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        symlink(outside.join("secret.txt"), root.join("sub/index.html")).expect("symlink");
        // Links that stay inside: relative, absolute, to a file and to a directory.
        symlink("app.js", root.join("latest.js")).expect("symlink");
        symlink(root.join("app.js"), root.join("absolute-inside.js")).expect("symlink");
        symlink("docs", root.join("guide")).expect("symlink");
        symlink("loop-b", root.join("loop-a")).expect("symlink");
        symlink("loop-a", root.join("loop-b")).expect("symlink");
        symlink(".git-secret", root.join("to-hidden")).expect("symlink");
        std::fs::write(root.join(".git-secret"), SECRET).expect("write");
    })
    .await;

    for path in [
        "/absolute.txt",
        "/relative.txt",
        "/linked-dir/secret.txt",
        "/linked-dir/",
        "/docs/up/secret.txt",
        "/passwd",
        "/slash/etc/passwd",
        "/sub/",
        "/loop-a",
        "/to-hidden",
    ] {
        site.refuses(path).await;
    }
    assert_eq!(site.get("/latest.js").await, (200, "console.log(1)".to_owned()));
    assert_eq!(site.get("/absolute-inside.js").await, (200, "console.log(1)".to_owned()));
    assert_eq!(site.get("/guide/").await, (200, "<h1>docs</h1>".to_owned()));
    assert_eq!(site.get("/").await, (200, "<h1>home</h1>".to_owned()));
    assert_eq!(site.get("/docs/").await, (200, "<h1>docs</h1>".to_owned()));
    assert_eq!(site.get("/some/route").await, (200, "<h1>home</h1>".to_owned()));
    assert!(site.root.join("passwd").symlink_metadata().is_ok() && site.outside.exists());
}

#[tokio::test]
async fn a_symlinked_index_html_is_not_served_as_the_spa_fallback_either() {
    let site = Site::start(|root, outside| {
        std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("index.html")).expect("symlink");
    })
    .await;
    for path in ["/", "/index.html", "/some/route", "/settings/profile/"] {
        site.refuses(path).await;
    }
    assert_eq!(site.get("/app.js").await, (200, "console.log(1)".to_owned()));
}

#[tokio::test]
async fn traversal_in_any_spelling_is_refused() {
    let site = Site::start(|_, _| {}).await;
    for path in [
        "/../outside/secret.txt",
        "/docs/../../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/%2E%2E/outside/secret.txt",
        "/.%2e/outside/secret.txt",
        "/%2e./outside/secret.txt",
        "/docs/%2e%2e/%2e%2e/outside/secret.txt",
        "/..%2foutside%2fsecret.txt",
        "/%2e%2e%2foutside%2fsecret.txt",
        "/..%5coutside%5csecret.txt",
        "/%2egit/config",
        "/%252e%252e/outside/secret.txt",
    ] {
        site.refuses(path).await;
    }
}

#[tokio::test]
async fn hard_links_to_files_of_other_owners_and_special_files_are_refused() {
    use std::os::unix::fs::MetadataExt;
    let site = Site::start(|root, outside| {
        // A file owned by someone else, hard-linked into the site. Tenant code
        // cannot make this link (it runs as its own uid and the kernel's
        // protected_hardlinks forbids linking files one does not own); root
        // can, which is how this test builds the case the server must refuse.
        let foreign = outside.join("foreign.txt");
        std::fs::write(&foreign, SECRET).expect("write");
        if let Err(err) = std::os::unix::fs::chown(&foreign, Some(54_321), Some(54_321)) {
            panic!("this test needs root to create a file owned by another user (chown failed: {err})");
        }
        std::fs::hard_link(&foreign, root.join("foreign.txt")).expect("hard link");
        // The site owner's own file, hard-linked (as builds and caches do): served.
        std::fs::hard_link(root.join("app.js"), root.join("app-copy.js")).expect("hard link");
        let fifo = std::process::Command::new("mkfifo").arg(root.join("pipe.txt")).status().expect("mkfifo runs");
        assert!(fifo.success(), "mkfifo failed");
    })
    .await;
    assert_eq!(std::fs::metadata(site.root.join("foreign.txt")).expect("stat").nlink(), 2);
    site.refuses("/foreign.txt").await;
    site.refuses("/pipe.txt").await;
    assert_eq!(site.get("/app-copy.js").await, (200, "console.log(1)".to_owned()));
}
