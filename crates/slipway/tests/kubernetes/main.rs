//! The Kubernetes target end to end: `slipway up` with a real OCI registry
//! (Debian's `docker-registry`, CNCF Distribution) on loopback and a
//! digest-pinned busybox base image pushed to it by the test; an app's
//! production environment switched to `kubernetes`; a `git push` of
//! `examples/static` → an image under the immutable tag in the registry and
//! a commit in Slipway's own GitOps repository whose manifests pass
//! `kubernetes-validate --strict`. No cluster or Argo CD can run here, so
//! status read-back (`SLIPWAY_KUBECONFIG`) is tested against a stand-in API
//! server (`slipway_testkit::cluster`) in which the test plays Argo CD
//! and the Deployment controller.
//!
//! Needs `docker-registry` and `busybox-static` (`apt-get install -y
//! docker-registry busybox-static`) and kubernetes-validate in
//! `target/py-venv` (or `SLIPWAY_PY_VENV`, or `SLIPWAY_KUBERNETES_VALIDATE`);
//! fails naming the install command when one is missing.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use reqwest::Method;
use serde_json::{json, Value};
use slipway_testkit::cluster::{Auth, StandIn};
use slipway_testkit::eventually;
use slipway_testkit::platform::{bin, App, Platform};
use slipway_testkit::registry::TestRegistry;
use slipway_testkit::source::Source;

/// Matches the `k8s-openapi` feature slipway-gitops is built with (`v1_33`).
const KUBERNETES_VERSION: &str = "1.33.0";
const VALIDATE_INSTALL: &str =
    "python3 -m venv target/py-venv && target/py-venv/bin/pip install kubernetes-validate==1.37.0 (from the repository root)";
const STATIC_PAGE: &str = "hello from a static site";

fn kubernetes_validate() -> PathBuf {
    if let Some(path) = std::env::var_os("SLIPWAY_KUBERNETES_VALIDATE") {
        return PathBuf::from(path);
    }
    let venv = std::env::var_os("SLIPWAY_PY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/py-venv"));
    let path = venv.join("bin/kubernetes-validate");
    assert!(
        path.exists(),
        "kubernetes-validate not found at {} (set SLIPWAY_KUBERNETES_VALIDATE or SLIPWAY_PY_VENV); install it with: {VALIDATE_INSTALL}",
        path.display()
    );
    path
}

