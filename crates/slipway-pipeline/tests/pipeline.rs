//! Release retention through the pipeline: real build directories in a data dir of their own and
//! a real store, every scenario on SQLite and on PostgreSQL (`SLIPWAY_TEST_DATABASE_URL`, default
//! the local server; an unreachable one fails, nothing is skipped). The build and the agent do not
//! run: the test writes what a build leaves and reports releases live as the agent would.

// Tests may unwrap (CONVENTIONS.md, rule 5); these helpers are plain async fns.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use slipway_core::api::{Deployment, Workspace};
use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::{DeploymentNumber, DeploymentStatus, Transition};
use slipway_core::hostname::{generated_hostname, Hostname};
use slipway_core::ids::{DeploymentId, EnvironmentId};
use slipway_core::image_tag::CommitSha;
use slipway_core::layout::DataLayout;
use slipway_core::names::{Branch, EnvironmentName, Password, ProjectSlug, Username, WorkspaceSlug};
use slipway_core::retention::ReleaseRetention;
use slipway_core::ErrorCode;
use slipway_pipeline::{LogSweep, Pipeline, PipelineSettings, DEPLOYMENT_LOGS_KEPT};
use slipway_store::{
    hash_password, Actor, NewProject, NewRelease, NewUser, PageRequest, RuntimeEnv, Store, StoreError,
};
use slipway_testkit::{TestBackend, TestDatabase};

slipway_testkit::both_backends!(
    only_the_last_releases_keep_their_build_directories,
    a_restart_removes_what_a_crash_left,
    logs_past_retention_and_of_deleted_environments_are_removed
);

const RETENTION: u32 = 3;

/// A store, a data dir and a pipeline keeping [`RETENTION`] releases, with workspace `acme` and
/// its project `web`; the data dir goes with the value.
struct Setup {
    pipeline: Pipeline,
    layout: DataLayout,
    store: Store,
    workspace: Workspace,
    environment: EnvironmentId,
    /// Outside every build directory: links point here, and it must survive.
    outside: PathBuf,
    // Dropped last: the store's pool closes before its database goes.
    _db: TestDatabase,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.layout.root());
    }
}

fn actor() -> Actor {
    Actor::system("test-retention")
}

async fn setup(backend: TestBackend) -> Setup {
    let db = TestDatabase::create(backend).await;
    let store = db.store().await;
    let owner = store
        .create_user(
            &actor(),
            NewUser {
                username: Username::parse("owner").unwrap(),
                email: None,
                password_hash: hash_password(&Password::parse("password1").unwrap()).unwrap(),
                is_admin: false,
            },
        )
        .await
        .unwrap();
    let slug = WorkspaceSlug::parse("acme").unwrap();
    let workspace = store.create_workspace(&actor(), &owner.id, &slug, "acme").await.unwrap();
    let project = ProjectSlug::parse("web").unwrap();
    let hostname =
        generated_hostname(&project, &EnvironmentName::production(), &slug, &Hostname::parse("localhost").unwrap())
            .unwrap();
    let new = NewProject {
        slug: project,
        repo_url: None,
        branch: Branch::default_branch(),
        generated_hostname: hostname,
        custom_domain: None,
    };
    let environment = store.create_project(&actor(), &workspace, new).await.unwrap().environments[0].id.clone();

    let root = std::env::temp_dir().join(format!("slipway-retention-{}", uuid_like()));
    let outside = root.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("marker"), b"not a tenant's to remove").unwrap();
    let layout = DataLayout::new(&root);
    let config = PipelineSettings {
        release_retention: ReleaseRetention::new(RETENTION).unwrap(),
        ..PipelineSettings::default()
    };
    let pipeline = Pipeline::new(store.clone(), layout.clone(), config);
    Setup { pipeline, layout, store, workspace, environment, outside, _db: db }
}

