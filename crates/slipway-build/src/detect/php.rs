//! PHP: a `composer.json`, or an `index.php` at the root or in `public/`.
//! Served by php-fpm behind nginx (`slipway serve-php <document root>`, see
//! `slipway_core::php`), as Heroku's buildpack serves it with
//! `heroku-php-nginx`; never by `php -S`, PHP's development server.
//!
//! The document root is `public/` when it holds an `index.php` (Laravel,
//! Symfony, Slim and most frameworks keep their front controller there and
//! everything else out of reach), else the root. A `composer.json` installs
//! with `composer install --no-dev --optimize-autoloader`; a `package.json`
//! with a `build` script beside it (Laravel's Vite assets) installs its
//! packages and runs the build too. A Procfile still says what runs, and its
//! Heroku spelling `heroku-php-nginx DIR` / `heroku-php-apache2 DIR` means
//! `slipway serve-php DIR` ([`translate_heroku`]).
//!
//! PHP comes before Node (a Laravel app's package.json is its asset tooling,
//! as the peers' planners agree), after a Rails or Rack app.

use serde_json::Value;
use slipway_core::build_plan::BuildPlan;
use slipway_core::stack::Stack;

use super::{shell_quote, DetectError, Tree};

const COMPOSER: &str = "composer.json";
const LOCKFILE: &str = "composer.lock";
const PUBLIC_INDEX: &str = "public/index.php";
const ROOT_INDEX: &str = "index.php";
/// What installs a composer.json's packages: production ones only, with a classmap autoloader.
pub(crate) const COMPOSER_INSTALL: &str =
    "composer install --no-dev --optimize-autoloader --no-interaction --prefer-dist";
/// The program Slipway serves PHP apps with.
const SERVE: &str = "slipway serve-php";
/// Heroku's PHP servers, which `heroku-php-nginx DIR` in a Procfile names.
const HEROKU_SERVERS: [&str; 2] = ["heroku-php-nginx", "heroku-php-apache2"];

/// Frameworks, by the package composer.json requires.
const FRAMEWORKS: [(&str, &str); 8] = [
    ("laravel/framework", "laravel"),
    ("laravel/lumen-framework", "lumen"),
    ("symfony/framework-bundle", "symfony"),
    ("slim/slim", "slim"),
    ("cakephp/cakephp", "cakephp"),
    ("codeigniter4/framework", "codeigniter"),
    ("yiisoft/yii2", "yii"),
    ("laminas/laminas-mvc", "laminas"),
];

pub(crate) fn detect(tree: &Tree) -> Result<Option<BuildPlan>, DetectError> {
    let composer = tree.read(COMPOSER)?;
    let index = [PUBLIC_INDEX, ROOT_INDEX].into_iter().find(|file| tree.is_file(file));
    if composer.is_none() && index.is_none() {
        return Ok(None);
    }
    let manifest = composer.as_deref().map(parse).transpose()?;
    let requires = |name: &str| {
        manifest.as_ref().is_some_and(|m| {
            ["require", "require-dev"]
                .iter()
                .any(|field| m.get(*field).and_then(Value::as_object).is_some_and(|r| r.contains_key(name)))
        })
    };

    let mut detected_from: Vec<String> = [COMPOSER, LOCKFILE]
        .into_iter()
        .filter(|file| composer.is_some() && tree.is_file(file))
        .map(str::to_owned)
        .collect();
    let start = index.map(|file| {
        detected_from.push(file.to_owned());
        let root = if file == PUBLIC_INDEX { "public" } else { "." };
        format!("{SERVE} {root}")
    });
    let mut plan = super::plan(Stack::Php, start, detected_from);
    plan.framework = FRAMEWORKS.iter().find(|(package, _)| requires(package)).map(|(_, name)| (*name).to_owned());
    let mut install = Vec::new();
    if manifest.is_some() {
        plan.package_manager = Some("composer".to_owned());
        install.push(COMPOSER_INSTALL.to_owned());
    }
    // Laravel's Vite (or Mix) assets: built into public/ by the package.json beside it.
    if let Some((assets_install, build)) = super::node::asset_build(tree)? {
        install.push(assets_install);
        plan.build = Some(build);
        plan.detected_from.push("package.json".to_owned());
    }
    plan.install = (!install.is_empty()).then(|| install.join(" && "));
    let asked = manifest.as_ref().and_then(|m| m.get("require")?.get("php")?.as_str().map(str::to_owned));
    plan.runtime_asks = super::versions::php(tree, asked.as_deref())?;
    Ok(Some(plan))
}

