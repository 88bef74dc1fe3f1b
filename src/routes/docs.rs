use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa_swagger_ui::Config;

use crate::error::ApiError;

/// The OpenAPI document as served, built once at start with the configured limits.
pub struct ApiDocument(pub String);

/// Swagger UI's settings: read `/openapi.json`, never call an external validator, and keep a key
/// typed into "Authorize" only as long as the page is open (FastAPI's default): persisting it
/// would leave the key in the browser's localStorage for any later visitor of the machine.
pub struct SwaggerConfig(Arc<Config<'static>>);

impl Default for SwaggerConfig {
    fn default() -> Self {
        SwaggerConfig(Arc::new(
            Config::new(["/openapi.json"])
                .validator_url("none")
                .try_it_out_enabled(true)
                .persist_authorization(false),
        ))
    }
}

/// `GET /openapi.json`: the OpenAPI 3.1 document (no key needed).
pub async fn openapi_json(document: web::Data<ApiDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.clone())
}

/// `GET /docs`: Swagger UI's page, as FastAPI serves it (200, no redirect). A `<base>` makes its
/// relative asset links resolve under `/docs/`.
pub async fn docs_page(config: web::Data<SwaggerConfig>) -> Result<HttpResponse, ApiError> {
    let (bytes, content_type) = swagger_file("index.html", &config)?;
    let page =
        String::from_utf8_lossy(&bytes).replacen("<head>", "<head>\n    <base href=\"/docs/\">", 1);
    Ok(HttpResponse::Ok().content_type(content_type).body(page))
}

/// `GET /docs/{file}`: Swagger UI's assets, served from the binary; an unknown file is a JSON 404.
pub async fn docs_asset(
    file: web::Path<String>,
    config: web::Data<SwaggerConfig>,
) -> Result<HttpResponse, ApiError> {
    let (bytes, content_type) = swagger_file(&file, &config)?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(bytes))
}

fn swagger_file(path: &str, config: &SwaggerConfig) -> Result<(Vec<u8>, String), ApiError> {
    match utoipa_swagger_ui::serve(path, Arc::clone(&config.0)) {
        Ok(Some(file)) => Ok((file.bytes.into_owned(), file.content_type)),
        Ok(None) => Err(ApiError::NotFound),
        Err(e) => {
            log::error!(
                "Swagger UI file {:?} could not be served: {e}",
                crate::paths::loggable_path(path)
            );
            Err(ApiError::Internal)
        }
    }
}
