//! What one instance (or one build) of tenant code may use, and the uid it
//! runs as. The local sandbox turns [`Resources`] into cgroup limits; the
//! Kubernetes target renders the same figures as requests/limits, so both
//! targets agree. Users write them as `512M`, `1G`, `0.5` (CPUs), `256`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Limits of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resources {
    /// Memory, swap excluded; the instance is OOM-killed above it.
    pub memory: Memory,
    /// CPU time as a share of one core, in thousandths (`500` = half a core).
    pub cpu: Cpu,
    /// Processes and threads together.
    pub max_processes: u32,
}

impl Default for Resources {
    /// Heroku's standard dyno, more or less: 512 MiB, one core, 256 processes.
    fn default() -> Self {
        Self { memory: Memory::from_mib(512), cpu: Cpu::from_millis(1000), max_processes: 256 }
    }
}

impl Resources {
    /// JVM flags that size a JVM to these limits. A JVM sizes its heap and its thread pools from
    /// the cgroup it finds, and a sandboxed process sees no cgroup files (no `/sys`): without them
    /// it would take the host's memory and cores. `-XX:MaxRAM` stands in for the memory limit
    /// (`-XX:MaxRAMPercentage` then takes its share of it), `-XX:ActiveProcessorCount` for the
    /// CPU quota (whole cores, at least one).
    pub fn jvm_flags(&self) -> String {
        let cores = self.cpu.millis().div_ceil(1000).max(1);
        format!("-XX:MaxRAM={}m -XX:ActiveProcessorCount={cores}", self.memory.mib().max(1))
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "memory {}, cpu {}, {} processes", self.memory, self.cpu, self.max_processes)
    }
}

/// A memory size in bytes, shown in binary units (`512 MiB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "u64", into = "u64")]
pub struct Memory(u64);

/// The least memory an instance may be given: below it, runtimes do not start.
pub const MIN_MEMORY_MIB: u64 = 16;

impl Memory {
    pub const fn from_mib(mib: u64) -> Self {
        Self(mib << 20)
    }

    pub fn bytes(self) -> u64 {
        self.0
    }

    pub fn mib(self) -> u64 {
        self.0 >> 20
    }

    /// `512M`, `512MiB`, `1G`, `1.5G`, `2048K` or plain bytes.
    pub fn parse(text: &str) -> Result<Self, ResourceError> {
        let bad = || ResourceError::Memory(text.to_owned());
        let text = text.trim();
        let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" | "ki" | "kib" => 1 << 10,
            "m" | "mb" | "mi" | "mib" => 1 << 20,
            "g" | "gb" | "gi" | "gib" => 1 << 30,
            "t" | "tb" | "ti" | "tib" => 1 << 40,
            _ => return Err(bad()),
        };
        let bytes = decimal_times(number, factor).ok_or_else(bad)?;
        Self::try_from(bytes)
    }
}

impl TryFrom<u64> for Memory {
    type Error = ResourceError;
    fn try_from(bytes: u64) -> Result<Self, Self::Error> {
        if bytes < MIN_MEMORY_MIB << 20 {
            return Err(ResourceError::MemoryTooSmall(bytes));
        }
        Ok(Self(bytes))
    }
}

impl From<Memory> for u64 {
    fn from(memory: Memory) -> u64 {
        memory.0
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const GIB: u64 = 1 << 30;
        if self.0.is_multiple_of(GIB) {
            write!(f, "{} GiB", self.0 / GIB)
        } else if self.0.is_multiple_of(1 << 20) {
            write!(f, "{} MiB", self.0 >> 20)
        } else {
            write!(f, "{} bytes", self.0)
        }
    }
}

/// CPU in thousandths of a core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "u32", into = "u32")]
pub struct Cpu(u32);

impl Cpu {
    /// The least CPU an instance may be given (a hundredth of a core).
    pub const MIN_MILLIS: u32 = 10;

    pub const fn from_millis(millis: u32) -> Self {
        Self(millis)
    }

    pub fn millis(self) -> u32 {
        self.0
    }

    /// `0.5`, `2`, or Kubernetes' `500m`.
    pub fn parse(text: &str) -> Result<Self, ResourceError> {
        let text = text.trim();
        let millis = match text.strip_suffix('m') {
            Some(millis) => millis.parse::<u64>().ok(),
            None => decimal_times(text, 1000),
        };
        millis.and_then(|m| u32::try_from(m).ok()).ok_or_else(|| ResourceError::Cpu(text.to_owned()))?.try_into()
    }
}

impl TryFrom<u32> for Cpu {
    type Error = ResourceError;
    fn try_from(millis: u32) -> Result<Self, Self::Error> {
        if millis < Self::MIN_MILLIS {
            return Err(ResourceError::Cpu(format!("{millis}m")));
        }
        Ok(Self(millis))
    }
}

impl From<Cpu> for u32 {
    fn from(cpu: Cpu) -> u32 {
        cpu.0
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) {
            write!(f, "{}", self.0 / 1000)
        } else {
            write!(f, "{}", f64::from(self.0) / 1000.0)
        }
    }
}

