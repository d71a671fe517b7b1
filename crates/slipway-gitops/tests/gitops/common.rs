//! Sample environments shared by the test binaries: the three apps the golden
//! files cover, built the way the deploy pipeline will build them.

#![allow(dead_code, clippy::unwrap_used)] // each test binary uses some helpers; they are not #[test] functions

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::DeploymentNumber;
use slipway_core::hostname::Hostname;
use slipway_core::image_ref::ReleaseImage;
use slipway_core::names::{ConfigVarName, EnvironmentName, ProjectSlug, WorkspaceSlug};
use slipway_core::process_type::ProcessType;
use slipway_core::resources::{Cpu, Memory, Resources};
use slipway_gitops::{AppEnvironment, Autoscaling, ClusterSettings, ConfigVar, InstallSettings, Process, Quota};

pub const TAG: &str = "usr_0190d1c2a3b4c5d6e7f8091a2b3c4d5e-12-0123456789abcdef0123456789abcdef01234567";

pub fn image(project: &str, build: u64) -> ReleaseImage {
    let tag = TAG.replacen("-12-", &format!("-{build}-"), 1);
    ReleaseImage::parse(&format!("registry.example.com/slipway/{project}:{tag}")).unwrap()
}

fn plan(processes: &[(&str, &str)]) -> BuildPlan {
    serde_json::from_value(serde_json::json!({
        "stack": "node",
        "processes": processes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        "detected_from": ["package.json"],
    }))
    .unwrap()
}

pub fn base(
    workspace: &str,
    project: &str,
    environment: &str,
    processes: BTreeMap<ProcessType, Process>,
) -> AppEnvironment {
    AppEnvironment {
        workspace: WorkspaceSlug::parse(workspace).unwrap(),
        project: ProjectSlug::parse(project).unwrap(),
        environment: EnvironmentName::parse(environment).unwrap(),
        deployment: DeploymentNumber::new(12).unwrap(),
        image: image(project, 12),
        processes,
        port: 3000,
        health_check_path: None,
        hostnames: Vec::new(),
        config: Vec::new(),
        quota: Quota::default(),
    }
}

/// A Node web app: two replicas autoscaled to six, health check, plain and secret vars, its own
/// resources (1 GiB, half a core) and a workspace quota of 4 GiB and 10 instances.
pub fn node_web() -> AppEnvironment {
    let resources = Resources { memory: Memory::from_mib(1024), cpu: Cpu::from_millis(500), max_processes: 128 };
    let defaults = Process { resources, ..Process::default() };
    let mut processes = Process::from_build_plan(&plan(&[("web", "npm start")]), &defaults);
    let web = processes.get_mut("web").unwrap();
    web.replicas = 2;
    web.autoscaling = Some(Autoscaling { min_replicas: 2, max_replicas: 6, target_cpu_percent: 70 });
    let mut app = base("acme", "shop", "production", processes);
    app.quota = Quota { memory: Some(Memory::from_mib(4096)), pods: Some(10) };
    app.health_check_path = Some("/health".into());
    app.hostnames = vec![Hostname::parse("shop-acme.apps.example.com").unwrap()];
    app.config = vec![
        ConfigVar::Plain { name: ConfigVarName::parse("NODE_ENV").unwrap(), value: "production".into() },
        ConfigVar::Secret { name: ConfigVarName::parse("DATABASE_URL").unwrap() },
        ConfigVar::Secret { name: ConfigVarName::parse("SESSION_KEY").unwrap() },
    ];
    app
}

/// A background worker and a nightly cron job, no web process; platform default resources, no quota.
pub fn worker_cron() -> AppEnvironment {
    let mut processes = Process::from_build_plan(
        &plan(&[("worker", "node worker.js"), ("report", "node report.js")]),
        &Process::default(),
    );
    processes.get_mut("report").unwrap().schedule = Some("0 3 * * *".into());
    processes.get_mut("worker").unwrap().replicas = 3;
    let mut app = base("globex", "jobs", "staging", processes);
    app.config = vec![ConfigVar::Secret { name: ConfigVarName::parse("QUEUE_URL").unwrap() }];
    app
}

/// A web app served on its generated hostname and two custom domains, TCP probes, 768 MiB and
/// a quarter core, a quota of instances only.
pub fn custom_domain() -> AppEnvironment {
    let resources = Resources { memory: Memory::from_mib(768), cpu: Cpu::from_millis(250), max_processes: 256 };
    let defaults = Process { resources, ..Process::default() };
    let processes = Process::from_build_plan(&plan(&[("web", "python -m gunicorn app:app")]), &defaults);
    let mut app = base("initech", "site", "production", processes);
    app.quota = Quota { memory: None, pods: Some(4) };
    app.port = 8000;
    app.hostnames = ["site-initech.apps.example.com", "www.initech.example", "initech.example"]
        .into_iter()
        .map(|host| Hostname::parse(host).unwrap())
        .collect();
    app.config = vec![ConfigVar::Plain { name: ConfigVarName::parse("LOG_LEVEL").unwrap(), value: "info".into() }];
    app
}

pub fn settings() -> ClusterSettings {
    ClusterSettings::default()
}

/// The control plane's install, with every optional setting filled so all of it is covered.
pub fn install_settings() -> InstallSettings {
    let image = format!("ghcr.io/slipway/slipway:0.1.0@sha256:{}", "5e".repeat(32));
    InstallSettings { storage_class: Some("fast-ssd".into()), ..InstallSettings::new(image, "slipway.example.com") }
}

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn write_dir(dir: &Path, manifests: &slipway_gitops::Manifests) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, text) in manifests.files() {
        std::fs::write(dir.join(name), text).unwrap();
    }
}
