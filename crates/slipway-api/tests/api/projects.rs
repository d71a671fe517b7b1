//! Scenario 5: projects, their hostnames and custom domains, environments.

use serde_json::json;
use slipway_core::repo::{AllowedHosts, AllowedPaths, RepoPolicy};
use slipway_testkit::TestBackend;

use super::harness::{spawn_app, spawn_app_with};

both_backends!(
    projects_and_hostnames,
    environments,
    repository_urls_follow_the_platform_policy,
    a_build_timeout_is_set_within_its_bounds_and_reset_with_null
);

async fn projects_and_hostnames(backend: TestBackend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let ws = app.workspace(&alice, "acme").await;
    assert_eq!(ws["slug"], "acme");
    assert_eq!(ws["name"], "acme");
    assert_eq!(ws["role"], "owner");

    let project = app.project(&alice, "acme", "shop").await;
    assert_eq!(project["slug"], "shop");
    assert_eq!(project["workspace"], "acme");
    assert_eq!(project["workspace_id"], ws["id"]);
    assert_eq!(project["branch"], "main");
    assert_eq!(project["url"], "http://shop-acme.localhost:8000");
    let environments = project["environments"].as_array().expect("environments");
    assert_eq!(environments.len(), 1);
    assert_eq!(environments[0]["name"], "production");
    assert_eq!(environments[0]["url"], "http://shop-acme.localhost:8000");
    assert_eq!(environments[0]["hostnames"], json!(["shop-acme.localhost"]));
    assert_eq!(environments[0]["target"], "local");
    // GET returns the same project.
    let got = app.get(&alice, "/v1/workspaces/acme/projects/shop").await;
    assert_eq!(got.ok(200), &project);
    app.post(&alice, "/v1/workspaces/acme/projects", json!({"slug": "shop"})).await.err("PROJECT_EXISTS");

    // `a-b` in `c` and `a` in `b-c` would both be a-b-c.localhost.
    app.workspace(&alice, "c").await;
    app.workspace(&alice, "b-c").await;
    let first = app.project(&alice, "c", "a-b").await;
    assert_eq!(first["url"], "http://a-b-c.localhost:8000");
    app.post(&alice, "/v1/workspaces/b-c/projects", json!({"slug": "a"})).await.err("HOSTNAME_TAKEN");
    assert!(app.project_slugs(&alice, "b-c").await.is_empty());

    // A label over 63 characters.
    let long_ws = "w".repeat(40);
    app.workspace(&alice, &long_ws).await;
    let reply = app.post(&alice, &format!("/v1/workspaces/{long_ws}/projects"), json!({"slug": "p".repeat(23)})).await;
    reply.err("HOSTNAME_TOO_LONG");
    // 22 + 1 + 40 = 63 is the longest label that fits.
    let fits = app.project(&alice, &long_ws, &"p".repeat(22)).await;
    assert_eq!(fits["url"], format!("http://{}-{long_ws}.localhost:8000", "p".repeat(22)));

    // A custom domain becomes the primary URL; PATCH null reverts it.
    let custom = app
        .post(
            &alice,
            "/v1/workspaces/acme/projects",
            json!({"slug": "blog", "custom_domain": "Blog.Example.COM",
                   "repo_url": "https://github.com/acme/blog.git", "branch": "trunk"}),
        )
        .await;
    let custom = custom.ok(201).clone();
    assert_eq!(custom["url"], "http://blog.example.com:8000");
    assert_eq!(custom["environments"][0]["hostnames"], json!(["blog-acme.localhost", "blog.example.com"]));
    assert_eq!(custom["repo_url"], "https://github.com/acme/blog.git");
    assert_eq!(custom["branch"], "trunk");
    // The same custom domain cannot go to another project.
    app.patch(&alice, "/v1/workspaces/acme/projects/shop", json!({"custom_domain": "blog.example.com"}))
        .await
        .err("HOSTNAME_TAKEN");
    let reverted = app.patch(&alice, "/v1/workspaces/acme/projects/blog", json!({"custom_domain": null})).await;
    let reverted = reverted.ok(200).clone();
    assert_eq!(reverted["url"], "http://blog-acme.localhost:8000");
    assert_eq!(reverted["environments"][0]["hostnames"], json!(["blog-acme.localhost"]));
    // Absent fields are left alone.
    assert_eq!(reverted["branch"], "trunk");
    assert_eq!(reverted["repo_url"], "https://github.com/acme/blog.git");
    // The freed domain can now be used by shop.
    let moved = app
        .patch(
            &alice,
            "/v1/workspaces/acme/projects/shop",
            json!({"custom_domain": "blog.example.com", "branch": "release/1.x"}),
        )
        .await;
    assert_eq!(moved.ok(200)["url"], "http://blog.example.com:8000");
    assert_eq!(moved.body["branch"], "release/1.x");
    let cleared = app.patch(&alice, "/v1/workspaces/acme/projects/blog", json!({"repo_url": null})).await;
    assert!(cleared.ok(200).get("repo_url").is_none(), "{}", cleared.text);

    // Invalid changes are refused and change nothing.
    for (body, code) in [
        (json!({"branch": "a..b"}), "INVALID_BRANCH"),
        (json!({"branch": "-x"}), "INVALID_BRANCH"),
        (json!({"custom_domain": "shop-acme.localhost"}), "INVALID_DOMAIN"),
        (json!({"custom_domain": "10.0.0.1"}), "INVALID_DOMAIN"),
        (json!({"repo_url": "ftp://x/y"}), "INVALID_REPO_URL"),
        // A valid branch with a bad domain: neither is applied.
        (json!({"branch": "ok", "custom_domain": "bad_domain.com"}), "INVALID_DOMAIN"),
    ] {
        app.patch(&alice, "/v1/workspaces/acme/projects/shop", body).await.err(code);
    }
    let shop = app.get(&alice, "/v1/workspaces/acme/projects/shop").await;
    assert_eq!(shop.ok(200)["branch"], "release/1.x");
    assert_eq!(shop.body["url"], "http://blog.example.com:8000");
    app.patch(&alice, "/v1/workspaces/acme/projects/ghost", json!({"branch": "x"})).await.err("PROJECT_NOT_FOUND");

    // Delete: 204, then gone, and its hostnames are free again.
    app.delete(&alice, "/v1/workspaces/acme/projects/shop").await.ok(204);
    app.get(&alice, "/v1/workspaces/acme/projects/shop").await.err("PROJECT_NOT_FOUND");
    app.delete(&alice, "/v1/workspaces/acme/projects/shop").await.err("PROJECT_NOT_FOUND");
    let again = app
        .post(&alice, "/v1/workspaces/acme/projects", json!({"slug": "shop", "custom_domain": "blog.example.com"}))
        .await;
    assert_eq!(again.ok(201)["url"], "http://blog.example.com:8000");
    assert_ne!(again.body["id"], project["id"]);
    assert_eq!(app.project_slugs(&alice, "acme").await, ["blog", "shop"]);
}

