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
    // A start script that runs a front-end tool's development server is not how the
    // built app is served (`react-scripts start`, `astro dev`, `vite`, `ng serve`).
    let start_is_dev_server = script("start").is_some_and(runs_dev_server);
    let (framework, start) = if depends_on("next") {
        if let Some(config) = next_static_export(tree) {
            // `output: 'export'` writes the whole site to out/; there is no server to start.
            build.get_or_insert_with(|| "next build".to_owned());
            detected_from.push(config.to_owned());
            (Some("next"), Some("slipway serve-static out".to_owned()))
        } else {
            build.get_or_insert_with(|| "next build".to_owned());
            let start = match script("start") {
                // `next start` honours PORT but binds every interface unless told.
                Some(s) if !s.starts_with("next start") => "npm start",
                _ => "next start -H 127.0.0.1 -p $PORT",
            };
            (Some("next"), Some(start.to_owned()))
        }
    } else if let Some(output) = depends_on("@angular/core")
        .then(|| angular_output(tree))
        .flatten()
        .filter(|_| script("start").is_none() || start_is_dev_server)
    {
        build.get_or_insert_with(|| "ng build".to_owned());
        detected_from.push(ANGULAR_FILE.to_owned());
        (Some("angular"), Some(format!("slipway serve-static {}", shell_quote(&output))))
    } else if let Some(site) = STATIC_BUILDS.iter().find(|site| {
        (script("start").is_none() || start_is_dev_server)
            && depends_on(site.package)
            && !site.unless.iter().any(|server| depends_on(server))
    }) {
        // Built to static files, served as such (the peers' planners do the same).
        build.get_or_insert_with(|| site.build.to_owned());
        (Some(site.framework), Some(format!("slipway serve-static {}", site.output)))
    } else if depends_on("nuxt") && script("start").is_none() {
        build.get_or_insert_with(|| "nuxt build".to_owned());
        // Nitro's server reads PORT, and NITRO_HOST for the interface it binds.
        (Some("nuxt"), Some("NITRO_HOST=127.0.0.1 node .output/server/index.mjs".to_owned()))
    } else if script("start").is_some() {
        (["express", "vite"].into_iter().find(|f| depends_on(f)), Some("npm start".to_owned()))
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

/// The package.json beside another stack's app that builds its assets (Laravel's Vite): the
/// install command its lockfile picks and how to run its `build` script; `None` without one.
pub(crate) fn asset_build(tree: &Tree) -> Result<Option<(String, String)>, DetectError> {
    let Some(text) = tree.read(FILE)? else { return Ok(None) };
    let malformed = |problem: String| DetectError::Malformed { file: FILE.to_owned(), problem };
    let package: Value = serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
    if package.get("scripts").and_then(|s| s.get("build")).and_then(Value::as_str).is_none() {
        return Ok(None);
    }
    let (manager, install) = LOCKFILES
        .iter()
        .find(|(lockfile, ..)| tree.is_file(lockfile))
        .map(|(_, manager, install)| (*manager, *install))
        .unwrap_or(("npm", "npm install"));
    let build = if manager == "npm" { "npm run build".to_owned() } else { format!("corepack {manager} run build") };
    Ok(Some((install.to_owned(), build)))
}

/// A front-end whose build writes static files: served from `output` when no start
/// script serves it otherwise.
struct StaticBuild {
    /// The dependency that gives it away.
    package: &'static str,
    framework: &'static str,
    /// The build when package.json has no `build` script.
    build: &'static str,
    output: &'static str,
    /// Dependencies that make it a server instead (an SSR adapter, a back-end beside it).
    unless: &'static [&'static str],
}

/// In order: CRA, Astro and react-router apps often depend on Vite too.
const STATIC_BUILDS: [StaticBuild; 4] = [
    StaticBuild {
        package: "react-scripts",
        framework: "create-react-app",
        build: "react-scripts build",
        output: "build",
        unless: &["express"],
    },
    StaticBuild {
        package: "astro",
        framework: "astro",
        build: "astro build",
        output: "dist",
        unless: &["@astrojs/node", "express"],
    },
    // react-router's SPA mode (`ssr: false`); with SSR it has `react-router-serve` and a start script.
    StaticBuild {
        package: "@react-router/dev",
        framework: "react-router",
        build: "react-router build",
        output: "build/client",
        unless: &["@react-router/serve", "express"],
    },
    StaticBuild { package: "vite", framework: "vite", build: "vite build", output: "dist", unless: &["express"] },
];

