//! Benchmark of the GitOps path (run by `bench/gitops.sh`, which records the
//! figures in BENCHMARKS.md):
//!
//! 1. render all N apps (default 1,000) from scratch, and render + write them
//!    to a fresh tree;
//! 2. seed a bare repository holding those N apps (one commit), then time M
//!    single deployments (render + commit + push through [`RepoWriter`]) into
//!    it from a persistent working clone.
//!
//! Prints one JSON object on stdout. Usage: `gitops_bench [apps] [deployments]`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: any failure should abort loudly

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::BuildNumber;
use slipway_core::hostname::Hostname;
use slipway_core::names::{ConfigVarName, EnvironmentName, ProjectSlug, WorkspaceSlug};
use slipway_gitops::argo::{render_root, render_workspace};
use slipway_gitops::naming::namespace_name;
use slipway_gitops::{
    render_environment, AppEnvironment, AppPath, ArgoSettings, ClusterSettings, ConfigVar, ImageRef, Manifests,
    Process, Quota, RepoWriter, WriterConfig,
};

const PROJECTS_PER_WORKSPACE: usize = 10;

fn app(index: usize, build: u64) -> AppEnvironment {
    let workspace = format!("ws{}", index / PROJECTS_PER_WORKSPACE);
    let project = format!("app{index}");
    let plan: BuildPlan = serde_json::from_value(serde_json::json!({
        "stack": "node",
        "processes": {"web": "npm start", "worker": "node worker.js"},
    }))
    .unwrap();
    let mut processes = Process::from_build_plan(&plan, &Process::default());
    processes.get_mut("web").unwrap().replicas = 2;
    let tag = format!("usr_0190d1c2a3b4c5d6e7f8091a2b3c4d5e-{build}-{:040x}", index as u128 * 7919 + u128::from(build));
    AppEnvironment {
        workspace: WorkspaceSlug::parse(&workspace).unwrap(),
        project: ProjectSlug::parse(&project).unwrap(),
        environment: EnvironmentName::production(),
        deployment: BuildNumber::new(build).unwrap(),
        image: ImageRef::parse(&format!("registry.example.com/slipway/{workspace}/{project}:{tag}")).unwrap(),
        processes,
        port: 3000,
        health_check_path: Some("/health".into()),
        hostnames: vec![Hostname::parse(&format!("{project}-{workspace}.apps.example.com")).unwrap()],
        config: vec![
            ConfigVar::Plain { name: ConfigVarName::parse("NODE_ENV").unwrap(), value: "production".into() },
            ConfigVar::Secret { name: ConfigVarName::parse("DATABASE_URL").unwrap() },
        ],
        quota: Quota::default(),
    }
}

fn write(dir: &Path, manifests: &Manifests) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, text) in manifests.files() {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git").arg("-C").arg(dir).args(args).status().unwrap();
    assert!(status.success(), "git {args:?}");
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let apps: usize = args.next().map_or(1000, |n| n.parse().expect("apps"));
    let deployments: usize = args.next().map_or(50, |n| n.parse().expect("deployments"));
    let settings = ClusterSettings::default();
    let argo = ArgoSettings::new("https://git.example.com/git/_platform/gitops.git");
    let root = tempfile::tempdir().unwrap();

    // 1. Render everything from scratch.
    let inputs: Vec<AppEnvironment> = (0..apps).map(|index| app(index, 1)).collect();
    let started = Instant::now();
    let rendered: Vec<Manifests> = inputs.iter().map(|app| render_environment(app, &settings).unwrap()).collect();
    let render_all = started.elapsed();
    let files: usize = rendered.iter().map(Manifests::len).sum();

    let seed = root.path().join("seed");
    let started = Instant::now();
    for (app, manifests) in inputs.iter().zip(&rendered) {
        write(&seed.join(AppPath::of(app).folder()), manifests);
    }
    let mut by_workspace: std::collections::BTreeMap<WorkspaceSlug, Vec<String>> = Default::default();
    for app in &inputs {
        let namespace = namespace_name(app.workspace.as_str(), app.project.as_str(), app.environment.as_str()).unwrap();
        by_workspace.entry(app.workspace.clone()).or_default().push(namespace);
    }
    write(&seed.join("bootstrap"), &render_root(&argo).unwrap());
    for (workspace, namespaces) in &by_workspace {
        let dir = seed.join("bootstrap/workspaces").join(workspace.as_str());
        write(&dir, &render_workspace(workspace, namespaces, &argo).unwrap());
    }
    let render_and_write_all = started.elapsed() + render_all;

    // 2. A remote already holding every app, then single deployments into it.
    let remote = root.path().join("gitops.git");
    git(root.path(), &["init", "--quiet", "--bare", "--initial-branch=main", remote.to_str().unwrap()]);
    git(&seed, &["init", "--quiet", "--initial-branch=main"]);
    git(&seed, &["add", "--all"]);
    git(&seed, &["-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "--quiet", "-m", "seed"]);
    git(&seed, &["push", "--quiet", remote.to_str().unwrap(), "main"]);

    let writer =
        RepoWriter::open(WriterConfig::new(root.path().join("clone"), remote.to_str().unwrap(), argo)).unwrap();
    // The first write checks out the whole tree once; a running control plane pays that at start-up.
    writer.deploy(&app(0, 2), &settings).unwrap();
    let mut times = Vec::with_capacity(deployments);
    for round in 0..deployments {
        let target = app((round * 37 + 11) % apps, 3 + round as u64);
        let started = Instant::now();
        let commit = writer.deploy(&target, &settings).unwrap();
        times.push(millis(started.elapsed()));
        assert!(commit.created);
    }
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{}",
        serde_json::json!({
            "apps": apps,
            "files_per_render_all": files,
            "render_all_ms": millis(render_all),
            "render_and_write_all_ms": millis(render_and_write_all),
            "deployments": deployments,
            "deploy_median_ms": pick(0.5),
            "deploy_p90_ms": pick(0.9),
            "deploy_max_ms": pick(1.0),
            "deploy_min_ms": pick(0.0),
        })
    );
}
