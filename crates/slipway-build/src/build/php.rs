//! PHP: the build machine's `php` and `composer` install the app's packages
//! into its own `vendor/`, so the release carries everything it loads; its
//! `web` process is `slipway serve-php`, php-fpm behind nginx, both the
//! machine's too. A machine without them refuses the app before anything
//! runs, naming what to install — never an `exit status 127` at start.
//!
//! Composer's home (`COMPOSER_HOME`, its settings) and its download cache
//! (`COMPOSER_CACHE_DIR`) are the project's cache, never the platform's home.
//! Where the operator set `SLIPWAY_COMPOSER_MIRROR`, the home's `config.json`
//! names that Composer repository in packagist.org's place (written afresh
//! for every build): packages resolve and download from it. An app's own
//! `repositories` in composer.json still count, and `COMPOSER_AUTH` among its
//! config vars gives their credentials. A composer.lock records each
//! package's archive URL as it was resolved: an app locked against
//! packagist.org downloads from those URLs (GitHub's, through the platform's
//! proxy) unless the mirror rewrote them when the lock was made.
//!
//! composer.lock is not required, as for the other stacks' lockfiles here
//! (Heroku requires one; Railpack and Nixpacks do not): without one,
//! `composer install` resolves the newest versions composer.json allows, and
//! the log says to commit the lockfile. The build does not audit packages
//! (`COMPOSER_NO_AUDIT`): the advisories come from packagist.org's API, which a
//! build may not reach; that belongs to the app's CI.
//!
//! A redeploy reuses `vendor/`: it is stored in the project cache at
//! `<cache>/php_vendor/<key>`, key = sha256(composer.lock or composer.json,
//! install command, `php --version`), and restored as a hard-linked copy
//! before the install — except `vendor/composer/`, `vendor/autoload.php` and
//! `vendor/bin/`, which Composer rewrites in place and so are copied for
//! real. `composer install` then finds every package in place ("Nothing to
//! install") and only writes the autoloader again.

use std::io::Write as _;
use std::path::Path;

use slipway_core::php::find_servers;
use slipway_core::runtime::VersionAsk;

use super::cache::{self, Key};
use super::env::BuildEnv;
use super::network::without_credentials;
use super::{capture, require, AfterInstall, BuildError, BuiltApp, Context, Prepared};
use crate::runtime::Requirement;

/// Where Composer installs, relative to the app.
const VENDOR: &str = "vendor";
/// What Composer rewrites in place inside `vendor/` on every install: copied, never linked.
const REWRITTEN: [&str; 3] = ["composer", "autoload.php", "bin"];
/// Cached vendor trees kept per project (the newest by use).
const KEEP: usize = 3;
/// Lockfiles beyond this size only count by their first bytes in the key.
const MAX_KEY_FILE_BYTES: u64 = 64 << 20;

