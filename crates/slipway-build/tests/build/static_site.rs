//! The static sample: nothing to build, served by `slipway serve-static` (whose server,
//! `slipway_agent::serve_static`, is tested in `slipway-agent`).

use slipway_build::{detect, Builder};

use crate::support::{build, built, Workspace};

#[tokio::test]
async fn static_site_is_served_from_its_folder() {
    let workspace = Workspace::new();
    let app_dir = workspace.app_from_example("static", "release-1");
    let plan = detect(&app_dir).expect("plan");
    assert_eq!(plan.stack, slipway_core::stack::Stack::Static);
    let start = plan.start.clone().expect("start");
    let folder = start.strip_prefix("slipway serve-static ").expect("served by slipway serve-static");
    assert_eq!(folder, "public");
    let (result, log) = build(&Builder::new(1), &plan, workspace.request(&app_dir)).await;
    let app = built(result, &log);
    // What `slipway serve-static public` serves.
    let index = std::fs::read_to_string(app.app_dir.join(folder).join("index.html")).expect("the site's index.html");
    assert!(index.contains("hello from a static site"), "{index}");
}
