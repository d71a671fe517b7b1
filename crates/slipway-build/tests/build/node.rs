//! The Express sample: npm ci from the lockfile, then a rebuild from the cache.

use slipway_build::{detect, Builder};

use crate::support::{build, built, WebProcess, Workspace};

#[tokio::test]
async fn express_builds_runs_and_rebuilds_from_the_cache() {
    let workspace = Workspace::new();
    let builder = Builder::new(2);

    let first = workspace.app_from_example("express", "release-1");
    let plan = detect(&first).expect("plan");
    assert_eq!((plan.stack.as_str(), plan.framework.as_deref()), ("node", Some("express")));
    assert_eq!(plan.install.as_deref(), Some("npm ci"));
    let (result, log) = build(&builder, &plan, workspace.request(&first)).await;
    built(result, &log);
    assert!(log.iter().any(|l| l == "$ npm ci"), "{log:#?}");
    assert!(log.iter().any(|l| l.starts_with("No cached dependencies for key")), "{log:#?}");
    assert!(first.join("node_modules/express/package.json").is_file());

    // Same lockfile: the cache answers and npm ci does not run.
    let second = workspace.app_from_example("express", "release-2");
    let plan = detect(&second).expect("plan");
    let (result, log) = build(&builder, &plan, workspace.request(&second)).await;
    let app = built(result, &log);
    assert!(log.iter().any(|l| l.starts_with("Reusing cached dependencies (key ")), "{log:#?}");
    assert!(!log.iter().any(|l| l == "$ npm ci"), "install ran again: {log:#?}");
    assert_eq!(app.path_prepend, [second.join("node_modules/.bin")]);

    // The first release's node_modules is untouched by the second build.
    std::fs::remove_dir_all(&first).expect("remove the first release");
    let mut web = WebProcess::start(&app, plan.processes["web"].as_str());
    assert_eq!(web.get("/").await, "hello from express hi");
}
