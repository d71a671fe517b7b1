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

use std::path::{Path, PathBuf};
use std::process::Stdio;

use slipway_testkit::platform::{Platform, ADMIN_PASSWORD};
use tokio::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_journey_in_chromium() {
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
    let platform = Platform::start("portal-browser", &[]).await;
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
        .await
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
