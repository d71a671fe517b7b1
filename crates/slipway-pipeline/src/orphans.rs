//! Without the sandbox (`SLIPWAY_SANDBOX=off`; sandboxed builds are found by
//! their cgroups instead), build commands run in their own process groups. If
//! the control plane is killed mid-build they live on, reparented to init, still writing into a
//! build directory that the retried build is about to reuse. At start the
//! pipeline kills every process whose working directory lies under the
//! builds directory — except the agent's app instances, which run in their
//! release's `builds/<deployment>/app` too and must keep serving: their
//! process groups are the ones the agent records in `run/instances`.

use std::collections::HashSet;
use std::path::Path;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use slipway_core::layout::DataLayout;

pub(crate) async fn kill_leftover_builds(layout: &DataLayout) {
    let Ok(builds) = tokio::fs::canonicalize(layout.root().join("builds")).await else { return };
    let instances = instance_groups(&layout.agent_instances()).await;
    let Ok(mut entries) = tokio::fs::read_dir("/proc").await else { return };
    let me = std::process::id();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let Ok(cwd) = tokio::fs::read_link(entry.path().join("cwd")).await else { continue };
        if cwd.starts_with(&builds) {
            if process_group(&entry.path()).await.is_some_and(|group| instances.contains(&group)) {
                continue; // a running app, not a build
            }
            if let Ok(raw) = i32::try_from(pid) {
                if kill(Pid::from_raw(raw), Signal::SIGKILL).is_ok() {
                    tracing::warn!(pid, cwd = %cwd.display(), "killed a build process left behind by a previous control plane");
                }
            }
        }
    }
}

/// The process groups of the agent's app instances (one file per group).
async fn instance_groups(dir: &Path) -> HashSet<i32> {
    let mut groups = HashSet::new();
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return groups };
    while let Ok(Some(entry)) = entries.next_entry().await {
        if let Some(group) = entry.file_name().to_str().and_then(|name| name.parse().ok()) {
            groups.insert(group);
        }
    }
    groups
}

/// The process group of `/proc/<pid>`: the 3rd field after the `(comm)` of its `stat`.
async fn process_group(proc_dir: &Path) -> Option<i32> {
    let stat = tokio::fs::read_to_string(proc_dir.join("stat")).await.ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(2)?.parse().ok()
}
