//! What this host can enforce, capability by capability, and what each one
//! protects: printed by `slipway up` at every start and by `slipway up
//! --check`. A required capability that is missing keeps tenant code from
//! running at all (fail closed).

use std::fmt;
use std::path::Path;

use crate::cgroup::CgroupLayout;

/// One capability of the host.
#[derive(Debug, Clone)]
pub struct Protection {
    pub name: &'static str,
    pub available: bool,
    /// What was found ("cgroup v1 (memory, pids, cpu controllers)", "ABI 7"…) or why not.
    pub detail: String,
    /// What tenants would be able to do without it.
    pub protects: &'static str,
    /// Whether tenant code may run without it.
    pub required: bool,
}

/// Every capability, probed.
#[derive(Debug, Clone)]
pub struct HostReport {
    pub protections: Vec<Protection>,
}

/// Landlock ABI 4 brings TCP bind rules, which keep an instance to its own port; ABI 6 the
/// scoping that keeps tenant code from the host's (and other tenants') abstract UNIX sockets,
/// which every sandbox could otherwise reach through the shared network namespace.
const MIN_LANDLOCK_ABI: i32 = 6;

impl HostReport {
    pub fn probe() -> Self {
        let root = nix::unistd::Uid::effective().is_root();
        let namespaces: Vec<&str> = ["pid", "mnt", "ipc", "uts"]
            .into_iter()
            .filter(|ns| !Path::new("/proc/self/ns").join(ns).exists())
            .collect();
        let cgroups = if root {
            CgroupLayout::locate("slipway").map(|l| l.describe()).map_err(|e| e.to_string())
        } else {
            Err("needs root".to_owned())
        };
        let seccomp = std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .any(|line| line.starts_with("Seccomp:"));
        let abi = crate::landlock::kernel_abi();
        let nft = std::process::Command::new("nft")
            .arg("--version")
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
        let protections = vec![
            Protection {
                name: "root",
                available: root,
                detail: if root { "running as root".into() } else { "not running as root".into() },
                protects: "tenant code runs as a uid of its own, never as root nor as Slipway's user",
                required: true,
            },
            Protection {
                name: "namespaces",
                available: namespaces.is_empty(),
                detail: if namespaces.is_empty() {
                    "PID, mount, IPC and UTS namespaces".into()
                } else {
                    format!("missing: {}", namespaces.join(", "))
                },
                protects: "a private process list, /proc, /tmp and filesystem view: no other tenant's processes, \
                           files, environment, nor the data dir",
                required: true,
            },
            Protection {
                name: "cgroups",
                available: cgroups.is_ok(),
                detail: cgroups.clone().unwrap_or_else(|err| err),
                protects: "memory, process and CPU limits per instance and build (no memory hog, no fork bomb)",
                required: true,
            },
            Protection {
                name: "seccomp",
                available: seccomp,
                detail: if seccomp { "filter mode".into() } else { "not in this kernel".into() },
                protects: "no new namespaces, mounts, ptrace, keyring, BPF, modules or io_uring from tenant code",
                required: true,
            },
            Protection {
                name: "landlock",
                available: abi >= MIN_LANDLOCK_ABI,
                detail: if abi > 0 { format!("ABI {abi}") } else { "not enabled in this kernel".into() },
                protects:
                    "an instance binds only its own port; a second fence around files, signals and abstract sockets",
                required: true,
            },
            Protection {
                name: "nftables",
                available: nft.is_some(),
                detail: nft.unwrap_or_else(|| "the nft command is missing (install nftables)".into()),
                protects: "tenant code cannot connect to the platform's listeners, other tenants' instances or other \
                           services on this host",
                required: true,
            },
        ];
        Self { protections }
    }

    /// The required capabilities this host lacks.
    pub fn missing(&self) -> Vec<&Protection> {
        self.protections.iter().filter(|p| p.required && !p.available).collect()
    }
}

impl fmt::Display for HostReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.protections {
            let mark = if p.available { "ok  " } else { "MISSING" };
            writeln!(f, "  {mark:<7} {:<10} {} — {}", p.name, p.detail, p.protects)?;
        }
        Ok(())
    }
}