/// `git` on a bare repository, with no user configuration; stdout of a command that must succeed.
fn git(repo: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(repo)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// `git ARGS` in `dir` with no configuration and no prompt; whether it succeeded, and its stderr.
fn git_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// `slipway ARGS` as the admin (no `-a`: for verbs that name their target themselves).
async fn slipway(platform: &Platform, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(bin())
        .args(args)
        .env("SLIPWAY_API_URL", &platform.api_url)
        .env("SLIPWAY_TOKEN", &platform.admin_token)
        .env("SLIPWAY_CONFIG_DIR", platform.home.join("config"))
        .output()
        .await
        .unwrap()
}

async fn wait_until_not_served(platform: &Platform, app: &App) {
    let what = format!("{} to stop serving locally", app.host());
    eventually(&what, Duration::from_secs(30), async || match platform.get(app, "/").await {
        Ok((200, body)) if body.contains(STATIC_PAGE) => None,
        _ => Some(()),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_to_the_kubernetes_target_lands_an_image_and_a_gitops_commit() {
    let registry = TestRegistry::start().await;
    let base = slipway_testkit::base_image::push_base(&registry.host, "base/busybox", None).await;
    let registry_setting = format!("{}/slipway", registry.host);
    let platform = Platform::start(
        "kubernetes",
        &[("SLIPWAY_REGISTRY", &registry_setting), ("SLIPWAY_BASE_IMAGE", &base.reference)],
    )
    .await;
    let app = platform.create_app("acme", "web").await;
    let token = platform.create_token("git").await;
    let remote = platform.remote(&app, &token);
    let source = Source::example(&platform.home, "static", "web").await;

    // First on the local target, served by the agent through the router.
    source.push(&remote, "main").await.deployed();
    let (status, body) = platform.get(&app, "/").await.unwrap();
    assert!(status == 200 && body.contains(STATIC_PAGE), "{status} {body}");

    // Switching away from local stops the local instances.
    let switched = platform.cli_ok(&app, &["env:set-target", "kubernetes"]).await;
    assert!(switched.contains("kubernetes target"), "{switched}");
    let project = platform.api(Method::GET, "/v1/workspaces/acme/projects/web", None).await;
    assert_eq!(project["environments"][0]["target"], "kubernetes");
    wait_until_not_served(&platform, &app).await;

    source.write("public/index.html", "<h1>hello from the cluster</h1>\n");
    source.commit("second").await;
    let push = source.push(&remote, "main").await;
    let number = push.deployed();
    for expected in [
        "Dockerfile",
        "FROM ${RUN_IMAGE}",
        "Pushed ",
        "committed to GitOps",
        "SLIPWAY_KUBECONFIG",
        "-----> Deployed #2: GitOps commit ",
    ] {
        assert!(push.output.contains(expected), "the push output lacks `{expected}`:\n{}", push.output);
    }

    // The deployment records the image and the commit.
    let deployment = platform.deployment(&app, number).await;
    if slipway_testkit::test_log().is_some() {
        eprintln!("{}\n{deployment:#}", push.output);
    }
    assert_eq!(deployment["status"], "DEPLOYED", "{deployment}");
    let image = deployment["image"].as_str().unwrap_or_else(|| panic!("no image: {deployment}")).to_owned();
    let repository = format!("{registry_setting}/acme/web");
    let tag_and_digest = image.strip_prefix(&format!("{repository}:")).unwrap_or_else(|| panic!("{image}"));
    let (tag, digest) = tag_and_digest.split_once('@').unwrap();
    let commit_sha = deployment["commit_sha"].as_str().unwrap();
    assert!(tag.starts_with("usr_") && tag.ends_with(&format!("-{number}-{commit_sha}")), "{tag}");
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    let gitops_commit = deployment["gitops_commit"].as_str().unwrap_or_else(|| panic!("no commit: {deployment}"));
    assert_eq!(gitops_commit.len(), 40, "{gitops_commit}");

    // The registry has the tag, under the digest recorded.
    let head = reqwest::Client::new()
        .head(registry.url(&format!("/v2/slipway/acme/web/manifests/{tag}")))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["docker-content-digest"].to_str().unwrap(), digest);

    // The GitOps repository: one commit naming the deployment, on `main`.
    let repo = platform.data_dir.join("repos/_platform/gitops.git");
    assert_eq!(git(&repo, &["rev-parse", "main"]).trim(), gitops_commit);
    let message = git(&repo, &["log", "-1", "--format=%B", "main"]);
    assert!(message.starts_with(&format!("deploy acme/web/production #{number}: {image}")), "{message}");
    assert!(message.contains(&format!("deployment: {number}")), "{message}");
    let files = git(&repo, &["ls-tree", "-r", "--name-only", "main"]);
    for expected in [
        "bootstrap/application-slipway-root.yaml",
        "bootstrap/workspaces/acme/appproject-ws-acme.yaml",
        "bootstrap/workspaces/acme/applicationset-ws-acme.yaml",
        "apps/acme/web/production/deployment-web.yaml",
        "apps/acme/web/production/ingress-web.yaml",
    ] {
        assert!(files.lines().any(|f| f == expected), "{expected} is not in the GitOps repository:\n{files}");
    }
    let deployment_yaml = git(&repo, &["show", "main:apps/acme/web/production/deployment-web.yaml"]);
    assert!(deployment_yaml.contains(&image), "{deployment_yaml}");
    assert!(deployment_yaml.contains("httpd"), "a static site runs busybox httpd in the image:\n{deployment_yaml}");

    // Every built-in object of the app's folder passes the official schemas, strictly.
    let scratch = tempfile::tempdir().unwrap();
    let mut checked = Vec::new();
    for file in files.lines().filter(|f| f.starts_with("apps/acme/web/production/")) {
        let text = git(&repo, &["show", &format!("main:{file}")]);
        if text.contains("apiVersion: external-secrets.io/") {
            continue; // a custom resource; slipway-gitops checks it against its CRD schema
        }
        let path = scratch.path().join(file.rsplit('/').next().unwrap());
        std::fs::write(&path, text).unwrap();
        checked.push(path);
    }
    assert!(checked.len() >= 8, "only {} objects: {files}", checked.len());
    let output = std::process::Command::new(kubernetes_validate())
        .args(["--strict", "-k", KUBERNETES_VERSION])
        .args(&checked)
        .output()
        .unwrap_or_else(|err| panic!("could not run kubernetes-validate: {err}; install it with: {VALIDATE_INSTALL}"));
    assert!(
        output.status.success(),
        "kubernetes-validate refused the committed manifests:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // `slipway gitops render` shows what was committed.
    let rendered = slipway(&platform, &["gitops", "render", "acme/web/production"]).await;
    let text = String::from_utf8_lossy(&rendered.stdout);
    if slipway_testkit::test_log().is_some() {
        eprintln!("{text}");
    }
    assert!(rendered.status.success(), "{text}{}", String::from_utf8_lossy(&rendered.stderr));
    assert!(text.contains("# deployment-web.yaml") && text.contains(&image), "{text}");
    let bad = slipway(&platform, &["gitops", "render", "acme/web"]).await;
    assert_eq!(bad.status.code(), Some(1), "{}", String::from_utf8_lossy(&bad.stderr));

    // The repository is served read-only to platform admins.
    let host = platform.api_url.trim_start_matches("http://");
    let clone = platform.home.join("gitops-clone");
    let url = format!("http://git:{}@{host}/git/_platform/gitops.git", platform.admin_token);
    let (cloned, stderr) = git_in(&platform.home, &["clone", "-q", &url, clone.to_str().unwrap()]);
    assert!(cloned, "an admin cannot clone the GitOps repository: {stderr}");
    assert_eq!(git(&clone.join(".git"), &["rev-parse", "HEAD"]).trim(), gitops_commit);
    let (pushed, stderr) = git_in(&clone, &["push", "-q", &url, "HEAD:refs/heads/evil"]);
    assert!(!pushed && stderr.contains("403"), "a push to the GitOps repository was not refused: {stderr}");
    let member = platform.member_token("acme", "dora", "admin").await;
    let member_url = format!("http://git:{member}@{host}/git/_platform/gitops.git");
    let (cloned, stderr) = git_in(&platform.home, &["clone", "-q", &member_url, "member-clone"]);
    assert!(!cloned && stderr.contains("403"), "a workspace admin cloned the platform's repository: {stderr}");
    assert_eq!(git(&repo, &["rev-parse", "main"]).trim(), gitops_commit, "something moved the GitOps branch");

    // Rollback: release #1 ran locally and was never exported, so going back to it is refused…
    let refused = platform.cli(&app, &["rollback"]).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("never exported"), "{stderr}");
    assert_eq!(git(&repo, &["rev-parse", "main"]).trim(), gitops_commit, "a refused rollback committed");
    // …while after a third deployment, a rollback commits #2's image again as a new commit.
    source.write("public/index.html", "<h1>third</h1>\n");
    source.commit("third").await;
    let third = source.push(&remote, "main").await.deployed();
    let third_image = platform.deployment(&app, third).await["image"].as_str().unwrap().to_owned();
    assert_ne!(third_image, image);
    let rolled = platform.cli_ok(&app, &["rollback"]).await;
    let back_number = third + 1;
    assert!(rolled.contains(&format!("-----> Deployed #{back_number}: GitOps commit ")), "{rolled}");
    let back = platform.deployment(&app, back_number).await;
    assert_eq!((back["status"].as_str(), back["kind"].as_str()), (Some("DEPLOYED"), Some("rollback")), "{back}");
    assert_eq!(back["image"], image.as_str());
    let back_commit = back["gitops_commit"].as_str().unwrap();
    assert_eq!(git(&repo, &["rev-parse", "main"]).trim(), back_commit);
    let message = git(&repo, &["log", "-1", "--format=%B", "main"]);
    assert!(message.starts_with(&format!("deploy acme/web/production #{back_number}: {image}")), "{message}");
    let history = git(&repo, &["rev-list", "--count", "main"]);
    assert_eq!(history.trim(), "3", "one commit per Kubernetes deployment, history kept");
    let deployment_yaml = git(&repo, &["show", "main:apps/acme/web/production/deployment-web.yaml"]);
    assert!(deployment_yaml.contains(&image) && !deployment_yaml.contains(&third_image), "{deployment_yaml}");

    // `ps:scale` commits the same release again with the new replicas.
    platform.cli_ok(&app, &["ps:scale", "web=3"]).await;
    last_commit_becomes(&repo, "scale acme/web/production: web=3").await;
    let scaled = git(&repo, &["show", "main:apps/acme/web/production/deployment-web.yaml"]);
    assert!(scaled.contains("replicas: 3") && scaled.contains(&image), "{scaled}");
    let budget = git(&repo, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(budget.contains("apps/acme/web/production/poddisruptionbudget-web.yaml"), "replicas > 1: {budget}");

    // Back to local: the agent serves the active release (#2's build) again, and the app's
    // folder leaves the GitOps repository so that Argo CD prunes it from the cluster.
    platform.cli_ok(&app, &["env:set-target", "local"]).await;
    eventually("the app to be served locally again", Duration::from_secs(30), async || {
        matches!(platform.get(&app, "/").await, Ok((200, body)) if body.contains("hello from the cluster"))
            .then_some(())
    })
    .await;
    last_commit_becomes(&repo, "remove acme/web/production").await;
    let files = git(&repo, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(!files.contains("apps/acme/web/production/"), "{files}");
    assert!(files.contains("bootstrap/workspaces/acme/appproject-ws-acme.yaml"), "{files}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_registry_a_kubernetes_deployment_fails_and_commits_nothing() {
    let platform = Platform::start("kubernetes-unset", &[]).await;
    let app = platform.create_app("acme", "web").await;
    let env = app.env_path();

    // Hostile bodies change nothing.
    for (body, code) in [
        (json!({"target": "openshift"}), "INVALID_TARGET"),
        (json!({"target": "KUBERNETES"}), "INVALID_TARGET"),
        (json!({"target": "kubernetes\u{0}"}), "INVALID_TARGET"),
        (json!({"target": true}), "INVALID_JSON"),
        (json!({"target": "kubernetes", "namespace": "kube-system"}), "INVALID_JSON"),
        // Nothing to change is refused too (the PATCH also takes `resources`).
        (json!({}), "INVALID_REQUEST"),
    ] {
        let (status, reply) =
            platform.api_as(Some(&platform.admin_token), Method::PATCH, &env, Some(body.clone())).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (400, Some(code)), "{body}: {reply}");
    }
    let viewer = platform.member_token("acme", "vic", "viewer").await;
    let (status, reply) =
        platform.api_as(Some(&viewer), Method::PATCH, &env, Some(json!({"target": "kubernetes"}))).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (403, Some("FORBIDDEN")), "{reply}");
    let project = platform.api(Method::GET, "/v1/workspaces/acme/projects/web", None).await;
    assert_eq!(project["environments"][0]["target"], "local");

    let switched = platform.api(Method::PATCH, &env, Some(json!({"target": "kubernetes"}))).await;
    assert_eq!(switched["target"], "kubernetes");
    let token = platform.create_token("git").await;
    let source = Source::example(&platform.home, "static", "web").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert!(push.output.contains("SLIPWAY_REGISTRY is not set"), "{}", push.output);

    let deployments = platform.deployments(&app).await;
    let deployment: &Value = &deployments[0];
    assert_eq!(deployment["status"], "FAILED", "{deployment}");
    let reason = deployment["failure_reason"].as_str().unwrap();
    assert!(reason.contains("SLIPWAY_REGISTRY is not set") && reason.contains("env:set-target local"), "{reason}");
    assert!(deployment.get("image").is_none() && deployment.get("gitops_commit").is_none(), "{deployment}");
    // Nothing committed: the GitOps repository was never even created, and is not served.
    assert!(!platform.data_dir.join("repos/_platform/gitops.git").exists());
    let refs = reqwest::Client::new()
        .get(format!("{}/git/_platform/gitops.git/info/refs?service=git-upload-pack", platform.api_url))
        .basic_auth("git", Some(&platform.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(refs.status(), 404);
    // The local agent does not run it either.
    let (status, body) = platform.get(&app, "/").await.unwrap();
    assert!(!(status == 200 && body.contains(STATIC_PAGE)), "served locally: {status} {body}");
}

/// `slipway up --check` with the Kubernetes settings: bad values are refused naming the
/// setting; good ones are shown without the registry password.
#[test]
fn kubernetes_settings_are_checked_at_start() {
    let home = tempfile::tempdir().unwrap();
    let check = |env: &[(&str, &str)]| {
        let output = std::process::Command::new(bin())
            .args(["up", "--check"])
            .env("SLIPWAY_DATA_DIR", home.path())
            // Outside a pod whatever runs the tests: `in-cluster` must be refused here.
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("KUBERNETES_SERVICE_PORT")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), text)
    };
    let pinned = format!("registry.example.com/base/run:1@sha256:{}", "a".repeat(64));
    for (env, setting, problem) in [
        (vec![("SLIPWAY_BASE_IMAGE", "registry.example.com/base/run:1")], "SLIPWAY_BASE_IMAGE", "pinned by digest"),
        (vec![("SLIPWAY_REGISTRY", "Not A Registry!")], "SLIPWAY_REGISTRY", "registry"),
        (
            vec![("SLIPWAY_REGISTRY", "registry.example.com/slipway"), ("SLIPWAY_REGISTRY_USERNAME", "bot")],
            "SLIPWAY_REGISTRY",
            "SLIPWAY_REGISTRY_PASSWORD",
        ),
    ] {
        let (ok, text) = check(&env);
        assert!(!ok && text.contains(setting) && text.contains(problem), "{env:?}: {text}");
    }
    let broken = home.path().join("broken-kubeconfig");
    std::fs::write(&broken, "apiVersion: v1\nkind: Config\nclusters: []\n").unwrap();
    let broken = broken.to_str().unwrap();
    for (env, setting, problem) in [
        (vec![("SLIPWAY_KUBECONFIG", "/nonexistent/kubeconfig")], "SLIPWAY_KUBECONFIG", "cannot read it"),
        (vec![("SLIPWAY_KUBECONFIG", broken)], "SLIPWAY_KUBECONFIG", "no current-context"),
        (vec![("SLIPWAY_KUBECONFIG", "in-cluster")], "SLIPWAY_KUBECONFIG", "not a pod"),
        (vec![("SLIPWAY_ROLLOUT_TIMEOUT", "0s")], "SLIPWAY_ROLLOUT_TIMEOUT", "longer than 0s"),
        (vec![("SLIPWAY_ROLLOUT_TIMEOUT", "soon")], "rollout-timeout", "not a duration"),
    ] {
        let (ok, text) = check(&env);
        assert!(!ok && text.contains(setting) && text.contains(problem), "{env:?}: {text}");
    }
    let (ok, text) = check(&[
        ("SLIPWAY_REGISTRY", "registry.example.com/slipway"),
        ("SLIPWAY_REGISTRY_USERNAME", "bot"),
        ("SLIPWAY_REGISTRY_PASSWORD", "hunter2-registry"),
        ("SLIPWAY_BASE_IMAGE", &pinned),
        ("SLIPWAY_GITOPS_REMOTE", "https://bot:hunter2-git@git.example.com/ops.git"),
    ]);
    assert!(ok && text.contains("settings are valid") && text.contains(&pinned), "{text}");
    assert!(!text.contains("hunter2"), "a password was printed: {text}");
}

/// A registry that refuses Slipway's login: the deployment fails with the registry's refusal
/// as its reason, the image is not there and nothing is committed.
#[tokio::test(flavor = "multi_thread")]
async fn a_registry_refusing_the_login_fails_the_deployment_and_commits_nothing() {
    let login = ("bot", "right-password");
    let settings = [("SLIPWAY_REGISTRY_USERNAME", "bot"), ("SLIPWAY_REGISTRY_PASSWORD", "wrong-password")];
    let registry = TestRegistry::start_with_login(login.0, login.1).await;
    let KubernetesApp { registry, platform, app, remote, source } =
        KubernetesApp::start("kubernetes-auth", registry, Some(login), &settings).await;
    let push = source.push(&remote, "main").await;

    let deployment = platform.deployments(&app).await[0].clone();
    assert_eq!(deployment["status"], "FAILED", "{deployment}\n{}", push.output);
    let reason = deployment["failure_reason"].as_str().unwrap();
    assert!(reason.contains("exporting the image failed") && reason.contains("SLIPWAY_REGISTRY"), "{reason}");
    assert!(!reason.contains("wrong-password") && !push.output.contains("wrong-password"), "{reason}");
    assert!(push.output.contains("exporting the image failed"), "{}", push.output);
    assert!(deployment.get("image").is_none() && deployment.get("gitops_commit").is_none(), "{deployment}");
    // Nothing in the registry under the app's repository, nothing committed.
    let tags = reqwest::Client::new()
        .get(registry.url("/v2/slipway/acme/web/tags/list"))
        .basic_auth("bot", Some("right-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.status(), 404, "the app's repository exists: {:?}", tags.text().await);
    assert!(!platform.data_dir.join("repos/_platform/gitops.git").exists());
}

/// A GitOps remote that cannot be reached: the image is exported, but the deployment fails with
/// the remote's error (its password hidden) and the environment keeps no new release.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_gitops_remote_fails_the_deployment_without_showing_its_password() {
    // Port 9 (discard) on loopback: nothing answers HTTP there.
    let gitops = "http://bot:s3cret-gitops@127.0.0.1:9/ops.git";
    let KubernetesApp { registry: _registry, platform, app, remote, source } = KubernetesApp::start(
        "kubernetes-remote",
        TestRegistry::start().await,
        None,
        &[("SLIPWAY_GITOPS_REMOTE", gitops)],
    )
    .await;
    let push = source.push(&remote, "main").await;

    let deployment = platform.deployments(&app).await[0].clone();
    assert_eq!(deployment["status"], "FAILED", "{deployment}\n{}", push.output);
    let reason = deployment["failure_reason"].as_str().unwrap();
    // The remote is named without its user part (`redact_url`: a token can stand there too).
    assert!(reason.contains("SLIPWAY_GITOPS_REMOTE") && reason.contains("http://127.0.0.1:9/ops.git"), "{reason}");
    assert!(push.output.contains("Not committed to GitOps"), "{}", push.output);
    assert!(deployment["image"].as_str().is_some_and(|image| image.contains("@sha256:")), "{deployment}");
    assert!(deployment.get("gitops_commit").is_none(), "{deployment}");
    let stored = platform.all_stored_logs();
    for text in [reason, push.output.as_str(), stored.as_str()] {
        assert!(!text.contains("s3cret-gitops"), "the remote's password was shown: {text}");
    }
    // Nothing went live: the environment has no active release.
    let releases = platform.api(Method::GET, &format!("{}/releases", app.env_path()), None).await;
    assert!(releases["items"].as_array().unwrap().iter().all(|r| r["active"] == false), "{releases}");
}

/// A platform whose registry setting points at `registry` (the base image pushed with `login`),
/// with `settings` besides, and `acme/web` on the Kubernetes target with a source to push.
struct KubernetesApp {
    registry: TestRegistry,
    platform: Platform,
    app: App,
    remote: String,
    source: Source,
}

impl KubernetesApp {
    async fn start(
        name: &str,
        registry: TestRegistry,
        login: Option<(&str, &str)>,
        settings: &[(&str, &str)],
    ) -> KubernetesApp {
        let base = slipway_testkit::base_image::push_base(&registry.host, "base/busybox", login).await;
        let registry_setting = format!("{}/slipway", registry.host);
        let mut env = vec![("SLIPWAY_REGISTRY", registry_setting.as_str()), ("SLIPWAY_BASE_IMAGE", &base.reference)];
        env.extend_from_slice(settings);
        let platform = Platform::start(name, &env).await;
        let app = platform.create_app("acme", "web").await;
        platform.api(Method::PATCH, &app.env_path(), Some(json!({"target": "kubernetes"}))).await;
        let token = platform.create_token("git").await;
        let remote = platform.remote(&app, &token);
        let source = Source::example(&platform.home, "static", "web").await;
        KubernetesApp { registry, platform, app, remote, source }
    }

    /// The same, read back from the stand-in cluster as `SLIPWAY_KUBECONFIG` (its folder is
    /// returned to be kept).
    async fn with_cluster(name: &str, auth: Auth, settings: &[(&str, &str)]) -> (KubernetesApp, StandIn, TempDir) {
        let cluster = StandIn::start(auth).await;
        let home = tempfile::tempdir().unwrap();
        let kubeconfig = cluster.kubeconfig(home.path());
        let mut env = vec![("SLIPWAY_KUBECONFIG", kubeconfig.to_str().unwrap())];
        env.extend_from_slice(settings);
        (KubernetesApp::start(name, TestRegistry::start().await, None, &env).await, cluster, home)
    }
}

/// The objects a cluster shows for `acme/web/production` once Argo CD synced `revision` and the
/// Deployment controller rolled `image` out to `available` of one replica.
fn cluster_state(cluster: &StandIn, revision: &str, health: &str, image: &str, available: i32) {
    cluster.put(
        "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/acme-web-production",
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
               "metadata": {"name": "acme-web-production", "namespace": "argocd"},
               "status": {"sync": {"status": "Synced", "revision": revision}, "health": {"status": health},
                          "operationState": {"phase": "Succeeded", "syncResult": {"revision": revision}}}}),
    );
    cluster.put(
        "/apis/apps/v1/namespaces/acme-web-production/deployments/web",
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "generation": 1},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"slipway.dev/process": "web"}},
                        "template": {"metadata": {"labels": {"slipway.dev/process": "web"}},
                                     "spec": {"containers": [{"name": "web", "image": image}]}}},
               "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": available}}),
    );
}

