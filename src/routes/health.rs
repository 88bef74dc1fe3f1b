use actix_web::{web, HttpResponse};

use crate::http::types::Health;
use crate::readiness::Readiness;

/// `GET /health`: the process is up and serving (no key needed).
#[utoipa::path(
    get,
    path = "/health",
    summary = "Liveness",
    tag = "monitoring",
    responses((status = 200, description = "Serving", body = Health), crate::http::PublicErrors),
)]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// `GET /health/ready`: whether to send this process traffic (no key needed, never limited).
#[utoipa::path(
    get,
    path = "/health/ready",
    summary = "Readiness",
    tag = "monitoring",
    description = "200 `{\"status\":\"ready\"}` while the service takes traffic; 503 `{\"status\":\"draining\"}` from the moment it is told to stop (SIGTERM), while `SHUTDOWN_DELAY_SECONDS` lets a load balancer notice.",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Draining: stopping, send no new traffic", body = Health),
        crate::http::PublicErrors,
    ),
)]
pub async fn ready(readiness: web::Data<Readiness>) -> HttpResponse {
    if readiness.is_ready() {
        HttpResponse::Ok().json(Health {
            status: "ready".into(),
        })
    } else {
        HttpResponse::ServiceUnavailable().json(Health {
            status: "draining".into(),
        })
    }
}
