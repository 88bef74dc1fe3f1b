//! Turning raw input into domain values, with Pydantic-v2-shaped errors.

use serde::Deserialize;
use serde_json::Value;

use super::JsonBody;
use crate::config::InputLimits;
use crate::error::{ApiError, ValidationItem};

/// The body `/predict` expects, read directly when it is exactly that: any other field, or a
/// repeated one, sends the body through the `Value` path, whose checks (UTF-8 everywhere, nesting
/// depth, number range) then decide as they always did.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextField {
    text: String,
}

/// The one text of a `/predict` request: from the query (`?text=`) or the JSON body, not both,
/// not neither; at most `max_chars` characters.
pub fn predict_text(
    query: Vec<(String, String)>,
    body: &JsonBody,
    max_chars: usize,
) -> Result<String, ApiError> {
    match body.object_as::<TextField>() {
        // The common case, a JSON body with a string `text` and no query: no `Value` is built.
        Some(TextField { text }) if !query.iter().any(|(k, _)| k == "text") => {
            text_len(text, || vec!["body".into(), "text".into()], max_chars)
        }
        _ => text_of(query, body.value()?, max_chars),
    }
    .map_err(ApiError::invalid)
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
        (Some(text), None) => text_len(text, || vec!["query".into(), "text".into()], max_chars),
        (None, Some(body)) => {
            let mut body = object(body)?;
            text_field(
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

/// The texts of a batch body (`{"texts": [...]}`), validated; the caller pays for them.
pub fn batch_texts(body: JsonBody, limits: &InputLimits) -> Result<Vec<String>, ApiError> {
    let Some(body) = body.value()? else {
        return Err(ApiError::invalid(ValidationItem::missing(
            vec!["body".into()],
            Value::Null,
        )));
    };
    texts_field(body, limits.max_batch_size, limits.max_text_chars).map_err(ApiError::Validation)
}

/// Checks one text field: it must be present, a string, and at most `max_chars` characters.
///
/// `container` is what held the field (the body object), reported as `input` when it is missing.
pub fn text_field(
    container: &mut serde_json::Map<String, Value>,
    name: &str,
    loc: Vec<Value>,
    max_chars: usize,
) -> Result<String, ValidationItem> {
    match container.remove(name) {
        None => Err(ValidationItem::missing(
            loc,
            Value::Object(container.clone()),
        )),
        Some(value) => text_value(value, loc, max_chars),
    }
}

/// Checks a value that must be a string of at most `max_chars` characters.
pub fn text_value(
    value: Value,
    loc: Vec<Value>,
    max_chars: usize,
) -> Result<String, ValidationItem> {
    match value {
        Value::String(text) => text_len(text, || loc, max_chars),
        other => Err(ValidationItem::string_type(loc, other)),
    }
}

/// Checks that a string has at most `max_chars` characters (Unicode scalar values, as Python counts).
/// `loc`, the error's location, is built only for an error.
pub fn text_len(
    text: String,
    loc: impl FnOnce() -> Vec<Value>,
    max_chars: usize,
) -> Result<String, ValidationItem> {
    // Bytes bound characters from above, so most texts skip the count.
    if text.len() > max_chars && text.chars().count() > max_chars {
        return Err(ValidationItem::string_too_long(
            loc(),
            Value::String(text),
            max_chars,
        ));
    }
    Ok(text)
}

/// Checks the `texts` list of a batch body: 1 to `max_items` strings of at most `max_chars`
/// characters each. Reports every bad item, as Pydantic does, with its index in `loc`.
pub fn texts_field(
    body: Value,
    max_items: usize,
    max_chars: usize,
) -> Result<Vec<String>, Vec<ValidationItem>> {
    let mut body = object(body).map_err(|e| vec![e])?;
    let loc = || vec![Value::from("body"), Value::from("texts")];
    let items = match body.remove("texts") {
        None => return Err(vec![ValidationItem::missing(loc(), Value::Object(body))]),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(vec![ValidationItem::list_type(loc(), other)]),
    };
    if items.is_empty() {
        return Err(vec![ValidationItem::too_short(
            loc(),
            Value::Array(items),
            1,
            0,
        )]);
    }
    if items.len() > max_items {
        let n = items.len();
        return Err(vec![ValidationItem::too_long(
            loc(),
            Value::Array(items),
            max_items,
            n,
        )]);
    }
    let mut texts = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let mut at = loc();
        at.push(i.into());
        match text_value(item, at, max_chars) {
            Ok(text) => texts.push(text),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(texts)
    } else {
        Err(errors)
    }
}

/// A body that must be a JSON object.
pub fn object(body: Value) -> Result<serde_json::Map<String, Value>, ValidationItem> {
    match body {
        Value::Object(map) => Ok(map),
        other => Err(ValidationItem::not_an_object(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn loc() -> Vec<Value> {
        vec!["body".into(), "text".into()]
    }

    #[test]
    fn characters_not_bytes_are_counted() {
        assert!(text_len("é".repeat(5), loc, 5).is_ok());
        let err = text_len("é".repeat(6), loc, 5).unwrap_err();
        assert_eq!(err.kind, "string_too_long");
        assert_eq!(err.ctx, Some(Box::new(json!({"max_length": 5}))));
    }

    #[test]
    fn a_number_is_not_a_string() {
        let err = text_value(json!(5), loc(), 10).unwrap_err();
        assert_eq!(err.kind, "string_type");
        assert_eq!(*err.input, json!(5));
    }

    #[test]
    fn every_bad_batch_item_is_reported_with_its_index() {
        let body = json!({"texts": ["ok", 5, "way too long", null]});
        let errors = texts_field(body, 10, 5).unwrap_err();
        let kinds: Vec<_> = errors.iter().map(|e| (e.kind, e.loc[2].clone())).collect();
        assert_eq!(
            kinds,
            vec![
                ("string_type", json!(1)),
                ("string_too_long", json!(2)),
                ("string_type", json!(3))
            ]
        );
    }

    #[test]
    fn batch_sizes_outside_the_limits_are_refused() {
        assert_eq!(
            texts_field(json!({"texts": []}), 2, 5).unwrap_err()[0].kind,
            "too_short"
        );
        let err = texts_field(json!({"texts": ["a", "b", "c"]}), 2, 5).unwrap_err();
        assert_eq!(err[0].kind, "too_long");
        assert_eq!(
            err[0].msg,
            "List should have at most 2 items after validation, not 3"
        );
        assert_eq!(
            texts_field(json!({"texts": "a"}), 2, 5).unwrap_err()[0].kind,
            "list_type"
        );
        assert_eq!(
            texts_field(json!({"text": "a"}), 2, 5).unwrap_err()[0].kind,
            "missing"
        );
        assert_eq!(
            texts_field(json!({"texts": ["a", "b"]}), 2, 5).unwrap(),
            vec!["a", "b"]
        );
    }

    #[test]
    fn a_missing_field_reports_its_container() {
        let mut body = object(json!({"txt": "hi"})).unwrap();
        let err = text_field(&mut body, "text", loc(), 10).unwrap_err();
        assert_eq!(err.kind, "missing");
        assert_eq!(*err.input, json!({"txt": "hi"}));
    }
}
