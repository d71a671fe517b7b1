//! Personal API tokens: `GET|POST /v1/tokens`, `DELETE /v1/tokens/{id}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::api::{CreateTokenRequest, CreatedToken, ErrorEnvelope, Page, PageQuery, Token, TokenKind};
use slipway_core::ids::TokenId;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{page_of, page_request, ApiJson, ApiPath, ApiQuery, Caller};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_tokens, create_token)).routes(routes!(revoke_token))
}

/// Ten years: the longest lifetime a token may ask for.
pub(crate) const MAX_EXPIRES_IN: u64 = 10 * 365 * 24 * 3600;

/// The caller's live tokens (sessions and personal tokens).
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens", params(PageQuery),
    responses((status = 200, body = Page<Token>), (status = "4XX", body = ErrorEnvelope)))]
async fn list_tokens(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<Token>>, ApiError> {
    let page = app.store.list_tokens(&caller.auth.user.id, &page_request(&query)?).await?;
    Ok(Json(page_of(page)))
}

/// Creates a personal token; its secret is in this response only.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedToken), (status = "4XX", body = ErrorEnvelope)))]
async fn create_token(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateTokenRequest>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let name = super::printable_name(&body.name)?;
    let expires_at = match body.expires_in {
        None => None,
        Some(seconds @ 1..=MAX_EXPIRES_IN) => Some(Timestamp::now().plus_seconds(seconds as i64)),
        Some(_) => {
            return Err(ApiError::new(ErrorCode::InvalidRequest, "expires_in must be 1 second to 10 years"));
        }
    };
    let token =
        app.store.create_token(&caller.actor(), &caller.auth.user.id, &name, TokenKind::Personal, expires_at).await?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorEnvelope)))]
async fn revoke_token(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = TokenId::parse(&id).map_err(|err| ApiError::new(ErrorCode::InvalidId, err.to_string()))?;
    app.store.revoke_token(&caller.actor(), &caller.auth.user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
