//! `JsonBody`: reads a request body as JSON under `MAX_BODY_BYTES`, answering every failure as `ApiError`.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::InputLimits;
use crate::error::{ApiError, ValidationItem};

/// A request body read whole under the size limit and the body timeout, with a JSON media type;
/// empty when the request has none. Handlers parse it with [`JsonBody::value`], or first try the
/// shape they expect with [`JsonBody::object_as`].
///
/// Written here rather than using `web::Json` so that size, media-type and syntax errors are
/// decided in one place and come out in the contract's shapes (413, 415, 422 `json_invalid`),
/// and so that field errors are reported Pydantic-style by the handlers' own validation.
#[derive(Debug)]
pub struct JsonBody(web::Bytes);

impl JsonBody {
    /// The body as a JSON value; `None` when there is no body or it is `null`.
    pub fn value(&self) -> Result<Option<Value>, ApiError> {
        if self.0.is_empty() {
            return Ok(None);
        }
        // FastAPI answers a body that is not UTF-8 with a 400, before any JSON parsing.
        let text = std::str::from_utf8(self.json()).map_err(|_| ApiError::MalformedBody)?;
        match serde_json::from_str(text) {
            // FastAPI reads a JSON `null` body as no body at all.
            Ok(Value::Null) => Ok(None),
            Ok(value) => Ok(Some(value)),
            Err(e) => Err(json_invalid(text, &e)),
        }
    }

    /// The body as a `T`, when it is a JSON object that reads as one; `None` otherwise, and then
    /// the handler validates [`JsonBody::value`] field by field for the contract's errors.
    ///
    /// The fast path for well-formed requests: one typed parse instead of building a `Value`.
    /// Only an object qualifies, as serde would also read a struct from an array. `T` must deny
    /// unknown fields: serde skips an ignored value without the checks `value` makes (UTF-8 in
    /// its strings, nesting depth, number range), so a body with one must take that path.
    pub fn object_as<T: DeserializeOwned>(&self) -> Option<T> {
        let json = self.json();
        let first = json.iter().find(|b| !b.is_ascii_whitespace())?;
        if *first != b'{' {
            return None;
        }
        serde_json::from_slice(json).ok()
    }

    /// A body as if read from a request, for the fuzz targets (`fuzz/`), which have no request.
    #[doc(hidden)]
    pub fn from_bytes(body: &[u8]) -> Self {
        JsonBody(web::Bytes::copy_from_slice(body))
    }

    /// The JSON text: the body without a leading UTF-8 byte order mark, which Python's
    /// `json.loads` (and so FastAPI) skips in a body given as bytes.
    fn json(&self) -> &[u8] {
        self.0.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&self.0)
    }
}

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
            let body = within(timeout, read).await?;
            if !body.is_empty() && !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            Ok(JsonBody(body.freeze()))
        })
    }
}