async fn a_build_timeout_is_set_within_its_bounds_and_reset_with_null(backend: TestBackend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    app.workspace(&alice, "acme").await;
    let project = app.project(&alice, "acme", "shop").await;
    assert_eq!(project["build_timeout"], 900, "15 minutes unless the project says otherwise");
    let shop = "/v1/workspaces/acme/projects/shop";

    let longer = app.patch(&alice, shop, json!({"build_timeout": 3600})).await;
    assert_eq!(longer.ok(200)["build_timeout"], 3600);
    assert_eq!(longer.body["branch"], "main", "absent fields are left alone");
    for bounds in [60, 7200] {
        assert_eq!(app.patch(&alice, shop, json!({"build_timeout": bounds})).await.ok(200)["build_timeout"], bounds);
    }
    app.patch(&alice, shop, json!({"build_timeout": 3600})).await.ok(200);

    // Out of range or not a whole number of seconds: refused, and nothing changes.
    for (body, code) in [
        (json!({"build_timeout": 59}), "INVALID_REQUEST"),
        (json!({"build_timeout": 7201}), "INVALID_REQUEST"),
        (json!({"build_timeout": 0}), "INVALID_REQUEST"),
        (json!({"build_timeout": -60}), "INVALID_REQUEST"),
        (json!({"build_timeout": i64::MAX}), "INVALID_REQUEST"),
        (json!({"build_timeout": "30m"}), "INVALID_JSON"),
        (json!({"build_timeout": 90.5}), "INVALID_JSON"),
        // A valid branch with a bad timeout: neither is applied.
        (json!({"branch": "develop", "build_timeout": 10}), "INVALID_REQUEST"),
    ] {
        let reply = app.patch(&alice, shop, body.clone()).await;
        reply.err(code);
        if code == "INVALID_REQUEST" {
            assert!(reply.text.contains("60 to 7200 seconds"), "{body}: {}", reply.text);
        }
    }
    let unchanged = app.get(&alice, shop).await;
    assert_eq!(unchanged.ok(200)["build_timeout"], 3600);
    assert_eq!(unchanged.body["branch"], "main");

    let reset = app.patch(&alice, shop, json!({"build_timeout": null})).await;
    assert_eq!(reset.ok(200)["build_timeout"], 900);
    assert_eq!(app.get(&alice, shop).await.ok(200)["build_timeout"], 900);
}

