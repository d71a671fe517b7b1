//! The agent against a real store and real processes: a release goes live
//! only once healthy, a release that cannot start fails with a reason while
//! the old one keeps serving, crashed instances restart with a visible
//! count, and stopping escalates from SIGTERM to SIGKILL.

#![allow(clippy::unwrap_used)] // the fixture's helpers are not #[test] functions

use std::collections::BTreeMap;
use std::time::Duration;

use slipway_agent::{Agent, AgentSettings};
use slipway_core::api::{Deployment, Instance};
use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::{DeploymentStatus, Transition};
use slipway_core::hostname::Hostname;
use slipway_core::layout::DataLayout;
use slipway_core::names::{Branch, EnvironmentName, Password, ProjectSlug, Username, WorkspaceSlug};
use slipway_router::RouteTable;
use slipway_store::{hash_password, Actor, NewProject, NewRelease, NewUser, RuntimeEnv, Store};
use slipway_testkit::{eventually, TestBackend, TestDatabase};

struct Fixture {
    _db: TestDatabase,
    store: Store,
    dir: tempfile::TempDir,
    workspace: slipway_core::api::Workspace,
}

fn actor() -> Actor {
    Actor::system("test")
}

impl Fixture {
    async fn new() -> Self {
        let db = TestDatabase::create(TestBackend::Sqlite).await;
        let store = db.store().await;
        let hash = hash_password(&Password::parse("password1").unwrap()).unwrap();
        let user = store
            .create_user(
                &actor(),
                NewUser { username: Username::parse("u").unwrap(), email: None, password_hash: hash, is_admin: false },
            )
            .await
            .unwrap();
        let workspace =
            store.create_workspace(&actor(), &user.id, &WorkspaceSlug::parse("acme").unwrap(), "acme").await.unwrap();
        let project = NewProject {
            slug: ProjectSlug::parse("web").unwrap(),
            repo_url: None,
            branch: Branch::default_branch(),
            generated_hostname: Hostname::parse("web-acme.localhost").unwrap(),
            custom_domain: None,
        };
        store.create_project(&actor(), &workspace, project).await.unwrap();
        Self { _db: db, store, dir: tempfile::tempdir().unwrap(), workspace }
    }

    /// A built release whose processes are the given shell commands.
    async fn release(&self, processes: &[(&str, &str)]) -> Deployment {
        let deployment = self
            .store
            .create_deployment(
                &actor(),
                &self.workspace.id,
                &ProjectSlug::parse("web").unwrap(),
                &EnvironmentName::production(),
                None,
            )
            .await
            .unwrap();
        self.store
            .transition_deployment(&actor(), &self.workspace.id, &deployment.id, Transition::StartBuild, None)
            .await
            .unwrap();
        let app = self.dir.path().join(deployment.id.as_str());
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("index.html"), format!("release {}", deployment.number)).unwrap();
        let plan = BuildPlan {
            stack: "procfile".parse().expect("a stack"),
            framework: None,
            package_manager: None,
            runtime_asks: Vec::new(),
            install: None,
            build: None,
            start: None,
            processes: processes
                .iter()
                .map(|(k, v)| (k.parse().expect("a process type"), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            health_check_path: None,
            detected_from: vec![],
        };
        let release = NewRelease {
            artifact_dir: app.to_string_lossy().into_owned(),
            plan,
            runtime_env: RuntimeEnv::default(),
            config: vec![],
        };
        self.store.create_release(&actor(), &self.workspace.id, &deployment.id, release).await.unwrap();
        deployment
    }

    async fn status(&self, deployment: &Deployment) -> Deployment {
        self.store
            .deployment(
                &self.workspace.id,
                &ProjectSlug::parse("web").unwrap(),
                &EnvironmentName::production(),
                deployment.number,
            )
            .await
            .unwrap()
    }

    /// Waits (bounded) until the deployment leaves DEPLOYING.
    async fn settled(&self, deployment: &Deployment) -> Deployment {
        let what = format!("deployment #{} to leave DEPLOYING", deployment.number);
        eventually(&what, Duration::from_secs(30), async || {
            let now = self.status(deployment).await;
            (now.status != DeploymentStatus::Deploying).then_some(now)
        })
        .await
    }

    async fn instances(&self) -> Vec<Instance> {
        self.store
            .list_instances(&self.workspace.id, &ProjectSlug::parse("web").unwrap(), &EnvironmentName::production())
            .await
            .unwrap()
    }

    fn start_agent(&self) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let config = AgentSettings {
            health_timeout: Duration::from_secs(15),
            stop_grace: Duration::from_millis(500),
            drain_timeout: Duration::from_secs(2),
            poll: Duration::from_millis(50),
            ..AgentSettings::default()
        };
        let agent = Agent::new(
            self.store.clone(),
            DataLayout::new(self.dir.path().join("data")),
            RouteTable::default(),
            config,
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            agent
                .run(async move {
                    let _ = stopped.await;
                })
                .await
        });
        (stop, task)
    }
}

