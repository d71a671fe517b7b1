//! Users and their tokens (sessions and personal API tokens). These tables
//! hold no tenant data; their audit rows are platform-level.

use slipway_core::api::{CreatedToken, Token, TokenKind, User};
use slipway_core::ids::{TokenId, UserId};
use slipway_core::names::{Email, Username};
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::error::{on_duplicate, stored};
use crate::identity::{token_hash, TokenSecret};
use crate::page::{Order, PageRequest, Paged};
use crate::scope::{Scope, Tx};
use crate::{Store, StoreError};

/// A user to create; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub email: Option<Email>,
    pub password_hash: String,
    pub is_admin: bool,
}

/// The owner of a valid token.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub token_id: TokenId,
    pub kind: TokenKind,
}

const USER_COLUMNS: &str = "u.id, u.username, u.email, u.is_admin, u.created_at";

pub(crate) fn user_from(row: &AnyRow) -> Result<User, StoreError> {
    let email: Option<String> = row.try_get("email")?;
    Ok(User {
        id: stored(UserId::parse(&row.try_get::<String, _>("id")?))?,
        username: stored(Username::parse(&row.try_get::<String, _>("username")?))?,
        email: email.map(|e| stored(Email::parse(&e))).transpose()?,
        is_admin: row.try_get::<i64, _>("is_admin")? == 1,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

fn token_from(row: &AnyRow) -> Result<Token, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(Token {
        id: stored(TokenId::parse(&row.try_get::<String, _>("id")?))?,
        name: row.try_get("name")?,
        kind: if kind == "session" { TokenKind::Session } else { TokenKind::Personal },
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(Timestamp::from_millis),
    })
}

async fn insert_user(tx: &mut Tx, actor: &Actor, new: NewUser) -> Result<User, StoreError> {
    let user = User {
        id: UserId::generate(),
        username: new.username,
        email: new.email,
        is_admin: new.is_admin,
        created_at: Timestamp::now(),
    };
    sqlx::query(
        "INSERT INTO users (id, username, email, password_hash, is_admin, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user.id.as_str())
    .bind(user.username.as_str())
    .bind(user.email.as_ref().map(Email::as_str))
    .bind(&new.password_hash)
    .bind(i64::from(user.is_admin))
    .bind(user.created_at.as_millis())
    .execute(&mut **tx)
    .await
    .map_err(on_duplicate(ErrorCode::UserExists, format!("user `{}` already exists", user.username)))?;
    audit::record(tx, None, actor, "user.create", &format!("user/{}", user.username)).await?;
    Ok(user)
}

impl Store {
    pub async fn create_user(&self, actor: &Actor, new: NewUser) -> Result<User, StoreError> {
        let mut tx = self.write(Scope::Platform).await?;
        let user = insert_user(&mut tx, actor, new).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Creates the first platform admin if there are no users yet; returns
    /// whether it did. Safe to call at every start.
    pub async fn bootstrap_admin(&self, new: NewUser) -> Result<bool, StoreError> {
        let mut tx = self.write(Scope::Platform).await?;
        let users: i64 = sqlx::query("SELECT COUNT(*) FROM users").fetch_one(&mut *tx).await?.try_get(0)?;
        if users > 0 {
            return Ok(false);
        }
        insert_user(&mut tx, &Actor::system("bootstrap"), NewUser { is_admin: true, ..new }).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn user_by_username(&self, username: &Username) -> Result<User, StoreError> {
        Ok(self.credentials(username).await?.0)
    }

    /// A user and their password hash, for login.
    pub async fn credentials(&self, username: &Username) -> Result<(User, String), StoreError> {
        let mut tx = self.read(Scope::Platform).await?;
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.username = $1"))
            .bind(username.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::not_found(ErrorCode::UserNotFound, format!("no user `{username}`")))?;
        tx.commit().await?;
        Ok((user_from(&row)?, row.try_get("password_hash")?))
    }

    /// Issues a token for `user`. Sessions come from login, personal tokens
    /// from `POST /v1/tokens`; both are audited.
    pub async fn create_token(
        &self,
        actor: &Actor,
        user: &UserId,
        name: &str,
        kind: TokenKind,
        expires_at: Option<Timestamp>,
    ) -> Result<CreatedToken, StoreError> {
        let secret = TokenSecret::generate();
        let id = TokenId::generate();
        let mut tx = self.write(Scope::Platform).await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, kind, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .bind(name)
        .bind(kind.as_str())
        .bind(&secret.hash)
        .bind(Timestamp::now().as_millis())
        .bind(expires_at.map(Timestamp::as_millis))
        .execute(&mut *tx)
        .await?;
        let action = match kind {
            TokenKind::Session => "auth.login",
            TokenKind::Personal => "token.create",
        };
        audit::record(&mut tx, None, actor, action, &format!("token/{id}")).await?;
        tx.commit().await?;
        Ok(CreatedToken { id, name: name.to_owned(), token: secret.plain, expires_at })
    }

    /// The user behind a bearer token, if it is known, unexpired and unrevoked.
    pub async fn authenticate(&self, token: &str, now: Timestamp) -> Result<Authenticated, StoreError> {
        let mut tx = self.read(Scope::Platform).await?;
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, t.id AS token_id, t.kind, t.expires_at, t.revoked_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
        ))
        .bind(token_hash(token))
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let invalid = StoreError::Unauthenticated(ErrorCode::TokenInvalid);
        let row = row.ok_or(invalid)?;
        let revoked: Option<i64> = row.try_get("revoked_at")?;
        let expires: Option<i64> = row.try_get("expires_at")?;
        if revoked.is_some() || expires.is_some_and(|at| at <= now.as_millis()) {
            return Err(StoreError::Unauthenticated(ErrorCode::TokenInvalid));
        }
        let kind: String = row.try_get("kind")?;
        Ok(Authenticated {
            user: user_from(&row)?,
            token_id: stored(TokenId::parse(&row.try_get::<String, _>("token_id")?))?,
            kind: if kind == "session" { TokenKind::Session } else { TokenKind::Personal },
        })
    }

    /// A user's live tokens, oldest first.
    pub async fn list_tokens(&self, user: &UserId, page: &PageRequest) -> Result<Paged<Token>, StoreError> {
        let mut tx = self.read(Scope::Platform).await?;
        let (cmp, dir) = Order::OldestFirst.sql();
        let rows = sqlx::query(&format!(
            "SELECT * FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL AND ($2 IS NULL OR id {cmp} $2)
             AND (expires_at IS NULL OR expires_at > $3) ORDER BY id {dir} LIMIT $4"
        ))
        .bind(user.as_str())
        .bind(page.bound())
        .bind(Timestamp::now().as_millis())
        .bind(page.fetch())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let tokens = rows.iter().map(token_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Paged::from_rows(tokens, page, |t| t.id.to_string()))
    }

    /// Revokes one of `user`'s tokens. Someone else's token is "not found".
    pub async fn revoke_token(&self, actor: &Actor, user: &UserId, token: &TokenId) -> Result<(), StoreError> {
        let mut tx = self.write(Scope::Platform).await?;
        let revoked =
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(Timestamp::now().as_millis())
                .bind(token.as_str())
                .bind(user.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if revoked == 0 {
            return Err(StoreError::not_found(ErrorCode::TokenNotFound, format!("no live token {token}")));
        }
        audit::record(&mut tx, None, actor, "token.revoke", &format!("token/{token}")).await?;
        tx.commit().await?;
        Ok(())
    }
}
