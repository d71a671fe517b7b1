//! Detection: a source tree → a [`BuildPlan`].
//!
//! Precedence, highest first: `slipway.toml` fields override everything; a
//! `Procfile` defines the process types (its `web` becomes `start`); otherwise
//! the first stack detector that recognises the tree decides (a Rails or Rack
//! app, a Maven or Gradle build, PHP, node, python, go, rust, any other
//! Gemfile, static site, then a lone `main.py`/`app.py`, in that order;
//! `ruby.rs` says why Ruby comes twice, and a Java build file, like a Rails
//! app or a PHP app, says what the app is even beside a package.json of
//! front-end tooling). A tree of a stack Slipway does not build (Scala, .NET,
//! …) is refused
//! first, unless `slipway.toml` says what runs (`unsupported.rs`).
//!
//! Every file is read through [`Tree`], which never follows a symlink out of
//! the tree and never reads more than [`MAX_MANIFEST_BYTES`], so a hostile
//! repository can neither make detection read the host nor exhaust memory.

mod go;
pub(crate) mod java;
mod manifest;
mod node;
mod php;
mod procfile;
mod python;
mod ruby;
mod rust;
mod static_site;
mod unsupported;
mod versions;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use slipway_core::build_plan::BuildPlan;
use slipway_core::process_type::ProcessType;
use slipway_core::stack::Stack;

pub use unsupported::UnsupportedStack;

/// A manifest (package.json, Cargo.toml, …) larger than this is refused.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// Source files scanned for `Flask(` and friends are read up to this many bytes.
const MAX_SCAN_BYTES: u64 = 256 * 1024;