/// Polls until deployment `number` of `app` is DEPLOYING with a GitOps commit; returns it.
async fn committed(platform: &Platform, app: &App, number: u64) -> Value {
    let what = format!("deployment #{number} to be committed");
    let path = format!("{}/deployments/{number}", app.env_path());
    let deployment = eventually(&what, Duration::from_secs(240), async || {
        let (_, deployment) = platform.api_as(Some(&platform.admin_token), Method::GET, &path, None).await;
        assert_ne!(deployment["status"], "FAILED", "{deployment}");
        deployment.get("gitops_commit").is_some().then_some(deployment)
    })
    .await;
    assert_eq!(deployment["status"], "DEPLOYING", "committed is not live: {deployment}");
    deployment
}

/// Waits until the GitOps repository's last commit on `main` starts with `subject`.
async fn last_commit_becomes(repo: &Path, subject: &str) {
    let what = format!("a commit `{subject}…` in the GitOps repository");
    eventually(&what, Duration::from_secs(30), async || {
        git(repo, &["log", "-1", "--format=%s", "main"]).starts_with(subject).then_some(())
    })
    .await;
}

/// Polls until the stored deployment logs contain `text`.
async fn logged(platform: &Platform, text: &str) {
    let what = format!("`{text}` in the deployment log");
    eventually(&what, Duration::from_secs(60), async || platform.all_stored_logs().contains(text).then_some(())).await;
}

