//! Ruby: a Sinatra app built with the machine's Ruby and Bundler, served by puma.
//!
//! The gem registry (rubygems.org) cannot be reached from the machines these
//! tests run on, so the app's gems come from **Debian packages** (`ruby`,
//! `ruby-sinatra`, `ruby-rack`, `puma`, `bundler`; .ci/run installs them): its
//! Gemfile asks for the versions Debian 12 ships (sinatra 3.0, rack 2.2, puma
//! 5.6), the test locks it against them (`bundle lock --local`, as a developer
//! commits Gemfile.lock), and the config var `BUNDLE_PATH__SYSTEM=true` tells
//! Bundler to use the machine's gems — the app's own say on where its gems
//! live, which Slipway honours by setting no `vendor/bundle` path. Bundler has
//! no setting that makes `bundle install` take gems from the machine while
//! installing into `vendor/bundle` (2.3's `--local` looks only in the path and
//! `vendor/cache`), so the cache of `vendor/bundle` is tested on its own with a
//! stand-in install command.

use std::path::Path;
use std::process::Command;

use slipway_build::{detect, Builder};
use slipway_core::stack::Stack;

use crate::support::{build, built, WebProcess, Workspace};

const GEMFILE: &str = "source \"https://rubygems.org\"\n\ngem \"sinatra\", \"~> 3.0\"\ngem \"rack\", \"~> 2.2\"\n\
                       gem \"puma\", \"~> 5.6\"\n";
const APP_RB: &str = "require \"sinatra/base\"\n\nclass App < Sinatra::Base\n  get \"/\" do\n    \
                      \"hello from sinatra #{ENV.fetch(\"GREETING\")} in #{ENV.fetch(\"RACK_ENV\")}\"\n  end\nend\n";
const CONFIG_RU: &str = "require_relative \"app\"\nrun App\n";

