//! Stacks Slipway does not build (Scala, Elixir, .NET, …) are refused at detection — before any build
//! step runs — while a Procfile of plain shell commands still builds and runs.

use slipway_build::{detect, Builder, DetectError, UnsupportedStack};
use slipway_core::stack::Stack;

use crate::support::{build, built, WebProcess, Workspace};

#[test]
fn a_sinatra_app_with_a_procfile_is_a_ruby_app_now() {
    let workspace = Workspace::new();
    let app_dir = workspace.app_from_files(
        "app",
        &[
            ("Gemfile", "source 'https://rubygems.org'\ngem 'sinatra'\ngem 'puma'\n"),
            ("Gemfile.lock", "GEM\n  remote: https://rubygems.org/\n"),
            ("config.ru", "require './app'\nrun Sinatra::Application\n"),
            ("app.rb", "require 'sinatra'\nget('/') { 'hi' }\n"),
            ("Procfile", "web: bundle exec puma -p $PORT\n"),
        ],
    );
    // Ruby was refused here until Slipway built it; its Procfile now decides how it starts.
    let plan = detect(&app_dir).expect("a Ruby app");
    assert_eq!((plan.stack, plan.framework.as_deref()), (Stack::Ruby, Some("sinatra")));
    assert_eq!(plan.start.as_deref(), Some("bundle exec puma -p $PORT"));
}

#[test]
fn a_maven_tree_with_a_procfile_is_a_java_app_now() {
    let workspace = Workspace::new();
    let files = [("pom.xml", "<project/>"), ("Procfile", "web: java -jar target/app.jar\n")];
    // Java was refused here until Slipway built it (build/java.rs has its builds).
    let plan = detect(&workspace.app_from_files("spring", &files)).expect("a Java app");
    assert_eq!((plan.stack, plan.start.as_deref()), (Stack::Java, Some("java -jar target/app.jar")));
}

#[test]
fn scala_elixir_and_dotnet_trees_are_refused_naming_their_files() {
    let workspace = Workspace::new();
    for (name, files, stack, file) in [
        (
            "play",
            &[("build.sbt", "name := \"play\"\n"), ("app/controllers/Home.scala", "")][..],
            UnsupportedStack::Scala,
            "build.sbt",
        ),
        (
            "phoenix",
            &[("mix.exs", "defmodule App.MixProject do\nend\n"), ("lib/app.ex", "")][..],
            UnsupportedStack::Elixir,
            "mix.exs",
        ),
        ("api", &[("Api.csproj", "<Project/>"), ("Program.cs", "")][..], UnsupportedStack::DotNet, "Api.csproj"),
    ] {
        let app_dir = workspace.app_from_files(name, files);
        match detect(&app_dir) {
            Err(DetectError::UnsupportedStack { stack: found, evidence }) => {
                assert_eq!((found, evidence.as_str()), (stack, file), "{name}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_procfile_of_plain_shell_commands_still_builds_and_serves() {
    let workspace = Workspace::new();
    let app_dir = workspace.app_from_files(
        "app",
        &[
            ("Procfile", "web: ./serve.sh\n"),
            ("serve.sh", "#!/bin/sh\nexec python3 -m http.server --bind 127.0.0.1 \"$PORT\"\n"),
            ("hello.txt", "plain\n"),
        ],
    );
    std::fs::set_permissions(app_dir.join("serve.sh"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let plan = detect(&app_dir).expect("plan");
    assert_eq!(plan.stack, Stack::Procfile);
    let (result, log) = build(&Builder::new(1), &plan, workspace.request(&app_dir)).await;
    let app = built(result, &log);
    let mut web = WebProcess::start(&app, plan.processes["web"].as_str());
    assert_eq!(web.get("/hello.txt").await, "plain\n");
}
