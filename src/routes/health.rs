use actix_web::HttpResponse;

use crate::http::types::Health;

/// `GET /health`: the process is up and serving (no key needed).
#[utoipa::path(
    get,
    path = "/health",
    summary = "Liveness",
    tag = "monitoring",
    responses((status = 200, description = "Serving", body = Health), crate::http::PublicErrors),
)]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}
