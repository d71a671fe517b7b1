//! Node.js: `package.json`, the lockfile picks the package manager.

use serde_json::{Map, Value};
use slipway_core::build_plan::BuildPlan;
use slipway_core::stack::Stack;

use super::{shell_quote, DetectError, Tree};

const FILE: &str = "package.json";

/// Lockfile → (package manager, install command), first match wins.
const LOCKFILES: [(&str, &str, &str); 4] = [
    ("package-lock.json", "npm", "npm ci"),
    ("npm-shrinkwrap.json", "npm", "npm ci"),
    ("yarn.lock", "yarn", "corepack yarn install --frozen-lockfile"),
    ("pnpm-lock.yaml", "pnpm", "corepack pnpm install --frozen-lockfile"),
];

pub(crate) fn detect(tree: &Tree) -> Result<Option<BuildPlan>, DetectError> {
    let Some(text) = tree.read(FILE)? else { return Ok(None) };
    let malformed = |problem: String| DetectError::Malformed { file: FILE.to_owned(), problem };
    let package: Value = serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
    let Value::Object(package) = package else { return Err(malformed("the top level is not an object".to_owned())) };

    let mut detected_from = vec![FILE.to_owned()];
    let (manager, install) = match LOCKFILES.iter().find(|(lockfile, ..)| tree.is_file(lockfile)) {
        Some((lockfile, manager, install)) => {
            detected_from.push((*lockfile).to_owned());
            (*manager, *install)
        }
        None => ("npm", "npm install"),
    };
    let run = |script: &str| match manager {
        "npm" => format!("npm run {script}"),
        other => format!("corepack {other} run {script}"),
    };
    let scripts = object(&package, "scripts");
    let script = |name: &str| scripts.and_then(|s| s.get(name)).and_then(Value::as_str).map(str::trim);
    let depends_on = |name: &str| {
        ["dependencies", "devDependencies"]
            .iter()
            .any(|field| object(&package, field).is_some_and(|d| d.contains_key(name)))
    };

    let mut build = script("build").map(|_| run("build"));
    let (framework, start) = if depends_on("next") {
        build.get_or_insert_with(|| "next build".to_owned());
        let start = match script("start") {
            // `next start` honours PORT but binds every interface unless told.
            Some(s) if !s.starts_with("next start") => "npm start",
            _ => "next start -H 127.0.0.1 -p $PORT",
        };
        (Some("next"), Some(start.to_owned()))
    } else if script("start").is_some() {
        (["express", "vite"].into_iter().find(|f| depends_on(f)), Some("npm start".to_owned()))
    } else if depends_on("vite") && !depends_on("express") {
        build.get_or_insert_with(|| "vite build".to_owned());
        (Some("vite"), Some("slipway serve-static dist".to_owned()))
    } else {
        let main = package.get("main").and_then(Value::as_str).map(str::trim).filter(|m| !m.is_empty());
        let lone = entry_file(&entry_files(tree));
        let entry = match main {
            // A build may write it (`"main": "dist/server.js"` with `tsc`).
            Some(main) if main_exists(tree, main) || script("build").is_some() => Some(main),
            // `npm init` writes `"main": "index.js"` whatever the app's file is called.
            Some(main) => lone.or(Some(main)),
            None => lone,
        };
        (depends_on("express").then_some("express"), entry.map(|entry| format!("node {}", shell_quote(entry))))
    };

    let mut plan = super::plan(Stack::Node, start, detected_from);
    plan.framework = framework.map(str::to_owned);
    plan.package_manager = Some(manager.to_owned());
    plan.install = Some(install.to_owned());
    plan.build = build;
    let engines = object(&package, "engines").and_then(|e| e.get("node")).and_then(Value::as_str);
    plan.runtime_asks = super::versions::node(tree, engines)?;
    Ok(Some(plan))
}

/// Files a Node app starts from when package.json says nothing.
const ENTRY_FILES: [&str; 4] = ["index.js", "server.js", "main.js", "app.js"];

/// The entry files at the root of the tree.
pub(crate) fn entry_files(tree: &Tree) -> Vec<&'static str> {
    ENTRY_FILES.into_iter().filter(|file| tree.is_file(file)).collect()
}