pub(crate) async fn prepare(
    cx: &Context<'_>,
    env: &mut BuildEnv,
    built: &mut BuiltApp,
) -> Result<Prepared, BuildError> {
    // The web process needs php-fpm and nginx: refused now rather than dying at start.
    if cx.plan.processes.values().any(|command| command.contains("slipway serve-php")) {
        let missing = find_servers(&env.path()).missing();
        if !missing.is_empty() {
            return Err(BuildError::ServerMissing { stack: cx.plan.stack, missing: missing.join(" and ") });
        }
    }
    let composer = cx.commands().any(|c| c.split_whitespace().any(|w| w == "composer"));
    if composer || cx.commands().any(|c| c.split_whitespace().any(|w| w == "php")) {
        require(env, "php", cx.plan)?;
    }
    if composer {
        require(env, "composer", cx.plan)?;
    }
    let app = cx.request.app_dir.as_path();
    built.path_prepend.push(app.join(VENDOR).join("bin"));
    if !composer {
        return Ok(Prepared::run_install());
    }

    let cache = cx.request.cache_dir.as_path();
    let home = cache.join("composer-home");
    env.set("COMPOSER_HOME", &home);
    env.set("COMPOSER_CACHE_DIR", cache.join("composer-cache"));
    env.set("COMPOSER_NO_INTERACTION", "1");
    env.set("COMPOSER_NO_AUDIT", "1");
    // Unsandboxed as root (a single-user machine) Composer would ask whether to go on.
    env.set("COMPOSER_ALLOW_SUPERUSER", "1");
    write_home(cx, &home).await?;
    match cx.network.composer_mirror() {
        Some(mirror) => {
            cx.log
                .line(format!(
                    "Composer packages come from {} (SLIPWAY_COMPOSER_MIRROR) in packagist.org's place",
                    without_credentials(mirror)
                ))
                .await
        }
        None => cx.log.line("Composer packages come from packagist.org (no SLIPWAY_COMPOSER_MIRROR set)").await,
    }
    if !app.join("composer.lock").is_file() {
        cx.log
            .line(
                "composer.json has no composer.lock beside it: Composer installs the newest versions it allows; \
                 commit composer.lock to install the same ones at every build",
            )
            .await;
    }

    let Some(install) = cx.plan.install.as_deref() else { return Ok(Prepared::run_install()) };
    let php_version = capture(cx, env, "php", &["--version"]).await.unwrap_or_default();
    let key = Key::default()
        .part("format", "php_vendor-v1")
        .part("install", install)
        .part("php", php_version.lines().next().unwrap_or_default())
        .part("packages", packages(app).await)
        .finish();
    let entry = cache.join("php_vendor").join(&key);
    let short = &key[..12];
    if !entry.is_dir() {
        cx.log.line(format!("No cached vendor/ for key {short}; composer installs it")).await;
        return Ok(Prepared { skip_install: false, after: AfterInstall::StoreVendor { entry } });
    }
    let vendor = app.join(VENDOR);
    if cache::reuse(&entry, &vendor, restore(cx, &entry, &vendor)).await? {
        cx.log.line(format!("Restored cached vendor/ (key {short}); composer install checks it")).await;
    } else {
        cx.log.line(format!("Could not reuse cached vendor/ (key {short}); composer installs it")).await;
    }
    Ok(Prepared::run_install())
}

/// The cached tree into `vendor`: hard links, but real copies of what Composer rewrites.
async fn restore(cx: &Context<'_>, entry: &Path, vendor: &Path) -> Result<(), BuildError> {
    cache::link_copy(entry, vendor, cx).await?;
    for name in REWRITTEN {
        let (cached, restored) = (entry.join(name), vendor.join(name));
        if std::fs::symlink_metadata(&cached).is_err() {
            continue;
        }
        let removed = match std::fs::symlink_metadata(&restored) {
            Ok(meta) if meta.is_dir() => tokio::fs::remove_dir_all(&restored).await,
            Ok(_) => tokio::fs::remove_file(&restored).await,
            Err(_) => Ok(()),
        };
        removed
            .map_err(|source| BuildError::Io { context: format!("cannot replace {}", restored.display()), source })?;
        cache::real_copy(&cached, &restored, cx).await?;
    }
    Ok(())
}

/// After a successful install: vendor/ into the cache.
pub(crate) async fn store(cx: &Context<'_>, entry: &Path) {
    cache::store(cx, &cx.request.app_dir.join(VENDOR), entry, KEEP).await;
}

/// A fresh `COMPOSER_HOME`, with the operator's mirror in its `config.json`. Written by the
/// builder into the tenant's cache: nothing of the tenant's runs meanwhile, no symlink on the
/// way is followed (`create_new` refuses one at the file), and the directory becomes the tenant's.
async fn write_home(cx: &Context<'_>, home: &Path) -> Result<(), BuildError> {
    let io = |context: String| move |source| BuildError::Io { context, source };
    if !cache::no_links_below(&cx.request.cache_dir, home) {
        return Err(BuildError::Io {
            context: format!("the build replaced part of {} with a symlink", home.display()),
            source: std::io::Error::other("symlink on the way"),
        });
    }
    match tokio::fs::remove_dir_all(home).await {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            return Err(io(format!("cannot clear {}", home.display()))(err))
        }
        _ => {}
    }
    tokio::fs::create_dir(home).await.map_err(io(format!("cannot create {}", home.display())))?;
    if let Some(mirror) = cx.network.composer_mirror() {
        let config = serde_json::json!({
            "repositories": { "packagist.org": { "type": "composer", "url": mirror } },
        });
        let path = home.join("config.json");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io(format!("cannot write {}", path.display())))?;
        file.write_all(format!("{config:#}\n").as_bytes()).map_err(io(format!("cannot write {}", path.display())))?;
    }
    if cx.request.sandbox.sandbox.is_enforced() {
        slipway_sandbox::give_tree(home, cx.request.sandbox.uid)
            .map_err(io(format!("cannot hand {} to the build's uid", home.display())))?;
    }
    Ok(())
}

