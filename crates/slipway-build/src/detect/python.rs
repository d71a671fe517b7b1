//! Python: requirements.txt (pip), pyproject.toml (poetry, uv or PEP 621),
//! Pipfile (pipenv). Flask, FastAPI and Django are started by Slipway itself,
//! bound to 127.0.0.1:$PORT; the WSGI/ASGI server is added to the install
//! when the app does not depend on it.

use std::collections::BTreeSet;

use slipway_core::build_plan::BuildPlan;
use slipway_core::stack::Stack;

use super::{shell_quote, DetectError, Tree};

pub(crate) fn detect(tree: &Tree) -> Result<Option<BuildPlan>, DetectError> {
    let Some(Install { manager, command, deps, files }) = install(tree)? else { return Ok(None) };
    let mut detected_from: Vec<String> = files.iter().map(|f| (*f).to_owned()).collect();

    let (framework, server, start) = if let Some(project) = django_project(tree, &deps) {
        detected_from.extend(["manage.py".to_owned(), format!("{project}/wsgi.py")]);
        ("django", "gunicorn", Some(format!("gunicorn {project}.wsgi --bind 127.0.0.1:$PORT")))
    } else if deps.contains("fastapi") {
        let app = find_app(tree, "FastAPI", &mut detected_from);
        let start = app.map(|(app, factory)| {
            let factory = if factory { " --factory" } else { "" };
            format!("uvicorn {app}{factory} --host 127.0.0.1 --port $PORT")
        });
        ("fastapi", "uvicorn", start)
    } else if deps.contains("flask") {
        let app = find_app(tree, "Flask", &mut detected_from);
        // gunicorn calls an application factory written as `module:create_app()`.
        let start = app.map(|(app, factory)| {
            let app = if factory { format!("{app}()") } else { app };
            format!("gunicorn --bind 127.0.0.1:$PORT {}", shell_quote(&app))
        });
        ("flask", "gunicorn", start)
    } else {
        ("", "", None)
    };

    let mut plan = super::plan(Stack::Python, start, detected_from);
    plan.package_manager = Some(manager.to_owned());
    plan.install = Some(if framework.is_empty() || deps.contains(server) {
        command
    } else {
        // Said in the command itself so the build log shows why it ran.
        format!("{command} && pip install {server}  # {server} is not among the app's dependencies: added by Slipway")
    });
    plan.framework = (!framework.is_empty()).then(|| framework.to_owned());
    plan.runtime_asks = super::versions::python(tree)?;
    Ok(Some(plan))
}

struct Install {
    manager: &'static str,
    command: String,
    /// Normalised dependency names (lower case, `-` for `_` and `.`).
    deps: BTreeSet<String>,
    files: Vec<&'static str>,
}

fn install(tree: &Tree) -> Result<Option<Install>, DetectError> {
    if let Some(text) = tree.read("requirements.txt")? {
        let deps = text.lines().filter_map(requirement_name).collect();
        let command = "pip install -r requirements.txt".to_owned();
        return Ok(Some(Install { manager: "pip", command, deps, files: vec!["requirements.txt"] }));
    }
    if let Some(pyproject) = read_toml(tree, "pyproject.toml")? {
        let mut deps: BTreeSet<String> = pyproject
            .get("project")
            .and_then(|p| p.get("dependencies"))
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(toml::Value::as_str)
            .filter_map(requirement_name)
            .collect();
        if let Some(poetry) = pyproject.get("tool").and_then(|t| t.get("poetry")) {
            let poetry_deps = poetry.get("dependencies").and_then(toml::Value::as_table);
            deps.extend(poetry_deps.into_iter().flat_map(|t| t.keys()).map(|k| normalise(k)));
            let command = "pip install poetry && POETRY_VIRTUALENVS_CREATE=false poetry install --only main --no-root \
                           --no-interaction"
                .to_owned();
            return Ok(Some(Install { manager: "poetry", command, deps, files: vec!["pyproject.toml"] }));
        }
        if tree.is_file("uv.lock") {
            let command = "pip install uv && UV_PROJECT_ENVIRONMENT=\"$VIRTUAL_ENV\" uv sync --frozen --no-dev \
                           --no-install-project"
                .to_owned();
            return Ok(Some(Install { manager: "uv", command, deps, files: vec!["pyproject.toml", "uv.lock"] }));
        }
        if pyproject.contains_key("project") {
            let command = "pip install .".to_owned();
            return Ok(Some(Install { manager: "pip", command, deps, files: vec!["pyproject.toml"] }));
        }
    }
    if let Some(pipfile) = read_toml(tree, "Pipfile")? {
        let packages = pipfile.get("packages").and_then(toml::Value::as_table);
        let deps = packages.into_iter().flat_map(|t| t.keys()).map(|k| normalise(k)).collect();
        let (command, files) = if tree.is_file("Pipfile.lock") {
            ("pip install pipenv && pipenv install --deploy", vec!["Pipfile", "Pipfile.lock"])
        } else {
            ("pip install pipenv && pipenv install --skip-lock", vec!["Pipfile"])
        };
        return Ok(Some(Install { manager: "pipenv", command: command.to_owned(), deps, files }));
    }
    Ok(None)
}

