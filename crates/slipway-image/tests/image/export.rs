//! Exports against a real registry: layers, tag, user, entrypoint, env and
//! labels read back with plain HTTP; an existing tag refused; bad credentials,
//! an unpinned base and an unreachable registry are typed errors.

use slipway_core::names::{ProjectSlug, WorkspaceSlug};
use slipway_image::{ExportRequest, Exporter, ImageError, ImageRef, RegistrySettings};

use crate::pull::{app_dir, gunzip, plan, pull, tag, tar_entries, COMMIT};
use slipway_testkit::base_image::{push_base, sha};
use slipway_testkit::registry::TestRegistry;

fn request(app: &std::path::Path, base: &str, build: u64) -> ExportRequest {
    ExportRequest::new(
        plan(),
        app.to_path_buf(),
        ImageRef::parse(base).unwrap(),
        WorkspaceSlug::parse("acme").unwrap(),
        ProjectSlug::parse("web").unwrap(),
        tag(build),
    )
}

#[tokio::test]
async fn exports_an_app_onto_a_pushed_base_and_refuses_the_same_tag_again() {
    let registry = TestRegistry::start().await;
    let base = push_base(&registry.host, "base/busybox", None).await;
    let app = app_dir();
    let exporter = Exporter::new(RegistrySettings::parse(&format!("{}/slipway", registry.host), None, None).unwrap());

    let mut first = request(app.path(), &base.reference, 7);
    first.path_prepend = vec!["/app/bin".to_owned()];
    first.env = vec![("APP_ENV".to_owned(), "production".to_owned())];
    let image = exporter.export(&first).await.unwrap();
    let tag = tag(7).to_string();
    assert_eq!(image.reference.to_string(), format!("{}/slipway/acme/web:{tag}", registry.host));
    assert!(base.reference.ends_with(&base.index_digest), "the base is pinned to its index");
    assert_eq!(image.base_digest.as_str(), base.manifest_digest, "the index resolved to this platform's manifest");

    let pulled = pull(&registry.host, "slipway/acme/web", &tag, None).await;
    assert_eq!(pulled.media_type, "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(pulled.manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(pulled.manifest_digest, image.digest.as_str());
    let by_digest = pull(&registry.host, "slipway/acme/web", image.digest.as_str(), None).await;
    assert_eq!(by_digest.manifest, pulled.manifest);
    assert_eq!(image.pinned(), format!("{}/slipway/acme/web@{}", registry.host, image.digest));
    let layers = pulled.manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "base layer + app layer");
    assert_eq!(layers[0]["digest"], base.layer_digest.as_str());
    assert_eq!(layers[0]["size"], base.layer_size);
    assert_eq!(layers[1]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
    assert_eq!(layers[1]["digest"], image.layers[1].digest.as_str());

    let config = &pulled.config;
    let app_tar = gunzip(&pulled.layers[1]);
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    assert_eq!(diff_ids.len(), 2);
    assert_eq!(diff_ids[0], sha(&gunzip(&pulled.layers[0])).as_str(), "base diff_id kept");
    assert_eq!(diff_ids[1], sha(&app_tar).as_str(), "diff_id = sha256 of the uncompressed app tar");
    let c = &config["config"];
    assert_eq!(c["User"], "1000:1000");
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(c["Cmd"], serde_json::json!(["httpd -f -p 0.0.0.0:$PORT -h /app/public"]), "loopback bind rewritten");
    let env: Vec<&str> = c["Env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(
        env,
        [
            "PATH=/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "PORT=8080",
            "APP_ENV=production"
        ]
    );
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    let labels = &c["Labels"];
    assert_eq!(labels["test.slipway.dev/base"], "busybox", "base labels kept");
    assert_eq!(labels["slipway.dev/workspace"], "acme");
    assert_eq!(labels["slipway.dev/project"], "web");
    assert_eq!(labels["slipway.dev/commit"], COMMIT);
    assert_eq!(labels["org.opencontainers.image.revision"], COMMIT);
    assert_eq!(labels["org.opencontainers.image.version"], tag.as_str());
    assert_eq!(labels["org.opencontainers.image.base.digest"], base.manifest_digest.as_str());
    assert_eq!(labels["org.opencontainers.image.base.name"], base.reference.as_str());

    // The app layer: sorted, /app and below owned by 1000, fixed mtimes, no .git.
    let entries = tar_entries(&app_tar);
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "app",
            "app/home.html",
            "app/public",
            "app/public/assets",
            "app/public/assets/app.css",
            "app/public/index.html",
            "app/start.sh"
        ]
    );
    assert!(entries.iter().all(|e| e.uid == 1000 && e.gid == 1000 && e.mtime == 0), "{entries:?}");
    let mode = |path: &str| entries.iter().find(|e| e.path == path).map(|e| (e.kind, e.mode)).unwrap();
    assert_eq!(mode("app/start.sh"), ('f', 0o755));
    assert_eq!(mode("app/public/index.html"), ('f', 0o644));
    assert_eq!(entries[1].link.as_deref(), Some("public/index.html"), "symlinks kept as links");

    // The base layer was mounted from the base repository, not uploaded again; the app layer and config were uploaded.
    let head = reqwest::Client::new().head(registry.url(&format!("/v2/slipway/acme/web/blobs/{}", base.layer_digest)));
    assert_eq!(head.send().await.unwrap().status(), 200);
    let mount = format!("POST /v2/slipway/acme/web/blobs/uploads/?mount={}&from=base/busybox", base.layer_digest);
    assert_eq!(registry.requests(&mount, 201), 1, "{}", registry.log());
    let uploads = || registry.requests("PUT /v2/slipway/acme/web/blobs/uploads/", 201);
    let manifests = || registry.requests("PUT /v2/slipway/acme/web/manifests/", 201);
    assert_eq!((uploads(), manifests()), (2, 1), "app layer + config, then the manifest");

    // Same tag again: refused, and the tag still names the first image.
    let err = exporter.export(&first).await.unwrap_err();
    assert!(matches!(err, ImageError::TagExists { .. }), "{err}");
    assert!(err.to_string().contains(&tag), "{err}");
    assert_eq!(pull(&registry.host, "slipway/acme/web", &tag, None).await.manifest_digest, image.digest.as_str());
    assert_eq!((uploads(), manifests()), (2, 1), "the refused export pushed nothing");

    // The same tree under the next build number: the very same app layer blob (reproducible).
    let second = exporter.export(&request(app.path(), &base.reference, 8)).await.unwrap();
    assert_eq!(second.layers[1].digest, image.layers[1].digest);
    assert_ne!(second.digest, image.digest, "labels name the build, so the manifests differ");
    assert_eq!((uploads(), manifests()), (3, 2), "only the new config and manifest were pushed");
    assert_eq!(registry.requests("POST /v2/slipway/acme/web/blobs/uploads/?mount=", 201), 1, "no second mount");
}

