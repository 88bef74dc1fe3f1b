//! The route table: one file per resource, thin handlers. `ROUTES` is the single list that both
//! registers the routes and is checked against the OpenAPI document by the tests.

mod batch;
pub mod docs;
mod health;
mod jobs;
mod me;
mod metrics;
pub mod openapi;
mod predict;

use actix_web::{web, HttpResponse, Route};

use crate::error::ApiError;
use crate::middleware::RouteLabel;

/// Whether a route needs an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone may call it.
    Public,
    /// The handler takes an `ApiKey`.
    Protected,
}

/// One route: method, path (actix pattern), access, whether the OpenAPI document lists it, and
/// the handler.
pub struct RouteSpec {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// actix path pattern, such as `/jobs/{job_id}`.
    pub path: &'static str,
    /// Whether it needs a key.
    pub access: Access,
    /// Whether `/openapi.json` documents it (the documentation routes themselves are not).
    pub documented: bool,
    handler: fn() -> Route,
}

const fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    handler: fn() -> Route,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        access,
        documented: true,
        handler,
    }
}

/// Every route the service serves.
pub const ROUTES: &[RouteSpec] = &[
    route("POST", "/predict", Access::Protected, || {
        web::post().to(predict::predict)
    }),
    route("POST", "/predict/batch", Access::Protected, || {
        web::post().to(batch::predict_batch)
    }),
    route("POST", "/analyze_batch", Access::Protected, || {
        web::post().to(jobs::analyze_batch)
    }),
    route("GET", "/jobs/{job_id}", Access::Protected, || {
        web::get().to(jobs::get_job)
    }),
    route("GET", "/me", Access::Protected, || web::get().to(me::me)),
    route("GET", "/health", Access::Public, || {
        web::get().to(health::health)
    }),
    route("GET", "/metrics", Access::Public, || {
        web::get().to(metrics::metrics)
    }),
    RouteSpec {
        documented: false,
        ..route("GET", "/openapi.json", Access::Public, || {
            web::get().to(docs::openapi_json)
        })
    },
    RouteSpec {
        documented: false,
        ..route("GET", "/docs", Access::Public, || {
            web::get().to(docs::docs_page)
        })
    },
    RouteSpec {
        documented: false,
        ..route("GET", "/docs/{file:.*}", Access::Public, || {
            web::get().to(docs::docs_asset)
        })
    },
];

/// Registers every route; a path called with the wrong method answers 405 with `Allow`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for spec in ROUTES {
        let method = spec.method;
        cfg.service(
            web::resource(spec.path)
                .app_data(RouteLabel(spec.path))
                .route((spec.handler)())
                .default_service(web::route().to(move || async move {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed(method))
                })),
        );
    }
}

/// The answer for a path that does not exist.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
