//! The error answers each kind of route can give, as the OpenAPI document lists them.

use std::collections::BTreeMap;

use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response};
use utoipa::IntoResponses;

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
