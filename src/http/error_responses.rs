//! The error answers each kind of route can give, as the OpenAPI document lists them.

use std::collections::BTreeMap;

use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response};
use utoipa::IntoResponses;

/// Error answers by status, each with its description; the 422's body is Pydantic's, every other
/// one `{"detail": "..."}`.
fn errors(table: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    table
        .iter()
        .map(|&(status, description)| {
            let schema = if status == "422" {
                "HTTPValidationError"
            } else {
                "ErrorDetail"
            };
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(schema)))
                        .build(),
                )
                .build();
            (status.to_owned(), response.into())
        })
        .collect()
}

/// The errors any route that needs a key can answer, besides its own.
pub struct ProtectedErrors;

impl IntoResponses for ProtectedErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        errors(&[
            (
                "400",
                "`X-API-Key` or a Bearer `Authorization` sent more than once, different keys in the \
                 two, or a body that could not be read",
            ),
            ("401", "No key (`WWW-Authenticate: APIKey`)"),
            (
                "403",
                "Invalid API key, or `Not enough permissions` for a key outside the route's scopes",
            ),
            (
                "408",
                "The body did not arrive within `BODY_TIMEOUT_SECONDS`",
            ),
            ("413", "Body over `MAX_BODY_BYTES`"),
            ("415", "A body that is not `application/json`"),
            ("422", "Invalid input"),
            (
                "429",
                "Rate limit exceeded, or the key's or its owner's quota for the day or month \
                 (`Quota exceeded`) (`Retry-After`)",
            ),
            ("500", "A bug; details in the server log only"),
            (
                "503",
                "Overloaded, inference timed out, or (with `REDIS_URL`) Redis unreachable (`Retry-After`)",
            ),
        ])
    }
}

/// The errors a public route can answer.
pub struct PublicErrors;

impl IntoResponses for PublicErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        errors(&[("500", "A bug; details in the server log only")])
    }
}
