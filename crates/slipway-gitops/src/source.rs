//! From what the control plane stores to an [`AppEnvironment`]: slugs and
//! hostnames as strings, a release's build plan, the environment's scale and
//! its config snapshot. The deploy pipeline (which commits the result) and the
//! API's `…/manifests` preview (which only shows it) both go through
//! [`app_environment`], so a preview is exactly what a deployment commits.

use std::collections::BTreeMap;

use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::DeploymentNumber;
use slipway_core::hostname::Hostname;
use slipway_core::image_ref::ReleaseImage;
use slipway_core::names::{ConfigVarName, EnvironmentName, InvalidName, ProjectSlug, WorkspaceSlug};
use slipway_core::quota::WorkspaceQuota;
use slipway_core::resources::Resources;

use crate::error::{GitopsError, Result};
use crate::input::{AppEnvironment, ConfigVar, Process, Quota};

/// One environment at one release, as stored.
#[derive(Debug, Clone)]
pub struct ReleaseSource<'a> {
    pub workspace: &'a str,
    pub project: &'a str,
    pub environment: &'a str,
    /// The deployment (build) number being rendered.
    pub deployment: u64,
    /// `registry/repository:<userId>-<buildNumber>-<commitSHA>[@sha256:…]`.
    pub image: &'a str,
    pub plan: &'a BuildPlan,
    /// Instances per process type; absent types run one.
    pub scale: &'a BTreeMap<String, u32>,
    /// Generated hostname first, then custom domains.
    pub hostnames: &'a [String],
    /// `(name, value, secret)`; a secret's value is dropped here and never reaches a manifest.
    pub config: Vec<(&'a str, &'a str, bool)>,
    /// The port the image's `web` process listens on (`PORT`).
    pub port: u16,
    /// What each instance may use (the containers' limits).
    pub resources: Resources,
    /// The workspace's quota (each namespace's ResourceQuota).
    pub quota: WorkspaceQuota,
}

fn name_error(err: InvalidName) -> GitopsError {
    GitopsError::invalid_name(err.kind, &err.value, err.reason)
}

/// Parses and assembles `source`; the first value Kubernetes or Slipway's naming rules would
/// refuse is the error.
pub fn app_environment(source: &ReleaseSource<'_>) -> Result<AppEnvironment> {
    let defaults = Process { resources: source.resources, ..Process::default() };
    let processes = Process::from_build_plan(source.plan, &defaults)
        .into_iter()
        .map(|(name, process)| {
            let replicas = source.scale.get(name.as_str()).copied().unwrap_or(process.replicas);
            (name, Process { replicas, ..process })
        })
        .collect();
    let hostnames =
        source.hostnames.iter().map(|host| Hostname::parse(host).map_err(name_error)).collect::<Result<Vec<_>>>()?;
    let config = source
        .config
        .iter()
        .map(|(name, value, secret)| {
            let name = ConfigVarName::parse(name).map_err(name_error)?;
            Ok(if *secret { ConfigVar::Secret { name } } else { ConfigVar::Plain { name, value: (*value).to_owned() } })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AppEnvironment {
        workspace: WorkspaceSlug::parse(source.workspace).map_err(name_error)?,
        project: ProjectSlug::parse(source.project).map_err(name_error)?,
        environment: EnvironmentName::parse(source.environment).map_err(name_error)?,
        deployment: DeploymentNumber::new(source.deployment).map_err(|_| GitopsError::InvalidInput {
            what: "deployment number",
            reason: "build numbers start at 1".into(),
        })?,
        image: ReleaseImage::parse(source.image)?,
        processes,
        port: source.port,
        health_check_path: source.plan.health_check_path.clone(),
        hostnames,
        config,
        quota: Quota::from(&source.quota),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = "127.0.0.1:5000/slipway/acme/shop:usr_0123456789abcdef0123456789abcdef-7-0123456789abcdef0123456789abcdef01234567";

    fn plan() -> BuildPlan {
        BuildPlan {
            stack: slipway_core::stack::Stack::Node,
            framework: None,
            package_manager: None,
            runtime_asks: Vec::new(),
            install: None,
            build: None,
            start: None,
            processes: BTreeMap::from([
                ("web".parse().unwrap(), "node server.js".to_owned()),
                ("worker".parse().unwrap(), "node worker.js".to_owned()),
            ]),
            health_check_path: None,
            detected_from: Vec::new(),
        }
    }

    #[test]
    fn scale_resources_and_quota_apply_and_secret_values_are_dropped() {
        let plan = plan();
        let resources = Resources {
            memory: slipway_core::resources::Memory::from_mib(1024),
            cpu: slipway_core::resources::Cpu::from_millis(250),
            max_processes: 64,
        };
        let scale = BTreeMap::from([("web".to_owned(), 3)]);
        let hostnames = vec!["shop-acme.example.com".to_owned()];
        let source = ReleaseSource {
            workspace: "acme",
            project: "shop",
            environment: "production",
            deployment: 7,
            image: IMAGE,
            plan: &plan,
            scale: &scale,
            hostnames: &hostnames,
            config: vec![("GREETING", "hi", false), ("API_KEY", "hush-hush", true)],
            port: 8080,
            resources,
            quota: WorkspaceQuota { instances: Some(5), ..WorkspaceQuota::default() },
        };
        let app = app_environment(&source).unwrap();
        assert_eq!(app.processes["web"].replicas, 3);
        assert_eq!(app.processes["worker"].replicas, 1);
        assert!(app.processes.values().all(|process| process.resources == resources));
        assert_eq!(app.quota, crate::Quota { memory: None, pods: Some(5) });
        assert_eq!(app.config[1], ConfigVar::Secret { name: ConfigVarName::parse("API_KEY").unwrap() });
        let rendered = crate::render_environment(&app, &crate::ClusterSettings::default()).unwrap();
        assert!(!rendered.to_multi_document().contains("hush-hush"));
        assert!(rendered.to_multi_document().contains("hi"));
    }

    #[test]
    fn a_mutable_image_or_a_bad_hostname_is_refused() {
        let plan = plan();
        let scale = BTreeMap::new();
        let hostnames = vec!["shop-acme.example.com".to_owned()];
        let mut source = ReleaseSource {
            workspace: "acme",
            project: "shop",
            environment: "production",
            deployment: 7,
            image: "registry.example.com/acme/shop:latest",
            plan: &plan,
            scale: &scale,
            hostnames: &hostnames,
            config: Vec::new(),
            port: 8080,
            resources: Resources::default(),
            quota: WorkspaceQuota::default(),
        };
        assert!(matches!(app_environment(&source), Err(GitopsError::MutableImage { .. })));
        source.image = IMAGE;
        let bad = vec!["-bad-.example.com".to_owned()];
        source.hostnames = &bad;
        assert!(matches!(app_environment(&source), Err(GitopsError::InvalidName { .. })));
    }
}
