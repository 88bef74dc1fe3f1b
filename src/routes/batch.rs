use actix_web::{web, HttpResponse};

use crate::config::InputLimits;
use crate::error::ApiError;
use crate::http::types::{BatchRequest, BatchResponse, Prediction};
use crate::http::validation::batch_input;
use crate::http::{ApiKey, JsonBody, Metered};
use crate::inference::Inference;

/// `POST /predict/batch`: `{"texts": [...]}`, answered in input order; n texts cost n units.
#[utoipa::path(
    post,
    path = "/predict/batch",
    summary = "Score a batch of texts",
    tag = "sentiment",
    description = "Scores up to `MAX_BATCH_SIZE` texts with the model `model` names (else the default), answered in input order. A batch of n texts costs n units of the key's rate limit.",
    request_body(content = BatchRequest, content_type = "application/json"),
    responses((status = 200, description = "One result per text", body = BatchResponse), crate::http::ProtectedErrors),
    security(("APIKeyHeader" = [])),
)]
pub async fn predict_batch(
    _key: ApiKey,
    metered: Metered,
    inference: web::Data<Inference>,
    limits: web::Data<InputLimits>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let input = batch_input(body, &limits, inference.models())?;
    metered.charge_total(input.texts.len()).await?;
    let scored = inference.predict_all(input.model, input.texts).await?;
    Ok(HttpResponse::Ok().json(BatchResponse {
        results: Prediction::all(&scored),
        status: "success".into(),
    }))
}
