//! The static sample: nothing to build, served by `serve_static`.

use slipway_build::{detect, serve_static_on, Builder};

use crate::support::{build, built, Workspace};

#[tokio::test]
async fn static_site_is_served_from_its_folder() {
    let workspace = Workspace::new();
    let app_dir = workspace.app_from_example("static", "release-1");
    let plan = detect(&app_dir).expect("plan");
    assert_eq!(plan.stack, "static");
    let start = plan.start.clone().expect("start");
    let folder = start.strip_prefix("slipway serve-static ").expect("served by slipway serve-static");
    assert_eq!(folder, "public");
    let (result, log) = build(&Builder::new(1), &plan, workspace.request(&app_dir)).await;
    let app = built(result, &log);

    // What `slipway serve-static public` does, on a port bound here.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_static_on(listener, app.app_dir.join(folder), async move {
        let _ = stopped.await;
    }));
    let body = reqwest::get(format!("http://127.0.0.1:{port}/")).await.expect("GET /").text().await.expect("body");
    assert!(body.contains("hello from a static site"), "{body}");
    let spa = reqwest::get(format!("http://127.0.0.1:{port}/some/route")).await.expect("GET");
    assert_eq!(spa.status(), 200);
    let _ = stop.send(());
    server.await.expect("join").expect("server ran and stopped cleanly");
}
