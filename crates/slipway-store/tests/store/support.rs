//! Fixtures and assertions shared by the scenarios.

use std::collections::BTreeMap;
use std::fmt::Debug;

use slipway_core::api::{Deployment, Project, User, Workspace};
use slipway_core::build_plan::BuildPlan;
use slipway_core::deployment::{DeploymentNumber, DeploymentStatus, Transition};
use slipway_core::hostname::{generated_hostname, CustomDomain, Hostname};
use slipway_core::ids::{DeploymentId, ReleaseId, WorkspaceId};
use slipway_core::image_tag::CommitSha;
use slipway_core::names::{Branch, ConfigVarName, EnvironmentName, Password, ProjectSlug, Username, WorkspaceSlug};
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use slipway_store::{
    hash_password, Actor, ClaimedJob, ConfigValue, IdempotencyKey, Job, JobKind, NewProject, NewRelease, NewUser,
    PageRequest, RuntimeEnv, Store, StoreError,
};
use slipway_testkit::{TestBackend, TestDatabase};
use sqlx::{Any, Row, Transaction};

/// The platform domain the tests generate hostnames under.
pub const PLATFORM_DOMAIN: &str = "localhost";

/// A fresh database, a store on it, and a first user who acts in the tests.
pub struct Fixture {
    // Fields drop in order: the store's pool closes before its database goes.
    pub store: Store,
    pub db: TestDatabase,
    pub backend: TestBackend,
    /// A plain (non-admin) user.
    pub owner: User,
    /// `owner`, as the audit log names them.
    pub actor: Actor,
}

impl Fixture {
    pub async fn new(backend: TestBackend) -> Self {
        let db = TestDatabase::create(backend).await;
        let store = db.store().await;
        let owner = create_user(&store, "owner", false).await;
        let actor = actor_for(&owner);
        Self { store, db, backend, owner, actor }
    }

    pub async fn user(&self, username: &str) -> User {
        create_user(&self.store, username, false).await
    }

    pub async fn admin(&self, username: &str) -> User {
        create_user(&self.store, username, true).await
    }

    /// A workspace owned by `self.owner`.
    pub async fn workspace(&self, slug: &str) -> Workspace {
        self.workspace_of(&self.owner, slug).await
    }

    pub async fn workspace_of(&self, owner: &User, slug: &str) -> Workspace {
        self.store.create_workspace(&actor_for(owner), &owner.id, &ws_slug(slug), slug).await.unwrap()
    }

    /// A project with its generated hostname and nothing else.
    pub async fn project(&self, workspace: &Workspace, slug: &str) -> Project {
        self.store.create_project(&self.actor, workspace, new_project(workspace, slug)).await.unwrap()
    }

    /// A transaction on the raw pool that sees every tenant's rows (on
    /// PostgreSQL the platform setting is on, as the store's own platform
    /// scope does), for looking under the API.
    pub async fn raw_platform(&self) -> Transaction<'static, Any> {
        let mut tx = self.db.pool().await.begin().await.unwrap();
        if self.backend == TestBackend::Postgres {
            sqlx::query("SELECT set_config('slipway.platform', 'on', true)").execute(&mut *tx).await.unwrap();
        }
        tx
    }

    /// Every audit row on the platform, oldest first.
    pub async fn audit_rows(&self) -> Vec<AuditRow> {
        let mut tx = self.raw_platform().await;
        let rows = sqlx::query(
            "SELECT id, workspace_id, actor_id, actor, action, target, request_id
             FROM audit_events ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        rows.iter()
            .map(|row| AuditRow {
                id: row.get("id"),
                workspace_id: row.get("workspace_id"),
                actor_id: row.get("actor_id"),
                actor: row.get("actor"),
                action: row.get("action"),
                target: row.get("target"),
                request_id: row.get("request_id"),
            })
            .collect()
    }

    /// The audit rows written since `before` was taken.
    pub async fn audit_rows_since(&self, before: &[AuditRow]) -> Vec<AuditRow> {
        self.audit_rows().await.into_iter().filter(|row| before.iter().all(|old| old.id != row.id)).collect()
    }
}

/// One row of `audit_events`, read with raw SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub id: String,
    pub workspace_id: Option<String>,
    pub actor_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub request_id: String,
}

pub async fn create_user(store: &Store, username: &str, is_admin: bool) -> User {
    // Hashing is slow by design; every test user shares one hash.
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = HASH.get_or_init(|| hash_password(&Password::parse("password1").unwrap()).unwrap());
    store
        .create_user(
            &Actor::system("test-setup"),
            NewUser {
                username: Username::parse(username).unwrap(),
                email: None,
                password_hash: hash.clone(),
                is_admin,
            },
        )
        .await
        .unwrap()
}

pub fn actor_for(user: &User) -> Actor {
    Actor {
        user_id: Some(user.id.clone()),
        username: user.username.to_string(),
        request_id: format!("req-{}", user.username),
    }
}

pub fn ws_slug(slug: &str) -> WorkspaceSlug {
    WorkspaceSlug::parse(slug).unwrap()
}

/// An environment's config vars in clear, as a release snapshots them.
pub async fn config_in_clear(
    store: &Store,
    workspace: &WorkspaceId,
    project: &str,
    environment: &str,
) -> Result<Vec<(ConfigVarName, String)>, StoreError> {
    let snapshot = store.config_snapshot(workspace, &project_slug(project), &env_name(environment)).await?;
    Ok(snapshot.into_iter().map(|var| (ConfigVarName::parse(&var.name).unwrap(), var.value)).collect())
}

pub fn env_name(name: &str) -> EnvironmentName {
    EnvironmentName::parse(name).unwrap()
}

