//! The route table: one file per resource, thin handlers.

mod batch;
mod health;
mod jobs;
mod me;
mod predict;

use actix_web::{web, HttpResponse, Route};

use crate::error::ApiError;

/// Whether a route needs an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone may call it.
    Public,
    /// The handler takes an `ApiKey`.
    Protected,
}

/// Every route the service serves: method, path (actix pattern) and access; the tests walk it.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/health", Access::Public),
    ("POST", "/predict", Access::Protected),
    ("POST", "/predict/batch", Access::Protected),
    ("POST", "/analyze_batch", Access::Protected),
    ("GET", "/jobs/{job_id}", Access::Protected),
    ("GET", "/me", Access::Protected),
];

/// Registers every route; a path called with the wrong method answers 405 with `Allow`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/health")
            .route(web::get().to(health::health))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/predict")
            .route(web::post().to(predict::predict))
            .default_service(only("POST")),
    )
    .service(
        web::resource("/predict/batch")
            .route(web::post().to(batch::predict_batch))
            .default_service(only("POST")),
    )
    .service(
        web::resource("/analyze_batch")
            .route(web::post().to(jobs::analyze_batch))
            .default_service(only("POST")),
    )
    .service(
        web::resource("/jobs/{job_id}")
            .route(web::get().to(jobs::get_job))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/me")
            .route(web::get().to(me::me))
            .default_service(only("GET")),
    );
}

/// The answer for a path that exists but not with the method used.
fn only(allow: &'static str) -> Route {
    web::route()
        .to(move || async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow)) })
}

/// The answer for a path that does not exist.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
