//! Release retention: how many releases of each environment keep their
//! artifact (the build directory a rollback starts again) on one machine.
//! Older ones stay listed, but can no longer be rolled back to.

use std::fmt;
use std::num::NonZeroU32;

/// The artifacts of the last N releases of each environment are kept (`SLIPWAY_RELEASE_RETENTION`).
/// At least 1; the active release and the one being started are kept whatever N is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReleaseRetention(NonZeroU32);

/// Why a retention setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a release count from 1 to {max}", max = ReleaseRetention::MAX)]
pub struct InvalidRetention(String);

impl ReleaseRetention {
    /// Ten releases, as Heroku keeps rollbacks within reach.
    pub const DEFAULT: ReleaseRetention = ReleaseRetention(match NonZeroU32::new(10) {
        Some(n) => n,
        None => panic!("10 is not zero"),
    });

    /// More would keep gigabytes per environment for rollbacks nobody makes.
    pub const MAX: u32 = 1000;

    pub fn new(releases: u32) -> Result<Self, InvalidRetention> {
        match NonZeroU32::new(releases) {
            Some(n) if releases <= Self::MAX => Ok(Self(n)),
            _ => Err(InvalidRetention(releases.to_string())),
        }
    }

    pub fn parse(text: &str) -> Result<Self, InvalidRetention> {
        let releases = text.trim().parse::<u32>().map_err(|_| InvalidRetention(text.to_owned()))?;
        Self::new(releases).map_err(|_| InvalidRetention(text.to_owned()))
    }

    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl Default for ReleaseRetention {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for ReleaseRetention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_one_to_the_maximum() {
        assert_eq!(ReleaseRetention::default().get(), 10);
        assert_eq!(ReleaseRetention::parse("1").map(ReleaseRetention::get), Ok(1));
        assert_eq!(ReleaseRetention::parse(" 1000 ").map(ReleaseRetention::get), Ok(1000));
        for bad in ["0", "1001", "-1", "ten", "", "1.5"] {
            let err = ReleaseRetention::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("from 1 to 1000"), "{err}");
        }
    }
}