/// Everything detection looks for, for the "nothing recognised" message.
const LOOKED_FOR: &str = "slipway.toml, Procfile, package.json, requirements.txt, pyproject.toml, Pipfile, main.py, \
                          app.py, go.mod, Cargo.toml, Gemfile, config.ru, pom.xml, build.gradle(.kts), composer.json, \
                          index.php (also in public/), index.html (also in public/, dist/, build/, _site/, out/)";

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// No file that Slipway knows was found.
    #[error(
        "Slipway does not recognise this app: looked for {LOOKED_FOR}; add a Procfile (`web: <command>`) or a \
         slipway.toml with `start = \"<command>\"`"
    )]
    Unrecognised,
    /// Nothing at the root, but apps in directories below it: a monorepo, whose app `root_dir` names.
    #[error(
        "nothing at the repository's root says what to run, but {} {}; set `root_dir = \"{}\"` (or another) in a \
         slipway.toml at the root",
        if .candidates.len() == 1 { "this directory holds an app:" } else { "these directories hold apps:" },
        .candidates.join(", "),
        .candidates.first().and_then(|c| c.split(' ').next()).unwrap_or_default()
    )]
    Monorepo { candidates: Vec<String> },
    /// A file that decides the plan could not be parsed.
    #[error("{file} is malformed: {problem}")]
    Malformed { file: String, problem: String },
    /// A file that decides the plan is larger than Slipway will read.
    #[error("{file} is larger than {limit} bytes; Slipway does not read it")]
    TooLarge { file: String, limit: u64 },
    /// A `Procfile` line is not `type: command`.
    #[error("Procfile line {line_number} ({line:?}): {problem}; lines must read `type: command`")]
    ProcfileLine { line_number: usize, line: String, problem: String },
    /// `slipway.toml` has keys Slipway does not know (often a typo).
    #[error(
        "slipway.toml has unknown key(s): {}; known keys are install, build, start, health_check_path and \
         [processes]",
        keys.join(", ")
    )]
    UnknownManifestKeys { keys: Vec<String> },
    /// The stack was recognised but nothing says how to start the app.
    #[error(
        "this looks like a {stack} app (from {from}) but Slipway cannot tell how to start it: {hint}; or add a \
         Procfile with `web: <command>` (the app must listen on 127.0.0.1:$PORT)"
    )]
    NoStartCommand { stack: Stack, from: String, hint: String },
    /// The tree is an app of a stack Slipway does not build; `evidence` names
    /// the file (and the Procfile line) that gave it away.
    #[error(
        "this is a {stack} app ({evidence}), and Slipway does not build {stack} apps: it builds Node, Python, Go, \
         Rust, Ruby, Java, PHP and static sites. Deploy it somewhere that builds {stack}; or, if this machine has \
         {stack}'s toolchain, say how to build and start it in slipway.toml (`install = \"<command>\"`, \
         `start = \"<command>\"` listening on 127.0.0.1:$PORT) and Slipway runs those as they are"
    )]
    UnsupportedStack { stack: UnsupportedStack, evidence: String },
    /// The stack is one Slipway builds, but not in the shape this tree has it (a Gradle build
    /// without its wrapper); `reason` says what to change.
    #[error("this looks like a {stack} app (from {from}) that Slipway cannot build as it is: {reason}")]
    CannotBuild { stack: Stack, from: String, reason: String },
    /// Several files could be the app's entry point and nothing says which.
    #[error(
        "this looks like a {stack} app (from {from}) with several possible entry files: {}; Slipway does not guess \
         between them: {hint}",
        candidates.join(", ")
    )]
    AmbiguousEntry { stack: Stack, from: String, candidates: Vec<String>, hint: String },
    /// The tree could not be read.
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Detects the build plan of the source tree at `dir`.
pub fn detect(dir: &Path) -> Result<BuildPlan, DetectError> {
    let tree = Tree::open(dir)?;
    let manifest = manifest::parse(&tree)?;
    // A slipway.toml that says what runs is the app's own say, whatever the stack.
    let says_what_runs = manifest.as_ref().is_some_and(|m| m.defines_processes());
    let unsupported = if says_what_runs { None } else { unsupported::detect(&tree) };
    let procfile = match (procfile::parse(&tree), &unsupported) {
        // Fixing the Procfile would not make the app buildable: the stack is the answer.
        (Err(_), Some(found)) if found.strength == unsupported::Strength::Manifest => return Err(found.refusal(None)),
        (result, _) => result?,
    };
    let stack = match (detect_stack(&tree), &unsupported) {
        (Err(_), Some(found)) if found.strength == unsupported::Strength::Manifest => return Err(found.refusal(None)),
        // What Slipway cannot build itself, a slipway.toml that says how builds and starts.
        (Err(DetectError::CannotBuild { .. }), _) if says_what_runs => None,
        (result, _) => result?,
    };
    if !says_what_runs {
        let startable = stack.as_ref().is_some_and(|plan| plan.start.is_some() || !plan.processes.is_empty());
        unsupported::check(unsupported.as_ref(), procfile.as_ref(), startable)?;
    }

    let mut plan = match stack {
        Some(plan) => plan,
        None if procfile.is_some() || says_what_runs => BuildPlan {
            stack: Stack::Procfile,
            framework: None,
            package_manager: None,
            runtime_asks: Vec::new(),
            install: None,
            build: None,
            start: None,
            processes: Default::default(),
            health_check_path: None,
            detected_from: Vec::new(),
        },
        None => {
            let candidates = monorepo_apps(&tree);
            return Err(if candidates.is_empty() {
                DetectError::Unrecognised
            } else {
                DetectError::Monorepo { candidates }
            });
        }
    };
    if let Some(processes) = procfile {
        // The Procfile replaces the detected process types; a stack's own web
        // command stays when the Procfile names only other types (Heroku does the same).
        let stack_web = plan.processes.remove(ProcessType::WEB);
        plan.processes = processes;
        if let Some(web) = stack_web {
            plan.processes.entry(ProcessType::web()).or_insert(web);
        }
        plan.start = plan.processes.get(ProcessType::WEB).cloned();
        plan.detected_from.push(procfile::FILE.to_owned());
        if plan.stack == Stack::Go {
            go::name_binary_for_web(&tree, &mut plan);
        }
        if plan.stack == Stack::Php {
            // Heroku's `heroku-php-nginx DIR` is Slipway's `slipway serve-php DIR`.
            for command in plan.processes.values_mut() {
                let translated = php::translate_heroku(command)
                    .map_err(|problem| DetectError::Malformed { file: procfile::FILE.to_owned(), problem })?;
                if let Some(translated) = translated {
                    *command = translated;
                }
            }
            plan.start = plan.processes.get(ProcessType::WEB).cloned();
        }
    }
    if let Some(manifest) = manifest {
        manifest.apply(&mut plan);
    }
    // Several entry files are refused below rather than served as a static site.
    if plan.processes.is_empty() && plan.stack == Stack::Node && node::entry_files(&tree).len() < 2 {
        // A front-end whose build output is committed (or a package.json kept for tooling only).
        if let Some(site) = static_site::detect(&tree)? {
            plan.processes = site.processes;
            plan.start = site.start;
            plan.detected_from.extend(site.detected_from);
        }
    }
    // A Python entry file is guessed only when nothing else says what runs, so a
    // Procfile naming just `worker: python main.py` does not also get it as web.
    if plan.processes.is_empty() && plan.stack == Stack::Python {
        if let Some(file) = python::entry_file(&tree) {
            let start = format!("python {file}");
            plan.processes.insert(ProcessType::web(), start.clone());
            plan.start = Some(start);
            if !plan.detected_from.iter().any(|f| f == file) {
                plan.detected_from.push(file.to_owned());
            }
        }
    }
    if plan.processes.is_empty() {
        return Err(no_start_command(&tree, &plan));
    }
    Ok(plan)
}

