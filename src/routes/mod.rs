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

use actix_web::guard::{Guard, GuardContext};
use actix_web::http::Method;
use actix_web::{web, HttpResponse, Route};

use crate::error::ApiError;
use crate::http::{Authorize, Gate};
use crate::paths::{Access, RouteId, RouteLabel, RouteSpec, ROUTES};

/// The handler of each route; its method is the table's ([`OnMethod`]).
fn handler(id: RouteId) -> Route {
    match id {
        RouteId::Predict => web::route().to(predict::predict),
        RouteId::PredictBatch => web::route().to(batch::predict_batch),
        RouteId::AnalyzeBatch => web::route().to(jobs::analyze_batch),
        RouteId::Job => web::route().to(jobs::get_job),
        RouteId::Me => web::route().to(me::me),
        RouteId::Models => web::route().to(models::models),
        RouteId::Health => web::route().to(health::health),
        RouteId::Ready => web::route().to(health::ready),
        RouteId::Metrics => web::route().to(metrics::metrics),
        RouteId::OpenApi => web::route().to(docs::openapi_json),
        RouteId::DocsPage => web::route().to(docs::docs_page),
        RouteId::DocsAsset => web::route().to(docs::docs_asset),
    }
}

/// Matches requests of one method. actix's own method guard (`web::get()`, `web::post()`) also
/// records every method it is asked about in the request, for the `Allow` header of actix's 405:
/// a vector and a map entry allocated on every request. Each resource here answers its 405 itself
/// from the table, so the comparison alone is enough.
struct OnMethod(Method);

impl Guard for OnMethod {
    fn check(&self, ctx: &GuardContext<'_>) -> bool {
        ctx.head().method == self.0
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
    let on_method = Method::from_bytes(method.as_bytes()).expect("the route table's methods");
    let route = handler(spec.id).guard(OnMethod(on_method));
    let route = match spec.access {
        Access::Public => route,
        Access::Protected => route.wrap(Authorize::new(spec, Rc::clone(gate))),
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