/// `number × factor` for a decimal `number` such as `1.5`, without floating-point surprises.
fn decimal_times(number: &str, factor: u64) -> Option<u64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.len() > 6 {
        return None;
    }
    let parse = |digits: &str| if digits.is_empty() { Some(0) } else { digits.parse::<u64>().ok() };
    let scale = 10u64.pow(fraction.len() as u32); // at most 10^6: see the length check
    let whole = parse(whole)?.checked_mul(factor)?;
    let fraction = parse(fraction)?.checked_mul(factor)? / scale;
    whole.checked_add(fraction)
}

/// The uid (and gid) tenant code of one environment runs as on one machine:
/// allocated from a reserved range, recorded in the store, never 0 and never
/// the platform's own uid (the range check makes both impossible).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct SandboxUid(u32);

impl SandboxUid {
    /// First uid of the reserved range: above the ranges Debian's `adduser`
    /// (1000–59999) and `/etc/subuid` (from 100000, 65536 each) hand out on a
    /// typical server; `slipway up --check` checks `/etc/passwd` for clashes.
    pub const FIRST: u32 = 2_000_000_000;
    /// How many uids the range holds.
    pub const COUNT: u32 = 100_000_000;

    pub fn new(uid: u32) -> Result<Self, ResourceError> {
        if (Self::FIRST..Self::FIRST + Self::COUNT).contains(&uid) {
            Ok(Self(uid))
        } else {
            Err(ResourceError::Uid(uid))
        }
    }

    /// The `n`-th uid of the range (0-based).
    pub fn nth(n: u32) -> Result<Self, ResourceError> {
        Self::new(Self::FIRST.checked_add(n).ok_or(ResourceError::Uid(u32::MAX))?)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for SandboxUid {
    type Error = ResourceError;
    fn try_from(uid: u32) -> Result<Self, Self::Error> {
        Self::new(uid)
    }
}

impl From<SandboxUid> for u32 {
    fn from(uid: SandboxUid) -> u32 {
        uid.0
    }
}

impl fmt::Display for SandboxUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("`{0}` is not a memory size; write it as 512M, 1G or 1.5G")]
    Memory(String),
    #[error("{0} bytes of memory is too little; give an instance at least {MIN_MEMORY_MIB}M")]
    MemoryTooSmall(u64),
    #[error("`{0}` is not a CPU figure; write it as 0.5, 2 or 500m (at least 0.01)")]
    Cpu(String),
    #[error("uid {0} is outside the range reserved for sandboxed tenant code")]
    Uid(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jvm_flags_state_the_limits() {
        let resources = Resources { memory: Memory::from_mib(512), cpu: Cpu::from_millis(500), max_processes: 256 };
        assert_eq!(resources.jvm_flags(), "-XX:MaxRAM=512m -XX:ActiveProcessorCount=1");
        let resources = Resources { memory: Memory::from_mib(4096), cpu: Cpu::from_millis(2500), max_processes: 256 };
        assert_eq!(resources.jvm_flags(), "-XX:MaxRAM=4096m -XX:ActiveProcessorCount=3");
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(Memory::parse("512M").map(Memory::mib), Ok(512));
        assert_eq!(Memory::parse("512MiB").map(Memory::mib), Ok(512));
        assert_eq!(Memory::parse("1G").map(Memory::mib), Ok(1024));
        assert_eq!(Memory::parse("1.5g").map(Memory::mib), Ok(1536));
        assert_eq!(Memory::parse("1G").map(|m| m.to_string()), Ok("1 GiB".to_owned()));
        for bad in ["", "M", "12X", "-1G", "1..5G", "1e9", "99999999999999999999G", "1.0000001G"] {
            assert!(matches!(Memory::parse(bad), Err(ResourceError::Memory(_))), "{bad}");
        }
        assert_eq!(Memory::parse("1M"), Err(ResourceError::MemoryTooSmall(1 << 20)));
    }

    #[test]
    fn cpu_figures() {
        assert_eq!(Cpu::parse("0.5").map(Cpu::millis), Ok(500));
        assert_eq!(Cpu::parse("2").map(Cpu::millis), Ok(2000));
        assert_eq!(Cpu::parse("250m").map(Cpu::millis), Ok(250));
        assert_eq!(Cpu::parse(".25").map(|c| c.to_string()), Ok("0.25".to_owned()));
        for bad in ["", "abc", "0", "0.001", "-1", "99999999"] {
            assert!(Cpu::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uids_stay_in_their_range() {
        assert!(SandboxUid::new(0).is_err());
        assert!(SandboxUid::new(1000).is_err());
        assert!(SandboxUid::new(SandboxUid::FIRST + SandboxUid::COUNT).is_err());
        assert_eq!(SandboxUid::nth(3).map(SandboxUid::get), Ok(SandboxUid::FIRST + 3));
        assert!(serde_json_free_roundtrip(SandboxUid::FIRST));
    }

    fn serde_json_free_roundtrip(uid: u32) -> bool {
        SandboxUid::try_from(uid).map(u32::from) == Ok(uid)
    }
}
