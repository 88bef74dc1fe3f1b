//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! response types, with FastAPI's `APIKeyHeader` security scheme and, as an alternative on every
//! protected operation, `HTTPBearer` (FastAPI's name for `HTTPBearer()`).

use serde_json::json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::config::InputLimits;
use crate::error::ValidationItem;
use crate::http::types::{ErrorDetail, HttpValidationError};

/// The name FastAPI gives the scheme of `APIKeyHeader(name="X-API-Key")`.
pub const SECURITY_SCHEME: &str = "APIKeyHeader";

/// The name FastAPI gives the scheme of `HTTPBearer()`: the same key in `Authorization: Bearer`.
pub const BEARER_SCHEME: &str = "HTTPBearer";

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "sentiment-api",
        description = "Sentiment analysis (VADER by default; `GET /models` lists the others) behind API-key authentication. Send your key in the `X-API-Key` header, or as `Authorization: Bearer <key>` (use **Authorize**).",
    ),
    paths(
        super::predict::predict,
        super::batch::predict_batch,
        super::jobs::analyze_batch,
        super::jobs::get_job,
        super::me::me,
        super::models::models,
        super::health::health,
        super::health::ready,
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
        components.add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The same API key, as `Authorization: Bearer <key>`."))
                    .build(),
            ),
        );
    }
}

/// Offers `HTTPBearer` beside `APIKeyHeader` on every operation that requires the latter (either
/// one satisfies it), so generated clients offer both.
fn offer_bearer(doc: &mut serde_json::Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    let api_key = json!({ SECURITY_SCHEME: [] });
    for op in paths
        .values_mut()
        .filter_map(|p| p.as_object_mut())
        .flat_map(|p| p.values_mut())
    {
        if let Some(security) = op.get_mut("security").and_then(|s| s.as_array_mut()) {
            if security.contains(&api_key) {
                security.push(json!({ BEARER_SCHEME: [] }));
            }
        }
    }
}

/// The document as JSON, with the configured input limits and the loaded models written into its
/// schemas, so that clients (and schemathesis) see the limits and choices this server really has.
pub fn document(limits: &InputLimits, models: &[&str]) -> String {
    let mut doc = match serde_json::to_value(ApiDoc::openapi()) {
        Ok(doc) => doc,
        Err(e) => {
            log::error!("the OpenAPI document could not be serialized: {e}");
            return "{}".to_owned();
        }
    };
    offer_bearer(&mut doc);
    let text = json!({ "type": "string", "maxLength": limits.max_text_chars });
    let schemas = &mut doc["components"]["schemas"];
    schemas["PredictRequest"]["properties"]["text"] = text.clone();
    schemas["BatchRequest"]["properties"]["texts"] = json!({
        "type": "array", "items": text, "minItems": 1, "maxItems": limits.max_batch_size,
    });
    // Optional, and not nullable: the plainest form for client generators.
    let model = json!({ "type": "string", "enum": models });
    for request in ["PredictRequest", "BatchRequest"] {
        let description = schemas[request]["properties"]["model"]["description"].clone();
        schemas[request]["properties"]["model"] = model.clone();
        schemas[request]["properties"]["model"]["description"] = description;
    }
    // The body is optional (the text may come as `?text=`), and stated so in the plainest form
    // generators handle: the schema itself, not a `oneOf` with `null`.
    doc["paths"]["/predict"]["post"]["requestBody"]["required"] = false.into();
    if let Some(params) = doc["paths"]["/predict"]["post"]["parameters"].as_array_mut() {
        for param in params.iter_mut() {
            if param["name"] == "text" {
                param["schema"]["maxLength"] = limits.max_text_chars.into();
            } else if param["name"] == "model" {
                param["schema"] = model.clone();
            }
        }
    }
    doc.to_string()
}
