//! Python: one virtualenv per dependency set at `<cache>/venvs/<key>`,
//! key = sha256(requirement files, install command, python version).
//!
//! Virtualenvs embed their absolute path in their scripts, so one cannot be
//! built elsewhere and renamed into place. It is created at its final path
//! instead, and a `.complete` marker written last says it is whole; an entry
//! without the marker (a crash, a failed install) is deleted and recreated.
//! A complete venv is never changed again, and releases point into it, so
//! venvs are not pruned here (a rollback may need an old one).

use std::path::{Path, PathBuf};

use super::cache::{self, Key};
use super::command::{Run, RunAs};
use super::env::BuildEnv;
use super::{capture, AfterInstall, BuildError, BuiltApp, Context, Prepared, Step};

const MARKER: &str = ".complete";
/// Files that decide what the install puts into the venv.
const REQUIREMENT_FILES: [&str; 9] = [
    "requirements.txt",
    "pyproject.toml",
    "poetry.lock",
    "uv.lock",
    "Pipfile",
    "Pipfile.lock",
    "setup.py",
    "setup.cfg",
    "constraints.txt",
];

pub(crate) async fn prepare(
    cx: &Context<'_>,
    env: &mut BuildEnv,
    built: &mut BuiltApp,
) -> Result<Prepared, BuildError> {
    let app = cx.request.app_dir.as_path();
    let python = interpreter(cx, env).await?;
    let version = capture(cx, env, &python, &["--version"]).await.unwrap_or_default();
    let mut key = Key::default()
        .part("format", "venv-v1")
        .part("python", version.trim())
        .part("install", cx.plan.install.as_deref().unwrap_or_default());
    for file in REQUIREMENT_FILES {
        if let Some(bytes) = cache::read_key_file(&app.join(file), 64 << 20).await {
            key = key.part(file, bytes);
        }
    }
    let key = key.finish();
    let venv = cx.request.cache_dir.join("venvs").join(&key);

    let cache = cx.request.cache_dir.as_path();
    env.set("PIP_CACHE_DIR", cache.join("pip"));
    env.set("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    env.set("PIPENV_CACHE_DIR", cache.join("pipenv"));
    env.set("UV_CACHE_DIR", cache.join("uv"));
    env.set("POETRY_CACHE_DIR", cache.join("poetry"));
    env.set("VIRTUAL_ENV", &venv);
    env.prepend_path(venv.join("bin"));
    built.path_prepend.push(venv.join("bin"));
    built.env.push(("VIRTUAL_ENV".to_owned(), venv.to_string_lossy().into_owned()));
    built.env.push(("PYTHONUNBUFFERED".to_owned(), "1".to_owned()));

    let short = &key[..12];
    if venv.join(MARKER).is_file() {
        cx.log.line(format!("Reusing cached virtualenv (key {short})")).await;
        return Ok(Prepared { skip_install: true, after: AfterInstall::Nothing });
    }
    if venv.exists() {
        cx.log.line(format!("Removing an incomplete virtualenv (key {short})")).await;
        remove(&cx.request.cache_dir, &venv).await?;
    }
    cx.log.line(format!("Creating a virtualenv with {} (key {short})", version.trim())).await;
    let create = format!("{python} -m venv {}", venv.display());
    let venv_arg = venv.clone().into_os_string();
    let (flag, module) = ("-m".into(), "venv".into());
    let vars = env.vars();
    Run {
        step: Step::Install,
        display: &create,
        program: &python,
        args: &[&flag, &module, &venv_arg],
        cwd: app,
        env: &vars,
        echo: false,
        run_as: RunAs::Tenant(cx.jail()),
    }
    .run(cx.log, cx.deadline)
    .await?;
    Ok(Prepared { skip_install: false, after: AfterInstall::MarkVenvComplete { venv } })
}

/// The install succeeded: the venv is whole from now on.
pub(crate) async fn mark_complete(cache_dir: &Path, venv: &Path) -> Result<(), BuildError> {
    refuse_links(cache_dir, &venv.join(MARKER))?;
    tokio::fs::write(venv.join(MARKER), b"")
        .await
        .map_err(|source| BuildError::Io { context: format!("cannot write {}", venv.join(MARKER).display()), source })
}

/// The install failed: a half venv must not be mistaken for a cached one.
pub(crate) async fn discard(cache_dir: &Path, venv: &Path) {
    if !cache::no_links_below(cache_dir, venv) {
        return;
    }
    let _ = tokio::fs::remove_dir_all(venv).await;
}

/// `Err` when the build planted a symlink on the way to `path`.
fn refuse_links(cache_dir: &Path, path: &Path) -> Result<(), BuildError> {
    if cache::no_links_below(cache_dir, path) {
        return Ok(());
    }
    Err(BuildError::Io {
        context: format!("the build replaced part of {} with a symlink; the cache is not written", path.display()),
        source: std::io::Error::other("symlink in the cache"),
    })
}

async fn remove(cache_dir: &Path, venv: &PathBuf) -> Result<(), BuildError> {
    refuse_links(cache_dir, venv)?;
    tokio::fs::remove_dir_all(venv)
        .await
        .map_err(|source| BuildError::Io { context: format!("cannot remove {}", venv.display()), source })
}

/// `python3.X` for the version the app got (from the runtimes store or the build machine), else `python3`.
async fn interpreter(cx: &Context<'_>, env: &BuildEnv) -> Result<String, BuildError> {
    if let Some(provided) = &cx.runtime {
        let mut parts = provided.version.version.split('.');
        if let (Some(major), Some(minor)) = (parts.next(), parts.next()) {
            let versioned = format!("python{major}.{minor}");
            if env.find(&versioned).is_some() {
                return Ok(versioned);
            }
        }
    }
    super::require(env, "python3", cx.plan)?;
    Ok("python3".to_owned())
}