/// With `SLIPWAY_KUBECONFIG`, a committed deployment stays DEPLOYING while the cluster has not
/// synced and rolled it out (each wait shown in the log), goes DEPLOYED once it has, and FAILS
/// with the pod's reason when its image cannot be pulled — while Slipway only ever reads.
#[tokio::test(flavor = "multi_thread")]
async fn with_a_kubeconfig_a_deployment_is_live_only_once_the_cluster_runs_it() {
    let (kubernetes, cluster, _home) =
        KubernetesApp::with_cluster("kubernetes-read-back", Auth::Token("slipway-reader-token"), &[]).await;
    let KubernetesApp { registry: _registry, platform, app, remote, source } = kubernetes;

    let pushing = {
        let remote = remote.clone();
        tokio::spawn(async move {
            let push = source.push(&remote, "main").await;
            (source, push)
        })
    };
    let first = committed(&platform, &app, 1).await;
    let (revision, image) = (first["gitops_commit"].as_str().unwrap(), first["image"].as_str().unwrap());
    let first_image = image;
    logged(&platform, "waiting up to 10 min for Argo CD").await;
    logged(&platform, "Argo CD has no Application `acme-web-production` yet").await;

    // Argo CD synced it; the new pod is not available yet: still DEPLOYING, and the log says why.
    cluster_state(&cluster, revision, "Progressing", image, 0);
    logged(&platform, "Deployment web: 0 of 1 pods available").await;
    assert_eq!(platform.deployment(&app, 1).await["status"], "DEPLOYING");

    // Rolled out and Healthy: the push ends, DEPLOYED.
    cluster_state(&cluster, revision, "Healthy", image, 1);
    let (source, push) = pushing.await.unwrap();
    assert_eq!(push.deployed(), 1);
    assert!(push.output.contains("is live in the cluster"), "{}", push.output);
    assert!(push.output.contains("0 of 1 pods available"), "the push shows the rollout: {}", push.output);
    let live = platform.deployment(&app, 1).await;
    assert_eq!((live["status"].as_str(), live["gitops_commit"].as_str()), (Some("DEPLOYED"), Some(revision)));

    // The next image cannot be pulled: FAILED with the pod's reason; #1 stays DEPLOYED.
    source.write("public/index.html", "<h1>second</h1>\n");
    source.commit("second").await;
    let pushing = tokio::spawn(async move { source.push(&remote, "main").await });
    let second = committed(&platform, &app, 2).await;
    let (revision, image) = (second["gitops_commit"].as_str().unwrap(), second["image"].as_str().unwrap());
    cluster_state(&cluster, revision, "Progressing", image, 0);
    cluster.put(
        "/api/v1/namespaces/acme-web-production/pods/web-5d4f-abcde",
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "web-5d4f-abcde", "labels": {"slipway.dev/process": "web"}},
               "spec": {"containers": [{"name": "web", "image": image}]},
               "status": {"containerStatuses": [{"name": "web", "image": image, "imageID": "", "ready": false,
                   "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff",
                   "message": "Back-off pulling image: 401 Unauthorized"}}}]}}),
    );
    let push = pushing.await.unwrap();
    assert!(push.output.contains("deployment #2 ended FAILED"), "the push shows the failure:\n{}", push.output);
    let failed = platform.deployment(&app, 2).await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    let reason = failed["failure_reason"].as_str().unwrap();
    assert!(reason.contains("pod web-5d4f-abcde cannot start: ImagePullBackOff"), "{reason}");
    assert!(push.output.contains("failed in the cluster"), "{}", push.output);
    assert_eq!(platform.deployment(&app, 1).await["status"], "DEPLOYED");
    // The repository goes back to what runs, so Argo CD stops trying the failed image.
    assert!(push.output.contains("Restored the live release #1"), "{}", push.output);
    let repo = platform.data_dir.join("repos/_platform/gitops.git");
    let restored = git(&repo, &["show", "main:apps/acme/web/production/deployment-web.yaml"]);
    assert!(restored.contains(first_image) && !restored.contains(image), "{restored}");
    let history = git(&repo, &["log", "--format=%s", "main"]);
    assert!(history.lines().next().is_some_and(|subject| subject.contains("#1")), "{history}");
    assert!(history.lines().any(|subject| subject.contains("#2")), "the failed commit stays in history: {history}");
    assert!(cluster.writes().is_empty(), "Slipway wrote to the cluster: {:?}", cluster.writes());
}

