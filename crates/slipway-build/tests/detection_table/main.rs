//! Detection table: Slipway's plans for the shapes real example apps take, as
//! the peers' example folders show them (Railpack's and Nixpacks' `examples/`,
//! Heroku's getting-started repositories, Render's examples), compared with
//! what those peers' planners would run — spelled the Slipway way (bound to
//! 127.0.0.1:$PORT, binaries under `bin/`, static output served by
//! `slipway serve-static`).
//!
//! Each app in `apps.toml` lists only the files detection reads. The test
//! writes each one into a temporary directory, runs [`slipway_build::detect`]
//! and measures how often the language and the start command agree; issue 14
//! asks for at least 95% and 80%. Apps of stacks Slipway does not build must be
//! refused as such, every one of them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use slipway_build::{detect, DetectError};

const LANGUAGE_THRESHOLD: f64 = 95.0;
const START_THRESHOLD: f64 = 80.0;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    app: Vec<App>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct App {
    /// `<peer>/<example>`: the example the fixture mirrors.
    name: String,
    /// The stack the peers' planners give it (`node`, `python`, `go`, `rust`, `ruby`, `java`, `php`, `static`).
    language: Option<String>,
    /// The command that starts the `web` process, in Slipway's spelling.
    start: Option<String>,
    /// When set, the build command must match too for the start command to count
    /// (it decides which program the start command runs).
    build: Option<String>,
    /// A stack Slipway does not build, which must be refused naming it.
    refused: Option<String>,
    /// Why Slipway deliberately plans this app otherwise, when it does.
    #[allow(dead_code)]
    note: Option<String>,
    files: BTreeMap<String, String>,
}

#[derive(Default)]
struct Tally {
    apps: usize,
    language: usize,
    start: usize,
    disagreements: Vec<[String; 4]>,
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// The beginning of an error message, for the table.
fn short(message: &str) -> String {
    match message.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &message[..end]),
        None => message.to_owned(),
    }
}

fn write_tree(root: &Path, files: &BTreeMap<String, String>) {
    for (path, content) in files {
        assert!(!path.starts_with('/') && !path.split('/').any(|part| part == ".."), "fixture path {path:?}");
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("mkdir");
        std::fs::write(path, content).expect("write fixture file");
    }
}

#[test]
fn detection_agrees_with_the_peers_on_real_example_apps() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/detection_table/apps.toml"))
        .expect("read apps.toml");
    let table: Table = toml::from_str(&text).expect("apps.toml parses");

    let mut names = std::collections::BTreeSet::new();
    let mut tally = Tally::default();
    let mut wrongly_accepted = Vec::new();
    let mut refusals = 0;
    for app in &table.app {
        assert!(names.insert(app.name.as_str()), "{} is listed twice", app.name);
        assert!(!app.files.is_empty(), "{} lists no files", app.name);
        let dir = tempfile::tempdir().expect("temp dir");
        write_tree(dir.path(), &app.files);
        let result = detect(dir.path());

        if let Some(stack) = &app.refused {
            assert!(app.language.is_none() && app.start.is_none(), "{}: refused apps expect nothing else", app.name);
            match &result {
                Err(DetectError::UnsupportedStack { stack: found, .. }) if found.name() == stack => refusals += 1,
                other => wrongly_accepted.push(format!("{}: expected a refusal as {stack}, got {other:?}", app.name)),
            }
            continue;
        }

        let language = app.language.as_deref().unwrap_or_else(|| panic!("{}: no expected language", app.name));
        let start = app.start.as_deref().unwrap_or_else(|| panic!("{}: no expected start command", app.name));
        assert!(
            ["node", "python", "go", "rust", "ruby", "java", "php", "static"].contains(&language),
            "{}: unknown language {language}",
            app.name
        );
        tally.apps += 1;
        let (got_language, got_start, got_build) = match &result {
            Ok(plan) => (plan.stack.to_string(), plan.start.clone().unwrap_or_default(), plan.build.clone()),
            Err(err) => (format!("error: {}", short(&err.to_string())), String::new(), None),
        };
        let language_agrees = got_language == language;
        let build_agrees = app.build.as_ref().is_none_or(|build| got_build.as_ref() == Some(build));
        let start_agrees = got_start == start && build_agrees;
        tally.language += usize::from(language_agrees);
        tally.start += usize::from(start_agrees);
        if !(language_agrees && start_agrees) {
            let got = match (&app.build, build_agrees) {
                (Some(_), false) => format!("{got_start}  (build: {})", got_build.unwrap_or_default()),
                _ => got_start,
            };
            let expected = match &app.build {
                Some(build) if !build_agrees => format!("{start}  (build: {build})"),
                _ => start.to_owned(),
            };
            let language = if language_agrees { language.to_owned() } else { format!("{language} ≠ {got_language}") };
            tally.disagreements.push([app.name.clone(), language, expected, got]);
        }
    }

    if !tally.disagreements.is_empty() {
        println!("disagreements ({}):", tally.disagreements.len());
        println!("{:<44} | {:<18} | {:<48} | slipway", "app", "language", "peers' start");
        for [name, language, expected, got] in &tally.disagreements {
            println!("{name:<44} | {language:<18} | {expected:<48} | {got}");
        }
    }
    let language = percent(tally.language, tally.apps);
    let start = percent(tally.start, tally.apps);
    println!(
        "detection agreement: language {language:.1}% ({}/{}), start command {start:.1}% ({}/{})",
        tally.language, tally.apps, tally.start, tally.apps
    );
    println!("unsupported stacks refused: {refusals}/{}", refusals + wrongly_accepted.len());

    assert!(tally.apps >= 150, "the table needs at least 150 apps of supported stacks, has {}", tally.apps);
    assert!(wrongly_accepted.is_empty(), "apps of unsupported stacks not refused:\n{}", wrongly_accepted.join("\n"));
    assert!(language >= LANGUAGE_THRESHOLD, "language agreement {language:.1}% is below {LANGUAGE_THRESHOLD}%");
    assert!(start >= START_THRESHOLD, "start command agreement {start:.1}% is below {START_THRESHOLD}%");
}
