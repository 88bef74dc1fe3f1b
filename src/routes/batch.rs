use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::ApiKey;
use crate::config::InputLimits;
use crate::error::{ApiError, ValidationItem};
use crate::inference::{Inference, Prediction};
use crate::json_body::JsonBody;
use crate::limits::Metered;
use crate::validation;

/// The answer of `POST /predict/batch`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// One prediction per text, in input order.
    results: Vec<Prediction>,
    /// Always `success`.
    status: &'static str,
}

/// The body of a batch (for the document; the handler validates it itself).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BatchRequest {
    /// 1 to `MAX_BATCH_SIZE` texts of at most `MAX_TEXT_CHARS` characters each.
    texts: Vec<String>,
}

/// `POST /predict/batch`: `{"texts": [...]}`, answered in input order; n texts cost n units.
#[utoipa::path(
    post,
    path = "/predict/batch",
    summary = "Score a batch of texts",
    tag = "sentiment",
    description = "Scores up to `MAX_BATCH_SIZE` texts, answered in input order. A batch of n texts costs n units of the key's rate limit.",
    request_body(content = BatchRequest, content_type = "application/json"),
    responses((status = 200, description = "One result per text", body = BatchResponse), super::openapi::ProtectedErrors),
    security(("APIKeyHeader" = [])),
)]
pub async fn predict_batch(
    _key: ApiKey,
    metered: Metered,
    inference: web::Data<Inference>,
    limits: web::Data<InputLimits>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let texts = batch_texts(body, &limits)?;
    metered.charge_total(texts.len())?;
    let results = inference.predict_all(texts).await?;
    Ok(HttpResponse::Ok().json(BatchResponse {
        results,
        status: "success",
    }))
}

/// The texts of a batch body, validated (the caller pays for them with [`Metered::charge_total`]).
pub fn batch_texts(body: JsonBody, limits: &InputLimits) -> Result<Vec<String>, ApiError> {
    let Some(body) = body.value()? else {
        return Err(ApiError::Validation(vec![ValidationItem::missing(
            vec!["body".into()],
            serde_json::Value::Null,
        )]));
    };
    validation::texts_field(body, limits.max_batch_size, limits.max_text_chars)
        .map_err(ApiError::Validation)
}
