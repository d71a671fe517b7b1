//! CSRF protection for every form. A signed-in form carries a token derived
//! from the session token (SHA-256 of a label and the session), so it cannot
//! be guessed or planted by another site — not even by an app on a sibling
//! subdomain that can set cookies for the parent domain, because it never
//! sees the HttpOnly session. The sign-in form, before any session exists,
//! uses a random double-submit cookie. Tokens are compared in constant time.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::session;

/// The form field that carries the token.
pub const FIELD: &str = "_csrf";

/// The CSRF token of a signed-in session.
pub fn for_session(session_token: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"slipway-portal-csrf\0");
    digest.update(session_token.as_bytes());
    hex::encode(digest.finalize())
}

/// A fresh random token for the sign-in form's cookie.
pub fn fresh() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Whether `submitted` matches the session's token.
pub fn check_session(session_token: &str, submitted: Option<&str>) -> bool {
    submitted.is_some_and(|submitted| same(&for_session(session_token), submitted))
}

/// Whether the sign-in form's `submitted` token matches its cookie.
pub fn check_login(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    match (session::cookie(headers, session::LOGIN_CSRF_COOKIE), submitted) {
        (Some(cookie), Some(submitted)) => cookie.len() >= 32 && same(cookie, submitted),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_token_is_bound_to_its_session() {
        let token = for_session("sw_one");
        assert!(check_session("sw_one", Some(&token)));
        assert!(!check_session("sw_two", Some(&token)));
        assert!(!check_session("sw_one", None));
        assert!(!check_session("sw_one", Some("")));
    }
}
