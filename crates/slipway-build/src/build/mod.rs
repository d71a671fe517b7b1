//! Building: a [`BuildPlan`] run in an app directory.
//!
//! Order of a build: wait for a slot (the concurrency limit) → take the
//! project's cache lock → log the plan (and that a Dockerfile, if any, is not
//! used) and the platform's network settings → prepare the stack (tools present?
//! cached dependencies? cache environment) → install (unless the cache hit)
//! → store the dependencies in the cache → build. Every command runs through
//! `command.rs`; the timeout covers the whole build after the slot is taken
//! (the project's setting, 15 minutes by default), and a command that prints
//! nothing for a minute gets a "still running" line.

mod cache;
mod command;
mod env;
mod java;
mod log;
mod network;
mod node;
mod php;
mod python;
mod ruby;
mod runtime;

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use slipway_core::build_plan::BuildPlan;
use slipway_core::runtime::RuntimeVersion;
use slipway_core::stack::Stack;
use tokio::sync::{mpsc::Sender, Semaphore};
use tokio::time::Instant;

use self::command::{describe_status, shell, Deadline, Jail, RunAs};
use self::env::BuildEnv;
use self::log::BuildLog;

pub use self::network::BuildNetwork;

/// One build to run.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The source, already checked out here. The build runs in place and the
    /// directory becomes the release artifact.
    pub app_dir: PathBuf,
    /// The project's persistent cache directory (created when missing).
    pub cache_dir: PathBuf,
    /// Config vars, set for the build commands (`PORT` excepted).
    pub env: Vec<(String, String)>,
    /// Limit for the whole build, from the moment it gets a slot.
    pub timeout: Duration,
    /// Log lines past this many bytes are dropped (one notice says so).
    pub max_log_bytes: u64,
    /// Whom the build's commands run as, and their limits.
    pub sandbox: BuildSandbox,
}

/// How a build's commands are sandboxed: the environment's uid and the
/// build's limits (they may write the app and its cache, nothing else).
#[derive(Clone)]
pub struct BuildSandbox {
    pub sandbox: slipway_sandbox::Sandbox,
    pub uid: slipway_core::resources::SandboxUid,
    pub resources: slipway_core::resources::Resources,
    /// The largest single file a build command may write.
    pub max_file_size: u64,
    /// Names the build's cgroups (the deployment ID).
    pub name: String,
}

impl std::fmt::Debug for BuildSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BuildSandbox(uid {}, {}, enforced: {})", self.uid, self.resources, self.sandbox.is_enforced())
    }
}

/// A built app and what its processes need at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltApp {
    pub app_dir: PathBuf,
    /// Directories to put first on PATH, in order (the venv's bin, node_modules/.bin).
    pub path_prepend: Vec<PathBuf>,
    /// Runtime environment the build decided (e.g. `VIRTUAL_ENV`). Config vars are not repeated here.
    pub env: Vec<(String, String)>,
    /// The runtime version it was built with, where the app asked for one.
    pub runtime: Option<RuntimeVersion>,
    /// That runtime's directory in the runtimes store, when its processes need it (read-only).
    pub runtime_dir: Option<PathBuf>,
}

/// The step of a build a command belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Install,
    Build,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Install => "install",
            Step::Build => "build",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The build ran past [`BuildRequest::timeout`]; the running command's whole process group was killed.
    #[error(
        "the build did not finish within its time limit of {} (it was in the {step} step) and was stopped; a \
         project may allow up to 2 hours: `slipway apps:update -a <app> --build-timeout 30m`",
        describe_limit(.limit)
    )]
    Timeout { step: Step, limit: Duration },
    /// A command exited unsuccessfully; its output is in the build log.
    #[error("`{command}` failed with {}; see the lines above", describe_status(.exit_status))]
    CommandFailed { step: Step, command: String, exit_status: ExitStatus },
    /// A command used more memory than the build may; the kernel killed it.
    #[error("the {step} step ran out of memory (limit {limit}) and was killed")]
    OutOfMemory { step: Step, limit: slipway_core::resources::Memory },
    /// The programs that serve the app are not installed on this machine.
    #[error(
        "this {stack} app is served by php-fpm behind nginx, and this machine has no {missing}: install them \
         (Debian: apt-get install php-fpm nginx), or say how to start it in slipway.toml"
    )]
    ServerMissing { stack: Stack, missing: String },
    /// A tool the stack needs is not installed on the build machine.
    #[error("{tool} is not installed on this machine, and this {stack} app needs it to build; {}", what_to_install(.tool))]
    ToolMissing { tool: String, stack: Stack },
    /// The app's build file compiles for a Java newer than the machine's JDK, whose javac cannot.
    #[error(
        "{asked_by} asks for Java {asked}, and this machine's JDK is {host}: its javac cannot compile for a newer \
         Java. Install a JDK {asked} or newer on the build machine (its java and javac first on the PATH), or build \
         for Java {host}; Slipway does not install JDKs"
    )]
    JavaTooOld { asked_by: String, asked: u32, host: String },
    /// The build succeeded but did not make what the app's processes run (a jar).
    #[error("the build finished, but {0}")]
    Artifact(String),
    /// The runtime version the app asks for could not be had; nothing was installed.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// The build machine itself failed (a directory could not be written, a process could not start).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// Runs builds, at most `max_concurrent` at a time; the others wait in turn.
