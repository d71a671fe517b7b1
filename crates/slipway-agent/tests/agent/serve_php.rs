//! `slipway serve-php DIR` on real sockets with the machine's php-fpm and nginx
//! (`apt-get install php-fpm nginx`): the front controller, a static file,
//! the paths that are never served, and the instance dying with either program.

use std::path::Path;
use std::time::Duration;

use slipway_agent::{serve_php, ServePhpError};
use slipway_testkit::eventually;

const INDEX: &str = "<?php\nheader('Content-Type: text/plain');\n\
                     echo 'php ', PHP_VERSION, ' ', $_SERVER['REQUEST_URI'], ' ', ($_SERVER['PATH_INFO'] ?? '') ?: '-';\n";

/// A document root that is the app's root: composer.json, vendor/ and .env beside index.php.
fn app() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    for (path, content) in [
        ("index.php", INDEX),
        ("about.php", "<?php echo 'about';"),
        ("hello.txt", "static file\n"),
        ("composer.json", "{}"),
        ("composer.lock", "{}"),
        ("vendor/autoload.php", "<?php // vendor"),
        ("vendor/psr/log/README.md", "vendor"),
        (".env", "SECRET=do-not-serve"),
        (".git/config", "[core]"),
        (".well-known/security.txt", "Contact: x"),
    ] {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

async fn get(port: u16, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://127.0.0.1:{port}{path}")).await.expect("GET");
    (response.status().as_u16(), response.text().await.expect("body"))
}

/// The run directory of the serve-php listening on `port` (its nginx.conf says so).
fn run_dir_of(port: u16) -> Option<std::path::PathBuf> {
    let listen = format!("listen 127.0.0.1:{port};");
    std::fs::read_dir(std::env::temp_dir()).ok()?.flatten().map(|entry| entry.path()).find(|dir| {
        dir.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("slipway-php-"))
            && std::fs::read_to_string(dir.join("nginx.conf")).is_ok_and(|conf| conf.contains(&listen))
    })
}

/// Processes whose command line names `name` and `under` (a run directory).
fn pids_of(name: &str, under: &Path) -> Vec<i32> {
    let wanted = under.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (cmdline.contains(name) && cmdline.contains(&wanted)).then_some(pid)
        })
        .collect()
}

#[tokio::test]
async fn php_runs_behind_nginx_and_the_apps_secrets_are_never_served() {
    let app = app();
    let port = free_port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let root = app.path().to_path_buf();
    let server = tokio::spawn(serve_php(root, ([127, 0, 0, 1], port).into(), async move {
        let _ = stopped.await;
    }));
    let what = format!("serve-php to answer on port {port}");
    let (status, body) = eventually(&what, Duration::from_secs(30), async || {
        let response = reqwest::get(format!("http://127.0.0.1:{port}/")).await.ok()?;
        Some((response.status().as_u16(), response.text().await.ok()?))
    })
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("php 8.") || body.starts_with("php 7."), "{body}");
    // Every path without a file goes to the front controller, query string and all.
    let (status, body) = get(port, "/orders/42?page=2").await;
    assert_eq!(status, 200);
    assert!(body.ends_with(" /orders/42?page=2 -"), "{body}");
    let (status, body) = get(port, "/index.php/extra/path").await;
    assert_eq!(status, 200);
    assert!(body.ends_with("/index.php/extra/path /extra/path"), "{body}");
    assert_eq!(get(port, "/about.php").await, (200, "about".to_owned()));
    // Static files are nginx's; PHP source is never sent as a file.
    assert_eq!(get(port, "/hello.txt").await, (200, "static file\n".to_owned()));
    assert_eq!(get(port, "/missing.php").await.0, 404);
    for hidden in [
        "/.env",
        "/.git/config",
        "/vendor/autoload.php",
        "/vendor/psr/log/README.md",
        "/composer.json",
        "/composer.lock",
        "/VENDOR/autoload.php",
        "/%2eenv",
    ] {
        let (status, body) = get(port, hidden).await;
        assert_eq!(status, 404, "{hidden} answered {status}: {body}");
        assert!(!body.contains("SECRET") && !body.contains("vendor") && !body.contains("[core]"), "{hidden}: {body}");
    }
    assert_eq!(get(port, "/.well-known/security.txt").await, (200, "Contact: x".to_owned()));

    // A stop is a clean exit, and leaves neither program nor its directory behind.
    let run_dir = run_dir_of(port).expect("the run directory");
    assert!(!pids_of("php-fpm: master process", &run_dir).is_empty());
    let _ = stop.send(());
    let result = tokio::time::timeout(Duration::from_secs(30), server).await.expect("stops").expect("join");
    assert!(result.is_ok(), "{result:?}");
    assert!(!run_dir.exists(), "{} is left behind", run_dir.display());
    eventually("php-fpm and nginx to be gone", Duration::from_secs(10), async || {
        pids_of("php-fpm", &run_dir).is_empty().then_some(())
    })
    .await;
}

#[tokio::test]
async fn when_php_fpm_dies_nginx_is_stopped_and_serve_php_fails() {
    let app = app();
    let port = free_port();
    let root = app.path().to_path_buf();
    let server = tokio::spawn(serve_php(root, ([127, 0, 0, 1], port).into(), std::future::pending()));
    eventually("serve-php to answer", Duration::from_secs(30), async || {
        reqwest::get(format!("http://127.0.0.1:{port}/")).await.ok().filter(|r| r.status() == 200).map(drop)
    })
    .await;
    // This test's own php-fpm master: the one whose configuration is in its run directory.
    let run_dir = run_dir_of(port).expect("the run directory");
    let masters: Vec<i32> = pids_of("php-fpm: master process", &run_dir);
    assert!(!masters.is_empty(), "no php-fpm master of this test found");
    for pid in masters {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).expect("kill");
    }
    let result = tokio::time::timeout(Duration::from_secs(30), server).await.expect("serve-php exits").expect("join");
    match result {
        Err(ServePhpError::Exited(program, _)) => assert_eq!(program, "php-fpm"),
        other => panic!("serve-php should fail when php-fpm dies, got {other:?}"),
    }
    assert!(reqwest::get(format!("http://127.0.0.1:{port}/")).await.is_err(), "nginx still answers");
}

#[tokio::test]
async fn a_machine_without_php_fpm_is_told_what_to_install() {
    let err = ServePhpError::Missing(vec!["php-fpm", "nginx"]).to_string();
    assert!(err.contains("no php-fpm and no nginx") && err.contains("apt-get install php-fpm nginx"), "{err}");
}
