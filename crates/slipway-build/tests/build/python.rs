//! The Flask sample: requirements.txt into a cached virtualenv, gunicorn added by Slipway.

use slipway_build::{detect, Builder};

use crate::support::{build, built, WebProcess, Workspace};

#[tokio::test]
async fn flask_builds_into_a_virtualenv_and_serves_through_gunicorn() {
    let workspace = Workspace::new();
    let builder = Builder::new(2);
    let app_dir = workspace.app_from_example("flask", "release-1");
    let plan = detect(&app_dir).expect("plan");
    assert_eq!((plan.stack.as_str(), plan.framework.as_deref()), ("python", Some("flask")));
    assert_eq!(plan.start.as_deref(), Some("gunicorn --bind 127.0.0.1:$PORT app:app"));
    assert!(plan.install.as_deref().is_some_and(|i| i.contains("pip install gunicorn")), "{plan:?}");

    let (result, log) = build(&builder, &plan, workspace.request(&app_dir)).await;
    let app = built(result, &log);
    let venv = app.env.iter().find(|(k, _)| k == "VIRTUAL_ENV").map(|(_, v)| v.clone()).expect("VIRTUAL_ENV");
    assert!(venv.starts_with(workspace.cache_dir().join("venvs").to_str().expect("utf-8")), "{venv}");
    assert!(std::path::Path::new(&venv).join(".complete").is_file());
    assert_eq!(app.path_prepend, [std::path::Path::new(&venv).join("bin")]);

    let mut web = WebProcess::start(&app, plan.processes["web"].as_str());
    assert_eq!(web.get("/").await, "hello from flask hi");
    drop(web);

    // Unchanged requirements: the virtualenv is reused as is.
    let again = workspace.app_from_example("flask", "release-2");
    let (result, log) = build(&builder, &plan, workspace.request(&again)).await;
    let second = built(result, &log);
    assert!(log.iter().any(|l| l.starts_with("Reusing cached virtualenv (key ")), "{log:#?}");
    assert!(!log.iter().any(|l| l.starts_with("$ pip install")), "{log:#?}");
    assert_eq!(second.env, app.env);
}