#[tokio::test]
async fn a_login_registry_takes_the_right_credentials_only_and_copies_base_layers_in_chunks() {
    let public = TestRegistry::start().await;
    let private = TestRegistry::start_with_login("slipway", "right-password").await;
    let base = push_base(&public.host, "base/busybox", None).await;
    let app = app_dir();
    let setting = format!("{}/team", private.host);

    for (username, password) in [(Some("slipway"), Some("wrong-password")), (None, None)] {
        let exporter = Exporter::new(RegistrySettings::parse(&setting, username, password).unwrap());
        let err = exporter.export(&request(app.path(), &base.reference, 1)).await.unwrap_err();
        assert!(matches!(err, ImageError::Unauthorized { status: 401, .. }), "{err}");
        assert!(err.to_string().contains("SLIPWAY_REGISTRY_PASSWORD"), "the hint names the settings: {err}");
    }

    let exporter = Exporter::new(RegistrySettings::parse(&setting, Some("slipway"), Some("right-password")).unwrap());
    let mut request = request(app.path(), &base.reference, 1);
    // Smaller than the base layer, so it is copied across registries with PATCH chunks.
    request.chunk_size = 64 * 1024;
    assert!(base.layer_size > 3 * request.chunk_size, "the busybox layer spans several chunks");
    let image = exporter.export(&request).await.unwrap();
    let login = Some(("slipway", "right-password"));
    let pulled = pull(&private.host, "team/acme/web", &tag(1).to_string(), login).await;
    assert_eq!(pulled.manifest_digest, image.digest.as_str());
    assert_eq!(pulled.manifest["layers"][0]["digest"], base.layer_digest.as_str(), "base layer copied intact");
}