/// A stack detector: a plan when it recognises the tree.
type Detector = fn(&Tree) -> Result<Option<BuildPlan>, DetectError>;

/// The first stack detector that recognises the tree.
fn detect_stack(tree: &Tree) -> Result<Option<BuildPlan>, DetectError> {
    // A lone main.py or app.py without a dependency file comes last, so a site with a
    // script beside its index.html stays a static site.
    // A Rails or Rack app comes first (its package.json is asset tooling), any other Gemfile
    // only after the stacks whose manifests it often sits beside as tooling (ruby.rs).
    // PHP before Node: a Laravel app's package.json builds its assets (php.rs).
    let detectors: [Detector; 10] = [
        ruby::detect_app,
        java::detect,
        php::detect,
        node::detect,
        python::detect,
        go::detect,
        rust::detect,
        ruby::detect,
        static_site::detect,
        python::detect_entry_file,
    ];
    for detector in detectors {
        if let Some(plan) = detector(tree)? {
            return Ok(Some(plan));
        }
    }
    Ok(None)
}

fn no_start_command(tree: &Tree, plan: &BuildPlan) -> DetectError {
    let from = plan.detected_from.join(", ");
    if plan.stack == Stack::Node {
        let candidates = node::entry_files(tree);
        if candidates.len() > 1 {
            let candidates = candidates.into_iter().map(str::to_owned).collect();
            let hint = "add a Procfile with `web: node <file>`, or a `start` script or a `main` entry to package.json"
                .to_owned();
            return DetectError::AmbiguousEntry { stack: plan.stack, from, candidates, hint };
        }
    }
    if plan.stack == Stack::Go {
        let commands = go::commands(tree);
        if commands.len() > 1 {
            let candidates = commands.iter().map(|name| format!("cmd/{name}")).collect();
            let hint = "add a Procfile with `web: bin/<name>` (Slipway builds ./cmd/<name> to it), or say how in \
                        slipway.toml (`build = \"go build -o bin/<name> ./cmd/<name>\"`, `start = \"./bin/<name>\"`)"
                .to_owned();
            return DetectError::AmbiguousEntry { stack: plan.stack, from, candidates, hint };
        }
    }
    let hint = match plan.stack {
        Stack::Node => {
            "add a `start` script or a `main` entry to package.json, or an index.js/server.js/main.js/app.js".to_owned()
        }
        Stack::Python => {
            "Slipway starts Flask, FastAPI and Django apps, and a main.py or app.py, by itself; for anything else"
                .to_owned()
                + " say how in slipway.toml (`start = \"...\"`)"
        }
        Stack::Ruby => "Slipway starts Rails apps, Rack apps (config.ru) and a Sinatra app.rb by itself, given a \
                        Gemfile that names their gems (rails, puma or rack, sinatra); for anything else say how in \
                        slipway.toml (`start = \"...\"`)"
            .to_owned(),
        Stack::Java => "Slipway starts the jar a Maven or Gradle build makes (a Spring Boot app's, or one whose \
                        manifest names its main class) by itself; for a parent pom of modules, a war or a Gradle \
                        build of subprojects say which jar runs in a Procfile (`web: java -jar \
                        app/target/app-1.0.jar`) or in slipway.toml (`start = \"...\"`)"
            .to_owned(),
        Stack::Php => "Slipway serves a PHP app's index.php, at the root or in public/ (where frameworks keep \
                       it), with php-fpm behind nginx: add one, or name its document root with a Procfile line \
                       `web: slipway serve-php <dir>`"
            .to_owned(),
        Stack::Go | Stack::Rust | Stack::Static | Stack::Procfile => {
            "add `start = \"<command>\"` to slipway.toml".to_owned()
        }
    };
    DetectError::NoStartCommand { stack: plan.stack, from, hint }
}