const SERVER: &str = "python3 -m http.server $PORT --bind 127.0.0.1";

async fn get(port: u16) -> Option<String> {
    let response = reqwest::get(format!("http://127.0.0.1:{port}/index.html")).await.ok()?;
    response.status().is_success().then_some(())?;
    response.text().await.ok()
}

/// The port of the web instance of `release`, once the agent reported it.
async fn web_port(fixture: &Fixture, release: u64) -> u16 {
    let what = format!("the agent to report a web instance of release #{release}");
    eventually(&what, Duration::from_secs(10), async || {
        fixture.instances().await.iter().find(|i| i.process == "web" && i.release.get() == release).and_then(|i| i.port)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn releases_go_live_when_healthy_and_a_broken_one_leaves_the_old_serving() {
    let f = Fixture::new().await;
    let (stop, agent) = f.start_agent();

    let first = f.release(&[("web", SERVER)]).await;
    assert_eq!(f.settled(&first).await.status, DeploymentStatus::Deployed);
    let port = web_port(&f, 1).await;
    assert_eq!(get(port).await.as_deref(), Some("release 1"));

    let broken = f.release(&[("web", "echo 'about to fail'; exit 3")]).await;
    let failed = f.settled(&broken).await;
    assert_eq!(failed.status, DeploymentStatus::Failed);
    let reason = failed.failure_reason.unwrap_or_default();
    assert!(reason.contains("exited") && reason.contains("before it became healthy"), "{reason}");
    assert_eq!(get(port).await.as_deref(), Some("release 1"), "the old release keeps serving");
    assert_eq!(f.status(&first).await.status, DeploymentStatus::Deployed);

    let second = f.release(&[("web", SERVER)]).await;
    assert_eq!(f.settled(&second).await.status, DeploymentStatus::Deployed);
    let new_port = web_port(&f, second.number.get()).await;
    assert_eq!(get(new_port).await.as_deref(), Some(format!("release {}", second.number)).as_deref());
    assert_eq!(f.status(&first).await.status, DeploymentStatus::Superseded);
    // The old generation is stopped once drained.
    eventually("the superseded instance to stop", Duration::from_secs(10), async || {
        get(port).await.is_none().then_some(())
    })
    .await;

    let _ = stop.send(());
    agent.await.unwrap();
    assert_eq!(get(new_port).await, None, "stopping the agent stops its instances");
}

#[tokio::test(flavor = "multi_thread")]
async fn crashing_workers_restart_with_a_visible_count_and_stubborn_ones_are_killed() {
    let f = Fixture::new().await;
    let pid_file = f.dir.path().join("stubborn.pid");
    let stubborn = format!("echo $$ > {}; trap '' TERM; while true; do sleep 0.1; done", pid_file.display());
    let (stop, agent) = f.start_agent();
    let release = f.release(&[("web", SERVER), ("crasher", "exit 1"), ("stubborn", &stubborn)]).await;
    assert_eq!(f.settled(&release).await.status, DeploymentStatus::Deployed);

    eventually("the crashing worker to be restarted twice, with backoff", Duration::from_secs(20), async || {
        let restarts = f.instances().await.iter().find(|i| i.process == "crasher").map_or(0, |i| i.restarts);
        (restarts >= 2).then_some(())
    })
    .await;

    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let _ = stop.send(());
    agent.await.unwrap();
    // SIGTERM is ignored; after the grace period SIGKILL ends it.
    eventually("the instance that ignores SIGTERM to be killed", Duration::from_secs(5), async || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| stat.contains(") Z ")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_that_accepts_connections_but_speaks_no_http_passes_on_tcp() {
    let f = Fixture::new().await;
    let (stop, agent) = f.start_agent();
    let tcp_only = "python3 -c \"import os, socket; s = socket.socket(); \
                    s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen(); \
                    [c.close() for c, _ in iter(s.accept, None)]\"";
    let release = f.release(&[("web", tcp_only)]).await;
    let settled = f.settled(&release).await;
    assert_eq!(settled.status, DeploymentStatus::Deployed, "{:?}", settled.failure_reason);
    let _ = stop.send(());
    agent.await.unwrap();
}
