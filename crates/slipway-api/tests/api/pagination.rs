//! Scenario 6: cursor pagination.

use std::collections::BTreeSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use slipway_testkit::TestBackend;

use super::harness::spawn_app;

both_backends!(cursor_pages);

async fn cursor_pages(backend: TestBackend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    app.workspace(&alice, "acme").await;
    let created: Vec<String> = (0..25).map(|i| format!("p{i:02}")).collect();
    for slug in &created {
        app.project(&alice, "acme", slug).await;
    }

    let base = "/v1/workspaces/acme/projects";
    let mut sizes = Vec::new();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut cursors = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("{base}?limit=10&cursor={c}"),
            None => format!("{base}?limit=10"),
        };
        let reply = app.get(&alice, &path).await;
        let page = reply.ok(200);
        let items = page["items"].as_array().expect("items");
        sizes.push(items.len());
        seen.extend(items.iter().map(|p| p["slug"].as_str().expect("slug").to_owned()));
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(next) => {
                cursors.push(next.to_owned());
                cursor = Some(next.to_owned());
            }
            None => break,
        }
        assert!(sizes.len() < 10, "pagination does not end");
    }
    assert_eq!(sizes, [10, 10, 5]);
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 25, "duplicates across pages: {seen:?}");
    // Oldest first: the order of creation.
    assert_eq!(seen, created);

    // A page size that divides the total exactly still ends cleanly: the
    // last full page may carry a cursor, whose page is then empty.
    let first = app.get(&alice, &format!("{base}?limit=25")).await;
    assert_eq!(first.ok(200)["items"].as_array().map(Vec::len), Some(25));
    if let Some(next) = first.body["next_cursor"].as_str() {
        let rest = app.get(&alice, &format!("{base}?cursor={next}")).await;
        assert_eq!(rest.ok(200)["items"], serde_json::json!([]));
        assert!(rest.body.get("next_cursor").is_none());
    }
    // The default page holds them all.
    let all = app.get(&alice, base).await;
    assert_eq!(all.ok(200)["items"].as_array().map(Vec::len), Some(25));
    assert!(all.body.get("next_cursor").is_none());

    // Limits out of range, or not numbers.
    for limit in ["0", "201", "-1", "ten", "99999999999"] {
        let reply = app.get(&alice, &format!("{base}?limit={limit}")).await;
        reply.err("INVALID_REQUEST");
    }
    app.get(&alice, &format!("{base}?limit=200")).await.ok(200);
    app.get(&alice, &format!("{base}?limit=1")).await.ok(200);

    // Forged cursors: garbage, the right prefix around a non-ID, and a
    // cursor that tries to smuggle SQL.
    for forged in [
        "garbage!".to_owned(),
        "YWJj".to_owned(),
        URL_SAFE_NO_PAD.encode("c1."),
        URL_SAFE_NO_PAD.encode("c1.x' OR '1'='1"),
        URL_SAFE_NO_PAD.encode(format!("c2.{}", &cursors[0])),
        format!("{}!", cursors[0]),
    ] {
        let reply =
            app.get(&alice, &format!("{base}?limit=10&cursor={}", slipway_core::percent::encode(&forged))).await;
        reply.err("INVALID_CURSOR");
    }
}
