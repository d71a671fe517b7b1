//! Ruby with Bundler: a `Gemfile` (and its `Gemfile.lock`). Rails, Rack
//! (`config.ru`, Sinatra's modular apps) and a classic Sinatra `app.rb` are
//! started by Slipway itself, bound to 127.0.0.1:$PORT.
//!
//! A Gemfile is often only tooling (Danger, fastlane, Jekyll) beside an app of
//! another stack, so it decides in two strengths: a Rails app
//! (`config/application.rb`) or a Rack app (`config.ru`) is Ruby before
//! anything else — a Rails app's package.json is its asset tooling, as the
//! peers' planners agree — ([`detect_app`], first in line); a Gemfile alone
//! is Ruby only when no Node, Python, Go or Rust manifest claimed the tree
//! ([`detect`], after them), and not when it stands beside a static site or
//! a `main.py` it cannot start itself.

use std::collections::BTreeSet;

use slipway_core::build_plan::BuildPlan;
use slipway_core::stack::Stack;

use super::{DetectError, Tree};

const GEMFILE: &str = "Gemfile";
const LOCKFILE: &str = "Gemfile.lock";
const RACKUP: &str = "config.ru";
const RAILS_APPLICATION: &str = "config/application.rb";
const SINATRA_FILE: &str = "app.rb";

/// A Rails or Rack app: a Gemfile beside `config/application.rb` or `config.ru`.
pub(crate) fn detect_app(tree: &Tree) -> Result<Option<BuildPlan>, DetectError> {
    if !tree.is_file(GEMFILE) || !(tree.is_file(RAILS_APPLICATION) || tree.is_file(RACKUP)) {
        return Ok(None);
    }
    plan(tree).map(Some)
}

/// Any other Gemfile, or a `config.ru` without one (whose start Slipway then asks for).
pub(crate) fn detect(tree: &Tree) -> Result<Option<BuildPlan>, DetectError> {
    if !tree.is_file(GEMFILE) && !tree.is_file(RACKUP) {
        return Ok(None);
    }
    let plan = plan(tree)?;
    // A Jekyll or Middleman site whose output is committed (its Gemfile builds it elsewhere), or a
    // lone main.py beside a Gemfile of tools: what the later detectors start.
    if plan.start.is_none()
        && (super::static_site::detect(tree)?.is_some() || super::python::entry_file(tree).is_some())
    {
        return Ok(None);
    }
    Ok(Some(plan))
}

fn plan(tree: &Tree) -> Result<BuildPlan, DetectError> {
    let gemfile = tree.read(GEMFILE)?;
    let gems = gemfile.as_deref().map(gem_names).unwrap_or_default();
    // Gemfile.lock names the gems the Gemfile pulls in through others (rails → railties).
    let locked = tree.read(LOCKFILE)?.filter(|_| gemfile.is_some()).map(|lock| locked_names(&lock)).unwrap_or_default();
    let has = |gem: &str| gems.contains(gem) || locked.contains(gem);
    let mut detected_from: Vec<String> = [GEMFILE, LOCKFILE]
        .into_iter()
        .filter(|file| gemfile.is_some() && tree.is_file(file))
        .map(str::to_owned)
        .collect();

    let (framework, start, build) = if gemfile.is_none() {
        detected_from.push(RACKUP.to_owned());
        (None, None, None)
    } else if tree.is_file(RAILS_APPLICATION) && (has("rails") || has("railties")) {
        detected_from.push(RAILS_APPLICATION.to_owned());
        let start = if has("puma") {
            "bundle exec puma -b tcp://127.0.0.1:$PORT -e production"
        } else {
            "bundle exec rails server -b 127.0.0.1 -p $PORT -e production"
        };
        let assets = ["app/assets", "app/javascript"].iter().any(|dir| !tree.list(dir).is_empty());
        // Rails 7.1+ compiles assets without the app's secrets given SECRET_KEY_BASE_DUMMY.
        let build = (assets && (has("sprockets-rails") || has("propshaft") || has("sprockets")))
            .then(|| "SECRET_KEY_BASE_DUMMY=1 bundle exec rails assets:precompile".to_owned());
        (Some("rails"), Some(start.to_owned()), build)
    } else if tree.is_file(RACKUP) {
        detected_from.push(RACKUP.to_owned());
        let framework = if has("sinatra") { "sinatra" } else { "rack" };
        let start = if has("puma") {
            "bundle exec puma -b tcp://127.0.0.1:$PORT config.ru"
        } else {
            "bundle exec rackup -o 127.0.0.1 -p $PORT"
        };
        (Some(framework), Some(start.to_owned()), None)
    } else if tree.is_file(SINATRA_FILE) && has("sinatra") {
        detected_from.push(SINATRA_FILE.to_owned());
        (Some("sinatra"), Some(format!("bundle exec ruby {SINATRA_FILE} -o 127.0.0.1 -p $PORT")), None)
    } else {
        (None, None, None)
    };

    let mut plan = super::plan(Stack::Ruby, start, detected_from);
    plan.framework = framework.map(str::to_owned);
    plan.build = build;
    if gemfile.is_some() {
        plan.package_manager = Some("bundler".to_owned());
        // The settings land in the app's .bundle/config, which its processes read too: with a
        // lockfile the install must match it exactly (Bundler's deployment mode, whose
        // vendor/bundle path the builder sets itself), and development and test gems stay out.
        let frozen = if tree.is_file(LOCKFILE) { "bundle config set --local frozen true && " } else { "" };
        plan.install = Some(format!("{frozen}bundle config set --local without development:test && bundle install"));
    }
    plan.runtime_asks = super::versions::ruby(tree, gemfile.as_deref())?;
    Ok(plan)
}

