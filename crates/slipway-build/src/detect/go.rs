//! Go: `go.mod`; one binary built from the module root, to `bin/app` — or to
//! the `bin/<name>` a Heroku-style Procfile's `web` command runs (`web: bin/web`,
//! `web: bin/<module name>`), so that the binary it runs is the one built. A
//! module without Go files at its root builds its one `cmd/<name>` to `bin/<name>`
//! (the standard layout; the peers' planners build it too).

use slipway_core::build_plan::BuildPlan;
use slipway_core::stack::Stack;

use super::{DetectError, Tree};

const FILE: &str = "go.mod";
/// Where the binary goes unless the Procfile runs another `bin/<name>`.
const DEFAULT_BINARY: &str = "bin/app";

fn build_command(binary: &str) -> String {
    format!("go build -o {binary} .")
}

pub(crate) fn detect(tree: &Tree) -> Result<Option<BuildPlan>, DetectError> {
    let Some(text) = tree.read(FILE)? else { return Ok(None) };
    let has_module = text.lines().any(|line| {
        let mut words = line.split("//").next().unwrap_or_default().split_whitespace();
        words.next() == Some("module") && words.next().is_some()
    });
    if !has_module {
        return Err(DetectError::Malformed { file: FILE.to_owned(), problem: "there is no `module` line".to_owned() });
    }
    let mut detected_from = vec![FILE.to_owned()];
    let found = if has_root_go_files(tree) { Vec::new() } else { commands(tree) };
    let (start, build) = match found.as_slice() {
        [] => (Some(format!("./{DEFAULT_BINARY}")), Some(build_command(DEFAULT_BINARY))),
        [name] => {
            detected_from.push(format!("cmd/{name}/main.go"));
            (Some(format!("./bin/{name}")), Some(command_build(name)))
        }
        // Several: nothing says which (a Procfile's `web: bin/<name>` or slipway.toml may).
        _ => (None, None),
    };
    let mut plan = super::plan(Stack::Go, start, detected_from);
    plan.package_manager = Some("go".to_owned());
    plan.build = build;
    plan.runtime_asks = super::versions::go(&text, tree)?;
    Ok(Some(plan))
}

fn command_build(name: &str) -> String {
    format!("go build -o bin/{name} ./cmd/{name}")
}

fn has_root_go_files(tree: &Tree) -> bool {
    tree.list("").iter().any(|name| name.ends_with(".go") && tree.is_file(name))
}

/// The `<name>`s of the `cmd/<name>/main.go` main packages, sorted.
pub(crate) fn commands(tree: &Tree) -> Vec<String> {
    tree.list("cmd")
        .into_iter()
        .filter(|name| is_plain_name(name) && tree.is_file(&format!("cmd/{name}/main.go")))
        .collect()
}

/// A binary name that needs no quoting in a shell command.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Builds to the binary the `web` command runs, when that is a `bin/<name>` path of the app and
/// the plan still builds the default one (a Procfile's `web` has replaced the stack's own).
/// With several `cmd/<name>`s and no build yet, the one it names is built.
pub(crate) fn name_binary_for_web(tree: &Tree, plan: &mut BuildPlan) {
    let Some(binary) = plan.start.as_deref().and_then(binary_run_by) else { return };
    if plan.build.as_deref() == Some(build_command(DEFAULT_BINARY).as_str()) {
        plan.build = Some(build_command(&binary));
    } else if plan.build.is_none() {
        let name = binary.trim_start_matches("bin/");
        if commands(tree).iter().any(|command| command == name) {
            plan.build = Some(command_build(name));
        }
    }
}

/// `bin/web` for `bin/web`, `./bin/web -port $PORT`, `exec bin/web` or `GIN_MODE=release bin/web`;
/// `None` for anything else (a name that needs quoting is not taken either).
fn binary_run_by(command: &str) -> Option<String> {
    let program = command.split_whitespace().find(|word| *word != "exec" && !is_assignment(word))?;
    let name = program.strip_prefix("./").unwrap_or(program).strip_prefix("bin/")?;
    is_plain_name(name).then(|| format!("bin/{name}"))
}

/// `NAME=value` before a command (a path with `=` in it is not one).
fn is_assignment(word: &str) -> bool {
    word.contains('=') && !word.starts_with(['.', '/', '='])
}

#[cfg(test)]
mod tests {
    use crate::detect::testing::tree;
    use crate::detect::{detect, DetectError};
    use slipway_core::stack::Stack;

    #[test]
    fn go_module_builds_one_binary() {
        let dir = tree(&[("go.mod", "// app\nmodule example.com/hello\n\ngo 1.22\n\nrequire (\n)\n"), ("main.go", "")]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Go);
        assert_eq!(plan.build.as_deref(), Some("go build -o bin/app ."));
        assert_eq!(plan.start.as_deref(), Some("./bin/app"));
        assert_eq!(plan.asked_version(), Some("1.22"));
        assert_eq!(plan.detected_from, ["go.mod"]);
    }

