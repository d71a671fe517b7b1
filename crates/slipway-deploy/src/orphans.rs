//! Build commands run in their own process groups. If the control plane is
//! killed mid-build they live on, reparented to init, still writing into a
//! build directory that the retried build is about to reuse. At start the
//! pipeline kills every process whose working directory lies under the
//! builds directory — no other process has reason to be there.

use std::path::Path;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub(crate) async fn kill_leftover_builds(builds: &Path) {
    let Ok(builds) = tokio::fs::canonicalize(builds).await else { return };
    let Ok(mut entries) = tokio::fs::read_dir("/proc").await else { return };
    let me = std::process::id();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let Ok(cwd) = tokio::fs::read_link(entry.path().join("cwd")).await else { continue };
        if cwd.starts_with(&builds) {
            if let Ok(raw) = i32::try_from(pid) {
                if kill(Pid::from_raw(raw), Signal::SIGKILL).is_ok() {
                    tracing::warn!(pid, cwd = %cwd.display(), "killed a build process left behind by a previous control plane");
                }
            }
        }
    }
}
