//! Benchmark of the GitOps path (run by `bench/gitops.sh`, which records the
//! figures in BENCHMARKS.md):
//!
//! 1. render all N apps (default 1,000) from scratch in memory;
//! 2. render them again and commit all of them as one commit into an empty bare
//!    repository through [`RepoWriter::commit_apps`] (fast-import + push);
//! 3. time M single deployments (render + commit + push through
//!    [`RepoWriter::deploy`]) into that repository, now holding N apps.
//!
//! Prints one JSON object on stdout. Usage: `gitops_bench [apps] [deployments]`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: any failure should abort loudly

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::DeploymentNumber;
use slipway_core::hostname::Hostname;
use slipway_core::image_ref::ReleaseImage;
use slipway_core::names::{ConfigVarName, EnvironmentName, ProjectSlug, WorkspaceSlug};
use slipway_gitops::{
    render_environment, AppEnvironment, AppPath, ArgoSettings, ClusterSettings, ConfigVar, Manifests, Process, Quota,
    RepoWriter, WriterSettings,
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
        deployment: DeploymentNumber::new(build).unwrap(),
        image: ReleaseImage::parse(&format!("registry.example.com/slipway/{workspace}/{project}:{tag}")).unwrap(),
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

    // 2. The same from scratch into an empty repository, as one commit (what a re-render of
    //    every app after a platform setting changed does), through the writer.
    let remote = root.path().join("gitops.git");
    git(root.path(), &["init", "--quiet", "--bare", "--initial-branch=main", remote.to_str().unwrap()]);
    let writer =
        RepoWriter::open(WriterSettings::new(root.path().join("clone"), remote.to_str().unwrap(), argo)).unwrap();
    let started = Instant::now();
    let all: Vec<(AppPath, Manifests)> =
        inputs.iter().map(|app| (AppPath::of(app), render_environment(app, &settings).unwrap())).collect();
    let seeded = writer.commit_apps(&all, "render every app").unwrap();
    let render_and_commit_all = started.elapsed();
    assert!(seeded.created);
    let tracked =
        Command::new("git").arg("-C").arg(&remote).args(["ls-tree", "-r", "--name-only", "main"]).output().unwrap();
    let tracked_files = String::from_utf8_lossy(&tracked.stdout).lines().count();

    // 3. Single deployments into the repository now holding every app.
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
            "render_and_commit_all_ms": millis(render_and_commit_all),
            "files_in_repo": tracked_files,
            "deployments": deployments,
            "deploy_median_ms": pick(0.5),
            "deploy_p90_ms": pick(0.9),
            "deploy_max_ms": pick(1.0),
            "deploy_min_ms": pick(0.0),
        })
    );
}
