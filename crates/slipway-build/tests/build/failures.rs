//! Builds that go wrong: failing commands, timeouts, missing tools, huge logs,
//! and the limits (concurrency, environment) every build runs under.

use std::collections::BTreeMap;
use std::time::Duration;

use slipway_build::{detect, BuildError, BuildPlan, Builder, Step};
use slipway_core::process_type::ProcessType;
use slipway_core::stack::Stack;

use slipway_testkit::eventually;

use crate::support::{build, process_gone, Workspace};

const TEN_SECONDS: Duration = Duration::from_secs(10);

fn plan(install: Option<&str>, build: Option<&str>) -> BuildPlan {
    BuildPlan {
        stack: Stack::Procfile,
        framework: None,
        package_manager: None,
        runtime_asks: Vec::new(),
        install: install.map(str::to_owned),
        build: build.map(str::to_owned),
        start: Some("true".to_owned()),
        processes: BTreeMap::from([(ProcessType::web(), "true".to_owned())]),
        health_check_path: None,
        detected_from: vec!["Procfile".to_owned()],
    }
}

#[tokio::test]
async fn failing_commands_name_their_step_and_command() {
    let workspace = Workspace::new();
    let app = workspace.app_from_files("app", &[]);
    let builder = Builder::new(2);

    let (result, log) =
        build(&builder, &plan(Some("echo installing; exit 3"), Some("true")), workspace.request(&app)).await;
    let err = result.expect_err("install fails");
    let BuildError::CommandFailed { step, command, exit_status } = &err else { panic!("{err:?}") };
    assert_eq!((*step, command.as_str(), exit_status.code()), (Step::Install, "echo installing; exit 3", Some(3)));
    assert_eq!(err.to_string(), "`echo installing; exit 3` failed with exit status 3; see the lines above");
    assert!(log.iter().any(|l| l == "installing"), "{log:#?}");

    let (result, log) =
        build(&builder, &plan(Some("true"), Some("echo oops >&2; false")), workspace.request(&app)).await;
    assert!(matches!(result, Err(BuildError::CommandFailed { step: Step::Build, .. })), "{result:?}");
    assert!(log.iter().any(|l| l == "oops"), "stderr is in the log: {log:#?}");

    let (result, _) = build(&builder, &plan(None, Some("no-such-program-anywhere")), workspace.request(&app)).await;
    let err = result.expect_err("missing program");
    assert!(err.to_string().contains("exit status 127 (a program it runs was not found)"), "{err}");
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let workspace = Workspace::new();
    let app = workspace.app_from_files("app", &[]);
    let mut request = workspace.request(&app);
    request.timeout = Duration::from_secs(1);
    // The sleep runs in the background of the shell: killing only the shell would leave it behind.
    let command = "sleep 30 & echo $! > sleep.pid; wait";
    let (result, _) = build(&Builder::new(1), &plan(None, Some(command)), request).await;
    let err = result.expect_err("times out");
    assert!(matches!(err, BuildError::Timeout { step: Step::Build, .. }), "{err:?}");
    assert!(err.to_string().contains("time limit of 1 s"), "{err}");
    assert!(err.to_string().contains("--build-timeout"), "says how to allow more: {err}");
    let pid: i32 = std::fs::read_to_string(app.join("sleep.pid")).expect("pid file").trim().parse().expect("pid");
    let what = format!("sleep {pid} to go with the timed-out build");
    eventually(&what, TEN_SECONDS, async || process_gone(pid).then_some(())).await;
}

#[tokio::test]
async fn a_silent_step_says_it_is_still_running_and_a_chatty_one_does_not() {
    let workspace = Workspace::new();
    let app = workspace.app_from_files("app", &[]);
    let builder = Builder::new(1).with_progress_every(Duration::from_millis(300));
    let (result, lines) = build(&builder, &plan(None, Some("sleep 1.2")), workspace.request(&app)).await;
    result.expect("builds");
    let progress: Vec<&String> = lines.iter().filter(|line| line.contains("still running")).collect();
    assert!(!progress.is_empty(), "no progress line in:\n{}", lines.join("\n"));
    for line in &progress {
        assert!(line.starts_with("… still running the build step (`sleep 1.2`), "), "{line}");
    }
    let finished = lines.iter().position(|line| line.starts_with("Build finished")).expect("a finish line");
    assert!(lines.iter().rposition(|line| line.contains("still running")) < Some(finished), "{lines:?}");

    // Output well within every quiet period, for longer than one: nothing to add.
    let builder = Builder::new(1).with_progress_every(Duration::from_secs(1));
    let chatty = "for i in $(seq 12); do echo tick $i; sleep 0.2; done";
    let app = workspace.app_from_files("chatty", &[]);
    let (result, lines) = build(&builder, &plan(None, Some(chatty)), workspace.request(&app)).await;
    result.expect("builds");
    assert!(lines.iter().any(|line| line == "tick 12"), "{lines:?}");
    assert!(!lines.iter().any(|line| line.contains("still running")), "{lines:?}");
}