fn read_toml(tree: &Tree, file: &str) -> Result<Option<toml::Table>, DetectError> {
    let Some(text) = tree.read(file)? else { return Ok(None) };
    text.parse::<toml::Table>()
        .map(Some)
        .map_err(|e| DetectError::Malformed { file: file.to_owned(), problem: e.message().to_owned() })
}

/// The distribution name of a requirement line (`Flask[async]>=2 ; python_version>"3"` → `flask`).
fn requirement_name(line: &str) -> Option<String> {
    let line = line.split('#').next().unwrap_or_default().trim();
    if line.is_empty() || line.starts_with('-') {
        return None;
    }
    let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c))).unwrap_or(line.len());
    (end > 0).then(|| normalise(&line[..end]))
}

fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// The Django project package: `manage.py` beside a `<project>/wsgi.py`.
fn django_project(tree: &Tree, deps: &BTreeSet<String>) -> Option<String> {
    if !tree.is_file("manage.py") || !(deps.contains("django") || deps.is_empty()) {
        return None;
    }
    tree.list("").into_iter().find(|dir| is_identifier(dir) && tree.is_file(&format!("{dir}/wsgi.py")))
}

/// `module:variable` of the file that creates the app (`app = Flask(__name__)`),
/// or `(module:create_app, true)` for an application factory.
fn find_app(tree: &Tree, class: &str, detected_from: &mut Vec<String>) -> Option<(String, bool)> {
    let preferred = ["app.py", "wsgi.py", "main.py", "application.py", "server.py", "asgi.py", "api.py", "run.py"];
    let mut candidates: Vec<String> = preferred.iter().map(|f| (*f).to_owned()).collect();
    let root = tree.list("");
    candidates.extend(root.iter().filter(|f| f.ends_with(".py") && !preferred.contains(&f.as_str())).cloned());
    for dir in root.iter().filter(|d| is_identifier(d) && tree.is_file(&format!("{d}/__init__.py"))) {
        candidates.extend(["__init__.py", "app.py", "main.py"].map(|f| format!("{dir}/{f}")));
    }
    let mut factory = None;
    for file in candidates.iter().take(200) {
        let Some(source) = tree.scan(file) else { continue };
        let module = file.trim_end_matches(".py").trim_end_matches("/__init__").replace('/', ".");
        if !module.split('.').all(is_identifier) {
            continue;
        }
        if let Some(variable) = app_variable(&source, class) {
            detected_from.push(file.clone());
            return Some((format!("{module}:{variable}"), false));
        }
        if factory.is_none() && source.lines().any(|l| l.starts_with("def create_app(")) {
            factory = Some((file.clone(), format!("{module}:create_app")));
        }
    }
    let (file, app) = factory?;
    detected_from.push(file);
    Some((app, true))
}

/// The top-level variable assigned `Class(...)` or `module.Class(...)`.
fn app_variable(source: &str, class: &str) -> Option<String> {
    source.lines().find_map(|line| {
        let (lhs, rhs) = line.split_once('=')?;
        let variable = lhs.split(':').next()?.trim_end();
        let constructor = rhs.trim_start().split('(').next()?;
        let named = constructor == class || constructor.rsplit_once('.').is_some_and(|(_, c)| c == class);
        (is_identifier(variable) && named && rhs.contains('(')).then(|| variable.to_owned())
    })
}

fn is_identifier(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Files a Python app without a framework starts from, in the peers' order
/// (Railpack runs `main.py` before `app.py`; Nixpacks knows only `main.py`).
const ENTRY_FILES: [&str; 2] = ["main.py", "app.py"];

/// The entry file of a Python app Slipway cannot start otherwise.
pub(crate) fn entry_file(tree: &Tree) -> Option<&'static str> {
    ENTRY_FILES.into_iter().find(|file| tree.is_file(file))
}

