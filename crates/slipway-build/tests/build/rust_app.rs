//! The sample Rust app (`examples/rust`, std only; its Cargo.toml declares
//! its own `[workspace]` so it never joins Slipway's).

use slipway_build::{detect, Builder};

use crate::support::{build, built, WebProcess, Workspace};

#[tokio::test]
async fn rust_binary_is_built_in_the_cache_and_copied_into_the_app() {
    let workspace = Workspace::new();
    let app_dir = workspace.app_from_example("rust", "release-1");
    let plan = detect(&app_dir).expect("plan");
    assert_eq!(plan.stack, slipway_core::stack::Stack::Rust);
    let (result, log) = build(&Builder::new(1), &plan, workspace.request(&app_dir)).await;
    let app = built(result, &log);
    assert!(app_dir.join("bin/hello-rust").is_file());
    assert!(workspace.cache_dir().join("cargo-target/release/hello-rust").is_file());
    assert!(!app_dir.join("target").exists(), "the target dir belongs in the cache");

    let mut web = WebProcess::start(&app, plan.processes["web"].as_str());
    assert_eq!(web.get("/").await, "hello from rust");
}
