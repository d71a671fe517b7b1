//! How `slipway up` and `slipway agent` start tenant code: the sandbox when
//! the host can enforce it (and refusal to start when it cannot), or —
//! only when the operator says `SLIPWAY_SANDBOX=off` — as Slipway's own user,
//! with a loud warning at every start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use slipway_core::layout::DataLayout;
use slipway_sandbox::{HostReport, NetworkPolicy, Sandbox, SandboxSettings};

use crate::settings::UpSettings;

/// `SLIPWAY_SANDBOX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SandboxMode {
    /// Every build and instance in its own sandbox (the default; needs root and a capable kernel).
    On,
    /// Tenant code runs as Slipway's own user: one trusted user on one laptop only.
    Off,
}

const OFF_WARNING: &str = "WARNING: SLIPWAY_SANDBOX=off — apps and builds run as this user, unisolated: \
any tenant can read every secret, the store and other tenants' files. Use this only on a single-user machine.";

/// The sandbox for this process, its network rules installed. `who` names the process in messages.
pub fn prepare(settings: &UpSettings, layout: &DataLayout, who: &str) -> Result<Sandbox> {
    if settings.sandbox == SandboxMode::Off {
        eprintln!("{OFF_WARNING}");
        return Ok(Sandbox::off());
    }
    let report = HostReport::probe();
    let missing = report.missing();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|p| p.name).collect();
        bail!(
            "this host cannot sandbox tenant code (missing: {}), so Slipway refuses to run it:\n{report}\
             Fix what is missing, or set SLIPWAY_SANDBOX=off on a single-user machine.",
            names.join(", ")
        );
    }
    network(settings).install().context("while installing the sandbox's network rules")?;
    let exe = std::env::current_exe().context("while locating the slipway executable")?;
    // The small helper binary built beside `slipway`; `slipway` itself can act as one too.
    let helper =
        Some(exe.with_file_name("slipway-sandbox-helper")).filter(|helper| helper.is_file()).unwrap_or(exe.clone());
    // Static sites run `slipway serve-static`: the binary is in every view, read-only.
    let mut read_only = toolchains(settings, layout.root());
    read_only.push(exe);
    let sandbox = Sandbox::enforce(SandboxSettings {
        helper,
        scratch: layout.root().join("run").join("sandbox-root"),
        read_only,
    })?;
    let landlock = report.protections.iter().find(|p| p.name == "landlock").map(|p| p.detail.as_str()).unwrap_or("");
    println!(
        "Slipway {who}: tenant code is sandboxed — own uid, PID/mount/IPC/UTS namespaces, {}, seccomp, Landlock {landlock}, \
         network: {}",
        sandbox.cgroups().map(|c| c.describe()).unwrap_or_default(),
        if settings.sandbox_egress { "outbound internet, nothing on this host but the router" } else { "no egress" },
    );
    Ok(sandbox)
}

/// `slipway up --check`: every capability of the host and what it protects.
pub fn print_check(settings: &UpSettings) {
    if settings.sandbox == SandboxMode::Off {
        println!("sandbox: off (SLIPWAY_SANDBOX=off)\n{OFF_WARNING}");
        return;
    }
    let report = HostReport::probe();
    println!("sandbox capabilities of this host:\n{report}");
    match report.missing().len() {
        0 => println!("sandbox: every capability is available; tenant code will be sandboxed"),
        _ => println!("sandbox: capabilities are missing; `slipway up` will refuse to run tenant code"),
    }
}

fn network(settings: &UpSettings) -> NetworkPolicy {
    let ports = [Some(settings.http_addr), settings.https_addr].into_iter().flatten().map(|a: SocketAddr| a.port());
    NetworkPolicy {
        router_ports: ports.collect(),
        nameservers: NetworkPolicy::host_nameservers(),
        egress: settings.sandbox_egress,
        grants: Vec::new(),
    }
}

/// Toolchains outside the system directories that builds and apps run
/// (rustup's proxies and toolchains, pyenv, Go, nvm), read-only; never the
/// rest of a home directory (cargo's credentials, ssh keys, shell history).
fn toolchains(settings: &UpSettings, data_dir: &Path) -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut paths: Vec<PathBuf> =
        std::env::var_os("PATH").map(|path| std::env::split_paths(&path).collect()).unwrap_or_default();
    for (var, default) in [("RUSTUP_HOME", ".rustup"), ("PYENV_ROOT", ".pyenv"), ("GOROOT", ""), ("NVM_DIR", ".nvm")] {
        match std::env::var_os(var) {
            Some(dir) => paths.push(dir.into()),
            None if !default.is_empty() => paths.extend(home.as_ref().map(|home| home.join(default))),
            None => {}
        }
    }
    paths.extend(settings.sandbox_read_only.iter().cloned());
    // Neither inside the data dir nor above it (a `/` on the PATH would show everything).
    paths.retain(|path| {
        path.is_absolute() && path.exists() && !path.starts_with(data_dir) && !data_dir.starts_with(path)
    });
    paths.retain(|path| !is_inside_home_but_not_a_toolchain(path, home.as_deref()));
    paths.sort();
    paths.dedup();
    paths
}

/// A PATH entry that is a home directory itself (or `~/bin`-like with
/// anything in it) would show the home; only `…/bin`, `…/shims` and the known
/// toolchain homes below it are taken.
fn is_inside_home_but_not_a_toolchain(path: &Path, home: Option<&Path>) -> bool {
    let Some(home) = home else { return false };
    if !path.starts_with(home) {
        return false;
    }
    let known = [".rustup", ".pyenv", ".nvm", ".cargo/bin", ".local/bin", "go"];
    !known.iter().any(|dir| path.starts_with(home.join(dir)))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        up: UpSettings,
    }

    #[test]
    fn toolchains_never_show_the_data_dir_nor_what_holds_it() {
        let data = tempfile::tempdir().expect("tempdir");
        let inside = data.path().join("builds");
        let tool = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(&inside).expect("mkdir");
        let extra = format!("/,{},{},{}", data.path().display(), inside.display(), tool.path().display());
        let cli = Cli::try_parse_from(["slipway", "--sandbox-read-only", &extra]).expect("settings");
        let paths = toolchains(&cli.up, data.path());
        assert!(paths.contains(&tool.path().to_path_buf()), "{paths:?}");
        for refused in [Path::new("/"), data.path(), inside.as_path()] {
            assert!(!paths.iter().any(|p| p == refused), "{} must not be shown: {paths:?}", refused.display());
        }
    }
}
