//! Scenario 2: creating users, by a platform admin or by open sign-up.

use serde_json::json;
use slipway_testkit::TestBackend;

use super::harness::{spawn_app, spawn_app_with, ANON};

both_backends!(admins_create_users, open_signup);

async fn admins_create_users(backend: TestBackend) {
    let app = spawn_app(backend).await;

    let reply = app
        .post(
            &app.admin,
            "/v1/users",
            json!({"username": "bob", "password": "bob-password", "email": "Bob@Example.COM"}),
        )
        .await;
    let bob = reply.ok(201).clone();
    assert_eq!(bob["username"], "bob");
    assert_eq!(bob["is_admin"], false);
    assert_eq!(bob["email"], "Bob@example.com");
    assert!(bob["id"].as_str().is_some_and(|id| id.starts_with("usr_")));
    assert!(bob.get("password").is_none() && bob.get("password_hash").is_none());
    assert!(!reply.text.contains("bob-password"));

    // The same username again is a conflict, whatever the other fields.
    app.post(&app.admin, "/v1/users", json!({"username": "bob", "password": "another-password"}))
        .await
        .err("USER_EXISTS");
    // And the first password still works: the duplicate changed nothing.
    let bob_token = app.login("bob", "bob-password").await;

    // A user who is not a platform admin may not create users...
    app.post(&bob_token, "/v1/users", json!({"username": "carol", "password": "carol-password"}))
        .await
        .err("FORBIDDEN");
    // ...and anonymous sign-up is off by default.
    app.post(ANON, "/v1/users", json!({"username": "carol", "password": "carol-password"}))
        .await
        .err("SIGNUP_DISABLED");
    // Neither attempt created carol.
    app.post(ANON, "/v1/auth/login", json!({"username": "carol", "password": "carol-password"}))
        .await
        .err("INVALID_CREDENTIALS");

    // A platform admin may create another platform admin.
    let reply = app
        .post(&app.admin, "/v1/users", json!({"username": "root2", "password": "root2-password", "is_admin": true}))
        .await;
    assert_eq!(reply.ok(201)["is_admin"], true);

    // Bad values get their precise codes.
    for (body, code) in [
        (json!({"username": "Bad Name", "password": "long-enough"}), "INVALID_USERNAME"),
        (json!({"username": "shorty", "password": "short"}), "INVALID_PASSWORD"),
        (json!({"username": "dave", "password": "long-enough", "email": "dave@localhost"}), "INVALID_EMAIL"),
    ] {
        app.post(&app.admin, "/v1/users", body).await.err(code);
    }
}

async fn open_signup(backend: TestBackend) {
    let app = spawn_app_with(backend, |config| config.open_signup = true).await;

    let reply = app.post(ANON, "/v1/users", json!({"username": "eve", "password": "eve-password"})).await;
    assert_eq!(reply.ok(201)["is_admin"], false);
    let eve = app.login("eve", "eve-password").await;
    assert_eq!(app.get(&eve, "/v1/me").await.ok(200)["username"], "eve");

    // Sign-up cannot make a platform admin, anonymously or as a plain user.
    app.post(ANON, "/v1/users", json!({"username": "mallory", "password": "mallory-password", "is_admin": true}))
        .await
        .err("FORBIDDEN");
    app.post(&eve, "/v1/users", json!({"username": "mallory", "password": "mallory-password", "is_admin": true}))
        .await
        .err("FORBIDDEN");
    app.post(ANON, "/v1/auth/login", json!({"username": "mallory", "password": "mallory-password"}))
        .await
        .err("INVALID_CREDENTIALS");

    // Duplicates are still conflicts, and a bad token is still an error
    // rather than an anonymous sign-up.
    app.post(ANON, "/v1/users", json!({"username": "eve", "password": "other-password"})).await.err("USER_EXISTS");
    let bad_token = app
        .send(
            app.request(reqwest::Method::POST, "/v1/users", "not-a-token")
                .json(&json!({"username": "frank", "password": "frank-password"})),
        )
        .await;
    bad_token.err("TOKEN_INVALID");
}
