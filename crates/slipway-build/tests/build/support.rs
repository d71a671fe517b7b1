//! Copies the sample apps of `examples/`, runs builds while collecting their log, starts web processes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use slipway_build::{BuildError, BuildPlan, BuildRequest, Builder, BuiltApp};
use slipway_testkit::eventually;

/// A temporary directory holding an app directory and a cache directory.
pub struct Workspace {
    pub root: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Self { root: tempfile::tempdir().expect("temp dir") }
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.root.path().join("cache")
    }

    /// A fresh copy of the sample app `examples/<name>` named `<app>` in this workspace.
    pub fn app_from_example(&self, name: &str, app: &str) -> PathBuf {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name);
        let to = self.root.path().join(app);
        copy_dir(&from, &to);
        to
    }

    /// An app directory made of the given files.
    pub fn app_from_files(&self, app: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.root.path().join(app);
        for (path, content) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, content).expect("write");
        }
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir
    }

    pub fn request(&self, app_dir: &Path) -> BuildRequest {
        BuildRequest {
            app_dir: app_dir.to_owned(),
            cache_dir: self.cache_dir(),
            env: vec![("GREETING".to_owned(), "hi".to_owned()), ("PORT".to_owned(), "1".to_owned())],
            timeout: Duration::from_secs(600),
            max_log_bytes: 4 << 20,
            // The builder's own tests run unsandboxed; crates/slipway/tests/sandbox.rs builds in the sandbox.
            sandbox: slipway_build::BuildSandbox {
                sandbox: slipway_sandbox::Sandbox::off(),
                uid: slipway_core::resources::SandboxUid::nth(0).expect("uid"),
                resources: slipway_core::resources::Resources::default(),
                max_file_size: 1 << 30,
                name: "test".to_owned(),
            },
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// A Procfile plan that builds by running `command` (and starts nothing that is used).
pub fn plan_running(command: &str) -> BuildPlan {
    BuildPlan {
        stack: slipway_core::stack::Stack::Procfile,
        framework: None,
        package_manager: None,
        runtime_asks: Vec::new(),
        install: None,
        build: Some(command.to_owned()),
        start: Some("true".to_owned()),
        processes: [(slipway_core::process_type::ProcessType::web(), "true".to_owned())].into(),
        health_check_path: None,
        detected_from: vec!["Procfile".to_owned()],
    }
}

/// Runs a build and returns its result with every log line.
pub async fn build(
    builder: &Builder,
    plan: &BuildPlan,
    request: BuildRequest,
) -> (Result<BuiltApp, BuildError>, Vec<String>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let collector = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Some(line) = rx.recv().await {
            if slipway_testkit::test_log().is_some() {
                eprintln!("build: {line}");
            }
            lines.push(line);
        }
        lines
    });
    let result = builder.build(plan, request, tx).await;
    let lines = collector.await.expect("collector");
    (result, lines)
}

/// The built app, or a panic showing the error and the build log.
pub fn built(result: Result<BuiltApp, BuildError>, lines: &[String]) -> BuiltApp {
    match result {
        Ok(built) => built,
        Err(e) => panic!("build failed: {e}\n--- build log ---\n{}", lines.join("\n")),
    }
}

/// A started `web` process, killed with its whole process group when dropped.
pub struct WebProcess {
    child: Child,
    pub port: u16,
}

impl WebProcess {
    /// Starts `command` the way the runtime will: `sh -c` in the app dir, PATH
    /// extended by the build, the build's runtime env, config vars and PORT.
    pub fn start(built: &BuiltApp, command: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let path = std::env::join_paths(
            built
                .path_prepend
                .iter()
                .cloned()
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )
        .expect("PATH");
        let child = std::os::unix::process::CommandExt::process_group(
            Command::new("sh")
                .args(["-c", command])
                .current_dir(&built.app_dir)
                .env("PATH", path)
                .envs(built.env.iter().map(|(k, v)| (k, v)))
                .env("GREETING", "hi")
                .env("PORT", port.to_string())
                .stdout(slipway_testkit::child_output())
                .stderr(slipway_testkit::child_output()),
            0,
        )
        .spawn()
        .expect("start web process");
        Self { child, port }
    }

    /// GET `path`, waiting (up to a minute) for the process to listen.
    pub async fn get(&mut self, path: &str) -> String {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let client = reqwest::Client::new();
        let what = format!("the web process to answer on {url}");
        eventually(&what, Duration::from_secs(60), async || {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("the web process exited with {status} before answering");
            }
            let response = client.get(&url).send().await.ok()?;
            assert!(response.status().is_success(), "GET {url}: {}", response.status());
            Some(response.text().await.expect("body"))
        })
        .await
    }
}

impl Drop for WebProcess {
    fn drop(&mut self) {
        if let Ok(id) = i32::try_from(self.child.id()) {
            let _ = killpg(Pid::from_raw(id), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Whether a process is gone (or a zombie waiting to be reaped: dead either way).
pub fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the parenthesised command name.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}
