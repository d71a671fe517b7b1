//! The JSON bodies of the REST API `/v1`, shared by the server (which
//! documents them in OpenAPI) and the CLI (which reads them).
//!
//! Requests carry plain strings so that the server can answer a bad value
//! with its precise error code (`INVALID_SLUG`, not `INVALID_JSON`);
//! responses carry the parsed types.

mod audit;
mod auth;
mod config;
mod deployments;
mod projects;
mod quotas;
mod workspaces;

pub use audit::*;
pub use auth::*;
pub use config::*;
pub use deployments::*;
pub use projects::*;
pub use quotas::*;
pub use workspaces::*;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ErrorCode;

/// Every error answer: `{"error": {"code", "message", "request_id"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// For people; may change between versions.
    pub message: String,
    /// Also sent as the `x-request-id` header; quote it in bug reports.
    pub request_id: String,
}

/// One page of a list. Pass `next_cursor` back as `cursor` for the next page;
/// it is absent on the last page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Query parameters of every list endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Deserialises a PATCH field: absent → `None`, `null` → `Some(None)`,
/// a value → `Some(Some(value))`.
pub(crate) fn patch_field<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
