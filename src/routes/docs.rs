use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::HttpResponse;
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::openapi;

static DOCUMENT: LazyLock<String> = LazyLock::new(openapi::document);

/// `GET /openapi.json`: the OpenAPI 3.1 document (no key needed).
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}

/// `GET /docs`: Swagger UI lives under `/docs/`.
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

/// Swagger UI, served from the binary (no CDN), reading `/openapi.json`.
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}").config(
        Config::new(["/openapi.json"])
            // The default validator is an external service: never call it.
            .validator_url("none")
            .try_it_out_enabled(true)
            .persist_authorization(true),
    )
}
