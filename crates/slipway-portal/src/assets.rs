//! The portal's static files, compiled into the binary so that nothing is
//! fetched from anywhere at run time: the stylesheet, the one script, and
//! the logo that doubles as favicon.

use axum::http::header;
use axum::response::IntoResponse;

pub const LOGO_SVG: &str = include_str!("../assets/logo.svg");
const CSS: &str = include_str!("../assets/portal.css");
const JS: &str = include_str!("../assets/portal.js");

/// Assets change only with the binary; an hour of caching is safe and quick.
const CACHE: &str = "public, max-age=3600";

pub async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, CACHE)], CSS)
}

pub async fn js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, CACHE)], JS)
}

pub async fn favicon() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, CACHE)], LOGO_SVG)
}
