use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::ApiKey;
use crate::config::InputLimits;
use crate::error::{ApiError, ValidationItem};
use crate::inference::{Inference, Prediction};
use crate::json_body::JsonBody;
use crate::limits::Metered;
use crate::validation;

/// The JSON body form of `/predict` (for the document; the handler validates it itself).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PredictRequest {
    /// The text to score, at most `MAX_TEXT_CHARS` characters.
    text: String,
}

/// The body `/predict` expects, read directly when it is exactly that: any other field, or a
/// repeated one, sends the body through the `Value` path, whose checks (UTF-8 everywhere, nesting
/// depth, number range) then decide as they always did.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextField {
    text: String,
}

/// `POST /predict`: one text, from `?text=` (as in the FastAPI lesson) or a JSON body `{"text": ...}`.
#[utoipa::path(
    post,
    path = "/predict",
    summary = "Score one text",
    tag = "sentiment",
    description = "Scores one text, given either as the query parameter `text` or as the JSON body `{\"text\": ...}` (not both).",
    params(("text" = Option<String>, Query, description = "The text to score (or send a JSON body)")),
    request_body(content = Option<PredictRequest>, content_type = "application/json"),
    responses((status = 200, description = "The sentiment", body = Prediction), super::openapi::ProtectedErrors),
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
    let query = query.into_inner();
    let max_chars = limits.max_text_chars;
    let text = match body.object_as::<TextField>() {
        // The common case, a JSON body with a string `text` and no query: no `Value` is built.
        Some(TextField { text }) if !query.iter().any(|(k, _)| k == "text") => {
            validation::text_len(text, || vec!["body".into(), "text".into()], max_chars)
        }
        _ => text_of(query, body.value()?, max_chars),
    }
    .map_err(|item| ApiError::Validation(vec![item]))?;
    // Only the text is needed from here on: the body (up to MAX_BODY_BYTES) is not held while
    // the text waits for the model.
    drop(body);
    let mut prediction = inference.predict(text).await?;
    prediction.status = Some("success");
    let body = prediction.to_json().map_err(|e| {
        log::error!("cannot write a prediction as JSON: {e}");
        ApiError::Internal
    })?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body))
}

/// Finds the one text of the request: in the query or in the body, not both, not neither.
fn text_of(
    query: Vec<(String, String)>,
    body: Option<Value>,
    max_chars: usize,
) -> Result<String, ValidationItem> {
    // As with FastAPI, a repeated query parameter counts its last value.
    let from_query = query
        .into_iter()
        .rev()
        .find(|(k, _)| k == "text")
        .map(|(_, v)| v);
    match (from_query, body) {
        (Some(text), None) => {
            validation::text_len(text, || vec!["query".into(), "text".into()], max_chars)
        }
        (None, Some(body)) => {
            let mut body = validation::object(body)?;
            validation::text_field(
                &mut body,
                "text",
                vec!["body".into(), "text".into()],
                max_chars,
            )
        }
        (None, None) => Err(ValidationItem::missing(
            vec!["query".into(), "text".into()],
            Value::Null,
        )),
        (Some(text), Some(_)) => Err(ValidationItem::value_error(
            vec!["query".into(), "text".into()],
            Value::String(text),
            "give text either as a query parameter or in a JSON body, not both",
        )),
    }
}
