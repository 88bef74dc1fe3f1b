//! Turning raw input into domain values, with Pydantic-v2-shaped errors.

use serde::Deserialize;
use serde_json::Value;

use super::JsonBody;
use crate::config::InputLimits;
use crate::error::{ApiError, ValidationItem};
use crate::model::{ModelId, Models};

/// The body `/predict` expects, read directly when it is exactly that: any other field, or a
/// repeated one, sends the body through the `Value` path, whose checks (UTF-8 everywhere, nesting
/// depth, number range) then decide as they always did.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictBody {
    text: String,
    #[serde(default)]
    model: Option<String>,
}

/// What a `/predict` request asks for, validated.
#[derive(Debug)]
pub struct PredictInput {
    /// The text, at most `MAX_TEXT_CHARS` characters.
    pub text: String,
    /// The model to score it with.
    pub model: ModelId,
}

/// What a `/predict/batch` or `/analyze_batch` request asks for, validated.
#[derive(Debug)]
pub struct BatchInput {
    /// 1 to `MAX_BATCH_SIZE` texts of at most `MAX_TEXT_CHARS` characters each.
    pub texts: Vec<String>,
    /// The model to score them with.
    pub model: ModelId,
}

fn loc(place: &str, field: &str) -> Vec<Value> {
    vec![place.into(), field.into()]
}

/// The one text of a `/predict` request, from the query (`?text=`) or the JSON body, not both, not
/// neither, at most `max_chars` characters; and its model, from `?model=` or the body's `model`
/// (one of `models`, else the default).
pub fn predict_input(
    query: Vec<(String, String)>,
    body: &JsonBody,
    max_chars: usize,
    models: &Models,
) -> Result<PredictInput, ApiError> {
    let in_query = |name: &str| query.iter().any(|(k, _)| k == name);
    if !in_query("text") && !in_query("model") {
        // The common case, a JSON body with a string `text` and no query: no `Value` is built.
        if let Some(PredictBody { text, model }) = body.object_as::<PredictBody>() {
            let text = text_len(text, || loc("body", "text"), max_chars);
            let model = choose(model.map(Value::String), || loc("body", "model"), models);
            return both(text, model).map(|(text, model)| PredictInput { text, model });
        }
    }
    // As with FastAPI, a repeated query parameter counts its last value.
    let mut query_text = None;
    let mut query_model = None;
    for (k, v) in query {
        match k.as_str() {
            "text" => query_text = Some(v),
            "model" => query_model = Some(v),
            _ => {}
        }
    }
    let from_query =
        |model: Option<String>| choose(model.map(Value::String), || loc("query", "model"), models);
    let (text, model) = match (query_text, body.value()?) {
        (Some(text), None) => (
            text_len(text, || loc("query", "text"), max_chars),
            from_query(query_model),
        ),
        (None, Some(body)) => {
            let mut body = object(body).map_err(ApiError::invalid)?;
            let in_body = body.get("model").filter(|v| !v.is_null()).cloned();
            let model = match (query_model, in_body) {
                (Some(name), Some(_)) => Err(ValidationItem::value_error(
                    loc("query", "model"),
                    Value::String(name),
                    "give model either as a query parameter or in a JSON body, not both",
                )),
                (None, Some(value)) => choose(Some(value), || loc("body", "model"), models),
                (query_model, None) => from_query(query_model),
            };
            let text = text_field(&mut body, "text", loc("body", "text"), max_chars);
            (text, model)
        }
        (None, None) => (
            Err(ValidationItem::missing(loc("query", "text"), Value::Null)),
            from_query(query_model),
        ),
        (Some(text), Some(_)) => {
            return Err(ApiError::invalid(ValidationItem::value_error(
                loc("query", "text"),
                Value::String(text),
                "give text either as a query parameter or in a JSON body, not both",
            )))
        }
    };
    both(text, model).map(|(text, model)| PredictInput { text, model })
}

/// The texts of a batch body (`{"texts": [...], "model": ...}`), validated; the caller pays for them.
pub fn batch_input(
    body: JsonBody,
    limits: &InputLimits,
    models: &Models,
) -> Result<BatchInput, ApiError> {
    let Some(body) = body.value()? else {
        return Err(ApiError::invalid(ValidationItem::missing(
            vec!["body".into()],
            Value::Null,
        )));
    };
    let model = match body.get("model").filter(|v| !v.is_null()) {
        Some(value) => choose(Some(value.clone()), || loc("body", "model"), models),
        None => Ok(models.default_id()),
    };
    let texts = texts_field(body, limits.max_batch_size, limits.max_text_chars);
    match (texts, model) {
        (Ok(texts), Ok(model)) => Ok(BatchInput { texts, model }),
        (Err(errors), Ok(_)) => Err(ApiError::Validation(errors)),
        (Err(mut errors), Err(item)) => {
            errors.push(item);
            Err(ApiError::Validation(errors))
        }
        (Ok(_), Err(item)) => Err(ApiError::invalid(item)),
    }
}

/// The model a request names (`None`: the default), or Pydantic's `literal_error` listing the
/// loaded models.
fn choose(
    name: Option<Value>,
    loc: impl FnOnce() -> Vec<Value>,
    models: &Models,
) -> Result<ModelId, ValidationItem> {
    let Some(name) = name else {
        return Ok(models.default_id());
    };
    name.as_str()
        .and_then(|n| models.find(n))
        .ok_or_else(|| ValidationItem::literal_error(loc(), name, &models.names()))
}

/// Both values, or every error of the two, in order.
fn both<A, B>(
    a: Result<A, ValidationItem>,
    b: Result<B, ValidationItem>,
) -> Result<(A, B), ApiError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(ApiError::invalid(e)),
        (Err(e), Err(f)) => Err(ApiError::Validation(vec![e, f])),
    }
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
        let kinds: Vec<_> = errors
            .iter()
            .map(|e| (e.kind.as_ref(), e.loc[2].clone()))
            .collect();
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
