//! A Rust app with no dependencies, written here rather than as a fixture so
//! no stray Cargo.toml sits inside Slipway's own workspace.

use slipway_build::{detect, Builder};

use crate::support::{build, built, WebProcess, Workspace};

const MAIN: &str = r#"
use std::io::{Read, Write};

fn main() {
    let port = std::env::var("PORT").expect("PORT");
    let listener = std::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>().expect("port"))).expect("bind");
    for stream in listener.incoming() {
        let mut stream = stream.expect("accept");
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        let body = "hello from rust";
        let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
    }
}
"#;

#[tokio::test]
async fn rust_binary_is_built_in_the_cache_and_copied_into_the_app() {
    let workspace = Workspace::new();
    let app_dir = workspace.app_from_files(
        "release-1",
        &[
            ("Cargo.toml", "[package]\nname = \"hello-rust\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
            ("src/main.rs", MAIN),
        ],
    );
    let plan = detect(&app_dir).expect("plan");
    assert_eq!(plan.stack, "rust");
    let (result, log) = build(&Builder::new(1), &plan, workspace.request(&app_dir)).await;
    let app = built(result, &log);
    assert!(app_dir.join("bin/hello-rust").is_file());
    assert!(workspace.cache_dir().join("cargo-target/release/hello-rust").is_file());
    assert!(!app_dir.join("target").exists(), "the target dir belongs in the cache");

    let mut web = WebProcess::start(&app, plan.processes["web"].as_str());
    assert_eq!(web.get("/").await, "hello from rust");
}
