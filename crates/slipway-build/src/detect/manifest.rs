//! `slipway.toml`: the app's own say, overriding detection and the Procfile.
//!
//! ```toml
//! install = "npm ci"
//! build = "npm run build"
//! start = "node server.js"          # the web process
//! health_check_path = "/healthz"
//! [processes]
//! worker = "node worker.js"
//! ```
//!
//! (`root_dir = "apps/web"` at the repository's root picks a monorepo's app: `root_dir.rs`.)

use std::collections::BTreeMap;

use slipway_core::build_plan::{BuildPlan, WEB_PROCESS};
use slipway_core::process_type::ProcessType;

use super::{DetectError, Tree};

const FILE: &str = "slipway.toml";
/// `root_dir` is read before detection, from the repository's root (`root_dir.rs`).
const KNOWN_KEYS: [&str; 6] = ["install", "build", "start", "health_check_path", "processes", "root_dir"];

#[derive(Debug, Default, PartialEq)]
pub(crate) struct Manifest {
    install: Option<String>,
    build: Option<String>,
    start: Option<String>,
    health_check_path: Option<String>,
    processes: BTreeMap<ProcessType, String>,
}

pub(crate) fn parse(tree: &Tree) -> Result<Option<Manifest>, DetectError> {
    let Some(text) = tree.read(FILE)? else { return Ok(None) };
    parse_text(&text).map(Some)
}

fn malformed(problem: impl Into<String>) -> DetectError {
    DetectError::Malformed { file: FILE.to_owned(), problem: problem.into() }
}

fn parse_text(text: &str) -> Result<Manifest, DetectError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| malformed(e.message().to_owned()))?;
    let unknown: Vec<String> = table.keys().filter(|k| !KNOWN_KEYS.contains(&k.as_str())).cloned().collect();
    if !unknown.is_empty() {
        return Err(DetectError::UnknownManifestKeys { keys: unknown });
    }
    let string = |key: &str| -> Result<Option<String>, DetectError> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
            Some(toml::Value::String(_)) => Err(malformed(format!("`{key}` is empty"))),
            Some(other) => Err(malformed(format!("`{key}` must be a string, not a {}", other.type_str()))),
        }
    };
    let mut manifest = Manifest {
        install: string("install")?,
        build: string("build")?,
        start: string("start")?,
        health_check_path: string("health_check_path")?,
        processes: BTreeMap::new(),
    };
    if let Some(path) = &manifest.health_check_path {
        if !path.starts_with('/') {
            return Err(malformed(format!("`health_check_path` must start with `/` (got {path:?})")));
        }
    }
    match table.get("processes") {
        None => {}
        Some(toml::Value::Table(processes)) => {
            for (name, command) in processes {
                let process = ProcessType::parse(name).map_err(|err| malformed(err.to_string()))?;
                match command {
                    toml::Value::String(c) if !c.trim().is_empty() => {
                        manifest.processes.insert(process, c.trim().to_owned());
                    }
                    _ => return Err(malformed(format!("processes.{name} must be a non-empty command string"))),
                }
            }
        }
        Some(other) => return Err(malformed(format!("`processes` must be a table, not a {}", other.type_str()))),
    }
    if let (Some(start), Some(web)) = (&manifest.start, manifest.processes.get(WEB_PROCESS)) {
        if start != web {
            return Err(malformed("`start` and `processes.web` disagree; keep one of them"));
        }
    }
    Ok(manifest)
}

impl Manifest {
    /// Whether the manifest alone says what to run.
    pub(crate) fn defines_processes(&self) -> bool {
        self.start.is_some() || !self.processes.is_empty()
    }

    pub(crate) fn apply(self, plan: &mut BuildPlan) {
        plan.install = self.install.or(plan.install.take());
        plan.build = self.build.or(plan.build.take());
        plan.health_check_path = self.health_check_path.or(plan.health_check_path.take());
        plan.processes.extend(self.processes);
        if let Some(start) = self.start {
            plan.processes.insert(ProcessType::web(), start);
        }
        plan.start = plan.processes.get(WEB_PROCESS).cloned();
        plan.detected_from.push(FILE.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_field() {
        let manifest = parse_text(
            "install = \"make deps\"\nbuild = \"make\"\nstart = \"./app\"\nhealth_check_path = \"/up\"\n\
             [processes]\nworker = \"./worker\"\n",
        )
        .expect("valid");
        assert_eq!(manifest.install.as_deref(), Some("make deps"));
        assert_eq!(manifest.build.as_deref(), Some("make"));
        assert_eq!(manifest.start.as_deref(), Some("./app"));
        assert_eq!(manifest.health_check_path.as_deref(), Some("/up"));
        assert_eq!(manifest.processes["worker"], "./worker");
    }

    #[test]
    fn unknown_keys_are_all_named() {
        let err = parse_text("strat = \"x\"\nbuild = \"y\"\nhealthcheck = \"/\"\n").expect_err("unknown");
        let message = err.to_string();
        assert!(message.contains("strat") && message.contains("healthcheck"), "{message}");
        assert!(matches!(err, DetectError::UnknownManifestKeys { keys } if keys.len() == 2));
    }

    #[test]
    fn malformed_toml_and_wrong_types_name_the_file() {
        for (text, words) in [
            ("start = \n", "slipway.toml"),
            ("start = 3\n", "`start` must be a string"),
            ("processes = \"web\"\n", "`processes` must be a table"),
            ("[processes]\nweb = 1\n", "processes.web"),
            ("health_check_path = \"up\"\n", "must start with `/`"),
            ("start = \"a\"\n[processes]\nweb = \"b\"\n", "disagree"),
            ("[processes]\nmy_worker = \"w\"\n", "1 to 50 of a-z, 0-9 and `-`"),
        ] {
            let err = parse_text(text).expect_err(text);
            assert!(matches!(err, DetectError::Malformed { .. }), "{err:?}");
            let message = err.to_string();
            assert!(message.contains("slipway.toml") && message.contains(words), "{message}");
        }
    }
}
