//! Users and their tokens.

use slipway_core::api::TokenKind;
use slipway_core::names::Username;
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use slipway_store::{verify_password, NewUser, StoreError, TokenSecret};
use slipway_testkit::TestBackend;

use crate::support::*;

both_backends!(
    tokens_authenticate_until_they_expire_or_are_revoked,
    users_are_unique_and_the_first_admin_is_bootstrapped_once,
);

#[track_caller]
fn rejected<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Unauthenticated(code)) => assert_eq!(code, ErrorCode::TokenInvalid),
        other => panic!("expected Unauthenticated(TokenInvalid), got {other:?}"),
    }
}

async fn tokens_authenticate_until_they_expire_or_are_revoked(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let bob = f.user("bob").await;
    let now = Timestamp::now();
    let expires = now.plus_seconds(3600);

    let personal = f.store.create_token(&f.actor, &f.owner.id, "ci", TokenKind::Personal, None).await.unwrap();
    let session =
        f.store.create_token(&f.actor, &f.owner.id, "login", TokenKind::Session, Some(expires)).await.unwrap();
    let bobs = f.store.create_token(&actor_for(&bob), &bob.id, "bob's", TokenKind::Personal, None).await.unwrap();
    assert!(personal.token.starts_with("slw_"));
    assert_ne!(personal.token, session.token);
    assert_eq!(session.expires_at, Some(expires));

    let who = f.store.authenticate(&personal.token, now).await.unwrap();
    assert_eq!((who.user.id, who.token_id, who.kind), (f.owner.id.clone(), personal.id.clone(), TokenKind::Personal));
    let who = f.store.authenticate(&session.token, now).await.unwrap();
    assert_eq!((who.user.username.as_str(), who.kind), ("owner", TokenKind::Session));
    assert_eq!(f.store.authenticate(&bobs.token, now).await.unwrap().user.id, bob.id);

    // Expiry is judged against the `now` passed in, and the instant itself is too late.
    let just_before = Timestamp::from_millis(expires.as_millis() - 1);
    assert_eq!(f.store.authenticate(&session.token, just_before).await.unwrap().token_id, session.id);
    rejected(f.store.authenticate(&session.token, expires).await);
    rejected(f.store.authenticate(&session.token, now.plus_seconds(3601)).await);
    // Unknown and malformed tokens look the same as expired ones.
    rejected(f.store.authenticate(&TokenSecret::generate().plain, now).await);
    rejected(f.store.authenticate("", now).await);

    // Someone else's token cannot be revoked (or even confirmed to exist).
    assert_eq!(
        not_found(f.store.revoke_token(&actor_for(&bob), &bob.id, &personal.id).await),
        ErrorCode::TokenNotFound
    );
    assert!(f.store.authenticate(&personal.token, now).await.is_ok());

    let listed = f.store.list_tokens(&f.owner.id, &page(50, None)).await.unwrap();
    let ids: Vec<_> = listed.items.iter().map(|t| t.id.clone()).collect();
    assert_eq!(ids, [personal.id.clone(), session.id.clone()]);
    assert_eq!(listed.items[0].name, "ci");
    assert_eq!(listed.items[1].kind, TokenKind::Session);

    f.store.revoke_token(&f.actor, &f.owner.id, &personal.id).await.unwrap();
    rejected(f.store.authenticate(&personal.token, now).await);
    assert_eq!(
        not_found(f.store.revoke_token(&f.actor, &f.owner.id, &personal.id).await),
        ErrorCode::TokenNotFound,
        "a revoked token cannot be revoked again"
    );
    let listed = f.store.list_tokens(&f.owner.id, &page(50, None)).await.unwrap();
    let ids: Vec<_> = listed.items.iter().map(|t| t.id.clone()).collect();
    assert_eq!(ids, std::slice::from_ref(&session.id), "revoked tokens are not listed");
    let listed = f.store.list_tokens(&bob.id, &page(50, None)).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].id, bobs.id);

    // A token that expired long ago is not listed either.
    f.store
        .create_token(&f.actor, &f.owner.id, "old", TokenKind::Session, Some(Timestamp::from_millis(1_000)))
        .await
        .unwrap();
    let listed = f.store.list_tokens(&f.owner.id, &page(50, None)).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].id, session.id);
}

async fn users_are_unique_and_the_first_admin_is_bootstrapped_once(backend: TestBackend) {
    let db = slipway_testkit::TestDatabase::create(backend).await;
    let store = db.store().await;
    let new_user = |name: &str| NewUser {
        username: Username::parse(name).unwrap(),
        email: None,
        password_hash: slipway_store::hash_password(&slipway_core::names::Password::parse("hunter2hunter2").unwrap())
            .unwrap(),
        is_admin: false,
    };

    assert!(store.bootstrap_admin(new_user("admin")).await.unwrap());
    assert!(!store.bootstrap_admin(new_user("second")).await.unwrap());
    let admin = store.user_by_username(&Username::parse("admin").unwrap()).await.unwrap();
    assert!(admin.is_admin, "the bootstrapped user is a platform admin");
    assert_eq!(not_found(store.user_by_username(&Username::parse("second").unwrap()).await), ErrorCode::UserNotFound);

    let (user, hash) = store.credentials(&Username::parse("admin").unwrap()).await.unwrap();
    assert_eq!(user.id, admin.id);
    assert!(verify_password("hunter2hunter2", &hash));
    assert!(!verify_password("wrong-password", &hash));

    let again = store.create_user(&slipway_store::Actor::system("t"), new_user("admin")).await;
    assert_eq!(conflict(again), ErrorCode::UserExists);
    store.close().await;
}
