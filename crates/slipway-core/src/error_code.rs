//! The stable catalogue of error codes carried in the API's error envelope
//! `{"error":{"code":"…","message":"…","request_id":"…"}}`. Clients match on
//! the code, never on the message; a code once published keeps its meaning.

use serde::{Deserialize, Serialize};

macro_rules! catalogue {
    ($($variant:ident = $wire:literal, $status:literal, $doc:literal;)*) => {
        /// Every error code the API can answer with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ErrorCode {
            $(#[doc = $doc] #[serde(rename = $wire)] $variant,)*
            /// A code this client does not know yet (a newer server).
            #[serde(other, rename = "UNKNOWN")]
            Unknown,
        }

        impl ErrorCode {
            /// Every published code, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The HTTP status that always accompanies this code.
            pub fn http_status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                    ErrorCode::Unknown => 500,
                }
            }

            /// The code as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $wire,)*
                    ErrorCode::Unknown => "UNKNOWN",
                }
            }
        }
    };
}

catalogue! {
    InvalidJson = "INVALID_JSON", 400, "The body is not valid JSON or does not match the expected shape.";
    InvalidRequest = "INVALID_REQUEST", 400, "A parameter is missing or out of range.";
    InvalidCursor = "INVALID_CURSOR", 400, "The pagination cursor was not issued by this server.";
    InvalidId = "INVALID_ID", 400, "An ID in the request is malformed.";
    InvalidSlug = "INVALID_SLUG", 400, "A workspace, project or environment slug breaks the RFC 1123 label rules.";
    InvalidHostname = "INVALID_HOSTNAME", 400, "A hostname breaks the RFC 1123 rules.";
    InvalidDomain = "INVALID_DOMAIN", 400, "A custom domain is not a valid, public-looking DNS name outside the platform domain.";
    HostnameTooLong = "HOSTNAME_TOO_LONG", 400, "The generated `<project>-<workspace>` label would exceed 63 characters.";
    InvalidUsername = "INVALID_USERNAME", 400, "A username breaks the username rules.";
    InvalidEmail = "INVALID_EMAIL", 400, "An email address is malformed.";
    InvalidPassword = "INVALID_PASSWORD", 400, "A password is too short or too long.";
    InvalidBranch = "INVALID_BRANCH", 400, "A branch name is not a valid git branch name.";
    InvalidRepoUrl = "INVALID_REPO_URL", 400, "A repository URL is malformed, or is a local path or non-public address the platform does not fetch from.";
    InvalidRole = "INVALID_ROLE", 400, "A role is not one of owner, admin, developer, viewer.";
    InvalidConfigVarName = "INVALID_CONFIG_VAR_NAME", 400, "A config var name is not a valid environment variable name.";
    ReservedConfigVarName = "RESERVED_CONFIG_VAR_NAME", 400, "A config var name is reserved by the platform (PORT, SLIPWAY_*).";
    InvalidConfigVarValue = "INVALID_CONFIG_VAR_VALUE", 400, "A config var value is too long or contains a NUL byte.";
    InvalidTarget = "INVALID_TARGET", 400, "A runtime target is not `local` or `kubernetes`.";
    InvalidResources = "INVALID_RESOURCES", 400, "A memory, CPU or process figure is malformed, or outside what the platform allows one instance.";
    AuthRequired = "AUTH_REQUIRED", 401, "No credentials were sent.";
    InvalidCredentials = "INVALID_CREDENTIALS", 401, "Username or password is wrong.";
    TokenInvalid = "TOKEN_INVALID", 401, "The token is unknown, expired or revoked.";
    Forbidden = "FORBIDDEN", 403, "Your role does not allow this action.";
    SignupDisabled = "SIGNUP_DISABLED", 403, "Open sign-up is disabled; ask a platform admin.";
    NotFound = "NOT_FOUND", 404, "No such route.";
    UserNotFound = "USER_NOT_FOUND", 404, "No such user.";
    TokenNotFound = "TOKEN_NOT_FOUND", 404, "No such token.";
    WorkspaceNotFound = "WORKSPACE_NOT_FOUND", 404, "No such workspace (or not yours).";
    MemberNotFound = "MEMBER_NOT_FOUND", 404, "No such member in this workspace.";
    ProjectNotFound = "PROJECT_NOT_FOUND", 404, "No such project (or not yours).";
    EnvironmentNotFound = "ENVIRONMENT_NOT_FOUND", 404, "No such environment.";
    ConfigVarNotFound = "CONFIG_VAR_NOT_FOUND", 404, "No such config var.";
    DeploymentNotFound = "DEPLOYMENT_NOT_FOUND", 404, "No such deployment.";
    MethodNotAllowed = "METHOD_NOT_ALLOWED", 405, "The route exists but not with this method.";
    UserExists = "USER_EXISTS", 409, "A user with this username already exists.";
    WorkspaceExists = "WORKSPACE_EXISTS", 409, "A workspace with this slug already exists.";
    MemberExists = "MEMBER_EXISTS", 409, "The user is already a member of this workspace.";
    ProjectExists = "PROJECT_EXISTS", 409, "A project with this slug already exists in the workspace.";
    EnvironmentExists = "ENVIRONMENT_EXISTS", 409, "An environment with this name already exists in the project.";
    HostnameTaken = "HOSTNAME_TAKEN", 409, "The hostname is already routed to another environment on this platform.";
    LastOwner = "LAST_OWNER", 409, "A workspace must keep at least one owner.";
    EnvironmentProtected = "ENVIRONMENT_PROTECTED", 409, "The production environment cannot be deleted; delete the project instead.";
    DeploymentStateConflict = "DEPLOYMENT_STATE_CONFLICT", 409, "The deployment is not in a state that allows this change.";
    DomainNotFound = "DOMAIN_NOT_FOUND", 404, "No such custom domain on this environment.";
    ReleaseNotFound = "RELEASE_NOT_FOUND", 404, "No such release in this environment.";
    ReleasePruned = "RELEASE_PRUNED", 410, "The release's artifact was removed by release retention, so it can no longer be rolled back to; deploy its commit again instead.";
    IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED", 422, "The Idempotency-Key was used before with a different request.";
    NothingToDeploy = "NOTHING_TO_DEPLOY", 409, "There is no commit to deploy yet: push code or set a repository URL.";
    QuotaExceeded = "QUOTA_EXCEEDED", 409, "The change would take the workspace over a quota (memory, instances or projects) set by a platform admin.";
    RenderFailed = "RENDER_FAILED", 422, "The environment cannot be rendered as Kubernetes manifests (a name or setting Kubernetes refuses).";
    PayloadTooLarge = "PAYLOAD_TOO_LARGE", 413, "The body exceeds the size limit.";
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE", 415, "The body must be sent as application/json.";
    Internal = "INTERNAL", 500, "Something failed on the server; the request ID finds it in the logs.";
    Unavailable = "UNAVAILABLE", 503, "A dependency such as the database is unavailable; retry later.";
}

// Written by hand: the derive does not see the `serde(rename)` of a variant
// whose name comes from a macro fragment, and documented the Rust variant
// names (`InvalidJson`) instead of the wire codes (`INVALID_JSON`).
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("Every error code the API can answer with."))
            .enum_values(Some(ErrorCode::ALL.iter().map(|code| code.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde_and_statuses_are_errors() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert!((400..600).contains(&code.http_status()), "{code}");
        }
    }

    #[test]
    fn unknown_codes_from_a_newer_server_still_parse() {
        let code: ErrorCode = serde_json::from_str("\"SOMETHING_NEW\"").unwrap();
        assert_eq!(code, ErrorCode::Unknown);
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"UNKNOWN\"");
    }
}
