//! A Go app (standard library only, so no module proxy is needed) whose
//! Heroku-style Procfile runs `bin/<name>`: the plan builds that binary.

use slipway_build::{detect, Builder};

use crate::support::{build, built, WebProcess, Workspace};

const MAIN_GO: &str = r#"package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello from go")
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		panic(err)
	}
}
"#;

#[tokio::test]
async fn a_go_app_is_built_to_the_binary_its_procfile_runs() {
    let workspace = Workspace::new();
    let app_dir = workspace.app_from_files(
        "go-getting-started",
        &[
            // As old as the Go of the build machine (Debian's 1.19), so no toolchain is fetched.
            ("go.mod", "module github.com/heroku/go-getting-started\n\ngo 1.19\n"),
            ("main.go", MAIN_GO),
            ("Procfile", "web: bin/go-getting-started\n"),
        ],
    );
    let plan = detect(&app_dir).expect("plan");
    assert_eq!(plan.stack, slipway_core::stack::Stack::Go);
    assert_eq!(plan.build.as_deref(), Some("go build -o bin/go-getting-started ."));
    let (result, log) = build(&Builder::new(1), &plan, workspace.request(&app_dir)).await;
    let app = built(result, &log);
    assert!(app_dir.join("bin/go-getting-started").is_file(), "{log:?}");
    assert!(!app_dir.join("bin/app").exists(), "only the binary the Procfile runs is built");

    let mut web = WebProcess::start(&app, plan.processes["web"].as_str());
    assert_eq!(web.get("/").await, "hello from go");
}
