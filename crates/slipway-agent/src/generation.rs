//! A generation: every instance of one release of one environment.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use slipway_core::api::Instance;
use slipway_core::layout::DataLayout;
use slipway_core::process_type::ProcessType;
use slipway_core::resources::Resources;
use slipway_core::timestamp::Timestamp;
use slipway_logs::{LogWriter, RUNTIME_LOG_ROTATION};
use slipway_store::{ConfigValue, EnvironmentState, ReleaseSpec};

use crate::health::wait_healthy;
use crate::instance::{pid_dir, Handle, InstanceSpec};
use crate::AgentSettings;

/// The PATH apps start from, after the build's own entries.
const BASE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub(crate) struct Generation {
    pub release: ReleaseSpec,
    /// Instances per process type, as started.
    pub scale: BTreeMap<ProcessType, u32>,
    /// The limits its instances were started with: a resize starts a new generation.
    pub resources: Resources,
    instances: Vec<(ProcessType, Handle)>,
}

/// Instances per process type of `release` under `scale` (absent types run one).
pub(crate) fn effective_scale(release: &ReleaseSpec, scale: &BTreeMap<String, u32>) -> BTreeMap<ProcessType, u32> {
    let count = |process: &ProcessType| scale.get(process.as_str()).copied().unwrap_or(1);
    release.plan.processes.keys().map(|process| (process.clone(), count(process))).collect()
}

impl Generation {
    /// Starts every instance of `release` and waits for the `web` ones to
    /// be healthy. On failure everything started is stopped again and the
    /// reason carries the failing instance's last lines.
    pub(crate) async fn start(
        layout: &DataLayout,
        config: &AgentSettings,
        state: &EnvironmentState,
        release: &ReleaseSpec,
        scale: &BTreeMap<String, u32>,
        log: &LogWriter,
    ) -> Result<Generation, String> {
        let app_log =
            LogWriter::open_or_warn(&layout.app_log(&state.environment_id), ConfigValue::redactor(&release.config))
                .await
                .rotating(RUNTIME_LOG_ROTATION);
        let app_log = Arc::new(app_log);
        let mut base_env = environment(config, release);
        if release.plan.stack == slipway_core::stack::Stack::Java {
            size_jvms(&mut base_env, state.resources);
        }
        let scale = effective_scale(release, scale);
        let mut instances = Vec::new();
        for (process, command) in &release.plan.processes {
            let count = scale.get(process).copied().unwrap_or(1);
            for index in 1..=count {
                let port = if process.is_web() {
                    Some(free_port().map_err(|err| format!("no free port: {err}"))?)
                } else {
                    None
                };
                let mut env = base_env.clone();
                if let Some(port) = port {
                    env.push(("PORT".into(), port.to_string()));
                    crate::ports::add_conventions(&mut env, port);
                }
                let name = format!("{process}.{index}");
                log.step(match port {
                    Some(port) => format!("Starting {name} of release #{} on port {port}", release.number),
                    None => format!("Starting {name} of release #{}", release.number),
                })
                .await;
                let spec = InstanceSpec {
                    name: format!("{name}#{}", release.number),
                    command: command.clone(),
                    dir: PathBuf::from(&release.artifact_dir),
                    env,
                    port,
                    log: app_log.clone(),
                    pid_dir: pid_dir(layout),
                    sandbox: config.sandbox.clone(),
                    uid: state.sandbox_uid,
                    resources: state.resources,
                    sandbox_name: format!("{}-{name}-r{}", state.environment_id, release.number),
                    read_only: runtime_paths(release),
                };
                instances.push((process.clone(), Handle::spawn(spec, config.stop_grace)));
            }
        }
        let generation = Generation { release: release.clone(), scale, resources: state.resources, instances };
        // The uid the instances run as: the environment's own in the sandbox, else the agent's.
        let owner = if config.sandbox.is_enforced() { state.sandbox_uid.get() } else { nix::unistd::getuid().as_raw() };
        for (_, handle) in generation.instances.iter().filter(|(_, h)| h.port.is_some()) {
            let path = release.plan.health_check_path.as_deref();
            match wait_healthy(handle, path, config.health_timeout, owner).await {
                Ok(how) => log.step(format!("{} is healthy ({how})", handle.name)).await,
                Err(reason) => {
                    let lines = handle.observed.last_lines();
                    for line in &lines {
                        log.line(format!("       {line}")).await;
                    }
                    let tail = if lines.is_empty() {
                        String::from(" (it printed nothing)")
                    } else {
                        String::from("; its last lines are above")
                    };
                    generation.stop().await;
                    return Err(format!("{reason}{tail}"));
                }
            }
        }
        Ok(generation)
    }

    pub(crate) fn web_backends(&self) -> Vec<SocketAddr> {
        self.instances.iter().filter_map(|(_, h)| h.port).map(|port| SocketAddr::from(([127, 0, 0, 1], port))).collect()
    }

    /// What runs, for `slipway ps`.
    pub(crate) fn report(&self) -> Vec<Instance> {
        let now = Timestamp::now();
        self.instances
            .iter()
            .map(|(process, handle)| Instance {
                name: handle.name.split('#').next().unwrap_or(&handle.name).to_owned(),
                process: process.to_string(),
                release: self.release.number,
                state: if handle.observed.exited.lock().map(|e| e.is_some()).unwrap_or(false) {
                    "restarting"
                } else {
                    "running"
                }
                .to_owned(),
                port: handle.port,
                restarts: handle.observed.restarts.load(std::sync::atomic::Ordering::SeqCst),
                last_exit: handle.observed.last_exit.lock().ok().and_then(|last| last.clone()),
                updated_at: now,
            })
            .collect()
    }

