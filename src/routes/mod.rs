//! The handlers, one file per resource, and their registration: every route of the table in
//! [`paths`](crate::paths), each given its handler by an exhaustive `match`, so a route without a
//! handler does not compile.

mod batch;
mod cors;
pub mod docs;
mod health;
mod jobs;
mod me;
mod metrics;
mod models;
pub mod openapi;
mod predict;

use std::rc::Rc;

use actix_web::http::Method;
use actix_web::{web, HttpResponse, Route};

use crate::error::ApiError;
use crate::http::{Authorize, Gate};
use crate::paths::{Access, RouteId, RouteLabel, RouteSpec, ROUTES};

/// The handler of each route.
fn handler(id: RouteId) -> Route {
    match id {
        RouteId::Predict => web::post().to(predict::predict),
        RouteId::PredictBatch => web::post().to(batch::predict_batch),
        RouteId::AnalyzeBatch => web::post().to(jobs::analyze_batch),
        RouteId::Job => web::get().to(jobs::get_job),
        RouteId::Me => web::get().to(me::me),
        RouteId::Models => web::get().to(models::models),
        RouteId::Health => web::get().to(health::health),
        RouteId::Ready => web::get().to(health::ready),
        RouteId::Metrics => web::get().to(metrics::metrics),
        RouteId::OpenApi => web::get().to(docs::openapi_json),
        RouteId::DocsPage => web::get().to(docs::docs_page),
        RouteId::DocsAsset => web::get().to(docs::docs_asset),
    }
}

/// Registers every route, each protected one behind the authorization step of `gate`; a path
/// called with the wrong method answers 405 with `Allow`.
pub fn configure(gate: Rc<Gate>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        for spec in ROUTES {
            register(cfg, spec, &gate);
        }
    }
}

fn register(cfg: &mut web::ServiceConfig, spec: &'static RouteSpec, gate: &Rc<Gate>) {
    let method = spec.method;
    let route = match spec.access {
        Access::Public => handler(spec.id),
        Access::Protected => handler(spec.id).wrap(Authorize::new(spec, Rc::clone(gate))),
    };
    cfg.service(
        web::resource(spec.path)
            .app_data(RouteLabel(spec))
            .route(route)
            .route(web::method(Method::OPTIONS).to(cors::preflight))
            .default_service(web::route().to(move || async move {
                Err::<HttpResponse, _>(ApiError::MethodNotAllowed(method))
            })),
    );
}

/// The answer for a path that does not exist.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
