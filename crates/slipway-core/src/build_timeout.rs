//! How long one build of a project may take: a project setting, 1 minute to
//! 2 hours, 15 minutes unless the project sets its own. Users write it as
//! `90s`, `20m`, `1h` or `1h30m` (the CLI); the API carries whole seconds.

use std::fmt;
use std::time::Duration;

/// The time limit of a build, from the moment it gets a build slot until its last command ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BuildTimeout(u64);

/// Why a build timeout was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBuildTimeout {
    #[error("`{0}` is not a duration like 90s, 20m, 1h or 1h30m")]
    Malformed(String),
    #[error(
        "a build timeout of {0} seconds is out of range: it must be {min} to {max} seconds (1 minute to 2 hours)",
        min = BuildTimeout::MIN_SECS,
        max = BuildTimeout::MAX_SECS
    )]
    OutOfRange(u64),
}

impl BuildTimeout {
    /// A real dependency install does not fit in less.
    pub const MIN_SECS: u64 = 60;
    /// A build that runs longer holds a build slot others wait for.
    pub const MAX_SECS: u64 = 2 * 3600;
    /// What a cold Rust or webpack build with real dependencies needs on two cores.
    pub const DEFAULT: BuildTimeout = BuildTimeout(15 * 60);

    pub fn from_secs(seconds: u64) -> Result<Self, InvalidBuildTimeout> {
        if (Self::MIN_SECS..=Self::MAX_SECS).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(InvalidBuildTimeout::OutOfRange(seconds))
        }
    }

    /// `90s`, `20m`, `1h`, `1h30m`; a bare number is seconds.
    pub fn parse(text: &str) -> Result<Self, InvalidBuildTimeout> {
        let malformed = || InvalidBuildTimeout::Malformed(text.chars().take(40).collect());
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(malformed());
        }
        if trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Self::from_secs(trimmed.parse().map_err(|_| malformed())?);
        }
        let (mut seconds, mut rest, mut last_unit) = (0u64, trimmed, u64::MAX);
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits == 0 {
                return Err(malformed());
            }
            let number: u64 = rest[..digits].parse().map_err(|_| malformed())?;
            let unit = match rest[digits..].chars().next() {
                Some('h') => 3600,
                Some('m') => 60,
                Some('s') => 1,
                _ => return Err(malformed()),
            };
            // Each unit once, largest first: `1h30m`, not `30m1h` or `1m1m`.
            if unit >= last_unit {
                return Err(malformed());
            }
            last_unit = unit;
            seconds = number.checked_mul(unit).and_then(|s| s.checked_add(seconds)).ok_or_else(malformed)?;
            rest = &rest[digits + 1..];
        }
        Self::from_secs(seconds)
    }

    pub fn as_secs(self) -> u64 {
        self.0
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(self.0)
    }
}

impl Default for BuildTimeout {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for BuildTimeout {
    /// `15m`, `1h30m`, `90s`: what [`BuildTimeout::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (hours, minutes, seconds) = (self.0 / 3600, self.0 % 3600 / 60, self.0 % 60);
        if hours > 0 {
            write!(f, "{hours}h")?;
        }
        if minutes > 0 {
            write!(f, "{minutes}m")?;
        }
        if seconds > 0 {
            write!(f, "{seconds}s")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_as_people_write_them() {
        for (text, seconds) in
            [("90s", 90), ("20m", 1200), ("1h", 3600), ("1h30m", 5400), ("2h", 7200), ("600", 600), (" 15m ", 900)]
        {
            assert_eq!(BuildTimeout::parse(text).map(BuildTimeout::as_secs), Ok(seconds), "{text}");
        }
        assert_eq!(BuildTimeout::DEFAULT.to_string(), "15m");
        assert_eq!(BuildTimeout::from_secs(5430).unwrap().to_string(), "1h30m30s");
    }

    #[test]
    fn out_of_range_and_malformed_are_refused_saying_which() {
        for text in ["59s", "0", "2h1s", "3h", "99999999999999999999h"] {
            let err = BuildTimeout::parse(text).expect_err(text);
            assert!(
                matches!(err, InvalidBuildTimeout::OutOfRange(_) | InvalidBuildTimeout::Malformed(_)),
                "{text}: {err}"
            );
        }
        assert!(BuildTimeout::parse("3h").unwrap_err().to_string().contains("1 minute to 2 hours"));
        for text in ["", "m", "15x", "1.5h", "30m1h", "1m1m", "-5m", "15 m", "h1"] {
            assert!(matches!(BuildTimeout::parse(text), Err(InvalidBuildTimeout::Malformed(_))), "{text:?}");
        }
        // Fifteen seconds: a number, but out of range.
        assert!(matches!(BuildTimeout::parse("15"), Err(InvalidBuildTimeout::OutOfRange(15))));
    }

    proptest! {
        #[test]
        fn display_reads_back(seconds in BuildTimeout::MIN_SECS..=BuildTimeout::MAX_SECS) {
            let timeout = BuildTimeout::from_secs(seconds).unwrap();
            prop_assert_eq!(BuildTimeout::parse(&timeout.to_string()), Ok(timeout));
        }

        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in "\\PC{0,12}") {
            let _ = BuildTimeout::parse(&text);
        }
    }
}
