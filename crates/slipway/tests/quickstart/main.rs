//! The README's quick start, run for real: `slipway up` as a child process,
//! then the CLI as a user would type it, on SQLite (the embedded default) and
//! on PostgreSQL. `up` starts the agent (edge router) as a detached process
//! on a free port; dropping the platform runs `slipway down` to stop it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use slipway_testkit::platform::bin;
use slipway_testkit::{TestBackend, TestDatabase};

/// A running `slipway up`, killed when dropped, and its agent, stopped with `slipway down`.
struct Platform {
    child: Child,
    api_url: String,
    /// The edge router's port, which app URLs carry.
    router_port: String,
    admin_password: String,
    home: PathBuf,
}

impl Drop for Platform {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let down = Command::new(bin())
            .arg("down")
            .env("SLIPWAY_DATA_DIR", self.home.join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !matches!(down, Ok(status) if status.success()) {
            eprintln!("slipway down failed for {}: {down:?}", self.home.display());
        }
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slipway-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a scratch directory");
    dir
}

/// Starts `slipway up` with the API on a free port and reads the admin
/// password and the address from what it prints.
fn start(name: &str, database_url: Option<&str>) -> Platform {
    let home = scratch_dir(name);
    let mut command = Command::new(bin());
    command
        .arg("up")
        .env("SLIPWAY_DATA_DIR", home.join("data"))
        .env("SLIPWAY_API_ADDR", "127.0.0.1:0")
        .env("SLIPWAY_HTTP_ADDR", "127.0.0.1:0")
        .env_remove("SLIPWAY_ADMIN_PASSWORD")
        .env_remove("SLIPWAY_DATABASE_URL")
        .env("SLIPWAY_DEFAULT_MAX_PROCESSES", "192")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(url) = database_url {
        command.env("SLIPWAY_DATABASE_URL", url);
    }
    let mut child = command.spawn().expect("starting slipway up");
    let stdout = child.stdout.take().expect("piped stdout");
    // From here on the guard stops `up` and the agent, whatever happens.
    let mut platform =
        Platform { child, api_url: String::new(), router_port: String::new(), admin_password: String::new(), home };
    let mut lines = BufReader::new(stdout).lines();
    let (mut password, mut api_url, mut router_port) = (None, None, None);
    while api_url.is_none() {
        let line = lines.next().expect("slipway up exited before it listened").expect("reading its output");
        if let Some(rest) = line.strip_prefix("Created the platform admin `admin` with password: ") {
            password = Some(rest.trim().to_owned());
        }
        if let Some(rest) = line.strip_prefix("Slipway API listening on ") {
            api_url = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(rest) = line.strip_prefix("Edge router on http://") {
            let addr = rest.split_whitespace().next().unwrap_or_default();
            router_port = addr.rsplit(':').next().map(str::to_owned);
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    platform.api_url = api_url.unwrap_or_default();
    platform.router_port = router_port.expect("up prints the edge router's address");
    platform.admin_password = password.expect("a first start prints the generated admin password");
    platform
}

impl Platform {
    /// Runs a CLI command against this platform with its own config dir.
    fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = Command::new(bin());
        command
            .args(args)
            .env("SLIPWAY_API_URL", &self.api_url)
            .env("SLIPWAY_CONFIG_DIR", self.home.join("config"))
            .env_remove("SLIPWAY_TOKEN")
            .env_remove("SLIPWAY_WORKSPACE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("running the CLI");
        if let Some(input) = stdin {
            use std::io::Write;
            child.stdin.take().expect("piped stdin").write_all(input.as_bytes()).expect("writing stdin");
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("waiting for the CLI")
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.cli(args, None);
        assert!(output.status.success(), "slipway {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

fn quick_start(platform: &Platform) {
    // Not logged in yet: exit code 3 and a hint.
    let output = platform.cli(&["apps"], None);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("slipway login"));

    let login = platform.cli(&["login", "--username", "admin", "--password-stdin"], Some(&platform.admin_password));
    assert!(login.status.success(), "{}", String::from_utf8_lossy(&login.stderr));
    let credentials = platform.home.join("config").join("credentials.json");
    assert_private(&credentials);

    assert!(platform.ok(&["whoami"]).contains("admin (platform admin)"));
    assert!(platform.ok(&["workspaces:create", "acme"]).contains("Created workspace acme"));
    let url = format!("http://shop-acme.localhost:{}", platform.router_port);
    let created = platform.ok(&["apps:create", "shop"]);
    assert!(created.contains(&url), "{created}");

    let apps: serde_json::Value = serde_json::from_str(&platform.ok(&["apps", "--json"])).expect("apps --json is JSON");
    assert_eq!(apps[0]["slug"], "shop");
    assert_eq!(apps[0]["url"], url.as_str());
    let info = platform.ok(&["apps:info", "shop"]);
    assert!(info.contains("production") && info.contains("shop-acme.localhost"), "{info}");

    // The same name again is a conflict: exit code 5, nothing printed on stdout.
    let again = platform.cli(&["apps:create", "shop"], None);
    assert_eq!(again.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&again.stderr).contains("PROJECT_EXISTS"));

    platform.ok(&["config:set", "GREETING=hello", "-a", "shop"]);
    platform.ok(&["config:set", "API_KEY=s3cr3t-value", "--secret", "-a", "shop"]);
    let config = platform.ok(&["config", "-a", "shop"]);
    assert!(config.contains("GREETING") && config.contains("hello"), "{config}");
    assert!(config.contains("API_KEY") && !config.contains("s3cr3t-value"), "{config}");
    platform.ok(&["config:unset", "GREETING", "-a", "shop"]);
    assert!(!platform.ok(&["config", "-a", "shop"]).contains("GREETING"));

    let token = platform.ok(&["tokens:create", "ci"]);
    assert!(token.trim().starts_with("slw_"), "{token}");
    let missing = platform.cli(&["members:add", "nobody", "--role", "viewer"], None);
    assert_eq!(missing.status.code(), Some(4));

    // What each instance may use (unset figures are the platform's defaults, from `up`'s
    // settings), the memory limit in `ps`, and the workspace's quota, set by the admin.
    let resized = platform.ok(&["ps:resize", "-a", "shop", "--memory", "1G", "--cpu", "0.5"]);
    assert!(resized.contains("memory 1 GiB, cpu 0.5, 192 processes per instance"), "{resized}");
    let over = platform.cli(&["ps:resize", "-a", "shop", "--memory", "64G"], None);
    assert!(String::from_utf8_lossy(&over.stderr).contains("INVALID_RESOURCES"), "{over:?}");
    let typo = platform.cli(&["ps:resize", "-a", "shop", "--cpu", "half"], None);
    assert!(!typo.status.success() && String::from_utf8_lossy(&typo.stderr).contains("`half`"), "{typo:?}");
    assert!(platform.ok(&["ps", "-a", "shop"]).starts_with("INSTANCE  RELEASE  STATE  MEMORY"));
    platform.ok(&["quotas:set", "--memory", "8G", "--instances", "20", "--projects", "10"]);
    platform.ok(&["quotas:set", "--projects", "1"]);
    let quotas: serde_json::Value =
        serde_json::from_str(&platform.ok(&["quotas", "--json"])).expect("quotas --json is JSON");
    assert_eq!(quotas["quota"], serde_json::json!({"memory": 8u64 << 30, "instances": 20, "projects": 1}));
    assert_eq!(quotas["usage"]["projects"], 1);
    assert!(platform.ok(&["quotas"]).contains("8 GiB"));
    let refused = platform.cli(&["apps:create", "blog"], None);
    assert_eq!(refused.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("QUOTA_EXCEEDED"));
    platform.ok(&["quotas:set", "--projects", "unlimited"]);

    // Destroying needs confirmation when there is no terminal.
    assert!(!platform.cli(&["apps:destroy", "shop"], None).status.success());
    platform.ok(&["apps:destroy", "shop", "--confirm", "shop"]);
    assert!(platform.ok(&["apps"]).lines().count() == 1, "only the header is left");

    platform.ok(&["logout"]);
    assert_eq!(platform.cli(&["whoami"], None).status.code(), Some(3));
}

#[cfg(unix)]
fn assert_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).expect("credentials were saved").permissions().mode();
    assert_eq!(mode & 0o077, 0, "credentials must be readable by the user only");
}

#[test]
fn quick_start_on_the_embedded_default() {
    let platform = start("sqlite", None);
    quick_start(&platform);
}

#[tokio::test(flavor = "multi_thread")]
async fn quick_start_on_postgres() {
    let database = TestDatabase::create(TestBackend::Postgres).await;
    let platform = start("postgres", Some(&database.url));
    tokio::task::block_in_place(|| quick_start(&platform));
}

#[test]
fn check_validates_settings_and_exits() {
    let home = scratch_dir("check");
    let output = Command::new(bin())
        .args(["up", "--check", "--domain", "Not A Domain"])
        .env("SLIPWAY_DATA_DIR", &home)
        .output()
        .expect("running slipway up --check");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("SLIPWAY_DOMAIN"));
    let output = Command::new(bin())
        .args(["up", "--check", "--database-url", "postgres://u:hunter2@db/slipway"])
        .env("SLIPWAY_DATA_DIR", &home)
        .output()
        .expect("running slipway up --check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("settings are valid") && !stdout.contains("hunter2"), "{stdout}");
    assert!(!home.join("secret.key").exists(), "--check must not create files");
    let _ = std::fs::remove_dir_all(&home);
}