pub fn project_slug(slug: &str) -> ProjectSlug {
    ProjectSlug::parse(slug).unwrap()
}

pub fn platform_domain() -> Hostname {
    Hostname::parse(PLATFORM_DOMAIN).unwrap()
}

/// The generated hostname of a project's environment.
pub fn generated(workspace: &str, project: &str, environment: &str) -> Hostname {
    generated_hostname(
        &ProjectSlug::parse(project).unwrap(),
        &env_name(environment),
        &ws_slug(workspace),
        &platform_domain(),
    )
    .unwrap()
}

pub fn custom_domain(domain: &str) -> CustomDomain {
    CustomDomain::parse(domain, &platform_domain()).unwrap()
}

pub fn new_project(workspace: &Workspace, slug: &str) -> NewProject {
    NewProject {
        slug: ProjectSlug::parse(slug).unwrap(),
        repo_url: None,
        branch: Branch::default_branch(),
        generated_hostname: generated(workspace.slug.as_str(), slug, "production"),
        custom_domain: None,
    }
}

pub fn page(limit: u32, after: Option<String>) -> PageRequest {
    PageRequest { after, limit }
}

/// The code of the conflict `result` must be.
#[track_caller]
pub fn conflict<T: Debug>(result: Result<T, StoreError>) -> ErrorCode {
    match result {
        Err(StoreError::Conflict { code, .. }) => code,
        other => panic!("expected StoreError::Conflict, got {other:?}"),
    }
}

/// The code of the "not found" `result` must be.
#[track_caller]
pub fn not_found<T: Debug>(result: Result<T, StoreError>) -> ErrorCode {
    match result {
        Err(StoreError::NotFound { code, .. }) => code,
        other => panic!("expected StoreError::NotFound, got {other:?}"),
    }
}

// --- The deploy pipeline: deployments, builds and releases of project `web`. ---

pub const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const SHA_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

pub fn sha(text: &str) -> CommitSha {
    CommitSha::parse(text).unwrap()
}

/// An Idempotency-Key sent with a request for `requested` (`None`: the branch head).
pub fn key<'a>(key: &'a str, requested: Option<&'a CommitSha>) -> Option<IdempotencyKey<'a>> {
    Some(IdempotencyKey { key, requested_commit: requested })
}

pub fn pipeline() -> Actor {
    Actor::system("pipeline")
}

pub fn plan(start: &str) -> BuildPlan {
    BuildPlan {
        stack: "node".parse().expect("a stack"),
        framework: None,
        package_manager: Some("npm".into()),
        runtime_asks: Vec::new(),
        install: Some("npm ci".into()),
        build: None,
        start: Some(start.into()),
        processes: BTreeMap::from([("web".parse().expect("a process type"), start.to_owned())]),
        health_check_path: Some("/health".into()),
        detected_from: vec!["package.json".into()],
    }
}

pub fn runtime_env(tag: &str) -> RuntimeEnv {
    RuntimeEnv {
        path_prepend: vec![format!("/opt/{tag}/bin")],
        env: vec![("BUILD_TAG".into(), tag.into())],
        runtime_dir: Some(format!("/runtimes/node/{tag}")),
        ..RuntimeEnv::default()
    }
}

/// A release as the pipeline would record it: artifact `/artifacts/<tag>`.
pub fn new_release(tag: &str, config: Vec<ConfigValue>) -> NewRelease {
    NewRelease {
        artifact_dir: format!("/artifacts/{tag}"),
        plan: plan(&format!("node {tag}.js")),
        runtime_env: runtime_env(tag),
        config,
    }
}

pub async fn queue(f: &Fixture, ws: &Workspace, env: &str, commit: Option<&str>) -> Deployment {
    let commit = commit.map(sha);
    let (deployment, created) = f
        .store
        .queue_deployment(&f.actor, &ws.id, &project_slug("web"), &env_name(env), commit.as_ref(), None)
        .await
        .unwrap();
    assert!(created);
    deployment
}

/// Queues a deployment of `web`'s production, builds it and records its
/// release (with the environment's config snapshot at that moment).
pub async fn released(f: &Fixture, ws: &Workspace, commit: &str, tag: &str) -> (Deployment, ReleaseId) {
    let d = queue(f, ws, "production", Some(commit)).await;
    f.store.transition_deployment(&pipeline(), &ws.id, &d.id, Transition::StartBuild, None).await.unwrap();
    let config = f.store.config_snapshot(&ws.id, &project_slug("web"), &env_name("production")).await.unwrap();
    let release = f.store.create_release(&pipeline(), &ws.id, &d.id, new_release(tag, config)).await.unwrap();
    (d, release)
}

pub async fn status(f: &Fixture, ws: &Workspace, d: &Deployment) -> (DeploymentStatus, Option<String>) {
    let stored = f.store.deployment(&ws.id, &project_slug("web"), &env_name("production"), d.number).await.unwrap();
    (stored.status, stored.failure_reason)
}

/// Every claimable `deploy` job right now, claimed by one worker.
pub async fn claim_all_deploy_jobs(f: &Fixture) -> Vec<ClaimedJob> {
    let mut jobs = Vec::new();
    while let Some(job) = f.store.claim_job("test-worker", &[JobKind::Deploy], 60, Timestamp::now()).await.unwrap() {
        jobs.push(job);
    }
    jobs
}

/// The deployment a `deploy` job builds.
pub fn deployment_of(job: &Job) -> DeploymentId {
    match job {
        Job::Deploy { deployment, .. } => deployment.clone(),
        other => panic!("not a deploy job: {other:?}"),
    }
}

pub fn number(n: u64) -> DeploymentNumber {
    DeploymentNumber::new(n).unwrap()
}
