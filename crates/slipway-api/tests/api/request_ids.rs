//! Scenario 12: every response carries `x-request-id`; a sane one from the
//! client is kept, anything else is replaced.

use reqwest::Method;
use serde_json::json;
use slipway_testkit::TestBackend;

use super::harness::{spawn_app, ANON};

both_backends!(request_ids);

async fn request_ids(backend: TestBackend) {
    let app = spawn_app(backend).await;

    // Generated IDs: present on successes and errors, different each time.
    let mut seen = std::collections::BTreeSet::new();
    for reply in [
        app.get(&app.admin, "/v1/me").await,
        app.get(ANON, "/v1/me").await,
        app.get(ANON, "/healthz").await,
        app.get(ANON, "/v1/openapi.json").await,
        app.get(ANON, "/no/such/route").await,
        app.post(&app.admin, "/v1/workspaces", json!({"slug": "acme"})).await,
        app.delete(&app.admin, "/v1/workspaces/acme").await,
    ] {
        assert!(
            reply.request_id.len() >= 16 && reply.request_id.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{:?}",
            reply.request_id
        );
        assert!(seen.insert(reply.request_id.clone()), "a request ID repeated");
    }

    // A sane client ID is echoed, on success and in the error envelope.
    for sane in ["abc-123", "trace_id.7:span-9", &"x".repeat(128)] {
        let ok = app.send(app.request(Method::GET, "/v1/me", &app.admin).header("x-request-id", sane)).await;
        ok.ok(200);
        assert_eq!(ok.request_id, sane);
        let err = app.send(app.request(Method::GET, "/v1/me", ANON).header("x-request-id", sane)).await;
        err.err("AUTH_REQUIRED");
        assert_eq!(err.request_id, sane);
        assert_eq!(err.body["error"]["request_id"], sane);
    }

    // Insane ones are replaced by a generated ID (and the envelope agrees).
    let long = "y".repeat(300);
    let just_too_long = "z".repeat(129);
    for insane in
        [long.as_str(), just_too_long.as_str(), "has spaces in it", "semi;colon", "quote\"d", "<script>", "", "ünïcode"]
    {
        let request = app.request(Method::GET, "/v1/me", ANON).header("x-request-id", insane.as_bytes());
        let err = app.send(request).await;
        err.err("AUTH_REQUIRED");
        assert_ne!(err.request_id, insane);
        assert!(
            err.request_id.len() >= 16 && err.request_id.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{:?} replaced by {:?}",
            insane,
            err.request_id
        );
        let ok =
            app.send(app.request(Method::GET, "/v1/me", &app.admin).header("x-request-id", insane.as_bytes())).await;
        ok.ok(200);
        assert_ne!(ok.request_id, insane);
    }

    // Two x-request-id headers: the first is the one considered.
    let twice = app
        .send(
            app.request(Method::GET, "/v1/me", &app.admin)
                .header("x-request-id", "first-one")
                .header("x-request-id", "second-one"),
        )
        .await;
    twice.ok(200);
    assert_eq!(twice.request_id, "first-one");
    assert_eq!(twice.headers.get_all("x-request-id").iter().count(), 1, "exactly one x-request-id in the response");
}