const ANGULAR_FILE: &str = "angular.json";

/// Where `ng build` writes the default project's browser files: its `outputPath`
/// (`dist/<project>` unless set), in `browser/` with the `application` builder (Angular 17+).
fn angular_output(tree: &Tree) -> Option<String> {
    let config: Value = serde_json::from_str(&tree.read(ANGULAR_FILE).ok()??).ok()?;
    let projects = config.get("projects")?.as_object()?;
    let (name, project) = match config.get("defaultProject").and_then(Value::as_str) {
        Some(name) => (name, projects.get(name)?),
        None => projects.iter().next().map(|(name, project)| (name.as_str(), project))?,
    };
    let build = project.get("architect")?.get("build")?;
    let output = match build.get("options").and_then(|o| o.get("outputPath")) {
        Some(Value::String(path)) => path.clone(),
        Some(path) => path.get("base")?.as_str()?.to_owned(),
        None => format!("dist/{name}"),
    };
    let output = output.trim_end_matches('/');
    let inside = !output.is_empty() && !output.starts_with('/') && !output.split('/').any(|part| part == "..");
    let application = build.get("builder").and_then(Value::as_str).is_some_and(|b| b.ends_with(":application"));
    inside.then(|| if application { format!("{output}/browser") } else { output.to_owned() })
}

/// Whether a start script runs a front-end tool's development server rather than the built app.
fn runs_dev_server(script: &str) -> bool {
    let mut words = script.split_whitespace();
    match (words.next(), words.next()) {
        (Some("vite"), None | Some("dev" | "serve" | "preview")) => true,
        (Some("vite"), Some(flag)) => flag.starts_with('-'),
        (Some("astro"), Some("dev" | "preview")) | (Some("react-scripts"), Some("start")) => true,
        (Some("ng"), Some("serve")) => true,
        _ => false,
    }
}

