//! PHP: apps built with the machine's PHP and Composer (`composer install`
//! into the app's `vendor/`, cached per lockfile), and the refusals that come
//! before any command runs. Serving (php-fpm behind nginx) is tested in
//! slipway-agent (`serve_php.rs`) and end to end through a push.
//!
//! **Packagist cannot be reached from the machines these tests run on.** A
//! Composer repository on disk stands in for it (`slipway_testkit::composer`):
//! psr/log made from Debian's `php-psr-log` package, named by the operator
//! setting `SLIPWAY_COMPOSER_MIRROR` as production names a Packagist mirror —
//! the same path through the builder.

use std::path::{Path, PathBuf};
use std::process::Command;

use slipway_build::{detect, BuildError, BuildNetwork, Builder, DetectError, Step};
use slipway_core::stack::Stack;
use slipway_testkit::composer::LocalRepository;

use crate::support::{build, built, Workspace};

/// A builder whose builds take Composer packages from `repository`.
fn builder(repository: &LocalRepository) -> Builder {
    let url = repository.url();
    Builder::new(1)
        .with_network(BuildNetwork::from_lookup(|name| (name == "SLIPWAY_COMPOSER_MIRROR").then(|| url.clone().into())))
}

const COMPOSER_JSON: &str = r#"{"require": {"php": ">=8.0", "psr/log": "^1.1"}}"#;
const INDEX_PHP: &str = "<?php\nrequire __DIR__ . '/../vendor/autoload.php';\n\
                         echo Psr\\Log\\LogLevel::WARNING;\n";
const INSTALL: &str = "composer install --no-dev --optimize-autoloader --no-interaction --prefer-dist";

/// `composer update --no-install` against `repository` in `app`: composer.lock, as a developer commits it.
fn lock(app: &Path, repository: &LocalRepository) {
    let home = app.join("../composer-home-for-lock");
    std::fs::create_dir_all(&home).expect("mkdir");
    let config = serde_json::json!({"repositories": {"packagist.org": {"type": "composer", "url": repository.url()}}});
    std::fs::write(home.join("config.json"), config.to_string()).expect("config.json");
    let output = Command::new("composer")
        .args(["update", "--no-install", "--no-interaction"])
        .current_dir(app)
        .env("COMPOSER_HOME", &home)
        .env("COMPOSER_CACHE_DIR", home.join("cache"))
        .env("COMPOSER_NO_AUDIT", "1")
        .env("COMPOSER_ALLOW_SUPERUSER", "1")
        .output()
        .expect("composer (apt-get install composer)");
    assert!(output.status.success(), "composer update: {}", String::from_utf8_lossy(&output.stderr));
}

