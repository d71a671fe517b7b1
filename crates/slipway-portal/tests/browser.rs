//! The portal in a real browser: a real `slipway up` (child process, scratch
//! data dir, API and router on port 0) and `tests/browser/journey.mjs`
//! driving Debian's Chromium through `playwright-core`: sign in, create a
//! project, push `examples/express` with real git, watch the build log and
//! the badge, open the live URL, change a config var and redeploy, stream a
//! build printing 5,000 lines a second, roll back, and check that a viewer
//! cannot deploy. Screenshots go to `target/portal-screenshots/`.
//!
//! Nothing is skipped: without Chromium or the npm packages the test fails
//! and names the command that installs them.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ADMIN_PASSWORD: &str = "browser-admin-password";
const CHROMIUM: &str = "/usr/bin/chromium";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root")
}

/// The `slipway` binary of this checkout. `cargo test --workspace` has just
/// built it (the `slipway` package has tests of its own), so a binary newer
/// than every source file is used as it is; otherwise (e.g. `cargo test -p
/// slipway-portal` after an edit) it is built first. Building only when
/// stale matters: `cargo build -p slipway` resolves features differently
/// from a workspace test build and would rebuild much of the graph.
fn slipway_binary(root: &Path) -> PathBuf {
    if let Ok(path) = std::env::var("SLIPWAY_BIN") {
        return PathBuf::from(path);
    }
    // Tests run from target/<profile>/deps; the binary is one level up.
    let exe = std::env::current_exe().expect("the test executable");
    let bin = exe.parent().and_then(Path::parent).expect("target/<profile>").join("slipway");
    let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
    let newest_source = newest_file(&root.join("crates"));
    if built.is_none() || newest_source.is_some_and(|source| Some(source) > built) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "-p", "slipway", "--bin", "slipway"])
            .current_dir(root)
            .status()
            .expect("running cargo build -p slipway");
        assert!(status.success(), "cargo build -p slipway failed");
    }
    assert!(bin.exists(), "no slipway binary at {}", bin.display());
    bin
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

/// `slipway up` on a scratch dir; dropping it stops `up` and runs `slipway down`.
struct Platform {
    bin: PathBuf,
    home: PathBuf,
    up: Child,
    api_url: String,
    router: String,
}

impl Drop for Platform {
    fn drop(&mut self) {
        let _ = nix_kill(self.up.id());
        let _ = self.up.wait();
        let data = self.home.join("data");
        let _ = Command::new(&self.bin).arg("down").env("SLIPWAY_DATA_DIR", &data).stdout(Stdio::null()).status();
        if std::thread::panicking() {
            eprintln!("kept {} for inspection (up.log)", self.home.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.home);
        }
    }
}

/// SIGTERM to the child we started (by its id), so `up` drains and exits.
fn nix_kill(pid: u32) -> std::io::Result<()> {
    Command::new("kill").arg("-TERM").arg(pid.to_string()).status().map(|_| ())
}

impl Platform {
    fn start(bin: PathBuf) -> Platform {
        let home = std::env::temp_dir().join(format!("slipway-portal-browser-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).expect("a scratch dir");
        let log = std::fs::File::create(home.join("up.log")).expect("up.log");
        let mut up = Command::new(&bin)
            .arg("up")
            .current_dir(&home)
            .env("SLIPWAY_DATA_DIR", home.join("data"))
            .env("SLIPWAY_API_ADDR", "127.0.0.1:0")
            .env("SLIPWAY_HTTP_ADDR", "127.0.0.1:0")
            .env("SLIPWAY_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("SLIPWAY_LOG", "info,sqlx=warn")
            .env_remove("SLIPWAY_DATABASE_URL")
            .env_remove("SLIPWAY_HTTPS_ADDR")
            .env_remove("SLIPWAY_DOMAIN")
            .env_remove("SLIPWAY_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.try_clone().expect("log handle"))
            .spawn()
            .expect("starting slipway up");
        let stdout = up.stdout.take().expect("piped stdout");
        let (lines, received) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut log = log;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
                let _ = lines.send(line);
            }
        });
        let mut platform = Platform { bin, home, up, api_url: String::new(), router: String::new() };
        let deadline = Instant::now() + Duration::from_secs(90);
        while platform.api_url.is_empty() {
            let line = received
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("slipway up did not start; see {}/up.log", platform.home.display()));
            if let Some(rest) = line.strip_prefix("Edge router on http://") {
                platform.router = rest.split_whitespace().next().unwrap_or_default().to_owned();
            }
            if let Some(rest) = line.strip_prefix("Slipway API listening on ") {
                platform.api_url = rest.split_whitespace().next().unwrap_or_default().to_owned();
            }
        }
        assert!(!platform.router.is_empty(), "slipway up did not say where the router listens");
        platform
    }
}

#[test]
fn the_whole_journey_in_chromium() {
    let root = workspace_root();
    let browser_dir = root.join("crates/slipway-portal/tests/browser");
    assert!(
        Path::new(CHROMIUM).exists(),
        "Chromium is missing at {CHROMIUM}: install it with `apt-get install -y chromium` (the portal's browser tests need it)"
    );
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run `npm ci --prefix crates/slipway-portal/tests/browser` (it downloads no browser)"
    );
    let bin = slipway_binary(&root);
    let platform = Platform::start(bin);
    let screenshots = root.join("target/portal-screenshots");
    std::fs::create_dir_all(&screenshots).expect("the screenshot dir");
    let work = platform.home.join("work");
    std::fs::create_dir_all(&work).expect("a work dir");
    let output = Command::new("node")
        .arg(browser_dir.join("journey.mjs"))
        .current_dir(&browser_dir)
        .env("PORTAL_URL", &platform.api_url)
        .env("ROUTER_ADDR", &platform.router)
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("EXAMPLE_DIR", root.join("examples/express"))
        .env("WORK_DIR", &work)
        .env("SCREENSHOT_DIR", &screenshots)
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::null())
        .output()
        .expect("running node (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "the browser journey failed:\n{stdout}\n{stderr}\n(see {}/up.log)",
        platform.home.display()
    );
    assert!(stdout.contains("JOURNEY OK"), "the journey did not finish:\n{stdout}");
}