/// The Next.js config file that asks for a static export (`output: 'export'`), if any.
fn next_static_export(tree: &Tree) -> Option<&'static str> {
    ["next.config.js", "next.config.mjs", "next.config.ts", "next.config.cjs"].into_iter().find(|file| {
        tree.scan(file).is_some_and(|source| {
            source.lines().map(|line| line.split("//").next().unwrap_or_default()).any(|line| {
                let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
                compact.contains("output:'export'") || compact.contains("output:\"export\"")
            })
        })
    })
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
    fn front_ends_built_to_static_files_are_served_from_their_output() {
        for (package, build, start, framework) in [
            // create-react-app: its start script is the development server.
            (
                r#"{"scripts": {"start": "react-scripts start", "build": "react-scripts build"},
                    "dependencies": {"react-scripts": "5"}}"#,
                "npm run build",
                "slipway serve-static build",
                "create-react-app",
            ),
            (
                r#"{"dependencies": {"react-scripts": "5"}}"#,
                "react-scripts build",
                "slipway serve-static build",
                "create-react-app",
            ),
            // Astro without a server adapter; `astro dev` is its development server.
            (
                r#"{"scripts": {"start": "astro dev", "build": "astro build"}, "dependencies": {"astro": "5"}}"#,
                "npm run build",
                "slipway serve-static dist",
                "astro",
            ),
            // Vite behind a `vite` start script (Solid's template).
            (
                r#"{"scripts": {"start": "vite"}, "devDependencies": {"vite": "5"}}"#,
                "vite build",
                "slipway serve-static dist",
                "vite",
            ),
            // react-router in SPA mode.
            (
                r#"{"scripts": {"build": "react-router build"}, "devDependencies": {"@react-router/dev": "7", "vite": "6"}}"#,
                "npm run build",
                "slipway serve-static build/client",
                "react-router",
            ),
        ] {
            let dir = tree(&[("package.json", package)]);
            let plan = detect(dir.path()).expect("plan");
            assert_eq!(plan.build.as_deref(), Some(build), "{package}");
            assert_eq!(plan.start.as_deref(), Some(start), "{package}");
            assert_eq!(plan.framework.as_deref(), Some(framework), "{package}");
        }
        // A server beside them, or a start script that is not a development server, is started.
        for package in [
            r#"{"scripts": {"start": "node ./dist/server/entry.mjs"}, "dependencies": {"astro": "5", "@astrojs/node": "9"}}"#,
            r#"{"scripts": {"start": "react-router-serve ./build/server/index.js"},
                "dependencies": {"@react-router/serve": "7"}, "devDependencies": {"@react-router/dev": "7"}}"#,
            r#"{"scripts": {"start": "node server.js"}, "dependencies": {"react-scripts": "5"}}"#,
            r#"{"scripts": {"start": "vite build && node server.js"}, "devDependencies": {"vite": "5"}}"#,
        ] {
            let dir = tree(&[("package.json", package)]);
            assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("npm start"), "{package}");
        }
    }

    #[test]
    fn angular_is_built_and_served_from_its_output_path() {
        let package = (
            "package.json",
            r#"{"scripts": {"start": "ng serve", "build": "ng build"},
            "dependencies": {"@angular/core": "19"}}"#,
        );
        for (config, start) in [
            (
                r#"{"projects": {"shop": {"architect": {"build": {"builder": "@angular-devkit/build-angular:application",
                    "options": {"outputPath": "dist/shop"}}}}}}"#,
                "slipway serve-static dist/shop/browser",
            ),
            (
                r#"{"defaultProject": "b", "projects": {"a": {}, "b": {"architect": {"build": {
                    "builder": "@angular-devkit/build-angular:browser", "options": {"outputPath": "www/"}}}}}}"#,
                "slipway serve-static www",
            ),
            (
                r#"{"projects": {"x": {"architect": {"build": {"options": {"outputPath": {"base": "out"}}}}}}}"#,
                "slipway serve-static out",
            ),
        ] {
            let dir = tree(&[package, ("angular.json", config)]);
            let plan = detect(dir.path()).expect("plan");
            assert_eq!(plan.start.as_deref(), Some(start), "{config}");
            assert_eq!(plan.build.as_deref(), Some("npm run build"));
            assert_eq!(plan.framework.as_deref(), Some("angular"));
        }
        // An output path out of the tree, or a start script of its own (SSR): started with npm.
        let dir = tree(&[
            package,
            ("angular.json", r#"{"projects": {"x": {"architect": {"build": {"options": {"outputPath": "../x"}}}}}}"#),
        ]);
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("npm start"));
        let ssr = (
            "package.json",
            r#"{"scripts": {"start": "node dist/x/server/server.mjs"}, "dependencies": {"@angular/core": "19"}}"#,
        );
        let dir = tree(&[ssr, ("angular.json", r#"{"projects": {"x": {"architect": {"build": {}}}}}"#)]);
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("npm start"));
    }

    #[test]
    fn next_static_export_is_served_from_out() {
        let package = ("package.json", r#"{"scripts": {"build": "next build"}, "dependencies": {"next": "15"}}"#);
        for config in ["module.exports = {\n  output: 'export',\n}\n", "export default { output: \"export\" };\n"] {
            let dir = tree(&[package, ("next.config.mjs", config)]);
            let plan = detect(dir.path()).expect("plan");
            assert_eq!(plan.build.as_deref(), Some("npm run build"));
            assert_eq!(plan.start.as_deref(), Some("slipway serve-static out"));
            assert_eq!(plan.detected_from, ["package.json", "next.config.mjs"]);
        }
        // Commented out, or another output: a server.
        for config in ["// output: 'export',\nmodule.exports = {}\n", "module.exports = { output: 'standalone' }\n"] {
            let dir = tree(&[package, ("next.config.js", config)]);
            assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("next start -H 127.0.0.1 -p $PORT"));
        }
    }

    #[test]
    fn nuxt_without_a_start_script_runs_its_nitro_server_on_loopback() {
        let dir = tree(&[("package.json", r#"{"scripts": {"build": "nuxt build"}, "dependencies": {"nuxt": "3"}}"#)]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.framework.as_deref(), Some("nuxt"));
        assert_eq!(plan.build.as_deref(), Some("npm run build"));
        assert_eq!(plan.start.as_deref(), Some("NITRO_HOST=127.0.0.1 node .output/server/index.mjs"));
        let dir = tree(&[(
            "package.json",
            r#"{"scripts": {"start": "node .output/server/index.mjs"}, "dependencies": {"nuxt": "3"}}"#,
        )]);
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("npm start"));
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