#[tokio::test]
async fn cancelled_build_leaves_no_process_behind() {
    let workspace = Workspace::new();
    let app = workspace.app_from_files("app", &[]);
    let request = workspace.request(&app);
    let build_plan = plan(None, Some("sleep 30 & echo $! > sleep.pid; wait"));
    let task = tokio::spawn(async move {
        let (tx, _rx) = tokio::sync::mpsc::channel(64);
        Builder::new(1).build(&build_plan, request, tx).await
    });
    let pid_file = app.join("sleep.pid");
    let written = || std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n'));
    eventually("the build to write its pid", TEN_SECONDS, async || written().then_some(())).await;
    let pid: i32 = std::fs::read_to_string(&pid_file).expect("pid file").trim().parse().expect("pid");
    task.abort();
    let _ = task.await;
    let what = format!("sleep {pid} to go with the cancelled build");
    eventually(&what, TEN_SECONDS, async || process_gone(pid).then_some(())).await;
}

#[tokio::test]
async fn log_is_capped_with_one_notice_and_the_command_still_finishes() {
    let workspace = Workspace::new();
    let app = workspace.app_from_files("app", &[]);
    let mut request = workspace.request(&app);
    request.max_log_bytes = 300;
    let (result, log) = build(&Builder::new(1), &plan(None, Some("seq 1 20000; echo done > done.txt")), request).await;
    result.expect("the build goes on after the cap");
    assert!(app.join("done.txt").is_file());
    assert_eq!(log.last().map(String::as_str), Some("… build log truncated at 300 bytes"));
    let kept: usize = log[..log.len() - 1].iter().map(|l| l.len() + 1).sum();
    assert!(kept <= 300, "{kept} bytes forwarded");
}

#[tokio::test]
async fn missing_go_is_a_clear_error() {
    let workspace = Workspace::new();
    let app = workspace
        .app_from_files("app", &[("go.mod", "module example.com/x\n\ngo 1.22\n"), ("main.go", "package main\n")]);
    let plan = detect(&app).expect("go is detected without go installed");
    let mut request = workspace.request(&app);
    // An empty PATH stands in for a machine without Go, whether or not this one has it.
    request.env.push(("PATH".to_owned(), "/nonexistent".to_owned()));
    let (result, _) = build(&Builder::new(1), &plan, request).await;
    let err = result.expect_err("no go");
    assert!(matches!(&err, BuildError::ToolMissing { tool, .. } if tool == "go"), "{err:?}");
    assert!(err.to_string().starts_with("go is not installed"), "{err}");
}

#[tokio::test]
async fn config_vars_reach_the_build_but_port_and_slipway_settings_do_not() {
    let workspace = Workspace::new();
    let app = workspace.app_from_files("app", &[]);
    let command = "echo \"greeting=$GREETING port=${PORT:-none} secret=${SLIPWAY_SECRET_KEY:-none}\"";
    let (result, log) = build(&Builder::new(1), &plan(None, Some(command)), workspace.request(&app)).await;
    result.expect("build");
    assert!(log.iter().any(|l| l == "greeting=hi port=none secret=none"), "{log:#?}");
}

#[tokio::test]
async fn builds_past_the_limit_wait_for_a_slot() {
    let workspace = Workspace::new();
    let (first, second) = (workspace.app_from_files("one", &[]), workspace.app_from_files("two", &[]));
    let builder = std::sync::Arc::new(Builder::new(1));
    let mut first_request = workspace.request(&first);
    first_request.cache_dir = workspace.root.path().join("cache-one");
    let gate = first.join("go-on");
    let gate_wait = format!("touch started; while [ ! -f {} ]; do sleep 0.05; done", gate.display());
    let first_build = tokio::spawn({
        let (builder, plan) = (builder.clone(), plan(None, Some(&gate_wait)));
        async move { build(&builder, &plan, first_request).await }
    });
    eventually("the first build to start", TEN_SECONDS, async || first.join("started").exists().then_some(())).await;

    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let second_build = tokio::spawn({
        let (builder, request) = (builder.clone(), workspace.request(&second));
        async move { builder.build(&plan(None, Some("true")), request, tx).await }
    });
    assert_eq!(rx.recv().await.as_deref(), Some("waiting for a build slot (1 running)"));
    std::fs::write(&gate, "").expect("open the gate");
    first_build.await.expect("join").0.expect("first build");
    second_build.await.expect("join").expect("second build");
}