/// A Python app without a dependency file: a `main.py` or `app.py` at the root
/// (started by [`super::detect`] when nothing else says what runs).
pub(crate) fn detect_entry_file(tree: &Tree) -> Result<Option<BuildPlan>, DetectError> {
    let Some(file) = entry_file(tree) else { return Ok(None) };
    let mut plan = super::plan(Stack::Python, None, vec![file.to_owned()]);
    plan.runtime_asks = super::versions::python(tree)?;
    Ok(Some(plan))
}

#[cfg(test)]
mod tests {
    use crate::detect::testing::tree;
    use crate::detect::{detect, DetectError};
    use slipway_core::stack::Stack;

    #[test]
    fn flask_with_requirements_binds_loopback_and_adds_gunicorn() {
        let dir = tree(&[
            ("requirements.txt", "# web\nFlask==3.0.0  # pinned\n-r other.txt\n"),
            ("wsgi.py", "from flask import Flask\n\nserver = Flask(__name__)\n"),
            (".python-version", "3.11.7\n"),
        ]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Python);
        assert_eq!(plan.framework.as_deref(), Some("flask"));
        assert_eq!(plan.package_manager.as_deref(), Some("pip"));
        assert_eq!(plan.start.as_deref(), Some("gunicorn --bind 127.0.0.1:$PORT wsgi:server"));
        let install = plan.install.clone().expect("install");
        assert!(install.starts_with("pip install -r requirements.txt && pip install gunicorn"), "{install}");
        assert!(install.contains("added by Slipway"), "{install}");
        assert_eq!(plan.asked_version(), Some("3.11.7"));
        assert_eq!(plan.detected_from, ["requirements.txt", "wsgi.py"]);
    }

    #[test]
    fn flask_app_factory_in_a_package() {
        let dir = tree(&[
            ("requirements.txt", "flask\ngunicorn\n"),
            ("shop/__init__.py", "import flask\n\ndef create_app():\n    return flask.Flask('shop')\n"),
            ("runtime.txt", "python-3.12.1\n"),
        ]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.start.as_deref(), Some("gunicorn --bind 127.0.0.1:$PORT 'shop:create_app()'"));
        assert_eq!(plan.install.as_deref(), Some("pip install -r requirements.txt"));
        assert_eq!(plan.asked_version(), Some("3.12.1"));
    }

    #[test]
    fn fastapi_with_poetry() {
        let dir = tree(&[
            (
                "pyproject.toml",
                "[tool.poetry]\nname = \"x\"\n[tool.poetry.dependencies]\npython = \"^3.11\"\nFastAPI = \"*\"\n",
            ),
            ("main.py", "from fastapi import FastAPI\napi: FastAPI = FastAPI()\n"),
        ]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.framework.as_deref(), Some("fastapi"));
        assert_eq!(plan.package_manager.as_deref(), Some("poetry"));
        assert_eq!(plan.start.as_deref(), Some("uvicorn main:api --host 127.0.0.1 --port $PORT"));
        assert!(plan.install.expect("install").contains("poetry install"));
    }

    #[test]
    fn fastapi_with_uv_and_uvicorn_dependency() {
        let dir = tree(&[
            ("pyproject.toml", "[project]\nname = \"x\"\ndependencies = [\"fastapi>=0.100\", \"uvicorn[standard]\"]\n"),
            ("uv.lock", ""),
            ("app/main.py", "import fastapi\napp = fastapi.FastAPI(title='x')\n"),
            ("app/__init__.py", ""),
        ]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.package_manager.as_deref(), Some("uv"));
        assert_eq!(plan.start.as_deref(), Some("uvicorn app.main:app --host 127.0.0.1 --port $PORT"));
        assert!(!plan.install.expect("install").contains("pip install uvicorn"));
        assert_eq!(plan.detected_from, ["pyproject.toml", "uv.lock", "app/main.py"]);
    }

    #[test]
    fn plain_pep_621_and_pipfile() {
        let dir = tree(&[
            ("pyproject.toml", "[project]\nname = \"x\"\ndependencies = [\"flask\"]\n"),
            ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
        ]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.package_manager.as_deref(), Some("pip"));
        assert!(plan.install.expect("install").starts_with("pip install . && pip install gunicorn"));
        let dir = tree(&[
            ("Pipfile", "[packages]\nflask = \"*\"\ngunicorn = \"*\"\n"),
            ("Pipfile.lock", "{}"),
            ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
        ]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.package_manager.as_deref(), Some("pipenv"));
        assert_eq!(plan.install.as_deref(), Some("pip install pipenv && pipenv install --deploy"));
        assert_eq!(plan.start.as_deref(), Some("gunicorn --bind 127.0.0.1:$PORT app:app"));
    }

