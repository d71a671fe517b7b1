//! The build plan: what Slipway decided about a source tree — its stack, how
//! to install, build and start it, and its process types. Detection (in
//! `slipway-build`) produces it; the builder runs it; the API returns it and
//! `slipway detect --json` prints it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::process_type::ProcessType;
use crate::runtime::VersionAsk;
use crate::stack::Stack;

/// The process type that receives HTTP traffic.
pub const WEB_PROCESS: &str = ProcessType::WEB;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BuildPlan {
    pub stack: Stack,
    /// `express`, `next`, `vite`, `flask`, `fastapi`, `django`, … when recognised.
    #[serde(default)]
    pub framework: Option<String>,
    /// `npm`, `yarn`, `pnpm`, `pip`, `poetry`, `uv`, `pipenv`, `go`, `cargo`.
    #[serde(default)]
    pub package_manager: Option<String>,
    /// Where the tree asks for its runtime's version (`engines.node`, `.nvmrc`, `.python-version`,
    /// `go 1.22` in go.mod, …), most authoritative first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtime_asks: Vec<VersionAsk>,
    /// Shell command that installs dependencies.
    #[serde(default)]
    pub install: Option<String>,
    /// Shell command that builds the app.
    #[serde(default)]
    pub build: Option<String>,
    /// Shell command of the `web` process.
    #[serde(default)]
    pub start: Option<String>,
    /// Every process type and its command (`web` included when there is one).
    pub processes: BTreeMap<ProcessType, String>,
    /// HTTP path that must answer before a `web` instance gets traffic.
    #[serde(default)]
    pub health_check_path: Option<String>,
    /// The files that decided the plan, for the build log.
    #[serde(default)]
    pub detected_from: Vec<String>,
}

impl BuildPlan {
    /// The version the tree's most authoritative source asks for, as written there.
    pub fn asked_version(&self) -> Option<&str> {
        self.runtime_asks.first().map(|ask| ask.version.as_str())
    }

    /// The plan as the first lines of a build log.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "Detected {}{}{} (from {})",
            self.stack,
            self.framework.as_ref().map(|f| format!(" / {f}")).unwrap_or_default(),
            self.package_manager.as_ref().map(|p| format!(" with {p}")).unwrap_or_default(),
            if self.detected_from.is_empty() { "slipway.toml".to_owned() } else { self.detected_from.join(", ") },
        )];
        for ask in &self.runtime_asks {
            lines.push(format!("  runtime: {} (from {})", ask.version, ask.source));
        }
        for (label, value) in [("install", &self.install), ("build", &self.build)] {
            if let Some(command) = value {
                lines.push(format!("  {label}: {command}"));
            }
        }
        for (process, command) in &self.processes {
            lines.push(format!("  process {process}: {command}"));
        }
        if let Some(path) = &self.health_check_path {
            lines.push(format!("  health check: GET {path}"));
        }
        lines
    }
}
