use actix_web::{web, HttpResponse};
use serde_json::Value;

use crate::auth::ApiKey;
use crate::config::InputLimits;
use crate::error::{ApiError, ValidationItem};
use crate::inference::Inference;
use crate::json_body::JsonBody;
use crate::limits::Metered;
use crate::validation;

/// `POST /predict`: one text, from `?text=` (as in the FastAPI lesson) or a JSON body `{"text": ...}`.
pub async fn predict(
    _key: ApiKey,
    _metered: Metered,
    inference: web::Data<Inference>,
    limits: web::Data<InputLimits>,
    query: web::Query<Vec<(String, String)>>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let text = text_of(query.into_inner(), body.0, limits.max_text_chars)
        .map_err(|item| ApiError::Validation(vec![item]))?;
    let mut prediction = inference.predict(text).await?;
    prediction.status = Some("success");
    Ok(HttpResponse::Ok().json(prediction))
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
            validation::text_len(text, vec!["query".into(), "text".into()], max_chars)
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
