//! Builds the server: shared state once, the route table, error handlers, middleware.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::auth::{spawn_reloader, KeyStore};
use crate::config::Settings;
use crate::error::{ApiError, ValidationItem};
use crate::limits::{AuthThrottle, InFlight, RateLimits};
use crate::middleware::{access_log, catch_panic, rate_limit_headers, shed_load};
use crate::model::SentimentModel;
use crate::routes;

/// Starts serving on `listener` (bound by the caller, so tests can use port 0); await the result.
pub fn run(
    listener: TcpListener,
    settings: Settings,
    model: Arc<dyn SentimentModel>,
) -> std::io::Result<Server> {
    // Shared state is built once, here, and cloned into every worker.
    let keys = web::Data::new(KeyStore::from_shared(settings.keys.clone()));
    spawn_reloader(
        keys.clone(),
        settings.key_source.clone(),
        settings.keys_poll,
    );
    let model = web::Data::from(model);
    let limits = web::Data::new(settings.limits);
    let rate_limits = web::Data::new(RateLimits::new(settings.rate_limit));
    let throttle = web::Data::new(AuthThrottle::new(
        settings.auth_failures_per_window,
        settings.auth_failure_window,
        settings.trusted_proxies.clone(),
    ));
    let in_flight = web::Data::new(InFlight::new(settings.max_concurrent_requests));

    let server = HttpServer::new(move || {
        App::new()
            .app_data(keys.clone())
            .app_data(model.clone())
            .app_data(limits.clone())
            .app_data(rate_limits.clone())
            .app_data(throttle.clone())
            .app_data(in_flight.clone())
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                let item = ValidationItem::value_error(
                    vec!["query".into()],
                    serde_json::Value::Null,
                    &err.to_string(),
                );
                ApiError::Validation(vec![item]).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
            .configure(routes::configure)
            .default_service(web::to(routes::not_found))
            .wrap(from_fn(rate_limit_headers))
            .wrap(from_fn(catch_panic))
            .wrap(from_fn(shed_load))
            .wrap(from_fn(access_log))
    })
    .workers(settings.workers)
    .listen(listener)?
    .run();
    Ok(server)
}