#[derive(Debug)]
pub struct Builder {
    slots: Arc<Semaphore>,
    max_concurrent: usize,
    network: BuildNetwork,
    /// Where runtimes in the versions apps ask for come from; without it the build machine's own build.
    runtimes: Option<Arc<crate::runtime::Runtimes>>,
    /// A command silent for this long gets a "still running" line in the log.
    progress_every: Duration,
}

/// How often a silent build step says it is still running: about once a minute.
const PROGRESS_EVERY: Duration = Duration::from_secs(60);

/// What a stack's preparation decided about the install step.
pub(crate) struct Prepared {
    skip_install: bool,
    after: AfterInstall,
}

impl Prepared {
    fn run_install() -> Self {
        Self { skip_install: false, after: AfterInstall::Nothing }
    }
}

pub(crate) enum AfterInstall {
    Nothing,
    StoreNodeModules { entry: PathBuf },
    StoreVendorBundle { entry: PathBuf },
    StoreVendor { entry: PathBuf },
    MarkVenvComplete { venv: PathBuf },
}

/// What every stage of one build reads.
pub(crate) struct Context<'a> {
    plan: &'a BuildPlan,
    request: &'a BuildRequest,
    /// The platform's network settings (the Maven and Composer mirrors are read from here).
    network: &'a BuildNetwork,
    log: &'a BuildLog,
    deadline: Deadline,
    /// The runtime the app asked for, once provided.
    runtime: Option<crate::runtime::Provided>,
}

impl Context<'_> {
    fn jail(&self) -> Jail<'_> {
        Jail { request: self.request, runtime: self.runtime.as_ref().and_then(|p| p.dir.as_deref()) }
    }

    fn commands(&self) -> impl Iterator<Item = &str> {
        self.plan.install.as_deref().into_iter().chain(self.plan.build.as_deref())
    }
}

impl Builder {
    /// A builder whose builds get the proxy and CA settings of Slipway's own
    /// environment, read now, once ([`BuildNetwork::from_env`]).
    pub fn new(max_concurrent: usize) -> Self {
        let max_concurrent = max_concurrent.max(1);
        let network = BuildNetwork::from_env();
        Self {
            slots: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            network,
            runtimes: None,
            progress_every: PROGRESS_EVERY,
        }
    }

    /// Apps that ask for a runtime version get it from `runtimes` (see [`crate::runtime`]).
    pub fn with_runtimes(mut self, runtimes: crate::runtime::Runtimes) -> Self {
        self.runtimes = Some(Arc::new(runtimes));
        self
    }

    /// Removes the installed runtimes that no directory of `in_use` names and no build used within
    /// `keep` (see `runtime/sweep.rs`); returns them.
    pub async fn sweep_runtimes(
        &self,
        in_use: &std::collections::HashSet<PathBuf>,
        keep: Duration,
    ) -> Vec<RuntimeVersion> {
        match &self.runtimes {
            Some(runtimes) => runtimes.sweep(in_use, keep).await,
            None => Vec::new(),
        }
    }

    /// A silent build command gets a "still running" line after `every` without output (a
    /// minute by default).
    pub fn with_progress_every(mut self, every: Duration) -> Self {
        self.progress_every = every.max(Duration::from_millis(10));
        self
    }

    /// Builds get these network settings instead of those of Slipway's environment.
    pub fn with_network(mut self, network: BuildNetwork) -> Self {
        self.network = network;
        self
    }