    /// Stops every instance at once (each: SIGTERM, SIGKILL after the grace period).
    pub(crate) async fn stop(self) {
        futures::future::join_all(self.instances.into_iter().map(|(_, handle)| handle.stop())).await;
    }
}

/// The environment of every instance: base PATH with the build's entries in
/// front, the build's variables, then the config snapshot.
fn environment(config: &AgentSettings, release: &ReleaseSpec) -> Vec<(String, String)> {
    let mut path: Vec<String> = release.runtime_env.path_prepend.clone();
    if let Some(dir) = &config.slipway_bin_dir {
        path.push(dir.to_string_lossy().into_owned());
    }
    path.push(BASE_PATH.to_owned());
    let mut env = vec![
        ("PATH".to_owned(), path.join(":")),
        ("HOME".to_owned(), release.artifact_dir.clone()),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ("NODE_ENV".to_owned(), "production".to_owned()),
        ("PYTHONUNBUFFERED".to_owned(), "1".to_owned()),
    ];
    env.extend(release.runtime_env.env.iter().cloned());
    env.extend(release.config.iter().map(|var| (var.name.clone(), var.value.clone())));
    env
}

/// Tells a Java release's JVMs the instance's limits, which a sandboxed JVM cannot see (no cgroup
/// files): `JAVA_TOOL_OPTIONS` starts with [`Resources::jvm_flags`], and what the build and the
/// config vars set follows, in that order, so an app's own `-Xmx` or `-XX:MaxRAM` wins.
fn size_jvms(env: &mut Vec<(String, String)>, resources: Resources) {
    const NAME: &str = "JAVA_TOOL_OPTIONS";
    let mut options = vec![resources.jvm_flags()];
    options.extend(env.iter().filter(|(name, value)| name == NAME && !value.trim().is_empty()).map(|(_, v)| v.clone()));
    env.retain(|(name, _)| name != NAME);
    env.push((NAME.to_owned(), options.join(" ")));
}

/// What the build put outside the release that its processes run from (a
/// virtualenv kept in the environment's cache, the runtime version from the
/// runtimes store): seen read-only by each instance.
fn runtime_paths(release: &ReleaseSpec) -> Vec<PathBuf> {
    let artifact = std::path::Path::new(&release.artifact_dir);
    let virtual_env = release.runtime_env.env.iter().filter(|(name, _)| name == "VIRTUAL_ENV").map(|(_, dir)| dir);
    let bins = release.runtime_env.path_prepend.iter();
    let mut paths: Vec<PathBuf> = virtual_env
        .chain(bins)
        .chain(&release.runtime_env.runtime_dir)
        .map(PathBuf::from)
        .filter(|path| path.is_absolute() && !path.starts_with(artifact) && path.exists())
        .collect();
    paths.sort();
    paths.dedup();
    // A virtualenv's `bin` is inside the virtualenv itself: one mount is enough.
    let roots = paths.clone();
    paths.retain(|path| !roots.iter().any(|root| root != path && path.starts_with(root)));
    paths
}

/// The lowest port handed to instances.
const FIRST_APP_PORT: u16 = 10_000;

/// A free port for an instance, below the kernel's ephemeral range: a socket
/// that listens without binding gets an ephemeral port (Landlock sees no
/// bind), so a tenant could otherwise sit on the port another instance is
/// about to be given. Falls back to a kernel-chosen port when the host's
/// ephemeral range leaves no room below it.
fn free_port() -> std::io::Result<u16> {
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next().and_then(|low| low.parse::<u16>().ok()))
        .unwrap_or(32_768);
    if ephemeral_start > FIRST_APP_PORT + 100 {
        let span = u32::from(ephemeral_start - FIRST_APP_PORT);
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        for step in 0..span {
            // span < 65536, so the sum fits and the remainder is a u16 offset.
            let port = FIRST_APP_PORT + ((seed.wrapping_add(step)) % span) as u16;
            if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                return Ok(listener.local_addr()?.port());
            }
        }
    }
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_java_release_is_told_its_limits_before_its_own_options() {
        let resources = Resources {
            memory: slipway_core::resources::Memory::from_mib(768),
            cpu: slipway_core::resources::Cpu::from_millis(500),
            max_processes: 256,
        };
        let mut env = vec![
            ("PATH".to_owned(), "/usr/bin".to_owned()),
            ("JAVA_TOOL_OPTIONS".to_owned(), "-XX:MaxRAMPercentage=75.0".to_owned()),
            ("JAVA_TOOL_OPTIONS".to_owned(), "-Xss512k".to_owned()),
        ];
        size_jvms(&mut env, resources);
        assert_eq!(
            env,
            [
                ("PATH".to_owned(), "/usr/bin".to_owned()),
                (
                    "JAVA_TOOL_OPTIONS".to_owned(),
                    "-XX:MaxRAM=768m -XX:ActiveProcessorCount=1 -XX:MaxRAMPercentage=75.0 -Xss512k".to_owned()
                ),
            ]
        );
    }
}