/// The entry file to start: `index.js` when there is one (the peers' planners
/// start it too), else the only one; with several others, none (nothing says which).
fn entry_file(present: &[&'static str]) -> Option<&'static str> {
    match present {
        [only] => Some(only),
        ["index.js", ..] => Some("index.js"),
        _ => None,
    }
}

/// Whether package.json's `main` names a file of the tree, as Node resolves it.
fn main_exists(tree: &Tree, main: &str) -> bool {
    [main.to_owned(), format!("{main}.js"), format!("{main}/index.js")].iter().any(|file| tree.is_file(file))
}

fn object<'a>(value: &'a Map<String, Value>, field: &str) -> Option<&'a Map<String, Value>> {
    value.get(field).and_then(Value::as_object)
}

#[cfg(test)]
mod tests {
    use crate::detect::testing::{tree, write as testing_write};
    use crate::detect::{detect, DetectError};
    use slipway_core::stack::Stack;

    #[test]
    fn express_with_lockfile_and_start_script() {
        let dir = tree(&[
            (
                "package.json",
                r#"{"scripts": {"start": "node server.js"}, "dependencies": {"express": "^4"},
                    "engines": {"node": ">=20"}}"#,
            ),
            ("package-lock.json", "{}"),
        ]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Node);
        assert_eq!(plan.framework.as_deref(), Some("express"));
        assert_eq!(plan.package_manager.as_deref(), Some("npm"));
        assert_eq!(plan.install.as_deref(), Some("npm ci"));
        assert_eq!(plan.build, None);
        assert_eq!(plan.start.as_deref(), Some("npm start"));
        assert_eq!(plan.asked_version(), Some(">=20"));
        assert_eq!(plan.detected_from, ["package.json", "package-lock.json"]);
    }

    #[test]
    fn lockfile_decides_the_package_manager() {
        for (lockfile, manager, install, build) in [
            ("yarn.lock", "yarn", "corepack yarn install --frozen-lockfile", "corepack yarn run build"),
            ("pnpm-lock.yaml", "pnpm", "corepack pnpm install --frozen-lockfile", "corepack pnpm run build"),
            ("npm-shrinkwrap.json", "npm", "npm ci", "npm run build"),
        ] {
            let dir = tree(&[
                ("package.json", r#"{"scripts": {"build": "tsc", "start": "node dist/x.js"}}"#),
                (lockfile, ""),
            ]);
            let plan = detect(dir.path()).expect("plan");
            assert_eq!(plan.package_manager.as_deref(), Some(manager));
            assert_eq!(plan.install.as_deref(), Some(install));
            assert_eq!(plan.build.as_deref(), Some(build));
        }
        let dir = tree(&[("package.json", r#"{"main": "lib/server.js"}"#)]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.install.as_deref(), Some("npm install"));
        assert_eq!(plan.start.as_deref(), Some("node lib/server.js"));
    }

    #[test]
    fn entry_file_when_no_start_script_nor_main() {
        let dir = tree(&[("package.json", r#"{"dependencies": {"express": "4"}}"#), ("app.js", ""), ("index.js", "")]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.framework.as_deref(), Some("express"));
        assert_eq!(plan.start.as_deref(), Some("node index.js"));
    }

    #[test]
    fn a_lone_entry_file_is_started_with_node() {
        for file in ["index.js", "server.js", "main.js", "app.js"] {
            let dir = tree(&[("package.json", r#"{"name": "x", "dependencies": {"ws": "8"}}"#), (file, "")]);
            let plan = detect(dir.path()).expect("plan");
            assert_eq!(plan.start, Some(format!("node {file}")), "{file}");
            assert_eq!(plan.processes["web"], format!("node {file}"));
        }
        // index.js wins over the others, as with the peers' planners.
        let dir = tree(&[("package.json", "{}"), ("server.js", ""), ("index.js", ""), ("main.js", "")]);
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("node index.js"));
    }

    #[test]
    fn main_is_preferred_when_it_exists_or_a_build_writes_it() {
        let dir = tree(&[("package.json", r#"{"main": "src/server.js"}"#), ("src/server.js", ""), ("index.js", "")]);
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("node src/server.js"));
        // As Node resolves it: without the extension, or a directory with an index.js.
        let dir = tree(&[("package.json", r#"{"main": "lib"}"#), ("lib/index.js", ""), ("app.js", "")]);
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("node lib"));
        let dir =
            tree(&[("package.json", r#"{"main": "dist/server.js", "scripts": {"build": "tsc"}}"#), ("server.js", "")]);
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("node dist/server.js"));
        // `npm init`'s "index.js" when the app's file is server.js.
        let dir = tree(&[("package.json", r#"{"main": "index.js"}"#), ("server.js", "")]);
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("node server.js"));
        // A `main` out of the tree is not a file of it; with nothing else, it is run as written.
        let dir = tree(&[("package.json", r#"{"main": "../../etc/passwd"}"#)]);
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("node ../../etc/passwd"));
    }

    #[test]
    fn several_entry_files_without_index_js_are_refused_listing_them() {
        let dir = tree(&[
            ("package.json", r#"{"dependencies": {"express": "4"}}"#),
            ("server.js", ""),
            ("app.js", ""),
            ("public/index.html", ""),
        ]);
        let err = detect(dir.path()).expect_err("ambiguous");
        let DetectError::AmbiguousEntry { candidates, .. } = &err else { panic!("{err:?}") };
        assert_eq!(candidates, &["server.js", "app.js"]);
        let message = err.to_string();
        for words in ["server.js, app.js", "does not guess", "Procfile", "web: node <file>", "`start` script"] {
            assert!(message.contains(words), "{words:?} not in: {message}");
        }
        // A Procfile says which.
        testing_write(
            dir.path(),
            "Procfile",
            "web: node app.js
",
        );
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("node app.js"));
    }

    #[test]
    fn hostile_entry_files_are_not_candidates() {
        // A directory named like an entry file, and a symlink out of the tree.
        let outside = tree(&[("server.js", "require('fs')")]);
        let dir = tree(&[("package.json", "{}"), ("index.js/x", ""), ("app.js", "")]);
        std::os::unix::fs::symlink(outside.path().join("server.js"), dir.path().join("server.js")).expect("symlink");
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("node app.js"));
    }

    #[test]
    fn an_enormous_package_json_is_refused_not_read() {
        let dir = tree(&[("index.js", "")]);
        let mut big = String::from("{\"name\": \"x\", \"description\": \"");
        big.push_str(&"a".repeat(crate::detect::MAX_MANIFEST_BYTES as usize));
        big.push_str("\"}");
        std::fs::write(dir.path().join("package.json"), big).expect("write");
        let err = detect(dir.path()).expect_err("too large");
        assert!(matches!(err, DetectError::TooLarge { ref file, .. } if file == "package.json"), "{err:?}");
    }

    #[test]
    fn next_builds_and_binds_loopback() {
        let dir = tree(&[("package.json", r#"{"dependencies": {"next": "14", "react": "18"}}"#)]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.framework.as_deref(), Some("next"));
        assert_eq!(plan.build.as_deref(), Some("next build"));
        assert_eq!(plan.start.as_deref(), Some("next start -H 127.0.0.1 -p $PORT"));
        let dir = tree(&[(
            "package.json",
            r#"{"scripts": {"build": "next build", "start": "next start -p 3000"}, "dependencies": {"next": "14"}}"#,
        )]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.build.as_deref(), Some("npm run build"));
        assert_eq!(plan.start.as_deref(), Some("next start -H 127.0.0.1 -p $PORT"));
    }

    #[test]
    fn vite_without_start_script_is_a_static_site_from_dist() {
        let dir = tree(&[
            ("package.json", r#"{"scripts": {"build": "vite build"}, "devDependencies": {"vite": "5"}}"#),
            ("pnpm-lock.yaml", ""),
        ]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.framework.as_deref(), Some("vite"));
        assert_eq!(plan.build.as_deref(), Some("corepack pnpm run build"));
        assert_eq!(plan.start.as_deref(), Some("slipway serve-static dist"));
    }

    #[test]
    fn malformed_package_json_names_the_file_and_problem() {
        let dir = tree(&[("package.json", "{\"name\": \"x\",,}")]);
        let err = detect(dir.path()).expect_err("malformed");
        assert!(matches!(&err, DetectError::Malformed { file, .. } if file == "package.json"), "{err:?}");
        assert!(err.to_string().contains("line 1"), "{err}");
        let dir = tree(&[("package.json", "[1, 2]")]);
        assert!(matches!(detect(dir.path()), Err(DetectError::Malformed { .. })));
    }
}
