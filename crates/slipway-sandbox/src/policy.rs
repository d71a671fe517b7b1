//! What one sandboxed process gets, as the agent or the builder decided it:
//! sent to the helper as JSON in its environment (never on its command line,
//! which every user of the host could read) and applied there step by step.

use std::ffi::OsString;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The environment variable that carries the policy from one helper stage to the next.
pub(crate) const POLICY_VAR: &str = "SLIPWAY_SANDBOX_POLICY";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Policy {
    /// The helper binary (`slipway`), bound read-only into the view so its stages can start each other.
    pub helper: PathBuf,
    /// Uid and gid of the tenant code.
    pub uid: u32,
    /// `cgroup.procs` files the helper writes its own pid to before anything else.
    pub cgroup_procs: Vec<PathBuf>,
    /// An empty directory the new root is mounted on (only inside the sandbox's mount namespace).
    pub root: PathBuf,
    /// The filesystem view, in mount order.
    pub mounts: Vec<Mount>,
    pub hostname: String,
    pub cwd: PathBuf,
    /// The program and its arguments; the program path is absolute.
    pub argv: Vec<OsString>,
    /// The whole environment of the program: nothing is inherited.
    pub env: Vec<(OsString, OsString)>,
    /// The one TCP port it may bind (`None`: none).
    pub bind_port: Option<u16>,
    /// RLIMIT_FSIZE: the largest file it may write.
    pub max_file_size: Option<u64>,
    /// RLIMIT_NOFILE.
    pub max_open_files: u64,
}

/// One path of the filesystem view. Every path appears at the same place
/// inside as outside, so absolute paths baked into a build (virtualenv
/// shebangs, `node_modules/.bin` links) keep working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Mount {
    /// A host directory or file, read-only, no setuid, no devices.
    ReadOnly(PathBuf),
    /// A host directory, writable (a build's own directory and cache).
    Writable(PathBuf),
    /// A host directory read-only under a writable layer thrown away with the
    /// process (Heroku's ephemeral filesystem): the release of an instance.
    Layered { path: PathBuf, layer_bytes: u64 },
    /// An empty tmpfs owned by the tenant (`/tmp`, a build's home).
    Scratch { path: PathBuf, bytes: u64 },
    /// A symlink, as the host has it (`/bin -> usr/bin` on merged-/usr systems).
    Symlink { path: PathBuf, target: PathBuf },
}

impl Policy {
    pub(crate) fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    pub(crate) fn decode(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}
