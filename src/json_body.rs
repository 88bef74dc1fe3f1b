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

/// A 422 `json_invalid` item worded as FastAPI words it: Python's `json` message in `ctx.error`
/// and the position, in characters, where Python's parser stops.
fn json_invalid(body: &[u8], err: &serde_json::Error) -> ApiError {
    let text = String::from_utf8_lossy(body);
    let message = err.to_string();
    let serde_reason = message.split(" at line ").next().unwrap_or(&message);
    let eof = err.is_eof();
    // serde_json reports line and column (1-based, in bytes); Python a character offset.
    let line_start: usize = body
        .split(|b| *b == b'\n')
        .take(err.line().saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    let mut byte = (line_start + err.column().saturating_sub(1)).min(body.len());
    if eof {
        byte = body.len();
    }
    let (python_reason, at_token_start) = match serde_reason {
        "EOF while parsing a string" => ("Unterminated string starting at", false),
        r if r.starts_with("EOF while parsing") => ("Expecting value", false),
        "expected value" | "expected ident" | "invalid number" => ("Expecting value", true),
        "expected `:`" => ("Expecting ':' delimiter", false),
        r if r.starts_with("expected `,`") => ("Expecting ',' delimiter", false),
        "key must be a string" | "trailing comma" => {
            ("Expecting property name enclosed in double quotes", false)
        }
        "trailing characters" => ("Extra data", false),
        r if r.starts_with("control character") => ("Invalid control character at", false),
        "invalid escape" => ("Invalid \\escape", false),
        other => (other, false),
    };
    if at_token_start {
        // serde stops inside a bad word (`nope`); Python points at its first character.
        while byte > 0 && body[byte - 1].is_ascii_alphanumeric() {
            byte -= 1;
        }
    }
    let position = text
        .get(..byte)
        .map_or(byte, |prefix| prefix.chars().count());
    ApiError::Validation(vec![ValidationItem::json_invalid(
        position,
        python_reason.to_owned(),
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(body: &str) -> (serde_json::Value, String) {
        let err = serde_json::from_slice::<Value>(body.as_bytes()).unwrap_err();
        match json_invalid(body.as_bytes(), &err) {
            ApiError::Validation(items) => (
                items[0].loc[1].clone(),
                items[0].ctx.as_ref().unwrap()["error"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_errors_are_worded_and_placed_as_python_does() {
        // Expected values from Python 3.11: json.loads(body) -> JSONDecodeError.msg, .pos
        assert_eq!(item("not json"), (0.into(), "Expecting value".into()));
        assert_eq!(item(" "), (1.into(), "Expecting value".into()));
        assert_eq!(item(r#"{"text": "a"} x"#), (14.into(), "Extra data".into()));
        assert_eq!(
            item(r#"{"text" 1}"#),
            (8.into(), "Expecting ':' delimiter".into())
        );
        assert_eq!(
            item(r#"{'text': 1}"#),
            (
                1.into(),
                "Expecting property name enclosed in double quotes".into()
            )
        );
        assert_eq!(item(r#"{"é": x}"#), (6.into(), "Expecting value".into()));
    }
}
