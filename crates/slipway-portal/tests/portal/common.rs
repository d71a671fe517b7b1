//! The portal in front of a real API router on a fresh SQLite store, called
//! with `oneshot`; helpers that sign in and post forms like a browser would.
#![allow(dead_code)] // each test binary uses a part
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use slipway_api::ApiSettings;
use slipway_core::hostname::{Hostname, PublicUrls};
use slipway_store::Store;
use slipway_testkit::{TestBackend, TestDatabase};
use tower::ServiceExt;

pub const ADMIN_PASSWORD: &str = "portal-test-password";

pub struct TestPortal {
    pub app: Router,
    pub store: Store,
    _db: TestDatabase,
}

pub struct Answer {
    pub status: StatusCode,
    pub body: String,
    pub set_cookies: Vec<String>,
    location: Option<String>,
    headers: axum::http::HeaderMap,
}

impl Answer {
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl TestPortal {
    pub async fn start() -> TestPortal {
        Self::start_with(true).await
    }

    /// A portal whose platform says whether tenant code is `sandboxed`.
    pub async fn start_with(sandboxed: bool) -> TestPortal {
        let db = TestDatabase::create(TestBackend::Sqlite).await;
        let store = db.store().await;
        slipway_api::bootstrap_admin(&store, Some(ADMIN_PASSWORD)).await.expect("bootstrapping the admin");
        let mut config = ApiSettings::new(
            Hostname::parse("localhost").expect("a hostname"),
            PublicUrls { https: false, port: 8000 },
        );
        config.sandboxed = sandboxed;
        let app = slipway_portal::app(slipway_api::app(store.clone(), config));
        TestPortal { app, store, _db: db }
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let location = response.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned());
        let set_cookies =
            response.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert!(!status.is_server_error() || status == StatusCode::BAD_GATEWAY, "a 5xx: {status}");
        Answer { status, body: String::from_utf8_lossy(&bytes).into_owned(), set_cookies, location, headers }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut request = Request::get(path).header(header::HOST, "portal.test");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    pub async fn post(&self, path: &str, cookie: Option<&str>, fields: &[(&str, String)]) -> Answer {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let mut request = Request::post(path)
            .header(header::HOST, "portal.test")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// A GET of the API with the session's token (what the portal does in-process).
    pub async fn api_get(&self, path: &str, cookie: &str) -> String {
        let token = cookie.split_once('=').unwrap().1;
        let request = Request::get(path).header(header::AUTHORIZATION, format!("Bearer {token}"));
        let answer = self.send(request.body(Body::empty()).unwrap()).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    /// Signs in through the form; returns the answer to the POST.
    pub async fn login_attempt(&self, username: &str, password: &str) -> Answer {
        let page = self.get("/login", None).await;
        let cookie = page
            .set_cookies
            .iter()
            .find(|c| c.starts_with("slipway_login_csrf="))
            .expect("the sign-in form's cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let token = cookie.split_once('=').unwrap().1.to_owned();
        assert!(page.body.contains(&token), "the form carries the cookie's token");
        self.post(
            "/login",
            Some(&cookie),
            &[("username", username.into()), ("password", password.into()), ("_csrf", token)],
        )
        .await
    }

    /// Signs in as admin; returns the `Cookie` header value of the session.
    pub async fn login(&self) -> String {
        let answer = self.login_attempt("admin", ADMIN_PASSWORD).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        answer
            .set_cookies
            .iter()
            .find(|c| c.starts_with("slipway_session="))
            .expect("a session cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    /// The CSRF token the session's forms carry (read from a page, as a browser would).
    pub async fn csrf_of(&self, cookie: &str) -> String {
        let page = self.get("/workspaces", Some(cookie)).await;
        let marker = r#"name="_csrf" value=""#;
        let start = page.body.find(marker).expect("a form with a CSRF token") + marker.len();
        page.body[start..].split('"').next().unwrap().to_owned()
    }
}
