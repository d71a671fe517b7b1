//! `POST /v1/auth/login`, `POST /v1/auth/logout`, `GET /v1/me`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::api::{ErrorEnvelope, LoginRequest, LoginResponse, TokenKind, User};
use slipway_core::names::Username;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use slipway_store::{verify_password, Actor, StoreError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, Caller, RequestId};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login)).routes(routes!(logout)).routes(routes!(me))
}

/// An argon2id hash of a random password: verifying against it when the
/// user does not exist costs the same time as a real check, so response
/// times do not reveal which usernames exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2xpcHdheWR1bW15c2FsdA$1CmQ5mE3pV0yV2wq0kQb9yZ8H0oWlbSx4X2o2r0G8nE";

fn invalid_credentials() -> ApiError {
    ApiError::new(ErrorCode::InvalidCredentials, "the username or password is wrong")
}

/// Exchanges a username and password for a session token.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", security(()),
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = "4XX", body = ErrorEnvelope)))]
async fn login(
    State(app): State<AppState>,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let found = match Username::parse(&body.username) {
        Ok(username) => match app.store.credentials(&username).await {
            Ok(found) => Some(found),
            Err(StoreError::NotFound { .. }) => None,
            Err(err) => return Err(err.into()),
        },
        Err(_) => None,
    };
    let stored_hash = found.as_ref().map_or(DUMMY_HASH.to_owned(), |(_, hash)| hash.clone());
    let password = body.password;
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &stored_hash)).await.unwrap_or(false);
    let user = match (found, matches) {
        (Some((user, _)), true) => user,
        _ => return Err(invalid_credentials()),
    };
    let ttl = i64::try_from(app.config.session_ttl.as_secs()).unwrap_or(i64::MAX);
    let expires_at = Timestamp::now().plus_seconds(ttl);
    let actor = Actor { user_id: Some(user.id.clone()), username: user.username.to_string(), request_id };
    let token = app.store.create_token(&actor, &user.id, "session", TokenKind::Session, Some(expires_at)).await?;
    Ok(Json(LoginResponse { token: token.token, expires_at, user }))
}

/// Revokes the token that authenticates this request.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = "4XX", body = ErrorEnvelope)))]
async fn logout(State(app): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    app.store.revoke_token(&caller.actor(), &caller.auth.user.id, &caller.auth.token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The user behind the token.
#[utoipa::path(get, path = "/v1/me", tag = "auth",
    responses((status = 200, body = User), (status = "4XX", body = ErrorEnvelope)))]
async fn me(caller: Caller) -> Json<User> {
    Json(caller.auth.user)
}
