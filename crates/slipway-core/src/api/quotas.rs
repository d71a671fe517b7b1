use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::quota::{QuotaUsage, WorkspaceQuota};

/// `PUT /v1/workspaces/{ws}/quotas` (platform admins): the whole quota at once; an absent or
/// `null` figure is unlimited. Lowering a quota under what is in use stops nothing that runs;
/// it refuses what would grow the workspace further.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuotaRequest {
    /// Memory of all instances together: `8G`, `512M`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "8G")]
    pub memory: Option<String>,
    /// Instances of all environments together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projects: Option<i64>,
}

/// A workspace's quota and what it uses of it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuotaReport {
    pub quota: WorkspaceQuota,
    pub usage: QuotaUsage,
}
