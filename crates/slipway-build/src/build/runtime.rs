//! The app's runtime in the version its tree asks for (`crate::runtime` finds
//! or installs it): put first on the build's PATH, seen read-only by the
//! build's commands, and recorded for the release and its instances.

use std::path::PathBuf;

use slipway_core::runtime::Language;
use slipway_core::stack::Stack;

use super::env::BuildEnv;
use super::{capture, BuildError, BuiltApp, Context, Step};
use crate::runtime::{Provided, Runtimes};

/// The runtime `cx.plan` asks for, or `None` where it asks for nothing (the build machine's
/// own toolchain then builds it, as it always did).
pub(crate) async fn provide(
    cx: &Context<'_>,
    env: &BuildEnv,
    runtimes: Option<&Runtimes>,
) -> Result<Option<Provided>, BuildError> {
    let asks = &cx.plan.runtime_asks;
    let language = match cx.plan.stack {
        Stack::Node => Language::Node,
        Stack::Python => Language::Python,
        Stack::Go => Language::Go,
        Stack::Rust => {
            if let Some(ask) = asks.first() {
                cx.log
                    .line(format!(
                        "{} asks for Rust {}: the build machine's Rust toolchain builds it (Slipway does not install \
                         Rust toolchains; rustup, where installed, reads the file itself)",
                        ask.source, ask.version
                    ))
                    .await;
            }
            return Ok(None);
        }
        Stack::Ruby => {
            if let Some(ask) = asks.first() {
                cx.log
                    .line(format!(
                        "{} asks for Ruby {}: the build machine's Ruby builds it (Slipway does not install Ruby \
                         versions)",
                        ask.source, ask.version
                    ))
                    .await;
            }
            return Ok(None);
        }
        // Java's asks are weighed against the machine's JDK by java.rs, which installs none.
        Stack::Java | Stack::Static | Stack::Procfile => return Ok(None),
        Stack::Php => {
            super::php::check_version(cx, env, asks).await;
            return Ok(None);
        }
    };
    if asks.is_empty() {
        return Ok(None);
    }
    let requirements = Runtimes::requirements(asks)?;
    let Some(runtimes) = runtimes else {
        cx.log.line(format!("This builder installs no runtimes: the build machine's own {language} builds it")).await;
        return Ok(None);
    };
    let host = host_version(cx, env, language, &requirements).await;
    let mut notes = Vec::new();
    let provided =
        tokio::time::timeout_at(cx.deadline.at, runtimes.provide(language, &requirements, host.as_deref(), &mut notes))
            .await
            .map_err(|_| BuildError::Timeout { step: Step::Install, limit: cx.deadline.limit });
    for note in notes {
        cx.log.line(note).await;
    }
    let provided = provided??;
    let asked: Vec<String> = asks.iter().map(|a| format!("{} in {}", a.version, a.source)).collect();
    cx.log.line(format!("Using {} (asked: {})", provided.version, asked.join(", "))).await;
    Ok(Some(provided))
}

/// What the build's environment and the release get from the runtime.
pub(crate) fn apply(provided: &Provided, env: &mut BuildEnv, built: &mut BuiltApp) {
    built.runtime = Some(provided.version.clone());
    let Some(dir) = &provided.dir else { return };
    env.prepend_path(dir.join("bin"));
    if provided.version.language == Language::Go {
        // The toolchain is the one installed, not one Go would fetch for itself or find elsewhere.
        env.set("GOROOT", dir);
        env.set("GOTOOLCHAIN", "local");
        // A Go binary needs no toolchain to run.
        return;
    }
    built.runtime_dir = Some(dir.clone());
}

/// The runtime's `bin/` for the instances' PATH, after what the stack put first (a venv, node_modules/.bin).
pub(crate) fn run_path(built: &BuiltApp) -> Option<PathBuf> {
    built.runtime_dir.as_ref().map(|dir| dir.join("bin"))
}

/// The build machine's own version of the runtime (for Python, the first of `python3.X` for the
/// lines asked for and `python3` that satisfies every ask, else `python3`'s), as it prints it.
async fn host_version(
    cx: &Context<'_>,
    env: &BuildEnv,
    language: Language,
    requirements: &[(slipway_core::runtime::VersionAsk, crate::runtime::Requirement)],
) -> Option<String> {
    match language {
        Language::Node => capture(cx, env, "node", &["--version"]).await,
        Language::Go => capture(cx, env, "go", &["env", "GOVERSION"]).await,
        Language::Python => {
            let mut names: Vec<String> = requirements.iter().filter_map(|(ask, _)| python_line(&ask.version)).collect();
            names.dedup();
            names.push("python3".to_owned());
            let mut fallback = None;
            for name in names.iter().filter(|name| env.find(name).is_some()) {
                let Some(version) = capture(cx, env, name, &["--version"]).await else { continue };
                let version = version.trim_start_matches("Python ").to_owned();
                if crate::runtime::satisfies(requirements, &version) {
                    return Some(version);
                }
                fallback.get_or_insert(version);
            }
            fallback
        }
    }
}

/// `python3.12` for an ask of `3.12`, `3.12.1` or `==3.12.*`; `None` for ranges.
fn python_line(version: &str) -> Option<String> {
    let version = version.trim().trim_start_matches("python-").trim_start_matches("==");
    let mut parts = version.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && digits(minor)).then(|| format!("python{major}.{minor}"))
}