    #[test]
    fn django_project_from_manage_py_and_wsgi() {
        let dir = tree(&[
            ("requirements.txt", "Django>=5\ngunicorn\n"),
            ("manage.py", ""),
            ("mysite/wsgi.py", ""),
            ("mysite/__init__.py", ""),
        ]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.framework.as_deref(), Some("django"));
        assert_eq!(plan.start.as_deref(), Some("gunicorn mysite.wsgi --bind 127.0.0.1:$PORT"));
        assert_eq!(plan.detected_from, ["requirements.txt", "manage.py", "mysite/wsgi.py"]);
    }

    #[test]
    fn python_without_a_known_framework_asks_for_a_start_command() {
        let dir = tree(&[("requirements.txt", "requests\n"), ("bot.py", "print(1)\n")]);
        let err = detect(dir.path()).expect_err("no start");
        assert!(matches!(err, DetectError::NoStartCommand { ref stack, .. } if *stack == Stack::Python), "{err:?}");
        let dir = tree(&[("requirements.txt", "requests\n"), ("Procfile", "worker: python bot.py\n")]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.install.as_deref(), Some("pip install -r requirements.txt"));
        assert_eq!(plan.start, None);
    }

    #[test]
    fn a_lone_main_py_or_app_py_runs_with_python() {
        for (manifest, file) in [
            (Some(("requirements.txt", "requests\n")), "main.py"),
            (Some(("pyproject.toml", "[project]\nname = \"x\"\ndependencies = [\"httpx\"]\n")), "app.py"),
            (None, "main.py"),
            (None, "app.py"),
        ] {
            let mut files = vec![(file, "print('hi')\n"), ("lib.py", "")];
            files.extend(manifest);
            let dir = tree(&files);
            let plan = detect(dir.path()).unwrap_or_else(|e| panic!("{files:?}: {e}"));
            assert_eq!(plan.stack, Stack::Python, "{files:?}");
            assert_eq!(plan.start, Some(format!("python {file}")), "{files:?}");
            assert_eq!(plan.processes["web"], format!("python {file}"));
            assert_eq!(plan.framework, None);
            assert!(plan.detected_from.contains(&file.to_owned()), "{:?}", plan.detected_from);
            if manifest.is_none() {
                assert_eq!((plan.install, plan.package_manager), (None, None));
                assert_eq!(plan.detected_from, [file]);
            }
        }
        // Both: main.py, as the peers' planners choose.
        let dir = tree(&[("main.py", ""), ("app.py", "")]);
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("python main.py"));
    }

    #[test]
    fn an_entry_file_is_not_the_web_process_of_a_procfile_that_names_it_otherwise() {
        let dir =
            tree(&[("requirements.txt", "requests\n"), ("main.py", ""), ("Procfile", "worker: python main.py\n")]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.start, None);
        assert_eq!(plan.processes.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["worker"]);
        let dir = tree(&[("main.py", ""), ("Procfile", "web: python3 main.py --port $PORT\n")]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Python);
        assert_eq!(plan.start.as_deref(), Some("python3 main.py --port $PORT"));
    }

    #[test]
    fn a_site_with_a_script_beside_its_index_html_stays_a_static_site() {
        let dir = tree(&[("index.html", "<h1>hi</h1>"), ("main.py", "")]);
        assert_eq!(detect(dir.path()).expect("plan").stack, Stack::Static);
    }

    #[test]
    fn hostile_entry_files_are_not_candidates() {
        // main.py a symlink out of the tree, app.py a directory: nothing to run.
        let outside = tree(&[("main.py", "import os\n")]);
        let dir = tree(&[("requirements.txt", "requests\n"), ("app.py/x", "")]);
        std::os::unix::fs::symlink(outside.path().join("main.py"), dir.path().join("main.py")).expect("symlink");
        let err = detect(dir.path()).expect_err("nothing to start");
        assert!(matches!(err, DetectError::NoStartCommand { .. }), "{err:?}");
        assert!(err.to_string().contains("main.py or app.py"), "{err}");
        let dir = tree(&[("app.py/x", "")]);
        std::os::unix::fs::symlink(outside.path().join("main.py"), dir.path().join("main.py")).expect("symlink");
        assert!(matches!(detect(dir.path()), Err(DetectError::Unrecognised)));
    }

    #[test]
    fn malformed_pyproject_names_the_file() {
        let dir = tree(&[("pyproject.toml", "[project\nname = 1\n")]);
        let err = detect(dir.path()).expect_err("malformed");
        assert!(matches!(&err, DetectError::Malformed { file, .. } if file == "pyproject.toml"), "{err:?}");
    }
}
