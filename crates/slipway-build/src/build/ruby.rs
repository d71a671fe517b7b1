//! Ruby: the build machine's `ruby` and `bundle` install the app's gems into
//! `vendor/bundle` inside the app, so the release carries everything its
//! processes load and nothing outside the artifact is needed at run time.
//!
//! A redeploy reuses them: `vendor/bundle` is stored in the project cache at
//! `<cache>/vendor_bundle/<key>`, key = sha256(Gemfile.lock or Gemfile, install
//! command, `ruby --version`), and restored as a hard-linked copy before the
//! install. The install still runs on a restored tree: Bundler then finds every
//! gem in place (no download, no native extension compiled again) and writes
//! the app's `.bundle/config` (frozen, without development and test) that its
//! processes read.
//!
//! An app whose config vars say where its gems live (`BUNDLE_PATH`, or
//! `BUNDLE_PATH__SYSTEM=true` for gems installed on the machine) keeps them
//! there: Slipway then sets no path and caches nothing (machine gems get a
//! writable gem home inside the app, see [`SYSTEM_GEMS_HOME`]).

use std::path::Path;

use super::cache::{self, Key};
use super::env::BuildEnv;
use super::{capture, require, AfterInstall, BuildError, BuiltApp, Context, Prepared};

/// Where the gems go, relative to the app.
const VENDOR_BUNDLE: &str = "vendor/bundle";
/// Cached vendor/bundle trees kept per project (the newest by use).
const KEEP: usize = 3;
/// Lockfiles beyond this size only count by their first bytes in the key.
const MAX_KEY_FILE_BYTES: u64 = 64 << 20;
/// The gem home of an app whose gems are the machine's (`BUNDLE_PATH__SYSTEM`), relative to the app.
const SYSTEM_GEMS_HOME: &str = "vendor/gem-home";
/// Config vars that say where the app's gems live.
const OWN_GEM_PATH: [&str; 2] = ["BUNDLE_PATH", "BUNDLE_PATH__SYSTEM"];

/// What every process of a Ruby app runs with (the image crate bakes the same into its Dockerfile).
pub(crate) const RUN_ENV: [(&str, &str); 4] = [
    ("RACK_ENV", "production"),
    ("RAILS_ENV", "production"),
    ("RAILS_LOG_TO_STDOUT", "1"),
    ("RAILS_SERVE_STATIC_FILES", "1"),
];

pub(crate) async fn prepare(
    cx: &Context<'_>,
    env: &mut BuildEnv,
    built: &mut BuiltApp,
) -> Result<Prepared, BuildError> {
    require(env, "ruby", cx.plan)?;
    if cx.commands().any(|c| c.split_whitespace().any(|w| w == "bundle")) {
        require(env, "bundle", cx.plan)?;
    }
    let app = cx.request.app_dir.as_path();
    let cache = cx.request.cache_dir.as_path();
    // Bundler's own caches and settings go to the project cache, never the platform's home.
    env.set("BUNDLE_USER_HOME", cache.join("bundle-home"));
    env.set("BUNDLE_SILENCE_ROOT_WARNING", "1");
    let gemfile = app.join("Gemfile");
    env.set("BUNDLE_GEMFILE", &gemfile);
    built.env.push(("BUNDLE_GEMFILE".to_owned(), gemfile.to_string_lossy().into_owned()));
    for (name, value) in RUN_ENV {
        env.set(name, value);
        built.env.push((name.to_owned(), value.to_owned()));
    }

    if let Some((name, _)) = cx.request.env.iter().find(|(name, _)| OWN_GEM_PATH.contains(&name.as_str())) {
        cx.log
            .line(format!("The config var {name} says where this app's gems live: Slipway keeps them there, uncached"))
            .await;
        // The machine's gem home (`/var/lib/gems`) is not in the sandbox, and Bundler reaches for
        // sudo (which no sandboxed build has) when it cannot write the home it would install
        // into, even with every gem on the machine. A home inside the app is writable, stays
        // empty when the machine has every gem, and ships with the release when it does not.
        let own_home = cx.request.env.iter().any(|(name, _)| name == "GEM_HOME");
        if name == "BUNDLE_PATH__SYSTEM" && !own_home {
            let home = app.join(SYSTEM_GEMS_HOME);
            env.set("GEM_HOME", &home);
            built.env.push(("GEM_HOME".to_owned(), home.to_string_lossy().into_owned()));
        }
        return Ok(Prepared::run_install());
    }
    let vendor = app.join(VENDOR_BUNDLE);
    env.set("BUNDLE_PATH", &vendor);
    built.env.push(("BUNDLE_PATH".to_owned(), vendor.to_string_lossy().into_owned()));

    let Some(install) = cx.plan.install.as_deref() else { return Ok(Prepared::run_install()) };
    let ruby_version = capture(cx, env, "ruby", &["--version"]).await.unwrap_or_default();
    let key = Key::default()
        .part("format", "vendor_bundle-v1")
        .part("install", install)
        .part("ruby", ruby_version.trim())
        .part("gems", gems(app).await)
        .finish();
    let entry = cache.join("vendor_bundle").join(&key);
    let short = &key[..12];
    if !entry.is_dir() {
        cx.log.line(format!("No cached gems for key {short}; installing")).await;
        return Ok(Prepared { skip_install: false, after: AfterInstall::StoreVendorBundle { entry } });
    }
    // The platform removes and creates below: never through a link the repository holds.
    if !cache::no_links_below(app, &vendor) {
        cx.log.line(format!("{VENDOR_BUNDLE} is or goes through a symlink; cached gems are not restored")).await;
        return Ok(Prepared::run_install());
    }
    if let Some(parent) = vendor.parent() {
        let _ = tokio::fs::create_dir_all(parent).await;
    }
    if cache::reuse(&entry, &vendor, cache::link_copy(&entry, &vendor, cx)).await? {
        cx.log.line(format!("Restored cached gems (key {short}); bundle install checks them")).await;
    } else {
        cx.log.line(format!("Could not reuse cached gems (key {short}); installing")).await;
    }
    Ok(Prepared::run_install())
}

/// After a successful install: vendor/bundle into the cache.
pub(crate) async fn store(cx: &Context<'_>, entry: &Path) {
    cache::store(cx, &cx.request.app_dir.join(VENDOR_BUNDLE), entry, KEEP).await;
}

/// What decides the gems: Gemfile.lock, else the Gemfile.
async fn gems(app: &Path) -> Vec<u8> {
    for file in ["Gemfile.lock", "Gemfile"] {
        if let Some(mut bytes) = cache::read_key_file(&app.join(file), MAX_KEY_FILE_BYTES).await {
            bytes.extend(file.as_bytes());
            return bytes;
        }
    }
    Vec::new()
}
