//! The OpenAPI 3.1 document: paths come from the `#[utoipa::path]` of each
//! handler as the router is built, and what each input must be from the types
//! and constants its handler checks it with (`inputs.rs`), so the document
//! cannot drift from the code.

mod inputs;

use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::OpenApi;

use crate::{ApiSettings, AppState};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Slipway API",
        description = "Control plane of Slipway. Authenticate with `Authorization: Bearer <token>`. \
                       Errors share one envelope with a stable `code`.",
    ),
    components(schemas(slipway_core::api::ErrorEnvelope, slipway_core::ErrorCode)),
    security(("bearer" = [])),
)]
pub(crate) struct ApiDoc;

/// The document with everything the derive cannot say, as JSON. Some rules
/// depend on the settings (the platform domain, the resource maxima).
pub(crate) fn finish(document: Document, config: &ApiSettings) -> Arc<String> {
    let (text, unmatched) = render(document, config);
    for rule in unmatched {
        // The unit tests fail on this; a release build still serves the rest.
        tracing::error!(%rule, "the OpenAPI document has no place for an input rule");
    }
    Arc::new(text)
}

fn render(mut document: Document, config: &ApiSettings) -> (String, Vec<String>) {
    let base = ApiDoc::openapi();
    document.info = base.info;
    document.security = base.security;
    let components = document.components.get_or_insert_with(Default::default);
    if let Some(base) = base.components {
        components.schemas.extend(base.schemas);
    }
    components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    // Serialising the document's own types cannot fail.
    let mut value = serde_json::to_value(&document).unwrap_or_default();
    let unmatched = inputs::constrain(&mut value, config);
    (serde_json::to_string_pretty(&value).unwrap_or_default(), unmatched)
}

pub(crate) fn serve(document: Arc<String>) -> Router<AppState> {
    Router::new().route(
        "/v1/openapi.json",
        get(move || {
            let document = document.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], document.as_str().to_owned()).into_response() }
        }),
    )
}