fn run_php(app: &Path, code: &str) -> String {
    let output = Command::new("php").arg("-r").arg(code).current_dir(app).output().expect("php");
    assert!(output.status.success(), "php: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn composer_installs_a_dependency_from_the_mirror_and_the_next_build_reuses_vendor() {
    let repository = LocalRepository::debian();
    let workspace = Workspace::new();
    let builder = builder(&repository);
    let files = [("composer.json", COMPOSER_JSON), ("public/index.php", INDEX_PHP), ("public/hello.txt", "static\n")];

    // The first release, without a lockfile: Composer resolves against the mirror.
    let first = workspace.app_from_files("release-1", &files);
    let plan = detect(&first).expect("plan");
    assert_eq!((plan.stack, plan.package_manager.as_deref()), (Stack::Php, Some("composer")));
    assert_eq!(plan.install.as_deref(), Some(INSTALL));
    assert_eq!(plan.start.as_deref(), Some("slipway serve-php public"));
    let (result, log) = build(&builder, &plan, workspace.request(&first)).await;
    let app = built(result, &log);
    let said = |log: &[String], words: &str| log.iter().any(|line| line.contains(words));
    let mirror =
        format!("Composer packages come from {} (SLIPWAY_COMPOSER_MIRROR) in packagist.org's place", repository.url());
    assert!(said(&log, &mirror), "{log:#?}");
    assert!(said(&log, "has no composer.lock beside it"), "{log:#?}");
    assert!(said(&log, "No cached vendor/ for key "), "{log:#?}");
    assert!(said(&log, &format!("Installing psr/log ({})", repository.psr_log)), "{log:#?}");
    assert!(app.path_prepend.contains(&first.join("vendor/bin")), "{:?}", app.path_prepend);
    // The app's autoloader loads the library: what index.php prints.
    let code = "require 'vendor/autoload.php'; echo Psr\\Log\\LogLevel::WARNING, ' ', \
                (new ReflectionClass('Psr\\Log\\NullLogger'))->getFileName();";
    let printed = run_php(&first, code);
    assert!(printed.starts_with("warning ") && printed.contains("vendor/psr/log/Psr/Log/NullLogger.php"), "{printed}");
    // Composer's own settings and downloads stayed in the project's cache.
    assert!(workspace.cache_dir().join("composer-home/config.json").is_file());
    assert!(workspace.cache_dir().join("composer-cache").is_dir());

    // The second release, with the lockfile a developer commits: another key, installed again…
    let second = workspace.app_from_files("release-2", &files);
    lock(&second, &repository);
    let (result, log) = build(&builder, &plan, workspace.request(&second)).await;
    built(result, &log);
    assert!(said(&log, "No cached vendor/ for key "), "{log:#?}");
    assert!(!said(&log, "has no composer.lock"), "{log:#?}");

    // …and the third with the same lockfile restores it: Composer finds every package in place.
    let third = workspace.app_from_files("release-3", &files);
    std::fs::copy(second.join("composer.lock"), third.join("composer.lock")).expect("copy the lockfile");
    let (result, log) = build(&builder, &plan, workspace.request(&third)).await;
    built(result, &log);
    assert!(said(&log, "Restored cached vendor/ (key "), "{log:#?}");
    assert!(said(&log, "Nothing to install, update or remove"), "{log:#?}");
    assert!(!said(&log, "Installing psr/log"), "{log:#?}");
    assert!(third.join("vendor/psr/log/Psr/Log/LoggerInterface.php").is_file());
    assert_eq!(run_php(&third, "require 'vendor/autoload.php'; echo Psr\\Log\\LogLevel::ERROR;"), "error");
    // The files Composer rewrites are the release's own, not links shared with the cache and
    // the earlier release (whose autoloader must not change under it).
    use std::os::unix::fs::MetadataExt;
    for file in ["vendor/autoload.php", "vendor/composer/autoload_classmap.php", "vendor/composer/installed.json"] {
        let (a, b) = (std::fs::metadata(second.join(file)), std::fs::metadata(third.join(file)));
        let (a, b) = (a.expect(file), b.expect(file));
        assert!(a.ino() != b.ino() && b.nlink() == 1, "{file} is shared between releases");
    }
    let library = "vendor/psr/log/Psr/Log/LoggerInterface.php";
    let linked = std::fs::metadata(third.join(library)).expect(library).nlink();
    assert!(linked > 1, "the packages themselves are hard links into the cache ({linked} links)");

    // A build that left a symlink where Composer's home goes (the cache is the tenant's): the
    // platform refuses to clear or write through it, and what it points at is untouched.
    let outside = workspace.root.path().join("outside-home");
    std::fs::create_dir_all(&outside).expect("outside");
    std::fs::write(outside.join("config.json"), "{}").expect("a file");
    let home = workspace.cache_dir().join("composer-home");
    std::fs::remove_dir_all(&home).expect("the home");
    std::os::unix::fs::symlink(&outside, &home).expect("symlink");
    let fourth = workspace.app_from_files("release-4", &files);
    let (result, log) = build(&builder, &plan, workspace.request(&fourth)).await;
    let err = match result {
        Ok(_) => panic!("built through a planted symlink: {log:#?}"),
        Err(err) => err.to_string(),
    };
    assert!(err.contains("with a symlink"), "{err}");
    assert_eq!(std::fs::read_to_string(outside.join("config.json")).expect("still there"), "{}");
}

#[tokio::test]
async fn a_dependency_that_cannot_be_resolved_fails_the_install_with_composers_reason() {
    let repository = LocalRepository::debian();
    let workspace = Workspace::new();
    let app = workspace.app_from_files(
        "app",
        &[("composer.json", r#"{"require": {"acme/not-published": "^2.0"}}"#), ("index.php", "<?php echo 1;")],
    );
    let plan = detect(&app).expect("plan");
    let (result, log) = build(&builder(&repository), &plan, workspace.request(&app)).await;
    let err = result.expect_err("nothing provides acme/not-published");
    assert!(
        matches!(&err, BuildError::CommandFailed { step: Step::Install, command, .. } if command == INSTALL),
        "{err:?}"
    );
    let log = log.join("\n");
    for words in ["Your requirements could not be resolved to an installable set of packages.", "acme/not-published"] {
        assert!(log.contains(words), "{words:?} not in:\n{log}");
    }
    // Nothing half-installed is cached.
    assert!(
        !workspace.cache_dir().join("php_vendor").exists()
            || std::fs::read_dir(workspace.cache_dir().join("php_vendor")).expect("dir").next().is_none()
    );
}

#[test]
fn a_malformed_composer_json_is_refused_at_detection_naming_the_problem() {
    let workspace = Workspace::new();
    let app = workspace.app_from_files(
        "app",
        &[("composer.json", "{\n  \"require\": {\n    \"psr/log\": \"^1.1\",\n  }\n}\n"), ("public/index.php", "")],
    );
    let err = detect(&app).expect_err("malformed");
    assert!(matches!(&err, DetectError::Malformed { file, .. } if file == "composer.json"), "{err:?}");
    let message = err.to_string();
    assert!(message.starts_with("composer.json is malformed: trailing comma at line 4"), "{message}");
}

#[tokio::test]
async fn a_machine_without_php_fpm_or_nginx_refuses_the_app_before_anything_runs() {
    let workspace = Workspace::new();
    let app = workspace.app_from_files("app", &[("composer.json", COMPOSER_JSON), ("public/index.php", INDEX_PHP)]);
    let plan = detect(&app).expect("plan");
    // A PATH with php and composer only (and no sbin beside it): neither php-fpm nor nginx.
    let bin = workspace.root.path().join("tools/bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    for tool in ["php", "composer", "sh"] {
        let found = which(tool).unwrap_or_else(|| panic!("{tool} on this machine's PATH"));
        std::os::unix::fs::symlink(found, bin.join(tool)).expect("symlink");
    }
    let mut request = workspace.request(&app);
    request.env.push(("PATH".to_owned(), bin.display().to_string()));
    let (result, log) = build(&Builder::new(1), &plan, request).await;
    let err = result.expect_err("refused");
    assert!(
        matches!(&err, BuildError::ServerMissing { stack: Stack::Php, missing } if missing == "php-fpm and nginx"),
        "{err:?}"
    );
    let message = err.to_string();
    for words in ["php app is served by php-fpm behind nginx", "no php-fpm and nginx", "apt-get install php-fpm nginx"]
    {
        assert!(message.contains(words), "{words:?} not in: {message}");
    }
    // Refused before the install ran.
    assert!(!log.iter().any(|line| line.contains("$ composer")), "{log:#?}");
    assert!(!app.join("vendor").exists());
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|path| path.is_file())
}