fn uuid_like() -> String {
    format!("{}-{:?}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap())
        .replace(['.', ' '], "")
}

fn commit(n: u64) -> CommitSha {
    CommitSha::parse(&format!("{n:040x}")).unwrap()
}

fn plan() -> BuildPlan {
    BuildPlan {
        stack: "node".parse().expect("a stack"),
        framework: None,
        package_manager: None,
        runtime_asks: Vec::new(),
        install: None,
        build: None,
        start: Some("node index.js".into()),
        processes: [("web".parse().expect("a process type"), "node index.js".to_owned())].into(),
        health_check_path: None,
        detected_from: vec!["package.json".into()],
    }
}

/// A deployment of commit `n`, building: its directory holds what a hostile build might leave —
/// a link to `/`, a link out of the build, a hard link to a file outside.
async fn built(s: &Setup, n: u64) -> (Deployment, PathBuf) {
    let d = s
        .store
        .create_deployment(
            &actor(),
            &s.workspace.id,
            &ProjectSlug::parse("web").unwrap(),
            &EnvironmentName::production(),
            Some(&commit(n)),
        )
        .await
        .unwrap();
    s.store.transition_deployment(&actor(), &s.workspace.id, &d.id, Transition::StartBuild, None).await.unwrap();
    let app = s.layout.build_dir(&d.id).join("app");
    std::fs::create_dir_all(app.join("node_modules/dep")).unwrap();
    std::fs::write(app.join("index.js"), format!("// v{n}")).unwrap();
    std::fs::write(app.join("node_modules/dep/index.js"), b"module.exports = 1").unwrap();
    std::os::unix::fs::symlink("/", app.join("root")).unwrap();
    std::os::unix::fs::symlink(&s.outside, app.join("outside")).unwrap();
    std::fs::hard_link(s.outside.join("marker"), app.join("marker")).unwrap();
    (d, app)
}

/// Build, release and go live with commit `n` (retention not applied yet).
async fn live(s: &Setup, n: u64) -> DeploymentId {
    let (d, app) = built(s, n).await;
    let new = NewRelease {
        artifact_dir: app.to_string_lossy().into_owned(),
        plan: plan(),
        runtime_env: RuntimeEnv::default(),
        config: Vec::new(),
    };
    let release = s.store.create_release(&actor(), &s.workspace.id, &d.id, new).await.unwrap();
    s.store.release_live(&Actor::agent(), &s.workspace.id, &s.environment, &release, None).await.unwrap();
    d.id
}

/// [`live`], then retention as the pipeline runs it.
async fn release(s: &Setup, n: u64) -> DeploymentId {
    let d = live(s, n).await;
    s.pipeline.prune_releases(&s.workspace.id, &s.environment).await.unwrap();
    d
}

/// The deployment IDs with a build directory on disk.
fn on_disk(layout: &DataLayout) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(layout.builds()) {
        Ok(entries) => entries.map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

fn ids(ids: &[&DeploymentId]) -> Vec<String> {
    let mut names: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    names.sort();
    names
}

/// `(number, rollback_available)` of every release, newest first.
async fn availability(s: &Setup) -> Vec<(u64, bool)> {
    let page = PageRequest { after: None, limit: 50 };
    let releases = s
        .store
        .list_releases(&s.workspace.id, &ProjectSlug::parse("web").unwrap(), &EnvironmentName::production(), &page)
        .await
        .unwrap()
        .items;
    releases.iter().map(|r| (r.number.get(), r.rollback_available)).collect()
}

fn number(n: u64) -> DeploymentNumber {
    DeploymentNumber::new(n).unwrap()
}

fn outside_intact(s: &Setup) {
    let marker = s.outside.join("marker");
    assert_eq!(std::fs::read(&marker).unwrap(), b"not a tenant's to remove", "a link's target was touched");
    assert!(Path::new("/etc/hostname").exists() || Path::new("/etc/passwd").exists(), "/ is still there");
}

async fn only_the_last_releases_keep_their_build_directories(backend: TestBackend) {
    let s = setup(backend).await;

    // #1 fails to build: its directory stays until it is older than the kept releases.
    let (failed, _) = built(&s, 1).await;
    s.store
        .transition_deployment(&actor(), &s.workspace.id, &failed.id, Transition::Fail, Some("npm ci failed"))
        .await
        .unwrap();
    // N + 2 releases: #2 to #6.
    let mut releases = Vec::new();
    for n in 2..=6 {
        releases.push(release(&s, n).await);
        // The failed #1 counts until three releases exist; then it is older than all of them.
        let expected = n.min(u64::from(RETENTION)) as usize;
        assert_eq!(on_disk(&s.layout).len(), expected, "after release #{n}: {:?}", on_disk(&s.layout));
        assert_eq!(s.layout.build_dir(&failed.id).exists(), n < 4, "the failed build after release #{n}");
    }
    let [_, _, d4, d5, d6] = &releases[..] else { panic!("five releases") };
    assert_eq!(on_disk(&s.layout), ids(&[d4, d5, d6]), "only the last three, the active #6 among them");
    outside_intact(&s);
    assert_eq!(
        std::fs::metadata(s.outside.join("marker")).unwrap().nlink(),
        4,
        "three kept builds link it, and itself"
    );
    assert_eq!(availability(&s).await, [(6, true), (5, true), (4, true), (3, false), (2, false)]);

    // A rollback to a pruned release is refused, and changes nothing.
    let page = PageRequest { after: None, limit: 50 };
    let deployments = s
        .store
        .list_deployments(&s.workspace.id, &ProjectSlug::parse("web").unwrap(), &EnvironmentName::production(), &page)
        .await
        .unwrap()
        .items
        .len();
    let refused = s
        .store
        .rollback(
            &actor(),
            &s.workspace.id,
            &ProjectSlug::parse("web").unwrap(),
            &EnvironmentName::production(),
            Some(number(3)),
        )
        .await;
    match refused {
        Err(StoreError::Conflict { code: ErrorCode::ReleasePruned, message }) => {
            assert!(message.contains("release #3") && message.contains("last 3 releases"), "{message}");
            assert!(message.contains(commit(3).as_str()), "{message}");
        }
        other => panic!("expected RELEASE_PRUNED, got {other:?}"),
    }
    let after = s
        .store
        .list_deployments(&s.workspace.id, &ProjectSlug::parse("web").unwrap(), &EnvironmentName::production(), &page)
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(after, deployments);
    assert_eq!(on_disk(&s.layout), ids(&[d4, d5, d6]));
    let state = s.store.desired_state().await.unwrap();
    assert_eq!(state[0].desired.as_ref().map(|d| d.number), Some(number(6)));

    // A kept one still rolls back, to its own directory, and keeps it while it serves.
    let back = s
        .store
        .rollback(
            &actor(),
            &s.workspace.id,
            &ProjectSlug::parse("web").unwrap(),
            &EnvironmentName::production(),
            Some(number(4)),
        )
        .await
        .unwrap();
    assert_eq!(back.status, DeploymentStatus::Deploying);
    let spec = s.store.desired_state().await.unwrap().remove(0).desired.unwrap();
    assert_eq!(Path::new(&spec.artifact_dir), s.layout.build_dir(d4).join("app"));
    s.store.release_live(&Actor::agent(), &s.workspace.id, &s.environment, &spec.id, None).await.unwrap();
    release(&s, 8).await;
    release(&s, 9).await;
    // Newest: #9, #8 and #7 (the rollback, whose artifact is #4's): #5 and #6 go.
    let d8_d9: Vec<String> = on_disk(&s.layout).into_iter().filter(|id| id != &d4.to_string()).collect();
    assert_eq!(d8_d9.len(), 2, "{:?}", on_disk(&s.layout));
    assert!(on_disk(&s.layout).contains(&d4.to_string()), "#7 reuses #4's directory");
    assert_eq!(
        availability(&s).await,
        [(9, true), (8, true), (7, true), (6, false), (5, false), (4, true), (3, false), (2, false)]
    );
    outside_intact(&s);
}

async fn a_restart_removes_what_a_crash_left(backend: TestBackend) {
    let s = setup(backend).await;
    let mut releases = Vec::new();
    for n in 1..=3 {
        releases.push(release(&s, n).await);
    }
    // A control plane that recorded retention and stopped before removing anything.
    let d4 = live(&s, 4).await;
    let retention = ReleaseRetention::new(RETENTION).unwrap();
    let recorded = s.store.prune_artifacts(&actor(), &s.workspace.id, &s.environment, retention).await.unwrap();
    assert_eq!(recorded.iter().map(|b| &b.deployment_id).collect::<Vec<_>>(), [&releases[0]]);
    assert_eq!(on_disk(&s.layout).len(), 4, "recorded, not yet removed");
    // Something in builds/ that is not a deployment's is left alone.
    std::fs::create_dir_all(s.layout.builds().join("lost+found")).unwrap();

    s.pipeline.sweep_pruned_builds().await;
    let mut expected = ids(&[&releases[1], &releases[2], &d4]);
    expected.push("lost+found".to_owned());
    expected.sort();
    assert_eq!(on_disk(&s.layout), expected);
    outside_intact(&s);
}

/// The deployment logs beyond the newest [`DEPLOYMENT_LOGS_KEPT`] of an environment go; when
/// its project is deleted, all of its logs go (deployment, runtime and access logs, rotated
/// files too). Files whose names are not a deployment or environment ID stay.
async fn logs_past_retention_and_of_deleted_environments_are_removed(backend: TestBackend) {
    let s = setup(backend).await;
    let web = ProjectSlug::parse("web").unwrap();
    let mut deployments = Vec::new();
    for n in 0..u64::from(DEPLOYMENT_LOGS_KEPT) + 2 {
        let d = s
            .store
            .create_deployment(&actor(), &s.workspace.id, &web, &EnvironmentName::production(), Some(&commit(n)))
            .await
            .unwrap();
        deployments.push(d.id);
    }
    std::fs::create_dir_all(s.layout.deployment_logs()).unwrap();
    std::fs::create_dir_all(s.layout.app_logs()).unwrap();
    std::fs::create_dir_all(s.layout.access_logs()).unwrap();
    for id in &deployments {
        std::fs::write(s.layout.deployment_log(id), b"build output\n").unwrap();
    }
    let app_log = s.layout.app_log(&s.environment);
    let access_log = s.layout.access_log(&s.environment);
    let environment_files = [
        app_log.clone(),
        slipway_logs::rotated_nth(&app_log, 1),
        access_log.clone(),
        slipway_logs::rotated_nth(&access_log, 3),
    ];
    let not_ours = [
        s.layout.deployment_logs().join("notes.txt"),
        s.layout.deployment_logs().join("dep_not-an-id.log"),
        s.layout.access_logs().join("_unrouted.log"),
        s.layout.app_logs().join(format!("{}.log.old", s.environment)),
    ];
    for file in environment_files.iter().chain(&not_ours) {
        std::fs::write(file, b"a line\n").unwrap();
    }
    // A well-formed ID of no deployment: its log goes too.
    let stranger = s.layout.deployment_log(&DeploymentId::generate());
    std::fs::write(&stranger, b"?\n").unwrap();

    let sweep = s.pipeline.sweep_logs().await;
    assert_eq!(sweep, LogSweep { deployment_logs: 3, environment_logs: 0 });
    let (oldest, newest) = deployments.split_at(2);
    assert!(oldest.iter().all(|id| !s.layout.deployment_log(id).exists()), "the oldest two logs stay");
    assert!(newest.iter().all(|id| s.layout.deployment_log(id).exists()), "a log within retention went");
    assert!(!stranger.exists());
    assert!(environment_files.iter().all(|file| file.exists()), "a live environment's logs went");
    assert_eq!(s.pipeline.sweep_logs().await, LogSweep::default(), "a second sweep finds nothing");

    s.store.delete_project(&actor(), &s.workspace.id, &web).await.unwrap();
    let sweep = s.pipeline.sweep_logs().await;
    assert_eq!(sweep, LogSweep { deployment_logs: newest.len(), environment_logs: environment_files.len() });
    assert!(environment_files.iter().all(|file| !file.exists()), "a deleted environment's logs stay");
    assert!(newest.iter().all(|id| !s.layout.deployment_log(id).exists()));
    assert!(not_ours.iter().all(|file| file.exists()), "a file that is not a log of ours was removed");
}
