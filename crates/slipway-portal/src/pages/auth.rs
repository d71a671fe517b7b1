//! Sign in and sign out. Signing in posts the credentials to
//! `POST /v1/auth/login` and keeps the session token it returns in the
//! session cookie; signing out revokes it with `POST /v1/auth/logout`.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde_json::json;
use slipway_core::api::LoginResponse;

use super::{form_errors, FieldErrors};
use crate::errors::PageError;
use crate::extract::{read_fields, Form};
use crate::layout::{bare, field_error, has_error};
use crate::{csrf, session, Portal};

/// How long the session cookie lives; the API's session may end earlier, and then the user signs in again.
const SESSION_MAX_AGE: u64 = 30 * 24 * 3600;

fn login_form(csrf_token: &str, username: &str, errors: &FieldErrors) -> Markup {
    html! {
        section.auth {
            div.panel {
                h1 { "Sign in" }
                p.muted { "Welcome back to Slipway." }
                (form_errors(errors))
                form method="post" action="/login" novalidate {
                    input type="hidden" name=(csrf::FIELD) value=(csrf_token);
                    div.field {
                        label for="username" { "Username" }
                        input #username name="username" type="text" autocomplete="username" required autofocus
                            value=(username) aria-invalid=(has_error(errors, "username"))
                            aria-describedby="username-error";
                        (field_error(errors, "username"))
                    }
                    div.field {
                        label for="password" { "Password" }
                        input #password name="password" type="password" autocomplete="current-password" required
                            aria-invalid=(has_error(errors, "password")) aria-describedby="password-error";
                        (field_error(errors, "password"))
                    }
                    button type="submit" { "Sign in" }
                }
            }
        }
    }
}

/// Renders the sign-in page, with a fresh double-submit cookie for its form.
fn render(headers: &HeaderMap, status: StatusCode, username: &str, errors: &FieldErrors) -> Response {
    let token = csrf::fresh();
    let cookie = session::set_cookie(session::LOGIN_CSRF_COOKIE, &token, 3600, session::is_tls(headers));
    (status, [(header::SET_COOKIE, cookie)], bare("Sign in", false, login_form(&token, username, errors)))
        .into_response()
}

/// Always the form, even with a session cookie: whether that session is still valid only the
/// API knows, and redirecting on the cookie alone loops when it is not.
pub async fn login_page(headers: HeaderMap) -> Response {
    render(&headers, StatusCode::OK, "", &Vec::new())
}

pub async fn login(State(portal): State<Portal>, request: Request) -> Result<Response, PageError> {
    let headers = request.headers().clone();
    let fields = read_fields(request).await?;
    let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    if !csrf::check_login(&headers, fields.get(csrf::FIELD).map(String::as_str)) {
        return Err(PageError::Csrf);
    }
    let username = get("username").trim();
    let mut errors = Vec::new();
    if username.is_empty() {
        errors.push(("username".to_owned(), "Enter your username.".to_owned()));
    }
    if get("password").is_empty() {
        errors.push(("password".to_owned(), "Enter your password.".to_owned()));
    }
    if !errors.is_empty() {
        return Ok(render(&headers, StatusCode::UNPROCESSABLE_ENTITY, username, &errors));
    }
    let body = json!({ "username": username, "password": get("password") });
    match portal.api.call::<LoginResponse>(Method::POST, "/v1/auth/login", None, Some(&body)).await {
        Ok(login) => {
            let tls = session::is_tls(&headers);
            if session::token(&cookie_header(&login.token)).is_none() {
                // A token the cookie cannot carry would sign nobody in; say so rather than loop.
                return Err(PageError::BadRequest("the session token cannot be stored in a cookie".to_owned()));
            }
            let mut response = Redirect::to("/").into_response();
            let set = response.headers_mut();
            set.append(
                header::SET_COOKIE,
                session::set_cookie(session::SESSION_COOKIE, &login.token, SESSION_MAX_AGE, tls),
            );
            set.append(header::SET_COOKIE, session::set_cookie(session::LOGIN_CSRF_COOKIE, "", 0, tls));
            Ok(response)
        }
        Err(failure) if failure.status.is_client_error() => {
            let (field, message) = match failure.code.as_str() {
                "INVALID_CREDENTIALS" | "AUTH_REQUIRED" => ("password", "Wrong username or password.".to_owned()),
                "INVALID_USERNAME" => ("username", failure.message),
                "INVALID_PASSWORD" => ("password", failure.message),
                _ => ("", failure.message),
            };
            Ok(render(&headers, StatusCode::UNPROCESSABLE_ENTITY, username, &vec![(field.to_owned(), message)]))
        }
        Err(failure) => Err(PageError::Api(failure)),
    }
}

fn cookie_header(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = format!("{}={token}", session::SESSION_COOKIE).parse() {
        headers.insert(header::COOKIE, value);
    }
    headers
}

pub async fn logout(State(portal): State<Portal>, form: Form) -> Response {
    // Revoking can only fail for a session that is already gone; either way the cookie goes.
    let _ =
        portal.api.call::<serde_json::Value>(Method::POST, "/v1/auth/logout", Some(&form.session.token), None).await;
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::set_cookie(session::SESSION_COOKIE, "", 0, form.session.tls));
    response
}
