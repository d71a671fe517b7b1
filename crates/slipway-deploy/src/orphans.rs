//! Build commands run in their own process groups. If the control plane is
//! killed mid-build they live on, reparented to init, still writing into a
//! build directory that the retried build is about to reuse. At start the
//! pipeline kills every process whose working directory lies under the
//! builds directory — except the agent's app instances, which run in their
//! release's `builds/<deployment>/app` too and must keep serving: their
//! process groups are the ones the agent records in `run/instances`. A
//! sandboxed instance's own processes run in a group of their own (the
//! sandbox's init leads it), so a process also counts as an instance's when
//! one of its ancestors is in a recorded group.

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
            if belongs_to_instance(pid, &instances).await {
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

/// Whether `pid` or one of its ancestors is in one of the instances' groups.
async fn belongs_to_instance(pid: u32, instances: &HashSet<i32>) -> bool {
    let mut current = pid;
    // Bounded: a process tree is never this deep, and a pid could be reused mid-walk.
    for _ in 0..64 {
        let Some((parent, group)) = parent_and_group(current).await else { return false };
        if instances.contains(&group) {
            return true;
        }
        if parent <= 1 {
            return false;
        }
        current = parent;
    }
    false
}

/// The parent and the process group of `pid`: the 2nd and 3rd fields after the `(comm)` of its `stat`.
async fn parent_and_group(pid: u32) -> Option<(u32, i32)> {
    let stat = tokio::fs::read_to_string(format!("/proc/{pid}/stat")).await.ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(1);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}