/// The gems a Gemfile names: `gem "sinatra"`, `gem('puma', '~> 6')`, in any group.
fn gem_names(gemfile: &str) -> BTreeSet<String> {
    gemfile
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let rest = line.strip_prefix("gem")?;
            let rest = rest.strip_prefix('(').unwrap_or(rest).trim_start();
            let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            let name = rest[1..].split(quote).next()?;
            (!name.is_empty()).then(|| name.to_ascii_lowercase())
        })
        .collect()
}

/// Every gem Gemfile.lock lists under `specs:` (four spaces, a name, a version in brackets).
fn locked_names(lock: &str) -> BTreeSet<String> {
    lock.lines()
        .filter_map(|line| {
            let name = line.strip_prefix("    ")?;
            if name.starts_with(' ') {
                return None;
            }
            let (name, version) = name.split_once(' ')?;
            version.starts_with('(').then(|| name.to_ascii_lowercase())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::tree;
    use crate::detect::{detect as detect_plan, DetectError};

    const INSTALL_FROZEN: &str =
        "bundle config set --local frozen true && bundle config set --local without development:test && bundle install";
    const INSTALL: &str = "bundle config set --local without development:test && bundle install";

    #[test]
    fn rails_runs_puma_and_precompiles_its_assets() {
        let dir = tree(&[
            ("Gemfile", "source \"https://rubygems.org\"\nruby \"3.3.0\"\ngem \"rails\", \"~> 7.1\"\ngem \"puma\"\ngem \"propshaft\"\n"),
            ("Gemfile.lock", "GEM\n  specs:\n    rails (7.1.3)\n      railties (= 7.1.3)\n"),
            ("config/application.rb", "require_relative \"boot\"\n"),
            ("config.ru", "run Rails.application\n"),
            ("app/assets/stylesheets/application.css", ""),
            // jsbundling's package.json is asset tooling: still a Rails app.
            ("package.json", r#"{"scripts": {"build": "esbuild app/javascript/*.*"}}"#),
        ]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!((plan.stack, plan.framework.as_deref()), (Stack::Ruby, Some("rails")));
        assert_eq!(plan.package_manager.as_deref(), Some("bundler"));
        assert_eq!(plan.start.as_deref(), Some("bundle exec puma -b tcp://127.0.0.1:$PORT -e production"));
        assert_eq!(plan.processes["web"], "bundle exec puma -b tcp://127.0.0.1:$PORT -e production");
        assert_eq!(plan.build.as_deref(), Some("SECRET_KEY_BASE_DUMMY=1 bundle exec rails assets:precompile"));
        assert_eq!(plan.install.as_deref(), Some(INSTALL_FROZEN));
        assert_eq!(plan.asked_version(), Some("3.3.0"));
        assert_eq!(plan.detected_from, ["Gemfile", "Gemfile.lock", "config/application.rb"]);
    }

    #[test]
    fn rails_without_an_asset_pipeline_or_assets_builds_nothing() {
        // An API-only app: no sprockets-rails or propshaft, and puma only through the lockfile.
        let dir = tree(&[
            ("Gemfile", "gem 'rails'\n"),
            ("Gemfile.lock", "GEM\n  specs:\n    puma (6.4.2)\n      nio4r (~> 2.0)\n    rails (7.1.3)\n"),
            ("config/application.rb", ""),
            ("app/javascript/application.js", ""),
        ]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!(plan.framework.as_deref(), Some("rails"));
        assert_eq!(plan.build, None);
        assert_eq!(plan.start.as_deref(), Some("bundle exec puma -b tcp://127.0.0.1:$PORT -e production"));
        // Without puma at all: Rails' own server. With the pipeline but no assets: nothing to compile.
        let dir = tree(&[("Gemfile", "gem 'rails'\ngem 'sprockets-rails'\n"), ("config/application.rb", "")]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!(plan.start.as_deref(), Some("bundle exec rails server -b 127.0.0.1 -p $PORT -e production"));
        assert_eq!((plan.build, plan.install.as_deref()), (None, Some(INSTALL)));
    }

    #[test]
    fn config_ru_runs_puma_when_the_gemfile_has_it_else_rackup() {
        let dir = tree(&[
            ("Gemfile", "source 'https://rubygems.org'\ngem 'sinatra', '~> 3.0'\ngem('puma')\n"),
            ("Gemfile.lock", "GEM\n"),
            ("config.ru", "require './app'\nrun Sinatra::Application\n"),
            ("app.rb", "require 'sinatra'\n"),
        ]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!((plan.stack, plan.framework.as_deref()), (Stack::Ruby, Some("sinatra")));
        assert_eq!(plan.start.as_deref(), Some("bundle exec puma -b tcp://127.0.0.1:$PORT config.ru"));
        assert_eq!(plan.install.as_deref(), Some(INSTALL_FROZEN));
        assert_eq!(plan.build, None);
        assert_eq!(plan.detected_from, ["Gemfile", "Gemfile.lock", "config.ru"]);

        let dir = tree(&[("Gemfile", "gem \"rack\"\n"), ("config.ru", "run ->(env) { [200, {}, ['hi']] }\n")]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!(plan.framework.as_deref(), Some("rack"));
        assert_eq!(plan.start.as_deref(), Some("bundle exec rackup -o 127.0.0.1 -p $PORT"));
        assert_eq!(plan.install.as_deref(), Some(INSTALL));
    }

    #[test]
    fn a_lone_sinatra_app_rb_runs_with_ruby() {
        let dir = tree(&[
            ("Gemfile", "gem 'sinatra'\n\ngroup :development do\n  gem 'rerun'\nend\n"),
            ("app.rb", "require 'sinatra'\nget('/') { 'hi' }\n"),
        ]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!((plan.stack, plan.framework.as_deref()), (Stack::Ruby, Some("sinatra")));
        assert_eq!(plan.start.as_deref(), Some("bundle exec ruby app.rb -o 127.0.0.1 -p $PORT"));
        assert_eq!(plan.detected_from, ["Gemfile", "app.rb"]);
    }

    #[test]
    fn the_version_files_are_asks() {
        let dir = tree(&[("Gemfile", "gem 'sinatra'\n"), ("app.rb", ""), (".ruby-version", "3.2.4\n")]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!(plan.asked_version(), Some("3.2.4"));
        assert_eq!(plan.runtime_asks[0].source, ".ruby-version");
        let dir = tree(&[("Gemfile", "ruby '3.1.2'\ngem 'sinatra'\n"), ("app.rb", "")]);
        assert_eq!(detect_plan(dir.path()).expect("plan").asked_version(), Some("3.1.2"));
    }

    #[test]
    fn a_gemfile_of_tools_beside_another_stack_does_not_decide() {
        let dir = tree(&[
            ("Gemfile", "gem 'danger'\ngem 'fastlane'\n"),
            ("package.json", r#"{"scripts": {"start": "node s.js"}}"#),
        ]);
        assert_eq!(detect_plan(dir.path()).expect("node").stack, Stack::Node);
        let dir = tree(&[
            ("Gemfile", "gem 'danger'\n"),
            ("requirements.txt", "flask\n"),
            ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
            // An app.rb of Danger's plugins: no sinatra in the Gemfile.
            ("app.rb", ""),
        ]);
        assert_eq!(detect_plan(dir.path()).expect("python").stack, Stack::Python);
        // A Jekyll site with its output committed is served as it is.
        let dir = tree(&[("Gemfile", "gem 'jekyll'\n"), ("_site/index.html", "<h1>hi</h1>")]);
        assert_eq!(detect_plan(dir.path()).expect("static").stack, Stack::Static);
    }

    #[test]
    fn ruby_without_a_known_shape_asks_for_a_start_command() {
        for files in [&[("Gemfile", "gem 'nokogiri'\n"), ("bot.rb", "")][..], &[("config.ru", "run App\n")][..]] {
            let dir = tree(files);
            let err = detect_plan(dir.path()).expect_err("no start");
            assert!(matches!(err, DetectError::NoStartCommand { stack: Stack::Ruby, .. }), "{files:?}: {err:?}");
            assert!(err.to_string().contains("Gemfile"), "{err}");
        }
        // A Procfile says what runs.
        let dir = tree(&[("Gemfile", "gem 'sidekiq'\n"), ("Procfile", "worker: bundle exec sidekiq\n")]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!((plan.stack, plan.install.as_deref()), (Stack::Ruby, Some(INSTALL)));
        assert_eq!(plan.processes["worker"], "bundle exec sidekiq");
    }

    #[test]
    fn gem_names_and_locked_names() {
        let names = gem_names("gem 'Rails', '~> 7'\n  gem(\"puma\")\ngems = 1\n# gem 'x'\ngem :sym\n");
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["puma", "rails"]);
        let locked =
            locked_names("GEM\n  remote: x\n  specs:\n    rack (2.2.8)\n      base64\n    puma (6.0.0-java)\n");
        assert_eq!(locked.into_iter().collect::<Vec<_>>(), ["puma", "rack"]);
    }
}