/// A cluster that never runs the deployment fails it after SLIPWAY_ROLLOUT_TIMEOUT with what it
/// waited for; a kubeconfig pointing nowhere fails the next one before anything is built, pushed
/// or committed.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_or_unreachable_cluster_fails_the_deployment_with_the_reason() {
    let (kubernetes, cluster, _home) = KubernetesApp::with_cluster(
        "kubernetes-timeout",
        Auth::ClientCertificate,
        &[("SLIPWAY_ROLLOUT_TIMEOUT", "3s")],
    )
    .await;
    let KubernetesApp { registry, platform, app, remote, source } = kubernetes;

    let push = source.push(&remote, "main").await;
    let first = platform.deployment(&app, 1).await;
    assert_eq!(first["status"], "FAILED", "{first}\n{}", push.output);
    let reason = first["failure_reason"].as_str().unwrap();
    assert!(reason.contains("not live in the cluster after 3 s: Argo CD has no Application"), "{reason}");
    let repo = platform.data_dir.join("repos/_platform/gitops.git");
    let head = git(&repo, &["rev-parse", "main"]);

    // The cluster goes away: the next deployment fails before its build.
    drop(cluster);
    source.write("public/index.html", "<h1>second</h1>\n");
    source.commit("second").await;
    let push = source.push(&remote, "main").await;
    assert!(push.output.contains("deployment #2 ended FAILED"), "{}", push.output);
    let second = platform.deployment(&app, 2).await;
    assert_eq!(second["status"], "FAILED", "{second}");
    let reason = second["failure_reason"].as_str().unwrap();
    assert!(reason.contains("cannot be reached") && reason.contains("context `stand-in`"), "{reason}");
    assert!(reason.contains("Nothing was built, pushed or committed"), "{reason}");
    assert!(second.get("image").is_none() && second.get("gitops_commit").is_none(), "{second}");
    assert_eq!(git(&repo, &["rev-parse", "main"]), head, "nothing was committed");
    let tags = reqwest::get(registry.url("/v2/slipway/acme/web/tags/list")).await.unwrap().text().await.unwrap();
    assert_eq!(tags.matches("usr_").count(), 1, "only #1 was pushed: {tags}");
}
