use actix_web::{web, HttpResponse};

use crate::auth::KeyStore;
use crate::limits::InFlight;
use crate::metrics::{Metrics, CONTENT_TYPE};
use crate::state::AppState;
use crate::tls::CertificateStore;

/// `GET /metrics`: Prometheus text format (no key needed; no key material, bounded labels).
#[utoipa::path(
    get,
    path = "/metrics",
    summary = "Prometheus metrics",
    tag = "monitoring",
    responses(
        (status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String),
        crate::http::PublicErrors,
    ),
)]
pub async fn metrics(
    metrics: web::Data<Metrics>,
    in_flight: web::Data<InFlight>,
    state: web::Data<AppState>,
    keys: web::Data<KeyStore>,
    certificates: Option<web::Data<CertificateStore>>,
) -> HttpResponse {
    metrics.in_flight.set(in_flight.current() as i64);
    state.limits().publish_state();
    // With Redis unreachable, the gauge keeps its last value.
    if let Ok(pending) = state.jobs.pending().await {
        metrics.jobs_pending.set(pending as i64);
    }
    metrics.keys_loaded.set(keys.snapshot().len() as i64);
    if let Some(certificates) = certificates {
        metrics.set_certificate_expiry(certificates.current().not_after_unix());
    }
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(metrics.render())
}
