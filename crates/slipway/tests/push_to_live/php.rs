//! A PHP app pushed with git, built with the machine's PHP and Composer and
//! served by php-fpm behind nginx (`slipway serve-php`) in the sandbox,
//! answering through the router.
//!
//! **Packagist cannot be reached from the machines these tests run on**: the
//! app's dependency (psr/log) comes from a Composer repository on disk made of
//! Debian's `php-psr-log` (`slipway_testkit::composer`), which stands in for
//! Packagist. The platform is told about it as an operator names a Packagist
//! mirror (`SLIPWAY_COMPOSER_MIRROR`), and shows it to the sandboxed build
//! read-only (`SLIPWAY_SANDBOX_READ_ONLY`): the build cannot reach 127.0.0.1.

use std::time::Duration;

use slipway_testkit::composer::LocalRepository;
use slipway_testkit::eventually;
use slipway_testkit::platform::Platform;
use slipway_testkit::source::Source;

use crate::assert_contains;

#[tokio::test(flavor = "multi_thread")]
async fn a_php_app_runs_on_php_fpm_behind_nginx_with_its_composer_dependency_and_config_vars() {
    let repository = LocalRepository::debian();
    let (url, dir) = (repository.url(), repository.dir.path().display().to_string());
    let platform = Platform::start(
        "php",
        &[("SLIPWAY_COMPOSER_MIRROR", url.as_str()), ("SLIPWAY_SANDBOX_READ_ONLY", dir.as_str())],
    )
    .await;
    let app = platform.create_app("acme", "blog").await;
    let token = platform.create_token("git").await;
    let source = Source::example(&platform.home, "php", "blog").await;
    // A secret in the document root itself: nginx must not hand it out.
    source.write("public/.env", "APP_KEY=never-served\n");
    source.commit("a local secret").await;
    platform.cli_ok(&app, &["config:set", "GREETING=ahoy"]).await;

    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 1, "{}", push.output);
    for line in [
        "remote:        Detected php with composer (from composer.json, public/index.php)",
        "remote:        Composer packages come from file://",
        &format!("Installing psr/log ({})", repository.psr_log),
        "process web: slipway serve-php public",
    ] {
        assert_contains(&push.output, line);
    }

    // PHP ran, with its dependency and the config var (getenv: php-fpm keeps the environment).
    let (status, body) = platform.get(&app, "/").await.expect("an answer");
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("hello from php 8.") || body.starts_with("hello from php 7."), "{body}");
    assert!(body.ends_with(" (psr/log says warning: deployed) ahoy\n"), "{body}");
    // Any other path goes to the front controller.
    assert_eq!(platform.get(&app, "/posts/1").await.expect("an answer"), (200, body.clone()));
    // A static file is nginx's.
    let css = source.read("public/style.css");
    assert_eq!(platform.get(&app, "/style.css").await.expect("an answer"), (200, css));
    // Secrets and Composer's files are never served.
    for hidden in ["/.env", "/vendor/autoload.php", "/composer.json", "/composer.lock", "/../composer.json"] {
        let (status, body) = platform.get(&app, hidden).await.expect("an answer");
        assert_eq!(status, 404, "{hidden} answered {status}: {body}");
        assert!(!body.contains("never-served") && !body.contains("psr/log"), "{hidden}: {body}");
    }
    // nginx's access log and php-fpm's lines reach the app's runtime log.
    let log = eventually("nginx's access log in the runtime log", Duration::from_secs(30), async || {
        let log = platform.runtime_log(&app).await;
        log.contains("\"GET /style.css HTTP/1.1\" 200").then_some(log)
    })
    .await;
    assert_contains(&log, "ready to handle connections");
}