/// composer.json as Composer reads it: a JSON object, whose `require` is an object when present.
fn parse(text: &str) -> Result<serde_json::Map<String, Value>, DetectError> {
    let malformed = |problem: String| DetectError::Malformed { file: COMPOSER.to_owned(), problem };
    let value: Value = serde_json::from_str(text).map_err(|err| malformed(err.to_string()))?;
    let Value::Object(manifest) = value else { return Err(malformed("the top level is not an object".to_owned())) };
    for field in ["require", "require-dev"] {
        match manifest.get(field) {
            None | Some(Value::Object(_)) => {}
            // `"require": []` is what PHP's json_encode writes for an empty one; Composer takes it.
            Some(Value::Array(list)) if list.is_empty() => {}
            Some(_) => return Err(malformed(format!("`{field}` is not an object of package names and versions"))),
        }
    }
    Ok(manifest)
}

/// A Procfile command in Heroku's spelling (`heroku-php-nginx public/`), as Slipway serves it
/// (`slipway serve-php public`); `Ok(None)` for any other command. Their options (`-C`, `-F`,
/// `-i`: custom nginx, php-fpm and php.ini settings) are refused: Slipway's configuration is its own.
pub(crate) fn translate_heroku(command: &str) -> Result<Option<String>, String> {
    let mut words = command.split_whitespace();
    // Heroku's guides also spell it through Composer's bin directory (the buildpack as a dev dependency).
    let server = words.next().map(|word| word.strip_prefix("vendor/bin/").unwrap_or(word));
    let Some(server) = server.filter(|word| HEROKU_SERVERS.contains(word)) else { return Ok(None) };
    let rest: Vec<&str> = words.collect();
    if let Some(option) = rest.iter().find(|word| word.starts_with('-')) {
        return Err(format!(
            "`{command}` gives {server} the option {option}, and Slipway serves PHP with its own nginx and php-fpm \
             settings; write `web: {server} <document root>` (or `web: {SERVE} <document root>`) without options"
        ));
    }
    let root = match rest.as_slice() {
        [] => ".",
        [root] => root.trim_end_matches('/'),
        _ => return Err(format!("`{command}`: {server} takes one document root")),
    };
    let root = if root.is_empty() { "." } else { root };
    Ok(Some(format!("{SERVE} {}", shell_quote(root))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::tree;
    use crate::detect::{detect as detect_plan, DetectError};

    #[test]
    fn laravel_serves_public_and_builds_its_vite_assets() {
        let dir = tree(&[
            ("composer.json", r#"{"require": {"php": "^8.2", "laravel/framework": "^11.0"}}"#),
            ("composer.lock", "{}"),
            ("artisan", "#!/usr/bin/env php\n"),
            ("public/index.php", "<?php\n"),
            ("package.json", r#"{"scripts": {"build": "vite build", "dev": "vite"}}"#),
            ("package-lock.json", "{}"),
        ]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!((plan.stack, plan.framework.as_deref()), (Stack::Php, Some("laravel")));
        assert_eq!(plan.package_manager.as_deref(), Some("composer"));
        assert_eq!(plan.start.as_deref(), Some("slipway serve-php public"));
        assert_eq!(plan.install.as_deref(), Some(format!("{COMPOSER_INSTALL} && npm ci").as_str()));
        assert_eq!(plan.build.as_deref(), Some("npm run build"));
        assert_eq!(plan.asked_version(), Some("^8.2"));
        assert_eq!(plan.detected_from, ["composer.json", "composer.lock", "public/index.php", "package.json"]);
    }

    #[test]
    fn a_plain_index_php_is_served_from_the_root() {
        let dir = tree(&[("index.php", "<?php echo 'hi';\n"), ("style.css", "")]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!((plan.stack, plan.framework), (Stack::Php, None));
        assert_eq!(plan.start.as_deref(), Some("slipway serve-php ."));
        assert_eq!((plan.install, plan.build, plan.package_manager), (None, None, None));
        assert_eq!(plan.detected_from, ["index.php"]);
        // With Composer packages, and an index.php in public/ as well: public/ is the root.
        let dir = tree(&[
            ("composer.json", r#"{"require": {"slim/slim": "^4"}}"#),
            ("index.php", ""),
            ("public/index.php", ""),
        ]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!(plan.framework.as_deref(), Some("slim"));
        assert_eq!(plan.start.as_deref(), Some("slipway serve-php public"));
        assert_eq!(plan.install.as_deref(), Some(COMPOSER_INSTALL));
    }

    #[test]
    fn php_wins_over_node_and_static_files_beside_it() {
        // PHP source is never served as files.
        let dir = tree(&[("index.php", "<?php"), ("index.html", "<h1>hi</h1>")]);
        assert_eq!(detect_plan(dir.path()).expect("plan").stack, Stack::Php);
        let dir = tree(&[
            ("composer.json", r#"{"require": {"symfony/framework-bundle": "^7"}}"#),
            ("public/index.php", ""),
            ("package.json", r#"{"scripts": {"start": "node server.js"}}"#),
        ]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!((plan.stack, plan.framework.as_deref()), (Stack::Php, Some("symfony")));
        // No build script: no Node install.
        assert_eq!(plan.install.as_deref(), Some(COMPOSER_INSTALL));
    }

    #[test]
    fn a_composer_json_without_an_index_php_asks_for_a_start_command() {
        let dir = tree(&[("composer.json", r#"{"require": {"monolog/monolog": "^3"}}"#), ("src/Lib.php", "")]);
        let err = detect_plan(dir.path()).expect_err("no start");
        assert!(matches!(err, DetectError::NoStartCommand { stack: Stack::Php, .. }), "{err:?}");
        assert!(err.to_string().contains("index.php"), "{err}");
        // A Procfile says what runs: a worker, or the web process in Heroku's spelling.
        let dir = tree(&[
            ("composer.json", "{}"),
            ("web/index.php", ""),
            ("Procfile", "web: heroku-php-apache2 web/\nworker: php worker.php\n"),
        ]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Php);
        assert_eq!(plan.start.as_deref(), Some("slipway serve-php web"));
        assert_eq!(plan.processes["worker"], "php worker.php");
    }

    #[test]
    fn a_malformed_composer_json_is_named() {
        for (text, words) in [
            ("{\"require\": {\"php\": \"^8\",}}", "composer.json is malformed: trailing comma"),
            ("[]", "the top level is not an object"),
            (r#"{"require": "monolog/monolog"}"#, "`require` is not an object"),
        ] {
            let dir = tree(&[("composer.json", text), ("index.php", "")]);
            let err = detect_plan(dir.path()).expect_err(text).to_string();
            assert!(err.contains(words), "{text}: {err}");
        }
        let dir = tree(&[("composer.json", r#"{"require": []}"#), ("index.php", "")]);
        assert_eq!(detect_plan(dir.path()).expect("an empty require").stack, Stack::Php);
    }

    #[test]
    fn the_version_files_are_asks() {
        let dir = tree(&[("index.php", ""), (".php-version", "8.3\n"), (".tool-versions", "php 8.3.4\n")]);
        let plan = detect_plan(dir.path()).expect("plan");
        let asks: Vec<(&str, &str)> =
            plan.runtime_asks.iter().map(|a| (a.source.as_str(), a.version.as_str())).collect();
        assert_eq!(asks, [(".php-version", "8.3"), (".tool-versions", "8.3.4")]);
    }

    #[test]
    fn herokus_procfile_spelling() {
        assert_eq!(translate_heroku("heroku-php-nginx public/").unwrap().as_deref(), Some("slipway serve-php public"));
        assert_eq!(translate_heroku("heroku-php-apache2").unwrap().as_deref(), Some("slipway serve-php ."));
        let spelled = translate_heroku("vendor/bin/heroku-php-apache2 web/").unwrap();
        assert_eq!(spelled.as_deref(), Some("slipway serve-php web"));
        assert_eq!(translate_heroku("heroku-php-nginx /").unwrap().as_deref(), Some("slipway serve-php ."));
        assert_eq!(translate_heroku("php -S 127.0.0.1:$PORT").unwrap(), None);
        let err = translate_heroku("heroku-php-nginx -C nginx.inc.conf public/").expect_err("options");
        assert!(err.contains("option -C"), "{err}");
        assert!(translate_heroku("heroku-php-nginx public web").is_err());
    }
}
