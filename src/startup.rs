//! Builds the server: shared state once, the route table, error handlers, middleware; and the
//! signals that stop it.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::auth::{spawn_reloader, KeyStore, Keys};
use crate::config::Settings;
use crate::error::{ApiError, ValidationItem};
use crate::inference::Inference;
use crate::jobs::{InMemoryJobStore, JobStore};
use crate::limits::{spawn_sweeper, AuthThrottle, InFlight, RateLimits};
use crate::metrics::Metrics;
use crate::middleware::Frontdoor;
use crate::model::Models;
use crate::readiness::Readiness;
use crate::routes;
use crate::routes::docs::{ApiDocument, SwaggerConfig};
use crate::routes::openapi;

/// A server that is running: await `server`; `readiness` turns to draining when it is told to stop.
pub struct Running {
    /// The server; it resolves once stopped.
    pub server: Server,
    /// What `/health/ready` answers.
    pub readiness: Arc<Readiness>,
}

/// Starts serving `keys` on `listener` (bound by the caller, so tests can use port 0); await the
/// result's `server`. Must be called from within an actix system.
pub fn run(
    listener: TcpListener,
    settings: Settings,
    keys: Keys,
    models: Models,
) -> std::io::Result<Running> {
    // Shared state is built once, here, and cloned into every worker.
    let store = web::Data::new(KeyStore::new(keys.set));
    spawn_reloader(store.clone().into_inner(), keys.source, settings.keys_poll);
    let metrics = web::Data::new(Metrics::new());
    let document = web::Data::new(ApiDocument(openapi::document(
        &settings.limits,
        &models.names(),
    )));
    let inference = Inference::new(
        models,
        settings.inference_threads,
        settings.inference_timeout,
    );
    let jobs: web::Data<dyn JobStore> = web::Data::from(Arc::new(InMemoryJobStore::new(
        settings.max_pending_jobs,
        settings.max_stored_jobs,
        settings.max_job_store_bytes,
        settings.job_ttl,
    )) as Arc<dyn JobStore>);
    let limits = settings.limits;
    let swagger = web::Data::new(SwaggerConfig::default());
    let rate_limits = web::Data::new(RateLimits::new(settings.rate_limit));
    let throttle = web::Data::new(AuthThrottle::new(
        settings.auth_failures_per_window,
        settings.auth_failure_window,
    ));
    spawn_sweeper(throttle.clone().into_inner());
    let proxies = web::Data::new(settings.trusted_proxies.clone());
    let in_flight = web::Data::new(InFlight::new(settings.max_concurrent_requests));
    let readiness = web::Data::new(Readiness::new());
    let cors = settings.cors.clone().map(Arc::new);
    let ready = readiness.clone().into_inner();

    let server = HttpServer::new(move || {
        // What every request writes or extracts is held once per worker: the per-request
        // metric series (summed at scrape), and the app data handlers extract (extracting a
        // `web::Data` clones its `Arc`, and the count of one `Arc` shared by all workers is a
        // cache line they would all write to, on every request). Inference's own state stays
        // shared behind its inner `Arc`s.
        let shard = metrics.new_shard();
        let inference = web::Data::new(inference.clone().with_metrics(Arc::clone(&shard)));
        let limits = web::Data::new(limits);
        App::new()
            .app_data(store.clone())
            .app_data(metrics.clone())
            .app_data(inference)
            .app_data(jobs.clone())
            .app_data(limits)
            .app_data(document.clone())
            .app_data(swagger.clone())
            .app_data(rate_limits.clone())
            .app_data(throttle.clone())
            .app_data(proxies.clone())
            .app_data(in_flight.clone())
            .app_data(readiness.clone())
            .configure(|cfg| {
                if let Some(cors) = &cors {
                    cfg.app_data(web::Data::from(Arc::clone(cors)));
                }
            })
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                let item = ValidationItem::value_error(
                    vec!["query".into()],
                    serde_json::Value::Null,
                    &err.to_string(),
                );
                ApiError::invalid(item).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
            .configure(routes::configure)
            .default_service(web::to(routes::not_found))
            .wrap(Frontdoor::new(
                shard,
                in_flight.clone().into_inner(),
                cors.clone(),
            ))
    })
    .workers(settings.workers)
    .shutdown_timeout(settings.shutdown_timeout.as_secs())
    // Signals are the binary's business (see `stop_on_signals`), not every test server's.
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(Running {
        server,
        readiness: ready,
    })
}

/// Stops the server gracefully on SIGTERM or SIGINT (Ctrl-C elsewhere than Unix): readiness
/// turns to draining at once; after `delay`, the listener closes and requests in flight finish (up
/// to the shutdown timeout); then the server resolves and the process exits 0.
pub fn stop_on_signals(running: &Running, delay: Duration) {
    let handle = running.server.handle();
    let readiness = Arc::clone(&running.readiness);
    actix_rt::spawn(async move {
        let Some(name) = stop_signal().await else {
            return;
        };
        readiness.drain();
        if !delay.is_zero() {
            log::info!(
                "{name} received: not ready; closing the listener in {} s",
                delay.as_secs()
            );
            actix_rt::time::sleep(delay).await;
        }
        log::info!("{name} received: no new connections; finishing requests in flight");
        handle.stop(true).await;
    });
}

/// The first of SIGTERM and SIGINT, by name; `None` when they cannot be listened for.
#[cfg(unix)]
async fn stop_signal() -> Option<&'static str> {
    use actix_rt::signal::unix::{signal, SignalKind};
    use futures_util::future::{select, Either};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        log::warn!("cannot listen for SIGTERM/SIGINT; they will stop the process at once");
        return None;
    };
    let term = std::pin::pin!(term.recv());
    let int = std::pin::pin!(int.recv());
    Some(match select(term, int).await {
        Either::Left(_) => "SIGTERM",
        Either::Right(_) => "SIGINT",
    })
}

/// Ctrl-C, where there are no Unix signals.
#[cfg(not(unix))]
async fn stop_signal() -> Option<&'static str> {
    match actix_rt::signal::ctrl_c().await {
        Ok(()) => Some("Ctrl-C"),
        Err(e) => {
            log::warn!("cannot listen for Ctrl-C ({e}); it will stop the process at once");
            None
        }
    }
}