    /// Installs and builds `plan` in `request.app_dir`, streaming the log to `log`.
    pub async fn build(
        &self,
        plan: &BuildPlan,
        request: BuildRequest,
        log: Sender<String>,
    ) -> Result<BuiltApp, BuildError> {
        let log = BuildLog::new(log, request.max_log_bytes, self.progress_every);
        let _slot = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                let running = self.max_concurrent - self.slots.available_permits();
                log.line(format!("waiting for a build slot ({running} running)")).await;
                self.slots.clone().acquire_owned().await.map_err(|_| BuildError::Io {
                    context: "the builder is shutting down".to_owned(),
                    source: std::io::Error::other("build slots closed"),
                })?
            }
        };
        let _cache = cache::lock(&request.cache_dir, &log).await;
        let started = Instant::now();
        let deadline = Deadline { at: started + request.timeout, limit: request.timeout };
        for line in plan.describe() {
            log.line(line).await;
        }
        if let Some(file) = container_file(&request.app_dir) {
            log.line(format!(
                "{file} found: Slipway builds this app from source as a {} app, as detected above, and does not use \
                 the {file}",
                plan.stack
            ))
            .await;
        }
        let (network, notes) = self.network.for_build(request.sandbox.sandbox.is_enforced());
        for note in notes {
            log.line(note).await;
        }
        tokio::fs::create_dir_all(&request.cache_dir).await.map_err(|source| BuildError::Io {
            context: format!("cannot create the cache directory {}", request.cache_dir.display()),
            source,
        })?;

        if request.sandbox.sandbox.is_enforced() {
            // The checkout and the cache become the tenant's: its commands write them, nothing else does.
            let uid = request.sandbox.uid;
            for dir in [&request.app_dir, &request.cache_dir] {
                slipway_sandbox::give_tree(dir, uid).map_err(|source| BuildError::Io {
                    context: format!("cannot hand {} to the build's uid", dir.display()),
                    source,
                })?;
            }
        }
        let mut cx = Context { plan, request: &request, network: &self.network, log: &log, deadline, runtime: None };
        let mut env = BuildEnv::new(&request.env, &network);
        let mut built = BuiltApp {
            app_dir: request.app_dir.clone(),
            path_prepend: Vec::new(),
            env: Vec::new(),
            runtime: None,
            runtime_dir: None,
        };
        cx.runtime = runtime::provide(&cx, &env, self.runtimes.as_deref()).await?;
        if let Some(provided) = &cx.runtime {
            runtime::apply(provided, &mut env, &mut built);
        }
        let prepared = prepare(&cx, &mut env, &mut built).await?;
        built.path_prepend.extend(runtime::run_path(&built));

        let vars = env.vars();
        if let (Some(install), false) = (&plan.install, prepared.skip_install) {
            let result = shell(Step::Install, install, &request.app_dir, &vars, &log, deadline, cx.jail()).await;
            match (&prepared.after, result) {
                (AfterInstall::MarkVenvComplete { venv }, Err(e)) => {
                    python::discard(&request.cache_dir, venv).await;
                    return Err(e);
                }
                (_, Err(e)) => return Err(e),
                (AfterInstall::MarkVenvComplete { venv }, Ok(())) => {
                    python::mark_complete(&request.cache_dir, venv).await?
                }
                (AfterInstall::StoreNodeModules { entry }, Ok(())) => node::store(&cx, entry).await,
                (AfterInstall::StoreVendorBundle { entry }, Ok(())) => ruby::store(&cx, entry).await,
                (AfterInstall::StoreVendor { entry }, Ok(())) => php::store(&cx, entry).await,
                (AfterInstall::Nothing, Ok(())) => {}
            }
        } else if let AfterInstall::MarkVenvComplete { venv } = &prepared.after {
            python::mark_complete(&request.cache_dir, venv).await?;
        }
        if let Some(build) = &plan.build {
            shell(Step::Build, build, &request.app_dir, &vars, &log, deadline, cx.jail()).await?;
        }
        if plan.stack == Stack::Java {
            java::check_jars(&cx).await?;
        }
        log.line(format!("Build finished in {:.2} s", started.elapsed().as_secs_f64())).await;
        Ok(built)
    }
}

