use actix_web::HttpResponse;
use serde_json::json;

/// `GET /health`: the process is up and serving (no key needed).
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}