/// A plan with the fields every stack detector fills; the rest left empty.
pub(crate) fn plan(stack: Stack, start: Option<String>, detected_from: Vec<String>) -> BuildPlan {
    let mut processes = std::collections::BTreeMap::new();
    if let Some(start) = &start {
        processes.insert(ProcessType::web(), start.clone());
    }
    BuildPlan {
        stack,
        framework: None,
        package_manager: None,
        runtime_asks: Vec::new(),
        install: None,
        build: None,
        start,
        processes,
        health_check_path: None,
        detected_from,
    }
}

/// `word` as one `sh` word: unchanged when plainly safe, single-quoted otherwise.
pub(crate) fn shell_quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c)) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Files that make a directory an app of its own.
const APP_MANIFESTS: [&str; 12] = [
    "package.json",
    "composer.json",
    "go.mod",
    "Cargo.toml",
    "requirements.txt",
    "pyproject.toml",
    "Gemfile",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "Procfile",
    "slipway.toml",
];
/// Directories one level deeper that monorepos keep their apps in.
const APP_FOLDERS: [&str; 4] = ["apps", "services", "packages", "examples"];

/// `apps/web (package.json)`, … for the directories one level below a root without a manifest
/// (two in `apps/`, `services/`, …) that hold one; at most ten.
fn monorepo_apps(tree: &Tree) -> Vec<String> {
    // A root with a manifest of its own (a Cargo workspace of libraries, say) is one project.
    if APP_MANIFESTS.iter().any(|file| tree.is_file(file)) {
        return Vec::new();
    }
    let mut dirs: Vec<String> = Vec::new();
    for top in tree.list("") {
        if top.starts_with('.') || top == "node_modules" {
            continue;
        }
        dirs.push(top.clone());
        if APP_FOLDERS.contains(&top.as_str()) {
            dirs.extend(tree.list(&top).into_iter().filter(|d| !d.starts_with('.')).map(|d| format!("{top}/{d}")));
        }
    }
    dirs.into_iter()
        .filter_map(|dir| {
            let manifest = APP_MANIFESTS.iter().find(|file| tree.is_file(&format!("{dir}/{file}")))?;
            Some(format!("{dir} ({manifest})"))
        })
        .take(10)
        .collect()
}

/// The source tree as detection sees it: relative paths only, symlinks
/// followed only while they stay inside the tree, reads capped.
pub(crate) struct Tree {
    root: PathBuf,
}

