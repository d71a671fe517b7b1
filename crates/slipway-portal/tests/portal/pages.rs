//! Router tests of the portal with `tower::ServiceExt::oneshot`: the real
//! API router on a fresh SQLite store behind the portal, no sockets. They
//! cover sign-in and its redirects, CSRF refusals, escaping of hostile input,
//! the 404 page, and the paginated first view of a project with 1,000
//! deployments (whose time `bench/portal.sh` records in `BENCHMARKS.md`).

use crate::common::{TestPortal, ADMIN_PASSWORD};
use axum::http::StatusCode;
use slipway_core::names::{EnvironmentName, ProjectSlug};

#[tokio::test]
async fn signed_out_pages_redirect_to_sign_in() {
    let portal = TestPortal::start().await;
    for path in ["/", "/workspaces", "/w/acme", "/w/acme/p/web", "/tokens", "/w/acme/members", "/w/acme/audit"] {
        let response = portal.get(path, None).await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.location(), Some("/login"), "{path}");
    }
    // A cookie the API does not know (expired, revoked, forged) is no session either: the
    // redirect forgets it, and the sign-in page shows its form instead of sending us back.
    let response = portal.get("/w/acme", Some("slipway_session=sw_forged")).await;
    assert_eq!(response.location(), Some("/login"));
    assert!(
        response.set_cookies.iter().any(|c| c.starts_with("slipway_session=;") && c.contains("Max-Age=0")),
        "{:?}",
        response.set_cookies
    );
    let login = portal.get("/login", Some("slipway_session=sw_forged")).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Sign in"), "{}", login.body);
    // No app on a sibling hostname may frame the portal.
    assert_eq!(login.header("x-frame-options"), Some("DENY"));
    assert_eq!(login.header("content-security-policy"), Some("frame-ancestors 'none'"));
}

