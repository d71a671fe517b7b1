//! A real platform for one test: `slipway up` as a child process on a
//! scratch data dir (SQLite, API and router on free ports), the admin logged
//! in, and helpers for the API, the CLI and requests through the edge router.
//!
//! `up` starts the agent (router + apps) as a detached process; dropping the
//! [`Platform`] stops `up` and runs `slipway down` on the same data dir, so
//! the agent and every app go too, whether the test passed or panicked.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use reqwest::Method;
use serde_json::{json, Value};

pub const ADMIN_PASSWORD: &str = "e2e-admin-password";

/// The `slipway` binary of this checkout (or `SLIPWAY_BIN`). Tests run from
/// `target/<profile>/deps`; the binary is one level up. `cargo test
/// --workspace` has just built it, so a binary newer than every source file
/// is used as it is; otherwise (e.g. `cargo test -p slipway-portal` after an
/// edit) it is built first. Building only when stale matters: `cargo build -p
/// slipway` resolves features differently from a workspace test build and
/// would rebuild much of the graph.
pub fn bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(path) = std::env::var("SLIPWAY_BIN") {
            return PathBuf::from(path);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let exe = std::env::current_exe().expect("the test executable");
        let bin = exe.parent().and_then(Path::parent).expect("target/<profile>").join("slipway");
        let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
        let newest_source = newest_file(&root.join("crates"));
        if built.is_none() || newest_source.is_some_and(|source| Some(source) > built) {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let status = Command::new(cargo)
                .args(["build", "-p", "slipway", "--bin", "slipway"])
                .current_dir(&root)
                .status()
                .expect("running cargo build -p slipway");
            assert!(status.success(), "cargo build -p slipway failed");
        }
        assert!(bin.exists(), "no slipway binary at {}", bin.display());
        bin
    })
    .clone()
}

/// The newest modification time of the sources under `dir` (not tests, not node_modules).
fn newest_file(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let time = if path.is_dir() {
            if matches!(name.as_ref(), "tests" | "node_modules" | "target") {
                continue;
            }
            newest_file(&path)
        } else if [".rs", ".toml", ".css", ".js", ".svg", ".sql"].iter().any(|ext| name.ends_with(ext)) {
            entry.metadata().and_then(|m| m.modified()).ok()
        } else {
            None
        };
        newest = newest.max(time);
    }
    newest
}

/// An app (project) in a workspace, with its production environment.
#[derive(Debug, Clone)]
pub struct App {
    pub workspace: String,
    pub name: String,
}

impl App {
    /// The generated hostname the router answers for.
    pub fn host(&self) -> String {
        format!("{}-{}.localhost", self.name, self.workspace)
    }

    pub fn env_path(&self) -> String {
        format!("/v1/workspaces/{}/projects/{}/environments/production", self.workspace, self.name)
    }
}

/// What `slipway up` printed when it was ready.
struct Started {
    api_url: String,
    router: String,
    agent_pid: i32,
    /// The line about the router, e.g. "Edge router on http://… (agent 123 already runs)".
    router_line: String,
}

pub struct Platform {
    pub home: PathBuf,
    pub data_dir: PathBuf,
    up: Option<Child>,
    pub api_url: String,
    /// `127.0.0.1:PORT` of the edge router (inside the agent).
    pub router: String,
    pub agent_pid: i32,
    pub admin_token: String,
    env: Vec<(String, String)>,
    http: reqwest::Client,
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.stop_up(Signal::SIGTERM);
        // `down` stops the agent, which stops every app (SIGTERM, then SIGKILL after its grace period).
        let down = Command::new(bin())
            .arg("down")
            .env("SLIPWAY_DATA_DIR", &self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !matches!(down, Ok(status) if status.success()) {
            eprintln!("slipway down failed for {}: {down:?}", self.data_dir.display());
        }
        if std::thread::panicking() {
            eprintln!("kept {} for inspection (up.log, data/logs)", self.home.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.home);
        }
    }
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slipway-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a scratch directory");
    dir
}

