//! How the portal fails: one [`PageError`] that every handler returns,
//! rendered as a calm HTML page (404, 403, the expired-form page, a generic
//! error page) or as a redirect to the sign-in page. API failures map onto
//! these by status; their message is the API's, which never holds internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use crate::api::ApiFailure;
use crate::layout;

#[derive(Debug)]
pub enum PageError {
    /// No session, or the API no longer accepts it: go to the sign-in page.
    SignIn,
    /// The CSRF token of a form was missing or wrong.
    Csrf,
    /// The form could not be read.
    BadRequest(String),
    /// What the API refused or failed to do.
    Api(ApiFailure),
}

impl From<ApiFailure> for PageError {
    fn from(failure: ApiFailure) -> Self {
        if failure.is_unauthenticated() {
            PageError::SignIn
        } else {
            PageError::Api(failure)
        }
    }
}

/// The 404 page, with navigation when the user is signed in.
pub fn not_found(signed_in: bool) -> Response {
    let body = html! {
        section.empty {
            p.big { "404" }
            h1 { "This page does not exist" }
            p.muted { "It may have been deleted, or you may not have access to it." }
            a.button href="/" { "Back to your projects" }
        }
    };
    (StatusCode::NOT_FOUND, layout::bare("Not found", signed_in, body)).into_response()
}

fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! {
        section.empty {
            p.big { (status.as_u16()) }
            h1 { (title) }
            p.muted { (message) }
            a.button href="/" { "Back to your projects" }
        }
    };
    (status, layout::bare(title, true, body)).into_response()
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            // The session is gone (expired or revoked): forget the cookie too, or `/login` and
            // the page that sent us there would redirect to each other.
            PageError::SignIn => {
                let forget = crate::session::set_cookie(crate::session::SESSION_COOKIE, "", 0, false);
                ([(axum::http::header::SET_COOKIE, forget)], Redirect::to("/login")).into_response()
            }
            PageError::Csrf => error_page(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "For your safety the form was refused. Go back, reload the page and try again.",
            ),
            PageError::BadRequest(message) => error_page(StatusCode::BAD_REQUEST, "That did not work", &message),
            PageError::Api(failure) => match failure.status {
                StatusCode::NOT_FOUND => not_found(true),
                StatusCode::FORBIDDEN => error_page(StatusCode::FORBIDDEN, "Not allowed", &failure.message),
                status if status.is_client_error() => {
                    error_page(StatusCode::BAD_REQUEST, "That did not work", &failure.message)
                }
                _ => {
                    tracing::warn!(code = %failure.code, message = %failure.message, "the API failed a portal request");
                    error_page(
                        StatusCode::BAD_GATEWAY,
                        "Something went wrong",
                        "Slipway could not complete this request. Try again in a moment.",
                    )
                }
            },
        }
    }
}