async fn environments(backend: TestBackend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    app.workspace(&alice, "acme").await;
    app.project(&alice, "acme", "shop").await;
    let envs = "/v1/workspaces/acme/projects/shop/environments";

    let staging = app.post(&alice, envs, json!({"name": "staging"})).await;
    let staging = staging.ok(201).clone();
    assert_eq!(staging["name"], "staging");
    assert_eq!(staging["hostnames"], json!(["shop-staging-acme.localhost"]));
    assert_eq!(staging["url"], "http://shop-staging-acme.localhost:8000");
    assert!(staging["id"].as_str().is_some_and(|id| id.starts_with("env_")));
    app.post(&alice, envs, json!({"name": "staging"})).await.err("ENVIRONMENT_EXISTS");
    app.post(&alice, envs, json!({"name": "production"})).await.err("ENVIRONMENT_EXISTS");
    app.post(&alice, envs, json!({"name": "Staging"})).await.err("INVALID_SLUG");
    app.post(&alice, envs, json!({"name": "e".repeat(60)})).await.err("HOSTNAME_TOO_LONG");
    app.post(&alice, "/v1/workspaces/acme/projects/ghost/environments", json!({"name": "staging"}))
        .await
        .err("PROJECT_NOT_FOUND");

    let list = app.get(&alice, envs).await;
    let names: Vec<&str> =
        list.ok(200).as_array().expect("environments").iter().map(|e| e["name"].as_str().unwrap_or_default()).collect();
    assert_eq!(names, ["production", "staging"]);
    // The project shows both, and production stays the project's URL.
    let project = app.get(&alice, "/v1/workspaces/acme/projects/shop").await;
    assert_eq!(project.ok(200)["environments"].as_array().map(Vec::len), Some(2));
    assert_eq!(project.body["url"], "http://shop-acme.localhost:8000");

    app.delete(&alice, &format!("{envs}/production")).await.err("ENVIRONMENT_PROTECTED");
    app.delete(&alice, &format!("{envs}/ghost")).await.err("ENVIRONMENT_NOT_FOUND");
    app.delete(&alice, &format!("{envs}/staging")).await.ok(204);
    app.delete(&alice, &format!("{envs}/staging")).await.err("ENVIRONMENT_NOT_FOUND");
    app.get(&alice, &format!("{envs}/staging/config")).await.err("ENVIRONMENT_NOT_FOUND");
    // Its hostname is free again.
    app.post(&alice, envs, json!({"name": "staging"})).await.ok(201);
}

/// Local paths and private addresses are refused with a message naming the
/// setting, unless the platform admin allows them.
async fn repository_urls_follow_the_platform_policy(backend: TestBackend) {
    let app = spawn_app_with(backend, |config| {
        config.repo_policy = RepoPolicy::new(
            AllowedPaths::parse("/srv/git").expect("paths"),
            AllowedHosts::parse("git.internal,10.1.0.0/16").expect("hosts"),
        );
    })
    .await;
    let alice = app.user("alice").await;
    app.workspace(&alice, "acme").await;
    let projects = "/v1/workspaces/acme/projects";
    let created = app.post(&alice, projects, json!({"slug": "shop", "repo_url": "/srv/git/acme/shop.git"})).await;
    assert_eq!(created.ok(201)["repo_url"], "/srv/git/acme/shop.git");

    let shop = "/v1/workspaces/acme/projects/shop";
    for allowed in ["file:///srv/git/acme/other.git", "http://10.1.2.3/x.git", "https://git.internal/x.git"] {
        app.patch(&alice, shop, json!({"repo_url": allowed})).await.ok(200);
    }
    for (refused, hint) in [
        ("file:///srv/gitx/x.git", "SLIPWAY_REPO_ALLOW_PATHS"),
        ("/srv/git/../etc", "`..`"),
        ("http://10.2.0.1/x.git", "10.2.0.1, a private address"),
        ("http://[::1]/x.git", "loopback"),
    ] {
        let reply = app.patch(&alice, shop, json!({"repo_url": refused})).await;
        let message = reply.err("INVALID_REPO_URL");
        assert!(message.contains(hint), "{refused}: {message}");
    }
    let unchanged = app.get(&alice, shop).await;
    assert_eq!(unchanged.ok(200)["repo_url"], "https://git.internal/x.git");
}
