//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! response types, with FastAPI's `APIKeyHeader` security scheme.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

use serde_json::json;

use crate::config::InputLimits;
use crate::error::ValidationItem;

/// The name FastAPI gives the scheme of `APIKeyHeader(name="X-API-Key")`.
pub const SECURITY_SCHEME: &str = "APIKeyHeader";

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "sentiment-api",
        description = "Sentiment analysis (VADER) behind API-key authentication. Send your key in the `X-API-Key` header (use **Authorize**).",
    ),
    paths(
        super::predict::predict,
        super::batch::predict_batch,
        super::jobs::analyze_batch,
        super::jobs::get_job,
        super::me::me,
        super::health::health,
        super::metrics::metrics,
    ),
    components(schemas(ErrorDetail, HttpValidationError, ValidationItem)),
    modifiers(&ApiKeyScheme),
)]
pub struct ApiDoc;

struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SECURITY_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// The body of every error but 422: `{"detail": "..."}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// What went wrong.
    pub detail: String,
}

/// The body of a 422: Pydantic v2 error items (FastAPI's `HTTPValidationError`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HTTPValidationError)]
pub struct HttpValidationError {
    /// One item per problem.
    pub detail: Vec<ValidationItem>,
}

fn error(description: &str, schema: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(schema)))
                .build(),
        )
        .build()
        .into()
}

/// The errors any route that needs a key can answer, besides its own.
pub struct ProtectedErrors;

impl IntoResponses for ProtectedErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            (
                "400",
                "`X-API-Key` sent more than once, or a body that could not be read",
                "ErrorDetail",
            ),
            ("401", "No key (`WWW-Authenticate: APIKey`)", "ErrorDetail"),
            ("403", "Invalid API key", "ErrorDetail"),
            (
                "408",
                "The body did not arrive within `BODY_TIMEOUT_SECONDS`",
                "ErrorDetail",
            ),
            ("413", "Body over `MAX_BODY_BYTES`", "ErrorDetail"),
            (
                "415",
                "A body that is not `application/json`",
                "ErrorDetail",
            ),
            ("422", "Invalid input", "HTTPValidationError"),
            ("429", "Rate limit exceeded (`Retry-After`)", "ErrorDetail"),
            (
                "500",
                "A bug; details in the server log only",
                "ErrorDetail",
            ),
            (
                "503",
                "Overloaded or inference timed out (`Retry-After`)",
                "ErrorDetail",
            ),
        ]
        .into_iter()
        .map(|(status, description, schema)| (status.to_owned(), error(description, schema)))
        .collect()
    }
}

/// The errors a public route can answer.
pub struct PublicErrors;

impl IntoResponses for PublicErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [(
            "500".to_owned(),
            error("A bug; details in the server log only", "ErrorDetail"),
        )]
        .into()
    }
}

/// The document as JSON, with the configured input limits written into its schemas, so that
/// clients (and schemathesis) see the limits this server really applies.
pub fn document(limits: &InputLimits) -> String {
    let mut doc = match serde_json::to_value(ApiDoc::openapi()) {
        Ok(doc) => doc,
        Err(e) => {
            log::error!("the OpenAPI document could not be serialized: {e}");
            return "{}".to_owned();
        }
    };
    let text = json!({ "type": "string", "maxLength": limits.max_text_chars });
    let schemas = &mut doc["components"]["schemas"];
    schemas["PredictRequest"]["properties"]["text"] = text.clone();
    schemas["BatchRequest"]["properties"]["texts"] = json!({
        "type": "array", "items": text, "minItems": 1, "maxItems": limits.max_batch_size,
    });
    if let Some(params) = doc["paths"]["/predict"]["post"]["parameters"].as_array_mut() {
        for param in params.iter_mut().filter(|p| p["name"] == "text") {
            param["schema"]["maxLength"] = limits.max_text_chars.into();
        }
    }
    doc.to_string()
}
