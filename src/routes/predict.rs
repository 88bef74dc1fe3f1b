use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

use crate::config::InputLimits;
use crate::error::ApiError;
use crate::http::types::{PredictRequest, PredictResponse, Prediction};
use crate::http::validation::predict_input;
use crate::http::{ApiKey, JsonBody, Metered};
use crate::inference::Inference;

/// `POST /predict`: one text, from `?text=` (as in the FastAPI lesson) or a JSON body `{"text": ...}`.
#[utoipa::path(
    post,
    path = "/predict",
    summary = "Score one text",
    tag = "sentiment",
    description = "Scores one text, given either as the query parameter `text` or as the JSON body `{\"text\": ...}` (not both), with the model `model` names (a query parameter or a JSON field; `GET /models`), else the default.",
    params(
        ("text" = Option<String>, Query, description = "The text to score (or send a JSON body)"),
        ("model" = Option<String>, Query, description = "The model to score it with (`GET /models`); without it, `DEFAULT_MODEL`"),
    ),
    request_body(content = PredictRequest, content_type = "application/json"),
    responses((status = 200, description = "The sentiment", body = PredictResponse), crate::http::ProtectedErrors),
    security(("APIKeyHeader" = [])),
)]
pub async fn predict(
    _key: ApiKey,
    _metered: Metered,
    inference: web::Data<Inference>,
    limits: web::Data<InputLimits>,
    query: web::Query<Vec<(String, String)>>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let input = predict_input(
        query.into_inner(),
        &body,
        limits.max_text_chars,
        inference.models(),
    )?;
    // Only the text is needed from here on: the body (up to MAX_BODY_BYTES) is not held while
    // the text waits for the model.
    drop(body);
    let scored = inference.predict(input.model, input.text).await?;
    let body = Prediction {
        status: Some("success".into()),
        ..Prediction::of(&scored)
    }
    .to_json()
    .map_err(|e| {
        log::error!("cannot write a prediction as JSON: {e}");
        ApiError::Internal
    })?;
    // A static value: `ContentType::json()` would format its media type into a new header value
    // on every request.
    const JSON: HeaderValue = HeaderValue::from_static("application/json");
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, JSON))
        .body(body))
}