/// Awaits `read` for at most `limit`, else [`ApiError::BodyTimeout`].
///
/// A timer costs a registration in the runtime's timer wheel and its removal, on every request;
/// yet a small body has nearly always arrived by the time the handler looks at it again, which
/// actix does right after feeding it the bytes it already read. So the first time the body is not
/// there, the read yields once (and asks to be polled again) without a timer; only a body still
/// missing after that is timed, from the moment the extractor started.
async fn within<T>(
    limit: Duration,
    read: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let deadline = actix_rt::time::Instant::now() + limit;
    let mut read = pin!(read);
    let mut yielded = false;
    let mut timer: Option<Pin<Box<actix_rt::time::Sleep>>> = None;
    poll_fn(|cx| {
        if let Poll::Ready(result) = read.as_mut().poll(cx) {
            return Poll::Ready(result);
        }
        if !yielded {
            yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let timer = timer.get_or_insert_with(|| Box::pin(actix_rt::time::sleep_until(deadline)));
        timer.as_mut().poll(cx).map(|()| Err(ApiError::BodyTimeout))
    })
    .await
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
    let value = value.as_bytes();
    let end = value.iter().position(|&b| b == b';').unwrap_or(value.len());
    let essence = value[..end].trim_ascii();
    let (kind, subtype) = essence.split_at(essence.len().min(12));
    kind.eq_ignore_ascii_case(b"application/")
        && (subtype.eq_ignore_ascii_case(b"json")
            || (subtype.len() >= 5 && subtype[subtype.len() - 5..].eq_ignore_ascii_case(b"+json")))
}

/// A 422 `json_invalid` item worded as FastAPI words it: Python's `json` message in `ctx.error`
/// and the position, in characters, where Python's parser stops. `text` is the body, valid UTF-8.
fn json_invalid(text: &str, err: &serde_json::Error) -> ApiError {
    let message = err.to_string();
    let serde_reason = message.split(" at line ").next().unwrap_or(&message);
    let (reason, byte) = if err.is_eof() {
        at_end(text)
    } else {
        // serde_json reports line and column (1-based, in bytes).
        let line_start: usize = text
            .split('\n')
            .take(err.line().saturating_sub(1))
            .map(|l| l.len() + 1)
            .sum();
        let mut byte = (line_start + err.column().saturating_sub(1)).min(text.len());
        let reason = match serde_reason {
            "expected value" | "expected ident" | "invalid number" => {
                // serde stops inside a bad word (`nope`, `-x`); Python points at its start.
                let bytes = text.as_bytes();
                while byte > 0 && is_word_byte(bytes[byte - 1]) {
                    byte -= 1;
                }
                "Expecting value"
            }
            "expected `:`" => "Expecting ':' delimiter",
            r if r.starts_with("expected `,`") => "Expecting ',' delimiter",
            "trailing comma" if text[byte..].starts_with(']') => "Expecting value",
            "key must be a string" | "trailing comma" => {
                "Expecting property name enclosed in double quotes"
            }
            "trailing characters" => "Extra data",
            r if r.starts_with("control character") => "Invalid control character at",
            "invalid escape" => {
                // serde stops after the bad bytes; Python points at the escape: at the `u` of a
                // bad \uXXXX, else at the backslash.
                let start = escape_start(text, byte).unwrap_or(byte);
                if text.as_bytes().get(start + 1) == Some(&b'u') {
                    byte = start + 1;
                    "Invalid \\uXXXX escape"
                } else {
                    byte = start;
                    "Invalid \\escape"
                }
            }
            other => return invalid(0, other),
        };
        (reason, byte)
    };
    // In characters, as Python counts; a byte offset inside a character counts that character.
    let position = text.char_indices().take_while(|&(i, _)| i < byte).count();
    invalid(position, reason)
}

/// The byte offset of the backslash of the last escape in a string that starts at or before `end`.
fn escape_start(text: &str, end: usize) -> Option<usize> {
    let (mut in_string, mut escape, mut hex_left, mut last) = (false, false, 0, None);
    for (i, b) in text.bytes().enumerate().take(end.saturating_add(1)) {
        if hex_left > 0 {
            // The four digits of \uXXXX, whatever they are.
            hex_left -= 1;
        } else if escape {
            escape = false;
            if b == b'u' {
                hex_left = 4;
            }
        } else if b == b'"' {
            in_string = !in_string;
        } else if in_string && b == b'\\' {
            escape = true;
            last = Some(i);
        }
    }
    last
}

fn invalid(position: usize, reason: &str) -> ApiError {
    ApiError::Validation(vec![ValidationItem::json_invalid(
        position,
        reason.to_owned(),
    )])
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')
}

/// What Python's parser expected when the text ended, and where: the byte offset of an
/// unterminated string's opening quote, else the end.
fn at_end(text: &str) -> (&'static str, usize) {
    #[derive(Clone, Copy, PartialEq)]
    enum Want {
        Key,
        Colon,
        Value,
        Comma,
    }
    let mut stack: Vec<(u8, Want)> = Vec::new();
    let mut string_start = None;
    let mut escaped = false;
    let mut in_word = false;
    // A value just ended: the container now wants a comma.
    let done = |stack: &mut Vec<(u8, Want)>| {
        if let Some(top) = stack.last_mut() {
            top.1 = Want::Comma;
        }
    };
    for (i, b) in text.bytes().enumerate() {
        if string_start.is_some() {
            if escaped {
                escaped = false;
                // Python wants four characters after the `u` and one more beyond them.
                if b == b'u' && text[i + 1..].chars().nth(4).is_none() {
                    return ("Invalid \\uXXXX escape", i);
                }
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                string_start = None;
                match stack.last_mut() {
                    Some((b'{', want @ Want::Key)) => *want = Want::Colon,
                    _ => done(&mut stack),
                }
            }
            continue;
        }
        if is_word_byte(b) {
            if !in_word {
                in_word = true;
                done(&mut stack);
            }
            continue;
        }
        in_word = false;
        match b {
            b'"' => string_start = Some(i),
            b'{' => stack.push((b'{', Want::Key)),
            b'[' => stack.push((b'[', Want::Value)),
            b'}' | b']' => {
                stack.pop();
                done(&mut stack);
            }
            b':' => {
                if let Some(top) = stack.last_mut() {
                    top.1 = Want::Value;
                }
            }
            b',' => {
                if let Some(top) = stack.last_mut() {
                    top.1 = if top.0 == b'{' {
                        Want::Key
                    } else {
                        Want::Value
                    };
                }
            }
            _ => {}
        }
    }
    if let Some(start) = string_start {
        return ("Unterminated string starting at", start);
    }
    let reason = match stack.last() {
        Some((b'{', Want::Key)) => "Expecting property name enclosed in double quotes",
        Some((_, Want::Colon)) => "Expecting ':' delimiter",
        Some((_, Want::Comma)) => "Expecting ',' delimiter",
        _ => "Expecting value",
    };
    (reason, text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(body: &str) -> (serde_json::Value, String) {
        let err = serde_json::from_str::<Value>(body).unwrap_err();
        match json_invalid(body, &err) {
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
        // Each expected pair is what Python 3.11 gives: json.loads(body) -> JSONDecodeError.pos, .msg
        let cases = [
            ("not json", 0, "Expecting value"),
            (" ", 1, "Expecting value"),
            (r#"{"text": "a"} x"#, 14, "Extra data"),
            (r#"{"text" 1}"#, 8, "Expecting ':' delimiter"),
            (
                r#"{'text': 1}"#,
                1,
                "Expecting property name enclosed in double quotes",
            ),
            (r#"{"é": x}"#, 6, "Expecting value"),
            (r#"{"text": "abc"#, 9, "Unterminated string starting at"),
            (r#"{"a":1"#, 6, "Expecting ',' delimiter"),
            ("[1", 2, "Expecting ',' delimiter"),
            ("{", 1, "Expecting property name enclosed in double quotes"),
            ("[1,]", 3, "Expecting value"),
            (r#"{"text": -}"#, 9, "Expecting value"),
            (r#"{"a":"#, 5, "Expecting value"),
            ("[", 1, "Expecting value"),
            (r#"{"text""#, 7, "Expecting ':' delimiter"),
            (
                r#"{"a":1,"#,
                7,
                "Expecting property name enclosed in double quotes",
            ),
            (r#"{"a":"x""#, 8, "Expecting ',' delimiter"),
            (r#"["a""#, 4, "Expecting ',' delimiter"),
            (r#"{"t": "é" x}"#, 10, "Expecting ',' delimiter"),
        ];
        for (body, position, message) in cases {
            assert_eq!(item(body), (position.into(), message.into()), "{body}");
        }
    }

    #[test]
    fn a_bad_escape_is_worded_and_placed_as_python_does() {
        // Found by the json_body fuzz target: a bad \u escape followed by multi-byte characters
        // was placed in bytes (7), past the body's 6 characters. CPython 3.10-3.13 all answer:
        let cases = [
            (r#"{"\uЊϓ"#, 3, "Invalid \\uXXXX escape"),
            (r#"["\u12é4"]"#, 3, "Invalid \\uXXXX escape"),
            (r#"["\uzzzz"]"#, 3, "Invalid \\uXXXX escape"),
            (r#""\u""#, 2, "Invalid \\uXXXX escape"),
            (r#"["é\q"]"#, 3, "Invalid \\escape"),
            (r#"["é\\", "\x"]"#, 9, "Invalid \\escape"),
            // The body ends inside or right after the escape.
            (r#""\u12"#, 2, "Invalid \\uXXXX escape"),
            (r#""\u1234"#, 2, "Invalid \\uXXXX escape"),
            (r#""\u1234x"#, 0, "Unterminated string starting at"),
            (r#"["é\u00e9""#, 10, "Expecting ',' delimiter"),
            (r#""\"#, 0, "Unterminated string starting at"),
        ];
        for (body, position, message) in cases {
            assert_eq!(item(body), (position.into(), message.into()), "{body}");
        }
    }
}