#[tokio::test]
async fn sign_in_sets_a_safe_cookie_and_wrong_passwords_are_shown_beside_the_field() {
    let portal = TestPortal::start().await;
    let wrong = portal.login_attempt("admin", "not-the-password").await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("Wrong username or password."), "{}", wrong.body);
    assert!(wrong.body.contains(r#"id="password-error""#), "{}", wrong.body);

    let ok = portal.login_attempt("admin", ADMIN_PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let cookie = ok.set_cookies.iter().find(|c| c.starts_with("slipway_session=")).expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP must not mark the cookie Secure: {cookie}");
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_change_nothing() {
    let portal = TestPortal::start().await;
    let session = portal.login().await;
    // No token, a wrong token, and the token of another session.
    let other = portal.login().await;
    let other_token = portal.csrf_of(&other).await;
    for token in [None, Some("0".repeat(64)), Some(other_token)] {
        let mut fields = vec![("slug", "evil".to_owned())];
        if let Some(token) = token {
            fields.push(("_csrf", token));
        }
        let response = portal.post("/workspaces", Some(&session), &fields).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        assert!(response.body.contains("This form has expired"));
    }
    assert!(!portal.get("/workspaces", Some(&session)).await.body.contains("evil"));
    // The sign-in form needs its own cookie's token too.
    let response =
        portal.post("/login", None, &[("username", "admin".into()), ("password", ADMIN_PASSWORD.into())]).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);

    // With the right token, the same form works.
    let token = portal.csrf_of(&session).await;
    let response = portal.post("/workspaces", Some(&session), &[("slug", "good".into()), ("_csrf", token)]).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(response.location(), Some("/w/good"));
}

#[tokio::test]
async fn hostile_names_and_values_are_escaped() {
    let portal = TestPortal::start().await;
    let session = portal.login().await;
    let token = portal.csrf_of(&session).await;
    const HOSTILE: &str = "<script>alert(1)</script>\"'&";
    let response = portal
        .post(
            "/workspaces",
            Some(&session),
            &[("slug", "acme".into()), ("name", HOSTILE.into()), ("_csrf", token.clone())],
        )
        .await;
    assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.body);
    let response =
        portal.post("/w/acme/new", Some(&session), &[("slug", "web".into()), ("_csrf", token.clone())]).await;
    assert_eq!(response.location(), Some("/w/acme/p/web"), "{}", response.body);
    let response = portal
        .post(
            "/w/acme/p/web/config",
            Some(&session),
            &[("name", "GREETING".into()), ("value", HOSTILE.into()), ("_csrf", token.clone())],
        )
        .await;
    assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.body);
    // A rejected project name with markup comes back escaped beside its field.
    let rejected = portal
        .post("/w/acme/new", Some(&session), &[("slug", "<img src=x onerror=alert(1)>".into()), ("_csrf", token)])
        .await;
    assert_eq!(rejected.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(rejected.body.contains(r#"id="slug-error""#), "{}", rejected.body);

    for page in
        [portal.get("/w/acme/p/web", Some(&session)).await, portal.get("/w/acme", Some(&session)).await, rejected]
    {
        assert!(!page.body.contains("<script>alert"), "unescaped markup:\n{}", page.body);
        assert!(!page.body.contains("<img src=x"), "unescaped markup:\n{}", page.body);
    }
    let project = portal.get("/w/acme/p/web", Some(&session)).await;
    assert!(project.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;"), "{}", project.body);
}

#[tokio::test]
async fn unknown_pages_get_the_404_page_and_api_paths_reach_the_api() {
    let portal = TestPortal::start().await;
    let session = portal.login().await;
    let missing = portal.get("/no/such/page", Some(&session)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("This page does not exist"));
    // Another tenant's or a missing workspace answers the same 404 page.
    let missing = portal.get("/w/nowhere", Some(&session)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("This page does not exist"));
    // Hostile bytes in paths are a 404, not a panic or a 500.
    for path in ["/w/%00", "/w/acme/p/%3Cx%3E", "/w/acme/p/web/deployments/abc/logs", "/tokens/%FF/revoke"] {
        let response = portal.get(path, Some(&session)).await;
        assert!(response.status.is_client_error() || response.status == StatusCode::OK, "{path}: {}", response.status);
    }
    let api = portal.get("/v1/nothing", None).await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert!(api.body.contains("\"error\""), "the API's envelope: {}", api.body);
    assert_eq!(portal.get("/healthz", None).await.status, StatusCode::OK);
    let css = portal.get("/_portal/portal.css", None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(portal.get("/favicon.ico", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_log_stream_the_api_refuses_ends_with_the_reason() {
    let portal = TestPortal::start().await;
    let session = portal.login().await;
    // Without a platform (no repositories, no logs) the API answers 503; the
    // stream says so in an `end` event rather than failing the page.
    let token = portal.csrf_of(&session).await;
    portal.post("/workspaces", Some(&session), &[("slug", "acme".into()), ("_csrf", token.clone())]).await;
    portal.post("/w/acme/new", Some(&session), &[("slug", "web".into()), ("_csrf", token)]).await;
    let stream = portal.get("/w/acme/p/web/deployments/1/logs", Some(&session)).await;
    assert_eq!(stream.status, StatusCode::OK);
    assert!(stream.body.starts_with("event: end\ndata: UNAVAILABLE"), "{}", stream.body);
}

/// The first view of a project with a long history renders one page of it, and the next page
/// follows. Its time is printed, not asserted (the machines are shared and noisy):
/// `bench/portal.sh` runs this test in release mode and records the figure in BENCHMARKS.md.
#[tokio::test(flavor = "multi_thread")]
async fn a_project_with_1000_deployments_shows_one_page_of_history_at_a_time() {
    let portal = TestPortal::start().await;
    let session = portal.login().await;
    let token = portal.csrf_of(&session).await;
    portal.post("/workspaces", Some(&session), &[("slug", "acme".into()), ("_csrf", token.clone())]).await;
    portal.post("/w/acme/new", Some(&session), &[("slug", "web".into()), ("_csrf", token)]).await;
    let workspace: slipway_core::api::Workspace =
        serde_json::from_str(&portal.api_get("/v1/workspaces/acme", &session).await).expect("the workspace");
    let actor = slipway_store::Actor::system("bench");
    for _ in 0..1000 {
        portal
            .store
            .queue_deployment(
                &actor,
                &workspace.id,
                &ProjectSlug::parse("web").unwrap(),
                &EnvironmentName::production(),
                None,
                None,
            )
            .await
            .expect("queued");
    }
    let mut times = Vec::new();
    for round in 0..11 {
        let started = std::time::Instant::now();
        let page = portal.get("/w/acme/p/web", Some(&session)).await;
        let elapsed = started.elapsed();
        assert_eq!(page.status, StatusCode::OK);
        if round == 0 {
            assert!(page.body.contains(r#"data-deployment="1000""#), "the newest deployment is on the first page");
            assert!(!page.body.contains(r#"data-deployment="980""#), "only one page of history is rendered");
            assert!(page.body.contains("rel=\"next\""), "older deployments are a page away");
        }
        times.push(elapsed);
    }
    times.sort();
    let (median, worst) = (times[times.len() / 2], times[times.len() - 1]);
    println!(
        "portal-bench: project page, 1000 deployments: median {median:?}, worst {worst:?} of {} runs",
        times.len()
    );
    // The next page of history is as quick.
    let first = portal.get("/w/acme/p/web", Some(&session)).await;
    let next = first.body.split("rel=\"next\"").next().and_then(|s| s.rsplit("href=\"").next()).expect("an Older link");
    let older = portal.get(&next.replace("&amp;", "&"), Some(&session)).await;
    assert_eq!(older.status, StatusCode::OK);
    assert!(older.body.contains(r#"data-deployment="980""#), "the second page follows the first");
}

#[tokio::test]
async fn api_refusals_are_shown_beside_the_field_that_caused_them() {
    let portal = TestPortal::start().await;
    let session = portal.login().await;
    let token = portal.csrf_of(&session).await;
    let taken = portal.post("/workspaces", Some(&session), &[("slug", "acme".into()), ("_csrf", token.clone())]).await;
    assert_eq!(taken.status, StatusCode::SEE_OTHER);
    let again = portal.post("/workspaces", Some(&session), &[("slug", "acme".into()), ("_csrf", token.clone())]).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.body.contains(r#"id="slug-error""#), "{}", again.body);
    assert!(again.body.contains(r#"aria-invalid="true""#), "{}", again.body);

    portal.post("/w/acme/new", Some(&session), &[("slug", "web".into()), ("_csrf", token.clone())]).await;
    let bad_name = portal
        .post(
            "/w/acme/p/web/config",
            Some(&session),
            &[("name", "1 BAD".into()), ("value", "x".into()), ("_csrf", token.clone())],
        )
        .await;
    assert_eq!(bad_name.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_name.body.contains(r#"id="config_name-error""#), "{}", bad_name.body);

    let nobody = portal
        .post(
            "/w/acme/members",
            Some(&session),
            &[("username", "nobody".into()), ("role", "viewer".into()), ("_csrf", token.clone())],
        )
        .await;
    assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(nobody.body.contains(r#"id="username-error""#), "{}", nobody.body);

    // Deploying needs the platform's repositories, which this test has none of: a clear error, not a 500.
    let deploy = portal.post("/w/acme/p/web/deploy", Some(&session), &[("_csrf", token)]).await;
    assert!(deploy.status.is_client_error() || deploy.status == StatusCode::BAD_GATEWAY, "{}", deploy.status);
}

#[tokio::test]
async fn an_empty_secret_field_keeps_the_secret() {
    let portal = TestPortal::start().await;
    let session = portal.login().await;
    let token = portal.csrf_of(&session).await;
    portal.post("/workspaces", Some(&session), &[("slug", "acme".into()), ("_csrf", token.clone())]).await;
    portal.post("/w/acme/new", Some(&session), &[("slug", "web".into()), ("_csrf", token.clone())]).await;
    let set = |value: &str| {
        vec![
            ("name", "API_KEY".to_owned()),
            ("value", value.to_owned()),
            ("secret", "on".into()),
            ("_csrf", token.clone()),
        ]
    };
    let response = portal.post("/w/acme/p/web/config", Some(&session), &set("s3cret-value")).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.body);
    // The secret's field is shown empty; submitting it untouched changes nothing.
    let response = portal.post("/w/acme/p/web/config", Some(&session), &set("")).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.body);

    let workspace: serde_json::Value =
        serde_json::from_str(&portal.api_get("/v1/workspaces/acme", &session).await).unwrap();
    let id = slipway_core::ids::WorkspaceId::parse(workspace["id"].as_str().unwrap()).unwrap();
    let values = portal
        .store
        .config_snapshot(&id, &ProjectSlug::parse("web").unwrap(), &EnvironmentName::production())
        .await
        .unwrap();
    let kept: Vec<_> = values.iter().map(|var| (var.name.as_str(), var.value.as_str())).collect();
    assert_eq!(kept, [("API_KEY", "s3cret-value")]);
}

#[tokio::test]
async fn an_unsandboxed_platform_says_so_on_every_page() {
    for (sandboxed, shown) in [(false, true), (true, false)] {
        let portal = TestPortal::start_with(sandboxed).await;
        let cookie = portal.login().await;
        let page = portal.get("/workspaces", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.body.contains("Unsandboxed platform"), shown, "sandboxed: {sandboxed}\n{}", page.body);
    }
}
