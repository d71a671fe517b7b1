//! Golden Dockerfiles, one per stack, for plans as detection writes them.
//! `UPDATE_GOLDEN=1 cargo test -p slipway-image golden` rewrites the files;
//! review the diff before committing it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use slipway_core::build_plan::BuildPlan;
use slipway_core::process_type::ProcessType;
use slipway_core::runtime::VersionAsk;
use slipway_image::dockerfile;

fn plan(stack: &str, start: &str) -> BuildPlan {
    BuildPlan {
        stack: stack.parse().expect("a stack"),
        framework: None,
        package_manager: None,
        runtime_asks: Vec::new(),
        install: None,
        build: None,
        start: Some(start.to_owned()),
        processes: BTreeMap::from([(ProcessType::web(), start.to_owned())]),
        health_check_path: None,
        detected_from: Vec::new(),
    }
}

fn plans() -> Vec<(&'static str, BuildPlan)> {
    let mut node = plan("node", "npm start");
    node.framework = Some("express".to_owned());
    node.package_manager = Some("npm".to_owned());
    node.runtime_asks = vec![VersionAsk::new("engines.node in package.json", ">=20")];
    node.install = Some("npm ci".to_owned());
    node.build = Some("npm run build".to_owned());

    let mut python = plan("python", "gunicorn --bind 127.0.0.1:$PORT app:app");
    python.framework = Some("flask".to_owned());
    python.package_manager = Some("pip".to_owned());
    python.runtime_asks = vec![VersionAsk::new(".python-version", "3.11.9")];
    python.install = Some(
        "pip install -r requirements.txt && pip install gunicorn  # gunicorn is not among the app's dependencies: \
         added by Slipway"
            .to_owned(),
    );

    let mut go = plan("go", "./bin/app");
    go.package_manager = Some("go".to_owned());
    go.runtime_asks = vec![VersionAsk::new("go.mod", "1.22")];
    go.build = Some("go build -o bin/app .".to_owned());

    let mut rust = plan("rust", "./bin/hello-web");
    rust.package_manager = Some("cargo".to_owned());
    rust.runtime_asks = vec![VersionAsk::new("rust-toolchain.toml", "1.85")];
    rust.build = Some(
        "cargo build --release --bin hello-web && mkdir -p bin && cp \"${CARGO_TARGET_DIR:-target}/release/hello-web\" \
         bin/hello-web"
            .to_owned(),
    );

    let mut ruby = plan("ruby", "bundle exec puma -b tcp://127.0.0.1:$PORT config.ru");
    ruby.framework = Some("sinatra".to_owned());
    ruby.package_manager = Some("bundler".to_owned());
    ruby.runtime_asks = vec![VersionAsk::new(".ruby-version", "3.2.4")];
    ruby.install = Some(
        "bundle config set --local frozen true && bundle config set --local without development:test && bundle \
         install"
            .to_owned(),
    );

    let mut java = plan(
        "java",
        "java -Dserver.port=$PORT -Dserver.address=127.0.0.1 $JAVA_OPTS -jar target/demo-0.0.1-SNAPSHOT.jar",
    );
    java.framework = Some("spring-boot".to_owned());
    java.package_manager = Some("maven".to_owned());
    java.runtime_asks =
        vec![VersionAsk::new("system.properties", "17"), VersionAsk::new("java.version in pom.xml", "17")];
    java.build = Some("mvn -B -DskipTests package".to_owned());

    let mut php = plan("php", "slipway serve-php public");
    php.framework = Some("laravel".to_owned());
    php.package_manager = Some("composer".to_owned());
    php.runtime_asks = vec![VersionAsk::new("require.php in composer.json", "^8.2")];
    php.install =
        Some("composer install --no-dev --optimize-autoloader --no-interaction --prefer-dist && npm ci".to_owned());
    php.build = Some("npm run build".to_owned());
    php.processes.insert("worker".parse().expect("a process type"), "php artisan queue:work".to_owned());

    let static_site = plan("static", "slipway serve-static public");

    let mut procfile = plan("procfile", "./server --listen 0.0.0.0:$PORT");
    procfile.processes.insert("worker".parse().expect("a process type"), "./worker".to_owned());
    procfile.build = Some("make\nmake check".to_owned());

    vec![
        ("node", node),
        ("python", python),
        ("go", go),
        ("rust", rust),
        ("ruby", ruby),
        ("java", java),
        ("php", php),
        ("static", static_site),
        ("procfile", procfile),
    ]
}

#[test]
fn dockerfiles_match_the_golden_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (name, plan) in plans() {
        let rendered = dockerfile(&plan);
        let path = dir.join(format!("{name}.Dockerfile"));
        if update {
            std::fs::write(&path, &rendered).unwrap();
            continue;
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} is missing ({e}); run with UPDATE_GOLDEN=1 to create it", path.display()));
        assert_eq!(rendered, golden, "{name}: the Dockerfile differs from {}", path.display());
    }
}

#[test]
fn every_dockerfile_is_multi_stage_non_root_pinned_and_free_of_config() {
    for (name, plan) in plans() {
        let text = dockerfile(&plan);
        assert!(text.contains("FROM ${BUILD_IMAGE} AS build") && text.contains("FROM ${RUN_IMAGE}"), "{name}");
        assert!(text.contains("USER 1000:1000") && text.contains("ENV PORT=8080"), "{name}");
        for arg in text.lines().filter(|l| l.starts_with("ARG ")) {
            let image = arg.split('=').nth(1).unwrap();
            let tag = image.rsplit_once(':').map(|(_, tag)| tag).unwrap_or_default();
            assert!(tag.starts_with(|c: char| c.is_ascii_digit()), "{name}: {image} is not pinned to a version tag");
        }
        assert!(!text.contains("127.0.0.1"), "{name}: a container must listen on all interfaces");
        // Only the stack's own settings are baked in; config vars are given at run time.
        let known = [
            "PORT",
            "NODE_ENV",
            "PATH",
            "VIRTUAL_ENV",
            "PYTHONUNBUFFERED",
            "CGO_ENABLED",
            "CARGO_TARGET_DIR",
            "BUNDLE_PATH",
            "BUNDLE_WITHOUT",
            "RACK_ENV",
            "RAILS_ENV",
            "RAILS_LOG_TO_STDOUT",
            "RAILS_SERVE_STATIC_FILES",
            "JAVA_TOOL_OPTIONS",
            "COMPOSER_ALLOW_SUPERUSER",
            "COMPOSER_NO_AUDIT",
        ];
        for env in text.lines().filter_map(|l| l.strip_prefix("ENV ")) {
            for pair in env.split(' ') {
                let key = pair.split('=').next().unwrap();
                assert!(known.contains(&key), "{name}: unexpected ENV {key}");
            }
        }
        if let Some(install) = &plan.install {
            assert!(text.contains(&format!("RUN {install}")), "{name}");
        }
    }
}