/// `15 min`, `90 s`, `1 h 30 min`.
fn describe_limit(limit: &Duration) -> String {
    let seconds = limit.as_secs();
    match (seconds / 3600, seconds % 3600 / 60, seconds % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (h, 0, 0) => format!("{h} h"),
        (h, m, 0) => format!("{h} h {m} min"),
        _ => format!("{seconds} s"),
    }
}

/// What to do about a missing tool.
fn what_to_install(tool: &str) -> String {
    match tool {
        "java" | "javac" => "install a JDK (a JRE has no javac): on Debian `apt-get install default-jdk-headless`; or \
                             set other commands in slipway.toml"
            .to_owned(),
        "mvn" => "install Maven (on Debian `apt-get install maven`), or commit the Maven wrapper (mvnw, executable, \
                  and .mvn/wrapper/); or set other commands in slipway.toml"
            .to_owned(),
        _ => format!("install {tool} or set other commands in slipway.toml"),
    }
}

/// The container recipe at the root of the app, if it has one (a directory of that name is not one).
fn container_file(app_dir: &std::path::Path) -> Option<&'static str> {
    ["Dockerfile", "Containerfile"]
        .into_iter()
        .find(|name| std::fs::symlink_metadata(app_dir.join(name)).is_ok_and(|meta| !meta.is_dir()))
}

/// The stack's tools, caches and environment.
async fn prepare(cx: &Context<'_>, env: &mut BuildEnv, built: &mut BuiltApp) -> Result<Prepared, BuildError> {
    let cache = cx.request.cache_dir.as_path();
    match cx.plan.stack {
        Stack::Node => {
            let prepared = node::prepare(cx, env).await?;
            built.path_prepend.push(cx.request.app_dir.join("node_modules").join(".bin"));
            Ok(prepared)
        }
        Stack::Python => python::prepare(cx, env, built).await,
        Stack::Ruby => ruby::prepare(cx, env, built).await,
        Stack::Java => java::prepare(cx, env, built).await,
        Stack::Php => php::prepare(cx, env, built).await,
        Stack::Rust => {
            if cx.commands().any(|c| c.contains("cargo")) {
                require(env, "cargo", cx.plan)?;
            }
            env.set("CARGO_TARGET_DIR", cache.join("cargo-target"));
            // The registry and git checkouts go to the project's cache, never the platform's home.
            env.set("CARGO_HOME", cache.join("cargo-home"));
            Ok(Prepared::run_install())
        }
        Stack::Go => {
            if cx.commands().any(|c| c.split_whitespace().any(|w| w == "go")) {
                require(env, "go", cx.plan)?;
            }
            env.set("GOCACHE", cache.join("go-build"));
            env.set("GOMODCACHE", cache.join("go-mod"));
            env.set("GOPATH", cache.join("go"));
            // Module cache files are read-only by default, which would make the cache undeletable.
            env.set("GOFLAGS", "-modcacherw");
            Ok(Prepared::run_install())
        }
        Stack::Static | Stack::Procfile => Ok(Prepared::run_install()),
    }
}

/// `Err(ToolMissing)` unless `tool` is on the build PATH.
pub(crate) fn require(env: &BuildEnv, tool: &str, plan: &BuildPlan) -> Result<(), BuildError> {
    match env.find(tool) {
        Some(_) => Ok(()),
        None => Err(BuildError::ToolMissing { tool: tool.to_owned(), stack: plan.stack }),
    }
}

/// The trimmed standard output of a quick query (`node --version`), or `None`.
/// Sandboxed like every build command: the program is found on a PATH the app's own directories lead.
pub(crate) async fn capture(cx: &Context<'_>, env: &BuildEnv, program: &str, args: &[&str]) -> Option<String> {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    let args: Vec<&OsString> = args.iter().collect();
    let slipway_sandbox::Prepared { mut command, cgroup } =
        RunAs::Tenant(cx.jail()).command(program, &args, &cx.request.app_dir, &env.vars()).ok()?;
    let output = command.stdin(std::process::Stdio::null()).kill_on_drop(true).output();
    let output = tokio::time::timeout(Duration::from_secs(30), output).await;
    if let Some(cgroup) = cgroup {
        cgroup.remove().await;
    }
    let output = output.ok()?.ok()?;
    // `python --version` wrote to stderr before 3.4; take whichever has text.
    let text = if output.stdout.is_empty() { output.stderr } else { output.stdout };
    output.status.success().then(|| String::from_utf8_lossy(&text).trim().to_owned())
}
