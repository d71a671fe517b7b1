//! `GET /metrics`: Prometheus text for platform admins only, with the
//! deployments by status and the router's figures the agent writes.

use reqwest::Method;
use slipway_store::Actor;
use slipway_testkit::TestBackend;

use super::harness::spawn_app_with_platform;
use slipway_core::names::{EnvironmentName, ProjectSlug};

both_backends!(metrics_are_for_admins_and_combine_the_store_and_the_router);

async fn metrics_are_for_admins_and_combine_the_store_and_the_router(backend: TestBackend) {
    let app = spawn_app_with_platform(backend).await;
    let owner = app.user("owner").await;
    let ws = app.workspace(&owner, "acme").await;
    app.project(&owner, "acme", "shop").await;
    let workspace = slipway_core::ids::WorkspaceId::parse(ws["id"].as_str().expect("test setup")).expect("test setup");
    app.store
        .create_deployment(
            &Actor::system("test"),
            &workspace,
            &ProjectSlug::parse("shop").expect("a project slug"),
            &EnvironmentName::production(),
            None,
        )
        .await
        .expect("test setup");
    let router = "slipway_router_requests_total{host=\"shop-acme.localhost\",class=\"2xx\"} 7\n";
    let path = app.layout().router_metrics();
    std::fs::create_dir_all(path.parent().expect("test setup")).expect("test setup");
    std::fs::write(&path, router).expect("test setup");

    // Text, not JSON, so read it without the harness's JSON checks.
    let reply = app.request(Method::GET, "/metrics", &app.admin).send().await.expect("test setup");
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "text/plain; version=0.0.4");
    let text = reply.text().await.expect("test setup");
    assert!(text.contains("slipway_deployments{status=\"QUEUED\"} 1"), "{text}");
    assert!(text.contains(router), "{text}");

    app.send(app.request(Method::GET, "/metrics", &owner)).await.err("FORBIDDEN");
    app.send(app.client.get(app.url("/metrics"))).await.err("AUTH_REQUIRED");
}
