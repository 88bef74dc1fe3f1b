use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

/// The answer of `/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process serves.
    pub status: &'static str,
}

/// `GET /health`: the process is up and serving (no key needed).
#[utoipa::path(
    get,
    path = "/health",
    summary = "Liveness",
    tag = "monitoring",
    responses((status = 200, description = "Serving", body = Health), super::openapi::PublicErrors),
)]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}
