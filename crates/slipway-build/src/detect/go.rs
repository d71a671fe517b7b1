//! Go: `go.mod`; one binary built from the module root, to `bin/app` — or to
//! the `bin/<name>` a Heroku-style Procfile's `web` command runs (`web: bin/web`,
//! `web: bin/<module name>`), so that the binary it runs is the one built.

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
    let mut plan = super::plan(Stack::Go, Some(format!("./{DEFAULT_BINARY}")), vec![FILE.to_owned()]);
    plan.package_manager = Some("go".to_owned());
    plan.build = Some(build_command(DEFAULT_BINARY));
    plan.runtime_asks = super::versions::go(&text, tree)?;
    Ok(Some(plan))
}

/// Builds to the binary the `web` command runs, when that is a `bin/<name>` path of the app and
/// the plan still builds the default one (a Procfile's `web` has replaced the stack's own).
pub(crate) fn name_binary_for_web(plan: &mut BuildPlan) {
    if plan.build.as_deref() != Some(build_command(DEFAULT_BINARY).as_str()) {
        return;
    }
    let Some(binary) = plan.start.as_deref().and_then(binary_run_by) else { return };
    plan.build = Some(build_command(&binary));
}

/// `bin/web` for `bin/web`, `./bin/web -port $PORT`, `exec bin/web` or `GIN_MODE=release bin/web`;
/// `None` for anything else (a name that needs quoting is not taken either).
fn binary_run_by(command: &str) -> Option<String> {
    let program = command.split_whitespace().find(|word| *word != "exec" && !is_assignment(word))?;
    let name = program.strip_prefix("./").unwrap_or(program).strip_prefix("bin/")?;
    let plain = name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    (plain && !name.is_empty() && !name.starts_with(['.', '-'])).then(|| format!("bin/{name}"))
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
    fn go_mod_without_module_is_malformed() {
        let dir = tree(&[("go.mod", "go 1.22\n")]);
        assert!(matches!(detect(dir.path()), Err(DetectError::Malformed { file, .. }) if file == "go.mod"));
    }
}
