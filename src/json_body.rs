//! `JsonBody`: reads a request body as JSON under `MAX_BODY_BYTES`, answering every failure as `ApiError`.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde_json::Value;

use crate::config::InputLimits;
use crate::error::{ApiError, ValidationItem};

/// A request body parsed as JSON, or `None` when the request has no body.
///
/// Written here rather than using `web::Json` so that size, media-type and syntax errors are
/// decided in one place and come out in the contract's shapes (413, 415, 422 `json_invalid`),
/// and so that field errors are reported Pydantic-style by the handlers' own validation.
#[derive(Debug)]
pub struct JsonBody(pub Option<Value>);

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limits = req
            .app_data::<web::Data<InputLimits>>()
            .map_or_else(InputLimits::default, |l| *l.get_ref());
        let (limit, timeout) = (limits.max_body_bytes, limits.body_timeout);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let is_json = is_json(req);
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit as u64) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            if declared.is_some_and(|n| n > 0) && !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let read = async {
                let mut body = web::BytesMut::new();
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|e| {
                        log::info!("request body could not be read: {e}");
                        ApiError::MalformedBody
                    })?;
                    if body.len() + chunk.len() > limit {
                        return Err(ApiError::PayloadTooLarge { limit });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            };
            // A body that trickles in must not hold a request slot (and a worker's memory) forever.
            let body = actix_rt::time::timeout(timeout, read)
                .await
                .map_err(|_| ApiError::BodyTimeout)??;
            if body.is_empty() {
                return Ok(JsonBody(None));
            }
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            match serde_json::from_slice(&body) {
                // FastAPI reads a JSON `null` body as no body at all.
                Ok(Value::Null) => Ok(JsonBody(None)),
                Ok(value) => Ok(JsonBody(Some(value))),
                Err(e) => Err(json_invalid(&body, &e)),
            }
        })
    }
}

/// `application/json` or any `application/*+json`; a body without a media type is read as JSON,
/// as FastAPI reads it.
fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn json_invalid(body: &[u8], err: &serde_json::Error) -> ApiError {
    // serde_json reports line and column; Pydantic reports a position, so convert.
    let line_start: usize = body
        .split(|b| *b == b'\n')
        .take(err.line().saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    let position = (line_start + err.column().saturating_sub(1)).min(body.len());
    let reason = err.to_string();
    let reason = reason
        .split(" at line ")
        .next()
        .unwrap_or(&reason)
        .to_owned();
    ApiError::Validation(vec![ValidationItem::json_invalid(position, reason)])
}
