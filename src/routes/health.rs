use actix_web::{web, HttpResponse};

use crate::http::types::Health;
use crate::readiness::Readiness;
use crate::state::AppState;

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
    description = "200 `{\"status\":\"ready\"}` while the service takes traffic; 503 `{\"status\":\"draining\"}` from the moment it is told to stop (SIGTERM), while `SHUTDOWN_DELAY_SECONDS` lets a load balancer notice; with `REDIS_URL`, 503 `{\"status\":\"redis_unavailable\"}` while Redis cannot be used: no answer to a small write script within `REDIS_TIMEOUT_MS` (out of memory counts as down), or the circuit breaker is open after a failed call.",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Draining (stopping), or Redis unreachable: send no new traffic", body = Health),
        crate::http::PublicErrors,
    ),
)]
pub async fn ready(readiness: web::Data<Readiness>, state: web::Data<AppState>) -> HttpResponse {
    if !readiness.is_ready() {
        return HttpResponse::ServiceUnavailable().json(Health {
            status: "draining".into(),
        });
    }
    // The breaker and a cached probe: no call to the backend here (see `Limits::usable`).
    if !state.limits().usable().await {
        return HttpResponse::ServiceUnavailable().json(Health {
            status: "redis_unavailable".into(),
        });
    }
    HttpResponse::Ok().json(Health {
        status: "ready".into(),
    })
}