impl Platform {
    /// Starts `slipway up` on a fresh data dir with extra environment
    /// variables (e.g. `SLIPWAY_HEALTH_TIMEOUT`), and logs in as admin.
    pub async fn start(name: &str, env: &[(&str, &str)]) -> Platform {
        let home = scratch_dir(name);
        let mut platform = Platform {
            data_dir: home.join("data"),
            home,
            up: None,
            api_url: String::new(),
            router: String::new(),
            agent_pid: 0,
            admin_token: String::new(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("an HTTP client"),
        };
        let started = tokio::task::block_in_place(|| platform.spawn_up("127.0.0.1:0"));
        platform.api_url = started.api_url;
        platform.router = started.router;
        platform.agent_pid = started.agent_pid;
        let login = platform
            .api_as(
                None,
                Method::POST,
                "/v1/auth/login",
                Some(json!({"username": "admin", "password": ADMIN_PASSWORD})),
            )
            .await;
        assert_eq!(login.0, 200, "admin login failed: {}", login.1);
        platform.admin_token = login.1["token"].as_str().expect("a session token").to_owned();
        platform
    }

    /// Spawns `slipway up` (the guard owns it from the first moment) and
    /// waits until it prints the API address.
    fn spawn_up(&mut self, http_addr: &str) -> Started {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.join("up.log"))
            .expect("opening up.log");
        let mut command = Command::new(bin());
        command
            .arg("up")
            .current_dir(&self.home)
            .env("SLIPWAY_DATA_DIR", &self.data_dir)
            .env("SLIPWAY_API_ADDR", "127.0.0.1:0")
            .env("SLIPWAY_HTTP_ADDR", http_addr)
            .env("SLIPWAY_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("SLIPWAY_LOG", crate::test_log().unwrap_or_else(|| "info,sqlx=warn".to_owned()))
            .env_remove("SLIPWAY_DATABASE_URL")
            .env_remove("SLIPWAY_SECRET_KEY")
            .env_remove("SLIPWAY_HTTPS_ADDR")
            .env_remove("SLIPWAY_DOMAIN")
            .env_remove("SLIPWAY_HEALTH_TIMEOUT")
            .env_remove("SLIPWAY_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.try_clone().expect("cloning the log handle"));
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("starting slipway up");
        let stdout = child.stdout.take().expect("piped stdout");
        self.up = Some(child);
        // A thread copies every line to up.log and hands it over; it keeps
        // draining after start-up so `up` never blocks on a full pipe.
        let (lines, received) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut log = log;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
                let _ = lines.send(line);
            }
        });
        let (mut api_url, mut router, mut agent_pid, mut router_line) = (None, None, None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while api_url.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match received.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => panic!("slipway up did not start; see {}", self.home.join("up.log").display()),
            };
            if let Some(rest) = line.strip_prefix("Edge router on http://") {
                // "Edge router on http://ADDR (agent PID; …)" or "… (agent PID already runs)"
                router = rest.split_whitespace().next().map(str::to_owned);
                agent_pid = rest
                    .split("(agent ")
                    .nth(1)
                    .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|s| s.parse().ok());
                router_line = Some(line.clone());
            } else if let Some(rest) = line.strip_prefix("Slipway API listening on ") {
                api_url = rest.split_whitespace().next().map(str::to_owned);
            }
        }
        Started {
            api_url: api_url.unwrap_or_default(),
            router: router.expect("up printed the edge router's address"),
            agent_pid: agent_pid.expect("up printed the agent's pid"),
            router_line: router_line.unwrap_or_default(),
        }
    }

    /// Stops `slipway up` (not the agent): `signal`, then SIGKILL after 10 s.
    fn stop_up(&mut self, signal: Signal) {
        let Some(mut child) = self.up.take() else { return };
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("a pid fits in i32"));
        let _ = kill(pid, signal);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// `kill -9` of the control plane; the agent and the apps live on.
    pub fn kill_up(&mut self) {
        tokio::task::block_in_place(|| self.stop_up(Signal::SIGKILL));
    }

    /// Starts `slipway up` again on the same data dir and router address;
    /// returns what it said about the router.
    pub fn restart_up(&mut self) -> String {
        assert!(self.up.is_none(), "up still runs");
        let router = self.router.clone();
        let started = tokio::task::block_in_place(|| self.spawn_up(&router));
        self.api_url = started.api_url;
        assert_eq!(started.router, router, "the router keeps its address");
        self.agent_pid = started.agent_pid;
        started.router_line
    }

    /// PIDs of `slipway agent` processes running for this data dir.
    pub fn agent_processes(&self) -> Vec<i32> {
        let wanted = format!("SLIPWAY_DATA_DIR={}", self.data_dir.display());
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            // `up` spawns its own executable, so argv[0] ends with the binary's name.
            if args.len() < 2 || !args[0].ends_with(b"slipway") || args[1] != b"agent" {
                continue;
            }
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
            if environ.split(|b| *b == 0).any(|var| var == wanted.as_bytes()) {
                pids.push(pid);
            }
        }
        pids
    }

    // ---- API --------------------------------------------------------------

    /// Calls the API with `token` (none: anonymous); returns status and JSON (or `null`).
    pub async fn api_as(&self, token: Option<&str>, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.api_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap_or_else(|err| panic!("{method} {path}: {err}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// An admin call that must succeed; returns its JSON.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.api_as(Some(&self.admin_token), method.clone(), path, body).await;
        assert!((200..300).contains(&status), "{method} {path} answered {status}: {value}");
        value
    }

    /// A bodiless request as the admin with extra headers; (status, JSON body).
    pub async fn api_with_headers(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.api_url)).bearer_auth(&self.admin_token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("calling the API");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates the workspace (once) and an app in it.
    pub async fn create_app(&self, workspace: &str, name: &str) -> App {
        let (status, body) = self
            .api_as(Some(&self.admin_token), Method::POST, "/v1/workspaces", Some(json!({"slug": workspace})))
            .await;
        assert!(status == 201 || status == 409, "creating workspace {workspace}: {status} {body}");
        self.api(Method::POST, &format!("/v1/workspaces/{workspace}/projects"), Some(json!({"slug": name}))).await;
        App { workspace: workspace.to_owned(), name: name.to_owned() }
    }

    /// A new API token of the admin (for git).
    pub async fn create_token(&self, name: &str) -> String {
        let created = self.api(Method::POST, "/v1/tokens", Some(json!({"name": name}))).await;
        created["token"].as_str().expect("the token is shown once").to_owned()
    }

    /// A token of a new user with `role` in `workspace`.
    pub async fn member_token(&self, workspace: &str, username: &str, role: &str) -> String {
        let password = "e2e-member-password";
        self.api(Method::POST, "/v1/users", Some(json!({"username": username, "password": password}))).await;
        self.api(
            Method::POST,
            &format!("/v1/workspaces/{workspace}/members"),
            Some(json!({"username": username, "role": role})),
        )
        .await;
        let (status, login) = self
            .api_as(None, Method::POST, "/v1/auth/login", Some(json!({"username": username, "password": password})))
            .await;
        assert_eq!(status, 200, "{login}");
        login["token"].as_str().expect("a session token").to_owned()
    }

    /// The git remote of `app`, authenticated with `token`.
    pub fn remote(&self, app: &App, token: &str) -> String {
        let host = self.api_url.trim_start_matches("http://");
        format!("http://git:{token}@{host}/git/{}/{}.git", app.workspace, app.name)
    }

    pub async fn deployment(&self, app: &App, number: u64) -> Value {
        self.api(Method::GET, &format!("{}/deployments/{number}", app.env_path()), None).await
    }

    /// Every deployment of the app, newest first.
    pub async fn deployments(&self, app: &App) -> Vec<Value> {
        let page = self.api(Method::GET, &format!("{}/deployments?limit=200", app.env_path()), None).await;
        page["items"].as_array().cloned().unwrap_or_default()
    }

    /// The data of an SSE stream that ends by itself.
    async fn events(&self, path: &str) -> String {
        let response = self
            .http
            .get(format!("{}{path}", self.api_url))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap_or_else(|err| panic!("GET {path}: {err}"));
        assert!(response.status().is_success(), "GET {path} answered {}", response.status());
        let text = response.text().await.expect("reading the event stream");
        let mut out = String::new();
        for event in slipway_core::sse::SseParser::default().push(text.as_bytes()) {
            out.push_str(&event.data);
            out.push('\n');
        }
        out
    }

    /// The build-and-deploy log of deployment `number` (`GET …/deployments/N/logs`).
    pub async fn deployment_log(&self, app: &App, number: u64) -> String {
        self.events(&format!("{}/deployments/{number}/logs", app.env_path())).await
    }

    /// The runtime log of the app (`GET …/logs`), up to 10,000 lines.
    pub async fn runtime_log(&self, app: &App) -> String {
        self.events(&format!("{}/logs?lines=10000", app.env_path())).await
    }

    // ---- CLI --------------------------------------------------------------

    /// Runs `slipway ARGS -a APP` as the admin, in the app's workspace.
    pub async fn cli(&self, app: &App, args: &[&str]) -> Output {
        tokio::process::Command::new(bin())
            .args(args)
            .args(["-a", &app.name])
            .env("SLIPWAY_API_URL", &self.api_url)
            .env("SLIPWAY_TOKEN", &self.admin_token)
            .env("SLIPWAY_WORKSPACE", &app.workspace)
            .env("SLIPWAY_CONFIG_DIR", self.home.join("config"))
            .stdin(Stdio::null())
            .output()
            .await
            .expect("running the CLI")
    }

    /// Like [`Platform::cli`], asserting success; returns stdout.
    pub async fn cli_ok(&self, app: &App, args: &[&str]) -> String {
        let output = self.cli(app, args).await;
        assert!(
            output.status.success(),
            "slipway {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    // ---- through the router -----------------------------------------------

    /// `GET path` through the edge router with `Host: <app>-<ws>.localhost`.
    pub async fn get(&self, app: &App, path: &str) -> Result<(u16, String), String> {
        get_through(&self.http, &self.router, &app.host(), path).await
    }

    pub fn http_client(&self) -> reqwest::Client {
        self.http.clone()
    }

    /// Asserts one request answers 200 with `body`.
    pub async fn assert_serves(&self, app: &App, body: &str) {
        let got = self.get(app, "/").await;
        assert_eq!(got, Ok((200, body.to_owned())), "{} should still serve {body:?}", app.host());
    }

    /// Every file under the data dir's logs, concatenated (for "never stored" checks).
    pub fn all_stored_logs(&self) -> String {
        let mut text = String::new();
        collect_text(&self.data_dir.join("logs"), &mut text);
        text
    }
}

fn collect_text(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_text(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
}

/// One `GET` through the router at `router` for `host`.
pub async fn get_through(
    client: &reqwest::Client,
    router: &str,
    host: &str,
    path: &str,
) -> Result<(u16, String), String> {
    let response = client
        .get(format!("http://{router}{path}"))
        .header(reqwest::header::HOST, host)
        .send()
        .await
        .map_err(|err| format!("{err:?}"))?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|err| format!("reading the body: {err:?}"))?;
    Ok((status, body))
}
