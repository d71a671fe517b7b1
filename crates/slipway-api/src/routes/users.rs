//! `POST /v1/users`: a platform admin creates users; anyone may when open
//! sign-up is enabled.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::api::{CreateUserRequest, ErrorEnvelope, User};
use slipway_core::names::{Email, Password, Username};
use slipway_core::ErrorCode;
use slipway_store::{hash_password, Actor, NewUser};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, Caller, RequestId};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_user))
}

/// Creates a local user. A platform admin may; when open sign-up is enabled anyone may,
/// without a token (else `SIGNUP_DISABLED`).
#[utoipa::path(post, path = "/v1/users", tag = "users", security((), ("bearer" = [])),
    request_body = CreateUserRequest,
    responses((status = 201, body = User), (status = "4XX", body = ErrorEnvelope)))]
async fn create_user(
    State(app): State<AppState>,
    RequestId(request_id): RequestId,
    caller: Option<Caller>,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let is_admin = caller.as_ref().is_some_and(|c| c.auth.user.is_admin);
    match (&caller, is_admin, app.config.open_signup) {
        (_, true, _) => {}
        (None, false, false) => {
            return Err(ApiError::new(ErrorCode::SignupDisabled, "open sign-up is disabled; ask a platform admin"))
        }
        (Some(_), false, false) => return Err(ApiError::forbidden("create users (platform admins only)")),
        (_, false, true) if body.is_admin => return Err(ApiError::forbidden("create platform admins")),
        (_, false, true) => {}
    }
    let username = Username::parse(&body.username)?;
    let email = body.email.as_deref().map(Email::parse).transpose()?;
    let password = Password::parse(&body.password)?;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|err| ApiError::new(ErrorCode::Internal, format!("password hashing stopped: {err}")))??;
    let actor = caller
        .as_ref()
        .map_or_else(|| Actor { user_id: None, username: format!("signup:{username}"), request_id }, Caller::actor);
    let user =
        app.store.create_user(&actor, NewUser { username, email, password_hash, is_admin: body.is_admin }).await?;
    Ok((StatusCode::CREATED, Json(user)))
}
