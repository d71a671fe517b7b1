use slipway_core::api::TokenKind;
use slipway_core::hostname::Hostname;
use slipway_core::names::*;
use slipway_core::timestamp::Timestamp;
use slipway_store::testing::{TestBackend, TestDatabase};
use slipway_store::*;

async fn smoke(backend: TestBackend) {
    let db = TestDatabase::create(backend).await;
    let store = db.store().await;
    let actor = Actor::system("t");
    let hash = hash_password(&Password::parse("password1").unwrap()).unwrap();
    let user = store
        .create_user(
            &actor,
            NewUser {
                username: Username::parse("alice").unwrap(),
                email: None,
                password_hash: hash,
                is_admin: false,
            },
        )
        .await
        .unwrap();
    let ws = store
        .create_workspace(
            &actor,
            &user.id,
            &WorkspaceSlug::parse("acme").unwrap(),
            "Acme",
        )
        .await
        .unwrap();
    let project = store
        .create_project(
            &actor,
            &ws,
            NewProject {
                slug: ProjectSlug::parse("shop").unwrap(),
                repo_url: None,
                branch: Branch::default_branch(),
                generated_hostname: Hostname::parse("shop-acme.localhost").unwrap(),
                custom_domain: None,
            },
        )
        .await
        .unwrap();
    println!("{project:?}");
    let list = store
        .list_projects(
            &ws,
            &PageRequest {
                after: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    let token = store
        .create_token(&actor, &user.id, "t", TokenKind::Personal, None)
        .await
        .unwrap();
    let auth = store
        .authenticate(&token.token, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(auth.user.id, user.id);
    let access = store.access("acme", &user).await.unwrap();
    assert_eq!(access.workspace.id, ws.id);
}

#[tokio::test]
async fn smoke_sqlite() {
    smoke(TestBackend::Sqlite).await
}

#[tokio::test]
async fn smoke_postgres() {
    smoke(TestBackend::Postgres).await
}