/// What decides vendor/: composer.lock, else composer.json.
async fn packages(app: &Path) -> Vec<u8> {
    for file in ["composer.lock", "composer.json"] {
        if let Some(mut bytes) = cache::read_key_file(&app.join(file), MAX_KEY_FILE_BYTES).await {
            bytes.extend(file.as_bytes());
            return bytes;
        }
    }
    Vec::new()
}

/// The build log's word on the PHP versions the app asks for: this machine's PHP builds and serves
/// it (Slipway installs no PHP versions), and when it does not satisfy an ask that is clear, so.
pub(crate) async fn check_version(cx: &Context<'_>, env: &BuildEnv, asks: &[VersionAsk]) {
    if asks.is_empty() {
        return;
    }
    let host = capture(cx, env, "php", &["-r", "echo PHP_VERSION;"]).await;
    let host = host.as_deref().map(|v| v.split(['-', '+', '~']).next().unwrap_or(v).trim().to_owned());
    for ask in asks {
        let line = match (&host, composer_requirement(&ask.version)) {
            (None, _) => format!(
                "{} asks for PHP {}: this machine's PHP builds and serves it (Slipway does not install PHP versions)",
                ask.source, ask.version
            ),
            (Some(host), Some(requirement))
                if !crate::runtime::satisfies(&[(ask.clone(), requirement.clone())], host) =>
            {
                format!(
                    "{} asks for PHP {}, and this machine's PHP is {host}, which does not satisfy it: the app is \
                     built and served with PHP {host} (Slipway does not install PHP versions)",
                    ask.source, ask.version
                )
            }
            (Some(host), _) => format!(
                "{} asks for PHP {}: this machine's PHP {host} builds and serves it (Slipway does not install PHP \
                 versions)",
                ask.source, ask.version
            ),
        };
        cx.log.line(line).await;
    }
}

/// A Composer version constraint (`^8.1`, `>=7.4 <8.3`, `~8.2.0`, `8.3.*`, `^7.4 || ^8.0`,
/// `^8.1|^8.2`) as a [`Requirement`]; `None` for anything it does not clearly say.
fn composer_requirement(constraint: &str) -> Option<Requirement> {
    let text = constraint.replace("||", "|");
    let mut alternatives = Vec::new();
    for alternative in text.split('|') {
        let mut words = Vec::new();
        for word in alternative.split([' ', ',']).filter(|w| !w.is_empty()) {
            // Stability flags say nothing about the version.
            let word = word.split('@').next().unwrap_or(word);
            let word = match word.strip_prefix('~') {
                // Composer's `~8.2` stays below 9, `~8.2.1` below 8.3: Python's `~=`; `~8` below 9.
                Some(rest) if rest.contains('.') => format!("~={rest}"),
                Some(rest) => format!("^{rest}"),
                None => word.to_owned(),
            };
            words.push(word);
        }
        if words.is_empty() {
            return None;
        }
        alternatives.push(words.join(" "));
    }
    Requirement::parse(&alternatives.join(" || ")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(constraint: &str, version: &str) -> bool {
        let requirement = composer_requirement(constraint).unwrap_or_else(|| panic!("{constraint} parses"));
        crate::runtime::satisfies(&[(VersionAsk::new("test", constraint), requirement)], version)
    }

    #[test]
    fn composer_constraints() {
        for (constraint, yes, no) in [
            ("^8.1", "8.2.36", "9.0.0"),
            ("^8.3", "8.3.1", "8.2.36"),
            (">=7.4 <8.3", "8.2.36", "8.3.0"),
            (">=8.1,<8.4", "8.3.9", "8.4.0"),
            ("~8.2", "8.9.0", "9.0.0"),
            ("~8.2.0", "8.2.36", "8.3.0"),
            ("8.3.*", "8.3.2", "8.2.36"),
            ("^7.4 || ^8.0", "8.2.36", "7.3.0"),
            ("^7.4|^8.0", "7.4.33", "9.1.0"),
            ("8.2", "8.2.36", "8.3.0"),
            (">=8.2@stable", "8.2.0", "8.1.9"),
        ] {
            assert!(allows(constraint, yes), "{constraint} allows {yes}");
            assert!(!allows(constraint, no), "{constraint} refuses {no}");
        }
        for unclear in ["dev-main", "", "banana"] {
            assert!(composer_requirement(unclear).is_none(), "{unclear}");
        }
    }
}
