//! Landlock, the second layer under the mount view: even if a path of the
//! host became visible, tenant code could still only read (and execute)
//! files, write only where its policy says, bind only its own TCP port, and
//! neither signal processes nor reach abstract UNIX sockets outside its own
//! domain. Best effort per kernel: `slipway up --check` reports the ABI.

use std::path::Path;

use landlock::{
    Access, AccessFs, AccessNet, Compatible, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, Scope, ABI,
};

/// The newest ABI whose rights Slipway asks for (6: signal and abstract-socket scoping).
const TARGET: ABI = ABI::V6;

#[derive(Debug, thiserror::Error)]
#[error("Landlock could not be applied: {0}")]
pub struct LandlockError(String);

/// Restricts the calling process (and all it execs) to reading everything it
/// can see, writing `writable`, and binding `bind_port` only.
pub(crate) fn restrict(writable: &[&Path], bind_port: Option<u16>) -> Result<RulesetStatus, LandlockError> {
    let error = |err: landlock::RulesetError| LandlockError(err.to_string());
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(TARGET))
        .map_err(error)?
        .handle_access(AccessNet::BindTcp)
        .map_err(error)?
        .scope(Scope::from_all(TARGET))
        .map_err(error)?
        .create()
        .map_err(error)?
        .add_rule(PathBeneath::new(path_fd(Path::new("/"))?, AccessFs::from_read(TARGET)))
        .map_err(error)?;
    for path in writable {
        ruleset = ruleset.add_rule(PathBeneath::new(path_fd(path)?, AccessFs::from_all(TARGET))).map_err(error)?;
    }
    if let Some(port) = bind_port {
        ruleset = ruleset.add_rule(NetPort::new(port, AccessNet::BindTcp)).map_err(error)?;
    }
    Ok(ruleset.restrict_self().map_err(error)?.ruleset)
}

fn path_fd(path: &Path) -> Result<PathFd, LandlockError> {
    PathFd::new(path).map_err(|err| LandlockError(format!("{}: {err}", path.display())))
}

/// The newest Landlock ABI Slipway uses that this kernel offers, up to 6 (0: no Landlock).
pub fn kernel_abi() -> i32 {
    (1..=6).rev().find(|&v| abi_supported(v)).unwrap_or(0)
}

fn abi_supported(version: i32) -> bool {
    let abi = ABI::from(version);
    Ruleset::default()
        .set_compatibility(landlock::CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.create())
        .is_ok()
        && (version < 4
            || Ruleset::default()
                .set_compatibility(landlock::CompatLevel::HardRequirement)
                .handle_access(AccessNet::from_all(abi))
                .and_then(|r| r.create())
                .is_ok())
        && (version < 6
            || Ruleset::default()
                .set_compatibility(landlock::CompatLevel::HardRequirement)
                .scope(Scope::from_all(abi))
                .and_then(|r| r.create())
                .is_ok())
}