#[tokio::test]
async fn an_unpinned_base_is_refused_before_anything_is_pushed() {
    let registry = TestRegistry::start().await;
    let base = push_base(&registry.host, "base/busybox", None).await;
    let exporter = Exporter::new(RegistrySettings::parse(&registry.host, None, None).unwrap());
    let app = app_dir();
    let unpinned = base.reference.split('@').next().unwrap().to_owned();
    let err = exporter.export(&request(app.path(), &unpinned, 3)).await.unwrap_err();
    assert!(matches!(err, ImageError::BaseNotPinned { .. }), "{err}");
    assert!(err.to_string().contains("@sha256:"), "{err}");
    let catalog: serde_json::Value = reqwest::get(registry.url("/v2/_catalog")).await.unwrap().json().await.unwrap();
    assert_eq!(catalog["repositories"], serde_json::json!(["base/busybox"]), "no project repository was created");
}

#[tokio::test]
async fn an_unreachable_registry_is_a_clear_error() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let exporter = Exporter::new(RegistrySettings::parse(&format!("127.0.0.1:{port}/x"), None, None).unwrap());
    let app = app_dir();
    let base = format!("127.0.0.1:{port}/base:1@sha256:{}", "a".repeat(64));
    let err = exporter.export(&request(app.path(), &base, 1)).await.unwrap_err();
    assert!(matches!(err, ImageError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[tokio::test]
async fn a_token_registry_trades_the_login_for_a_bearer_token() {
    use crate::token::{TokenService, ISSUER, SERVICE};
    let tokens = TokenService::start("ci-bot", "token-password").await;
    let registry = TestRegistry::start_with_token(&tokens.realm, &tokens.cert_pem, ISSUER, SERVICE).await;
    let public = TestRegistry::start().await;
    let base = push_base(&public.host, "base/busybox", None).await;
    let app = app_dir();
    let setting = format!("{}/apps", registry.host);

    let wrong = Exporter::new(RegistrySettings::parse(&setting, Some("ci-bot"), Some("nope")).unwrap());
    let err = wrong.export(&request(app.path(), &base.reference, 5)).await.unwrap_err();
    assert!(matches!(err, ImageError::Unauthorized { status: 401, .. }), "{err}");
    assert!(err.to_string().contains("token service"), "{err}");

    let exporter = Exporter::new(RegistrySettings::parse(&setting, Some("ci-bot"), Some("token-password")).unwrap());
    let image = exporter.export(&request(app.path(), &base.reference, 5)).await.unwrap();

    // Read back with a token of our own, proving the registry really demands one.
    let anonymous = reqwest::get(registry.url("/v2/apps/acme/web/tags/list")).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let challenge = anonymous.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    let scope = "repository:apps/acme/web:pull";
    let token: serde_json::Value = reqwest::Client::new()
        .get(format!("{}?service={SERVICE}&scope={scope}", tokens.realm))
        .basic_auth("ci-bot", Some("token-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let pulled = crate::pull::pull_as(&registry.host, "apps/acme/web", &tag(5).to_string(), Some(&bearer)).await;
    assert_eq!(pulled.manifest_digest, image.digest.as_str());
    assert_eq!(pulled.config["config"]["User"], "1000:1000");
}

#[tokio::test]
async fn a_docker_schema2_base_gives_an_oci_image_and_a_missing_base_is_not_found() {
    let registry = TestRegistry::start().await;
    let base = slipway_testkit::base_image::push_docker_base(&registry.host, "base/docker").await;
    let app = app_dir();
    let exporter = Exporter::new(RegistrySettings::parse(&registry.host, None, None).unwrap());
    let image = exporter.export(&request(app.path(), &base.reference, 2)).await.unwrap();
    assert_eq!(image.base_digest.as_str(), base.manifest_digest);
    let pulled = pull(&registry.host, "acme/web", &tag(2).to_string(), None).await;
    let layers = pulled.manifest["layers"].as_array().unwrap();
    assert_eq!(layers[0]["digest"], base.layer_digest.as_str());
    assert_eq!(layers[0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip", "one vocabulary per manifest");
    assert_eq!(pulled.manifest["config"]["mediaType"], "application/vnd.oci.image.config.v1+json");

    // A digest that names nothing in the registry: a clear not-found, nothing pushed.
    let missing = format!("{}/base/docker@sha256:{}", registry.host, "0".repeat(64));
    let err = exporter.export(&request(app.path(), &missing, 3)).await.unwrap_err();
    assert!(matches!(err, ImageError::NotFound { .. }), "{err}");
    let tags: serde_json::Value =
        reqwest::get(registry.url("/v2/acme/web/tags/list")).await.unwrap().json().await.unwrap();
    assert_eq!(tags["tags"], serde_json::json!([tag(2).to_string()]));
}