impl Tree {
    fn open(dir: &Path) -> Result<Self, DetectError> {
        let root = dir.canonicalize().map_err(|source| DetectError::Io { path: dir.to_owned(), source })?;
        if !root.is_dir() {
            return Err(DetectError::Io {
                path: dir.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        Ok(Self { root })
    }

    /// The real path of `rel` when it exists inside the tree (after
    /// following symlinks); `None` for missing paths and escaping symlinks.
    fn resolve(&self, rel: &str) -> Option<PathBuf> {
        let real = self.root.join(rel).canonicalize().ok()?;
        real.starts_with(&self.root).then_some(real)
    }

    pub(crate) fn is_file(&self, rel: &str) -> bool {
        self.resolve(rel).is_some_and(|p| p.is_file())
    }

    /// A file of the tree with an executable bit (a committed `mvnw`).
    pub(crate) fn is_executable(&self, rel: &str) -> bool {
        use std::os::unix::fs::PermissionsExt;
        self.resolve(rel)
            .and_then(|p| p.metadata().ok())
            .is_some_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }

    /// A manifest's text: `None` when absent, an error when too large or not UTF-8.
    pub(crate) fn read(&self, rel: &str) -> Result<Option<String>, DetectError> {
        let Some(path) = self.resolve(rel).filter(|p| p.is_file()) else { return Ok(None) };
        let (bytes, complete) = read_capped(&path, MAX_MANIFEST_BYTES)?;
        if !complete {
            return Err(DetectError::TooLarge { file: rel.to_owned(), limit: MAX_MANIFEST_BYTES });
        }
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| DetectError::Malformed { file: rel.to_owned(), problem: "it is not UTF-8 text".to_owned() })
    }

    /// The beginning of a source file, for scanning (lossy; never an error).
    pub(crate) fn scan(&self, rel: &str) -> Option<String> {
        let path = self.resolve(rel).filter(|p| p.is_file())?;
        let (bytes, _) = read_capped(&path, MAX_SCAN_BYTES).ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Names of the entries of a directory inside the tree, sorted; at most 1000.
    pub(crate) fn list(&self, rel: &str) -> Vec<String> {
        let Some(path) = self.resolve(rel).filter(|p| p.is_dir()) else { return Vec::new() };
        let Ok(entries) = fs::read_dir(path) else { return Vec::new() };
        let mut names: Vec<String> =
            entries.take(1000).filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect();
        names.sort();
        names
    }
}

/// Reads at most `limit` bytes; the flag says whether that was the whole file.
fn read_capped(path: &Path, limit: u64) -> Result<(Vec<u8>, bool), DetectError> {
    let io = |source| DetectError::Io { path: path.to_owned(), source };
    let file = fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    let complete = bytes.len() as u64 <= limit;
    bytes.truncate(limit as usize);
    Ok((bytes, complete))
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builds small source trees in temporary directories for detector tests.

    use std::path::Path;

    pub(crate) fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, content) in files {
            write(dir.path(), path, content);
        }
        dir
    }

    pub(crate) fn write(root: &Path, path: &str, content: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
}

#[cfg(test)]
mod tests {
    use super::testing::tree;
    use super::*;

    #[test]
    fn unrecognised_tree_lists_what_was_looked_for() {
        let dir = tree(&[("README.md", "hello"), ("src/lib.c", "int x;")]);
        let err = detect(dir.path()).expect_err("nothing to detect");
        assert!(matches!(err, DetectError::Unrecognised));
        let message = err.to_string();
        for name in
            ["slipway.toml", "Procfile", "package.json", "requirements.txt", "pyproject.toml", "Pipfile", "main.py"]
        {
            assert!(message.contains(name), "{message}");
        }
        for name in ["go.mod", "Cargo.toml", "index.html", "public/", "dist/", "build/", "_site/", "out/"] {
            assert!(message.contains(name), "{message}");
        }
    }

    #[test]
    fn procfile_defines_processes_and_start_over_the_stack() {
        let dir = tree(&[
            ("package.json", r#"{"scripts": {"start": "node server.js"}}"#),
            ("Procfile", "web: node web.js --port $PORT\nworker: node worker.js\n"),
        ]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Node);
        assert_eq!(plan.start.as_deref(), Some("node web.js --port $PORT"));
        assert_eq!(plan.processes["web"], "node web.js --port $PORT");
        assert_eq!(plan.processes["worker"], "node worker.js");
        assert_eq!(plan.install.as_deref(), Some("npm install"));
        assert_eq!(plan.detected_from, ["package.json", "Procfile"]);
    }

    #[test]
    fn procfile_without_web_keeps_the_stack_web_command() {
        let dir = tree(&[("package.json", r#"{"scripts": {"start": "node s.js"}}"#), ("Procfile", "worker: w\n")]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.start.as_deref(), Some("npm start"));
        assert_eq!(plan.processes.len(), 2);
    }

    #[test]
    fn procfile_alone_is_a_procfile_stack() {
        let dir = tree(&[("Procfile", "web: ./run.sh\n")]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Procfile);
        assert_eq!(plan.start.as_deref(), Some("./run.sh"));
        assert_eq!(plan.install, None);
        assert_eq!(plan.detected_from, ["Procfile"]);
    }

    #[test]
    fn slipway_toml_overrides_procfile_and_stack() {
        let dir = tree(&[
            ("requirements.txt", "flask\n"),
            ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
            ("Procfile", "web: python app.py\nworker: python worker.py\n"),
            (
                "slipway.toml",
                "install = \"pip install -r requirements.txt\"\nstart = \"python serve.py\"\n\
                 health_check_path = \"/healthz\"\n[processes]\nclock = \"python clock.py\"\n",
            ),
        ]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Python);
        assert_eq!(plan.framework.as_deref(), Some("flask"));
        assert_eq!(plan.install.as_deref(), Some("pip install -r requirements.txt"));
        assert_eq!(plan.start.as_deref(), Some("python serve.py"));
        assert_eq!(plan.processes["web"], "python serve.py");
        assert_eq!(plan.processes["worker"], "python worker.py");
        assert_eq!(plan.processes["clock"], "python clock.py");
        assert_eq!(plan.health_check_path.as_deref(), Some("/healthz"));
        assert_eq!(plan.detected_from, ["requirements.txt", "app.py", "Procfile", "slipway.toml"]);
    }

    #[test]
    fn slipway_toml_alone_with_a_start_command() {
        let dir = tree(&[("slipway.toml", "build = \"make\"\nstart = \"./server\"\n")]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Procfile);
        assert_eq!(plan.build.as_deref(), Some("make"));
        assert_eq!(plan.processes["web"], "./server");
    }

    #[test]
    fn recognised_stack_without_a_start_command_says_what_to_add() {
        let dir = tree(&[("package.json", r#"{"name": "lib"}"#)]);
        let err = detect(dir.path()).expect_err("no start");
        assert!(matches!(err, DetectError::NoStartCommand { .. }), "{err:?}");
        assert!(err.to_string().contains("`start` script"), "{err}");
    }

    #[test]
    fn node_without_a_start_command_serves_a_committed_site() {
        let dir = tree(&[("package.json", r#"{"devDependencies": {"prettier": "3"}}"#), ("public/index.html", "")]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Node);
        assert_eq!(plan.start.as_deref(), Some("slipway serve-static public"));
        assert_eq!(plan.detected_from, ["package.json", "public/index.html"]);
    }

    #[test]
    fn symlinks_out_of_the_tree_are_not_followed() {
        let outside = tree(&[("index.html", "<h1>host</h1>"), ("package.json", r#"{"main": "x.js"}"#)]);
        let dir = tree(&[]);
        std::os::unix::fs::symlink(outside.path().join("package.json"), dir.path().join("package.json"))
            .expect("symlink");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("public")).expect("symlink");
        assert!(matches!(detect(dir.path()), Err(DetectError::Unrecognised)));
        // Inside the tree a symlink is fine.
        testing::write(dir.path(), "site/index.html", "<h1>hi</h1>");
        std::os::unix::fs::symlink(dir.path().join("site"), dir.path().join("dist")).expect("symlink");
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("slipway serve-static dist"));
    }

    #[test]
    fn a_monorepo_without_an_app_at_its_root_names_the_apps_below() {
        let dir = tree(&[
            ("README.md", "monorepo"),
            ("apps/web/package.json", "{}"),
            ("apps/api/go.mod", "module x\n"),
            ("docs/guide.md", "hi"),
        ]);
        let err = detect(dir.path()).expect_err("which app?").to_string();
        assert!(err.contains("these directories hold apps: apps/api (go.mod), apps/web (package.json)"), "{err}");
        assert!(err.contains("set `root_dir = \"apps/api\"` (or another)"), "{err}");
    }

    #[test]
    fn huge_manifest_is_refused_not_read() {
        let dir = tree(&[]);
        let file = std::fs::File::create(dir.path().join("package.json")).expect("create");
        file.set_len(MAX_MANIFEST_BYTES + 10).expect("sparse file");
        let err = detect(dir.path()).expect_err("too large");
        assert!(matches!(err, DetectError::TooLarge { ref file, .. } if file == "package.json"), "{err:?}");
    }

    #[test]
    fn missing_directory_is_an_io_error() {
        let err = detect(Path::new("/nonexistent/slipway/app")).expect_err("missing");
        assert!(matches!(err, DetectError::Io { .. }));
    }
}