/// `bundle lock --local` in `dir`: Gemfile.lock from the gems installed on this machine.
fn lock_against_the_machines_gems(dir: &Path) {
    let output = Command::new("bundle")
        .args(["lock", "--local"])
        .current_dir(dir)
        .env("BUNDLE_PATH__SYSTEM", "true")
        .env("BUNDLE_SILENCE_ROOT_WARNING", "1")
        .env("BUNDLE_USER_HOME", dir.join("../bundle-home"))
        .output()
        .expect("bundle (apt-get install ruby ruby-sinatra ruby-rack puma bundler)");
    assert!(output.status.success(), "bundle lock --local: {}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test]
async fn a_sinatra_app_builds_with_bundler_and_serves_through_puma() {
    let workspace = Workspace::new();
    let app_dir =
        workspace.app_from_files("app", &[("Gemfile", GEMFILE), ("app.rb", APP_RB), ("config.ru", CONFIG_RU)]);
    lock_against_the_machines_gems(&app_dir);

    let plan = detect(&app_dir).expect("plan");
    assert_eq!((plan.stack, plan.framework.as_deref()), (Stack::Ruby, Some("sinatra")));
    assert_eq!(plan.start.as_deref(), Some("bundle exec puma -b tcp://127.0.0.1:$PORT config.ru"));
    assert_eq!(
        plan.install.as_deref(),
        Some(
            "bundle config set --local frozen true && bundle config set --local without development:test && \
             bundle install"
        )
    );

    let mut request = workspace.request(&app_dir);
    request.env.push(("BUNDLE_PATH__SYSTEM".to_owned(), "true".to_owned()));
    let (result, log) = build(&Builder::new(1), &plan, request).await;
    let app = built(result, &log);
    assert!(log.iter().any(|l| l.contains("BUNDLE_PATH__SYSTEM says where this app's gems live")), "{log:#?}");
    let env: std::collections::BTreeMap<&str, &str> = app.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(env.get("BUNDLE_GEMFILE").copied(), app_dir.join("Gemfile").to_str());
    for (name, value) in [("RACK_ENV", "production"), ("RAILS_ENV", "production"), ("RAILS_LOG_TO_STDOUT", "1")] {
        assert_eq!(env.get(name).copied(), Some(value), "{name}");
    }
    assert!(!env.contains_key("BUNDLE_PATH"), "{env:?}");
    // The settings the instances' `bundle exec` reads are the app's own.
    let config = std::fs::read_to_string(app_dir.join(".bundle/config")).expect(".bundle/config");
    assert!(config.contains("BUNDLE_WITHOUT: \"development:test\"") && config.contains("BUNDLE_FROZEN"), "{config}");

    let mut web = WebProcess::start(&app, plan.processes["web"].as_str());
    assert_eq!(web.get("/").await, "hello from sinatra hi in production");
}

#[tokio::test]
async fn vendor_bundle_is_cached_per_lockfile_and_restored_on_the_next_build() {
    // A stand-in for `bundle install` (the registry is out of reach): it writes a gem into
    // vendor/bundle, and says whether it found one there already.
    let install =
        "test -d vendor/bundle/ruby && echo 'found restored gems'; mkdir -p vendor/bundle/ruby/gems/stand-in-1.0 \
                   && echo 'puts 1' > vendor/bundle/ruby/gems/stand-in-1.0/lib.rb";
    let files = |lock: &'static str| {
        [("Gemfile", "gem 'stand-in'\n"), ("Gemfile.lock", lock), ("slipway.toml", "start = \"ruby -e 'sleep'\"\n")]
    };
    let workspace = Workspace::new();
    let builder = Builder::new(1);
    let first = workspace.app_from_files("release-1", &files("stand-in (1.0)\n"));
    let mut plan = detect(&first).expect("plan");
    assert_eq!(plan.stack, Stack::Ruby);
    plan.install = Some(install.to_owned());

    let (result, log) = build(&builder, &plan, workspace.request(&first)).await;
    let app = built(result, &log);
    assert!(log.iter().any(|l| l.starts_with("No cached gems for key ")), "{log:#?}");
    assert!(!log.iter().any(|l| l == "found restored gems"), "{log:#?}");
    let vendor = first.join("vendor/bundle");
    assert!(app.env.contains(&("BUNDLE_PATH".to_owned(), vendor.to_string_lossy().into_owned())), "{:?}", app.env);
    let cached = std::fs::read_dir(workspace.cache_dir().join("vendor_bundle")).expect("cache entries").count();
    assert_eq!(cached, 1);

    // Same lockfile: restored before the install, which still runs (and finds them).
    let second = workspace.app_from_files("release-2", &files("stand-in (1.0)\n"));
    let (result, log) = build(&builder, &plan, workspace.request(&second)).await;
    built(result, &log);
    assert!(log.iter().any(|l| l.starts_with("Restored cached gems (key ")), "{log:#?}");
    assert!(log.iter().any(|l| l == "found restored gems"), "{log:#?}");
    assert!(second.join("vendor/bundle/ruby/gems/stand-in-1.0/lib.rb").is_file());

    // A repository whose `vendor` is a symlink out of the app: the cached gems are not restored
    // through it, so the platform neither removes nor writes what it points at.
    let outside = workspace.root.path().join("outside");
    std::fs::create_dir_all(outside.join("bundle")).expect("outside/bundle");
    std::fs::write(outside.join("bundle/precious"), "keep me").expect("precious");
    let planted = workspace.app_from_files("release-planted", &files("stand-in (1.0)\n"));
    std::os::unix::fs::symlink(&outside, planted.join("vendor")).expect("symlink");
    let (result, log) = build(&builder, &plan, workspace.request(&planted)).await;
    built(result, &log);
    assert!(log.iter().any(|l| l.contains("vendor/bundle is or goes through a symlink")), "{log:#?}");
    assert!(!log.iter().any(|l| l.starts_with("Restored cached gems")), "{log:#?}");
    assert_eq!(std::fs::read_to_string(outside.join("bundle/precious")).expect("still there"), "keep me");

    // Another lockfile: another key, installed from scratch.
    let third = workspace.app_from_files("release-3", &files("stand-in (2.0)\n"));
    let (result, log) = build(&builder, &plan, workspace.request(&third)).await;
    built(result, &log);
    assert!(log.iter().any(|l| l.starts_with("No cached gems for key ")), "{log:#?}");
    assert!(!log.iter().any(|l| l == "found restored gems"), "{log:#?}");
}
