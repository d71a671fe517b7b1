use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::names::ConfigVarName;
use crate::timestamp::Timestamp;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetConfigRequest {
    pub vars: BTreeMap<String, String>,
    /// Store these values encrypted and never show them again.
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConfigVar {
    pub name: ConfigVarName,
    /// The value; `null` for a secret, which is never shown again.
    pub value: Option<String>,
    pub secret: bool,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnsetConfigQuery {
    /// Comma-separated names to remove.
    pub names: String,
}
