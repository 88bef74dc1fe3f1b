//! Checks the fuzz targets share: an error as the client sees it keeps the contract's shape
//! ([docs/api.md](../docs/api.md), "Errors: always JSON, FastAPI's shapes").

use actix_web::body::MessageBody;
use actix_web::ResponseError;
use sentiment_api::error::ApiError;
use serde_json::Value;

/// The body `err` answers with, checked against the contract: a 4xx (a user's input never earns a
/// 5xx), and `{"detail": "..."}` or `{"detail": [items]}` with Pydantic v2 items (`type`, `loc`,
/// `msg`, `input`; `loc` starting at `body` or `query`). A `json_invalid` item's position is a
/// character offset into `text` (the body as decoded), at most its length. Panics otherwise.
pub fn check_error(err: &ApiError, text: Option<&str>) -> Value {
    let response = err.error_response();
    let status = response.status();
    assert!(status.is_client_error(), "{err:?} answers {status}");
    let bytes = match response.into_body().try_into_bytes() {
        Ok(bytes) => bytes,
        Err(_) => panic!("{err:?}: the body is not in memory"),
    };
    let body: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{err:?}: the body is not JSON ({e})"));
    let Value::Object(fields) = &body else {
        panic!("{err:?}: the body {body} is not an object");
    };
    assert_eq!(
        fields.len(),
        1,
        "{err:?}: {body} has other fields than detail"
    );
    match &fields["detail"] {
        Value::String(detail) => assert!(!detail.is_empty(), "{err:?}: empty detail"),
        Value::Array(items) => {
            assert!(!items.is_empty(), "{err:?}: a 422 with no item");
            for item in items {
                check_item(item, text);
            }
        }
        other => panic!("{err:?}: detail {other} is neither a string nor a list"),
    }
    body
}

fn check_item(item: &Value, text: Option<&str>) {
    let kind = item["type"]
        .as_str()
        .unwrap_or_else(|| panic!("{item}: no type"));
    assert!(
        item["msg"].as_str().is_some_and(|m| !m.is_empty()),
        "{item}: no msg"
    );
    assert!(item.get("input").is_some(), "{item}: no input");
    let loc = item["loc"]
        .as_array()
        .unwrap_or_else(|| panic!("{item}: no loc"));
    assert!(
        matches!(loc.first().and_then(Value::as_str), Some("body" | "query")),
        "{item}: loc does not start at body or query"
    );
    if kind == "json_invalid" {
        let text = text.unwrap_or_else(|| panic!("{item}: json_invalid without a JSON text"));
        let position = loc.get(1).and_then(Value::as_u64);
        let position = position.unwrap_or_else(|| panic!("{item}: no position"));
        let chars = text.chars().count() as u64;
        assert!(
            position <= chars,
            "{item}: position {position} past the {chars} characters of {text:?}"
        );
        assert!(
            item["ctx"]["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{item}: no ctx.error"
        );
    }
}

/// The JSON text of a body as the service decodes it: UTF-8, without a leading byte order mark.
pub fn json_text(body: &[u8]) -> Option<&str> {
    let json = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    std::str::from_utf8(json).ok()
}