    #[test]
    fn the_binary_is_named_for_the_procfiles_web_command() {
        let go_mod = ("go.mod", "module github.com/heroku/go-getting-started\n\ngo 1.19\n");
        for (web, build) in [
            ("bin/go-getting-started", "go build -o bin/go-getting-started ."),
            ("bin/web", "go build -o bin/web ."),
            ("./bin/web -port=$PORT", "go build -o bin/web ."),
            ("exec bin/server", "go build -o bin/server ."),
            ("GIN_MODE=release bin/api", "go build -o bin/api ."),
            // Not a bin/<name> the build could make: today's name stays.
            ("./server", "go build -o bin/app ."),
            ("go run .", "go build -o bin/app ."),
            ("bin/sub/dir", "go build -o bin/app ."),
            ("bin/$(whoami)", "go build -o bin/app ."),
            ("bin/..", "go build -o bin/app ."),
            ("/usr/bin/env web", "go build -o bin/app ."),
        ] {
            let procfile = format!("web: {web}\n");
            let dir = tree(&[go_mod, ("main.go", ""), ("Procfile", &procfile)]);
            let plan = detect(dir.path()).expect("plan");
            assert_eq!(plan.build.as_deref(), Some(build), "{web}");
            assert_eq!(plan.start.as_deref(), Some(web));
        }
        // A Procfile without `web` keeps the stack's own web command and binary.
        let dir = tree(&[go_mod, ("Procfile", "worker: bin/worker\n")]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.build.as_deref(), Some("go build -o bin/app ."));
        assert_eq!(plan.processes["web"], "./bin/app");
        // slipway.toml's own build command is the app's say.
        let dir = tree(&[go_mod, ("Procfile", "web: bin/web\n"), ("slipway.toml", "build = \"make\"\n")]);
        assert_eq!(detect(dir.path()).expect("plan").build.as_deref(), Some("make"));
    }

    #[test]
    fn a_module_without_root_go_files_builds_its_one_cmd() {
        let go_mod = ("go.mod", "module example.com/svc\n\ngo 1.23\n");
        let dir = tree(&[go_mod, ("cmd/server/main.go", "package main\n"), ("internal/h/h.go", "package h\n")]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.build.as_deref(), Some("go build -o bin/server ./cmd/server"));
        assert_eq!(plan.start.as_deref(), Some("./bin/server"));
        assert_eq!(plan.processes["web"], "./bin/server");
        assert_eq!(plan.detected_from, ["go.mod", "cmd/server/main.go"]);
        // Go files at the root: the root package is the app, whatever cmd/ holds.
        let dir = tree(&[go_mod, ("main.go", "package main\n"), ("cmd/tool/main.go", "package main\n")]);
        assert_eq!(detect(dir.path()).expect("plan").build.as_deref(), Some("go build -o bin/app ."));
        // A cmd/<name> without a main.go, or a name that would need quoting, is not a candidate.
        let dir = tree(&[go_mod, ("cmd/docs/README.md", ""), ("cmd/$(x)/main.go", ""), ("cmd/api/main.go", "")]);
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("./bin/api"));
    }

    #[test]
    fn several_cmds_are_refused_listing_them() {
        let dir = tree(&[
            ("go.mod", "module example.com/svc\n"),
            ("cmd/api/main.go", "package main\n"),
            ("cmd/worker/main.go", "package main\n"),
        ]);
        let err = detect(dir.path()).expect_err("ambiguous");
        let DetectError::AmbiguousEntry { candidates, .. } = &err else { panic!("{err:?}") };
        assert_eq!(candidates, &["cmd/api", "cmd/worker"]);
        assert!(err.to_string().contains("web: bin/<name>"), "{err}");
        // A Procfile's `web: bin/<name>` says which, and that one is built.
        crate::detect::testing::write(dir.path(), "Procfile", "web: bin/worker --port $PORT\n");
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.build.as_deref(), Some("go build -o bin/worker ./cmd/worker"));
        assert_eq!(plan.start.as_deref(), Some("bin/worker --port $PORT"));
        // So does slipway.toml.
        std::fs::remove_file(dir.path().join("Procfile")).expect("rm");
        crate::detect::testing::write(
            dir.path(),
            "slipway.toml",
            "build = \"go build -o bin/api ./cmd/api\"\nstart = \"./bin/api\"\n",
        );
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.build.as_deref(), Some("go build -o bin/api ./cmd/api"));
        assert_eq!(plan.start.as_deref(), Some("./bin/api"));
    }

    #[test]
    fn go_mod_without_module_is_malformed() {
        let dir = tree(&[("go.mod", "go 1.22\n")]);
        assert!(matches!(detect(dir.path()), Err(DetectError::Malformed { file, .. }) if file == "go.mod"));
    }
}
