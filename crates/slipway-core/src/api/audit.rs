use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{AuditEventId, UserId};
use crate::timestamp::Timestamp;

/// One mutating call: who did what to which object, and when.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    pub id: AuditEventId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<UserId>,
    /// The actor's username at the time.
    pub actor: String,
    /// A dotted verb such as `project.create`.
    pub action: String,
    /// What was acted on, such as `project/shop`.
    pub target: String,
    pub request_id: String,
    pub created_at: Timestamp,
}
