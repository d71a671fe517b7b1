//! What a workspace may use in all (its quota, set by a platform admin) and
//! what one instance may be given (the platform's limits, settings of
//! `slipway up`). The API checks the limits before anything is stored; the
//! store enforces quotas inside the transaction of each change that could
//! grow a workspace (deploy, rollback, scale, resize, project creation).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::resources::{Cpu, Memory, Resources};

/// A platform admin's limits on one workspace; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkspaceQuota {
    /// Memory of every instance of every environment together (memory limit × scale), in bytes.
    #[serde(default)]
    #[schema(value_type = Option<u64>)]
    pub memory: Option<Memory>,
    /// Instances of every environment together.
    #[serde(default)]
    pub instances: Option<u32>,
    /// Projects.
    #[serde(default)]
    pub projects: Option<u32>,
}

impl WorkspaceQuota {
    pub fn is_unlimited(&self) -> bool {
        self.memory.is_none() && self.instances.is_none() && self.projects.is_none()
    }
}

/// What a workspace uses now, counted the way its quota is: the instances of
/// the release each environment runs (or is about to run) at its scale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuotaUsage {
    /// Bytes: each environment's instances × its memory limit.
    pub memory: u64,
    pub instances: u32,
    pub projects: u32,
}

/// The fewest processes (and threads) an instance may be limited to:
/// runtimes such as Node.js start a dozen threads before running any code.
pub const MIN_PROCESSES: u32 = 16;

/// The platform's default and largest resources of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceLimits {
    /// What an environment that sets nothing gets.
    pub default: Resources,
    /// The most an environment may ask for, figure by figure.
    pub max: Resources,
}

impl Default for ResourceLimits {
    /// The defaults of `slipway up`: 512 MiB, one core, 256 processes; at most 4 GiB, 2 cores, 1024.
    fn default() -> Self {
        Self {
            default: Resources::default(),
            max: Resources { memory: Memory::from_mib(4096), cpu: Cpu::from_millis(2000), max_processes: 1024 },
        }
    }
}

/// A figure the platform does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("{what} {asked} is over the platform's maximum of {max} per instance")]
    OverMaximum { what: &'static str, asked: String, max: String },
    #[error("{0} processes is too few; give an instance at least {MIN_PROCESSES}")]
    TooFewProcesses(u32),
    #[error("the default {what} {default} is over the maximum {max}")]
    DefaultOverMaximum { what: &'static str, default: String, max: String },
}

impl ResourceLimits {
    /// Limits whose default fits under their maximum.
    pub fn new(default: Resources, max: Resources) -> Result<Self, LimitError> {
        let limits = Self { default, max };
        match limits.check(&default) {
            Ok(()) => Ok(limits),
            Err(LimitError::OverMaximum { what, asked, max }) => {
                Err(LimitError::DefaultOverMaximum { what, default: asked, max })
            }
            Err(other) => Err(other),
        }
    }

    /// Whether one instance may be given `resources`.
    pub fn check(&self, resources: &Resources) -> Result<(), LimitError> {
        if resources.memory > self.max.memory {
            return Err(LimitError::OverMaximum {
                what: "memory",
                asked: resources.memory.to_string(),
                max: self.max.memory.to_string(),
            });
        }
        if resources.cpu > self.max.cpu {
            return Err(LimitError::OverMaximum {
                what: "cpu",
                asked: resources.cpu.to_string(),
                max: self.max.cpu.to_string(),
            });
        }
        self.check_processes(resources.max_processes)
    }

    /// Whether `count` processes is within the platform's range.
    pub fn check_processes(&self, count: u32) -> Result<(), LimitError> {
        if count < MIN_PROCESSES {
            return Err(LimitError::TooFewProcesses(count));
        }
        if count > self.max.max_processes {
            return Err(LimitError::OverMaximum {
                what: "max_processes",
                asked: count.to_string(),
                max: self.max.max_processes.to_string(),
            });
        }
        Ok(())
    }
}

/// A byte count in binary units, exact: `1 GiB`, `1536 MiB`, `1000 bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MIB: u64 = 1 << 20;
        const GIB: u64 = 1 << 30;
        match self.0 {
            0 => f.write_str("0 MiB"),
            bytes if bytes % GIB == 0 => write!(f, "{} GiB", bytes / GIB),
            bytes if bytes % MIB == 0 => write!(f, "{} MiB", bytes / MIB),
            bytes => write!(f, "{bytes} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(memory_mib: u64, cpu_millis: u32, processes: u32) -> Resources {
        Resources { memory: Memory::from_mib(memory_mib), cpu: Cpu::from_millis(cpu_millis), max_processes: processes }
    }

    #[test]
    fn limits_refuse_each_figure_over_its_maximum() {
        let limits = ResourceLimits::default();
        assert_eq!(limits.check(&resources(4096, 2000, 1024)), Ok(()));
        let err = limits.check(&resources(8192, 500, 128)).unwrap_err();
        assert_eq!(err.to_string(), "memory 8 GiB is over the platform's maximum of 4 GiB per instance");
        assert!(matches!(limits.check(&resources(512, 2500, 128)), Err(LimitError::OverMaximum { what: "cpu", .. })));
        assert!(matches!(
            limits.check(&resources(512, 500, 1025)),
            Err(LimitError::OverMaximum { what: "max_processes", .. })
        ));
        assert_eq!(limits.check(&resources(512, 500, 2)), Err(LimitError::TooFewProcesses(2)));
    }

    #[test]
    fn a_default_over_the_maximum_is_refused() {
        let err = ResourceLimits::new(resources(8192, 1000, 256), ResourceLimits::default().max).unwrap_err();
        assert_eq!(err.to_string(), "the default memory 8 GiB is over the maximum 4 GiB");
        assert!(ResourceLimits::new(Resources::default(), ResourceLimits::default().max).is_ok());
    }

    #[test]
    fn byte_counts_print_exactly() {
        assert_eq!(Bytes(0).to_string(), "0 MiB");
        assert_eq!(Bytes(2 << 30).to_string(), "2 GiB");
        assert_eq!(Bytes(1536 << 20).to_string(), "1536 MiB");
        assert_eq!(Bytes(1000).to_string(), "1000 bytes");
    }
}
