//! The deployment status machine:
//!
//! ```text
//! QUEUED → BUILDING → DEPLOYING → DEPLOYED → SUPERSEDED
//!    └──────────┴──────────┴→ FAILED | CANCELLED
//! ```
//!
//! A status changes only through [`DeploymentStatus::apply`], which knows
//! every legal move; the store writes the result with a compare-and-set on the
//! old status, so two racing writers cannot both win.

use serde::{Deserialize, Serialize};

/// Where a deployment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentStatus {
    Queued,
    Building,
    Deploying,
    Deployed,
    Failed,
    Cancelled,
    Superseded,
}

/// What happened to a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The builder picked it up.
    StartBuild,
    /// The artifact exists; instances are starting.
    StartDeploy,
    /// New instances are healthy and receive traffic.
    GoLive,
    /// Something went wrong; the reason is stored beside the status.
    Fail,
    /// A user or a newer deployment cancelled it before it went live.
    Cancel,
    /// A newer release took its place.
    Supersede,
}

/// `apply` was asked for a move the machine does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from} deployment cannot {transition:?}")]
pub struct InvalidTransition {
    pub from: DeploymentStatus,
    pub transition: Transition,
}

impl Transition {
    /// Every transition, for code that derives its behaviour from [`DeploymentStatus::apply`].
    pub const ALL: [Transition; 6] =
        [Self::StartBuild, Self::StartDeploy, Self::GoLive, Self::Fail, Self::Cancel, Self::Supersede];
}

impl DeploymentStatus {
    pub const ALL: [DeploymentStatus; 7] = [
        Self::Queued,
        Self::Building,
        Self::Deploying,
        Self::Deployed,
        Self::Failed,
        Self::Cancelled,
        Self::Superseded,
    ];

    /// The status after `transition`, or why it is not allowed.
    pub fn apply(self, transition: Transition) -> Result<Self, InvalidTransition> {
        use DeploymentStatus::*;
        use Transition::*;
        match (self, transition) {
            (Queued, StartBuild) => Ok(Building),
            (Building, StartDeploy) => Ok(Deploying),
            (Deploying, GoLive) => Ok(Deployed),
            (Queued | Building | Deploying, Fail) => Ok(Failed),
            (Queued | Building | Deploying, Cancel) => Ok(Cancelled),
            (Deployed, Supersede) => Ok(Superseded),
            (from, transition) => Err(InvalidTransition { from, transition }),
        }
    }

    /// No transition leaves a final status.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Failed | Self::Cancelled | Self::Superseded)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Building => "BUILDING",
            Self::Deploying => "DEPLOYING",
            Self::Deployed => "DEPLOYED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::Superseded => "SUPERSEDED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == value)
    }
}

impl std::fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The per-project number of a deployment (the build number), from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "u64", into = "u64")]
pub struct DeploymentNumber(u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("build numbers start at 1")]
pub struct InvalidDeploymentNumber;

impl DeploymentNumber {
    pub const FIRST: DeploymentNumber = DeploymentNumber(1);

    pub fn new(value: u64) -> Result<Self, InvalidDeploymentNumber> {
        if value == 0 {
            Err(InvalidDeploymentNumber)
        } else {
            Ok(Self(value))
        }
    }

    pub fn get(self) -> u64 {
        self.0
    }

    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl TryFrom<u64> for DeploymentNumber {
    type Error = InvalidDeploymentNumber;
    fn try_from(value: u64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<DeploymentNumber> for u64 {
    fn from(number: DeploymentNumber) -> u64 {
        number.0
    }
}

impl std::fmt::Display for DeploymentNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::DeploymentStatus::*;
    use super::Transition::*;
    use super::*;

    const TRANSITIONS: [Transition; 6] = [StartBuild, StartDeploy, GoLive, Fail, Cancel, Supersede];

    #[test]
    fn every_transition_is_listed() {
        assert_eq!(Transition::ALL, TRANSITIONS);
    }

    #[test]
    fn the_happy_path_reaches_deployed_then_superseded() {
        let status = [StartBuild, StartDeploy, GoLive, Supersede].into_iter().try_fold(Queued, DeploymentStatus::apply);
        assert_eq!(status, Ok(Superseded));
    }

    #[test]
    fn every_move_outside_the_diagram_is_rejected() {
        let allowed = [
            (Queued, StartBuild, Building),
            (Building, StartDeploy, Deploying),
            (Deploying, GoLive, Deployed),
            (Deployed, Supersede, Superseded),
            (Queued, Fail, Failed),
            (Building, Fail, Failed),
            (Deploying, Fail, Failed),
            (Queued, Cancel, Cancelled),
            (Building, Cancel, Cancelled),
            (Deploying, Cancel, Cancelled),
        ];
        for from in DeploymentStatus::ALL {
            for transition in TRANSITIONS {
                let expected = allowed.iter().find(|(f, t, _)| *f == from && *t == transition).map(|(_, _, to)| *to);
                match expected {
                    Some(to) => assert_eq!(from.apply(transition), Ok(to)),
                    None => assert_eq!(from.apply(transition), Err(InvalidTransition { from, transition })),
                }
            }
        }
    }

    #[test]
    fn final_statuses_have_no_way_out() {
        for status in DeploymentStatus::ALL.into_iter().filter(|s| s.is_final()) {
            assert!(TRANSITIONS.iter().all(|t| status.apply(*t).is_err()), "{status}");
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in DeploymentStatus::ALL {
            assert_eq!(DeploymentStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_string(&status).unwrap(), format!("\"{status}\""));
        }
    }

    #[test]
    fn build_numbers_start_at_one() {
        assert!(DeploymentNumber::new(0).is_err());
        assert_eq!(DeploymentNumber::FIRST.next().get(), 2);
        assert!(serde_json::from_str::<DeploymentNumber>("0").is_err());
    }
}
