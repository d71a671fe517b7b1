use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::deployment::{BuildNumber, DeploymentStatus};
use crate::ids::{DeploymentId, EnvironmentId};
use crate::image_tag::CommitSha;
use crate::timestamp::Timestamp;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Deployment {
    pub id: DeploymentId,
    pub environment_id: EnvironmentId,
    /// The build number, unique in the project.
    pub number: BuildNumber,
    pub status: DeploymentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<CommitSha>,
    /// Why it failed, in words a person can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
