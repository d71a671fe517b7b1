//! The session cookie: the API session token from `POST /v1/auth/login`,
//! kept where page scripts cannot read it (HttpOnly), not sent on cross-site
//! subrequests (SameSite=Lax) and only over TLS when the portal is reached
//! through TLS (Secure).

use axum::http::{header, HeaderMap, HeaderValue};

pub const SESSION_COOKIE: &str = "slipway_session";
/// The pre-session CSRF cookie of the sign-in form (see `csrf.rs`).
pub const LOGIN_CSRF_COOKIE: &str = "slipway_login_csrf";

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// The API token of the signed-in user, if the request carries one. Only
/// characters a token can hold pass, so nothing odd reaches a header.
pub fn token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE)
        .filter(|token| token.len() <= 512 && token.bytes().all(|b| b.is_ascii_graphic() && b != b';' && b != b','))
}

/// Whether the browser reached us over TLS (directly or through a proxy that says so).
pub fn is_tls(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// `scheme://host` of the portal as the browser reached it, for the git
/// remote URL shown to users (the git server shares this address).
pub fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|host| host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
        .unwrap_or("127.0.0.1:8080");
    format!("{}://{host}", if is_tls(headers) { "https" } else { "http" })
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age: u64, tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    // Names are constants and values are tokens of visible ASCII (checked by callers), so this cannot fail;
    // an empty cookie is the harmless fallback.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("slipway_invalid=; Path=/; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_secure_behind_tls_only() {
        let mut headers = HeaderMap::new();
        assert!(!is_tls(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(is_tls(&headers));
        let cookie = set_cookie(SESSION_COOKIE, "sw_abc", 60, true);
        assert_eq!(cookie, "slipway_session=sw_abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure");
        assert!(!set_cookie(SESSION_COOKIE, "sw_abc", 60, false).to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn finds_the_session_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; slipway_session=sw_abc; b=2"));
        assert_eq!(token(&headers), Some("sw_abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("slipway_session=bad\\token"));
        assert_eq!(token(&headers), Some("bad\\token"));
        headers.insert(header::COOKIE, HeaderValue::from_static("slipway_session=a,b"));
        assert_eq!(token(&headers), None);
    }
}
