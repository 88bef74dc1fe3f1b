//! Turning raw input into domain values, with Pydantic-v2-shaped errors.

use serde_json::Value;

use crate::error::ValidationItem;

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
        Value::String(text) => text_len(text, loc, max_chars),
        other => Err(ValidationItem::string_type(loc, other)),
    }
}

/// Checks that a string has at most `max_chars` characters (Unicode scalar values, as Python counts).
pub fn text_len(text: String, loc: Vec<Value>, max_chars: usize) -> Result<String, ValidationItem> {
    // Bytes bound characters from above, so most texts skip the count.
    if text.len() > max_chars && text.chars().count() > max_chars {
        return Err(ValidationItem::string_too_long(
            loc,
            Value::String(text),
            max_chars,
        ));
    }
    Ok(text)
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
        assert!(text_len("é".repeat(5), loc(), 5).is_ok());
        let err = text_len("é".repeat(6), loc(), 5).unwrap_err();
        assert_eq!(err.kind, "string_too_long");
        assert_eq!(err.ctx, Some(Box::new(json!({"max_length": 5}))));
    }

    #[test]
    fn a_number_is_not_a_string() {
        let err = text_value(json!(5), loc(), 10).unwrap_err();
        assert_eq!(err.kind, "string_type");
        assert_eq!(err.input, json!(5));
    }

    #[test]
    fn a_missing_field_reports_its_container() {
        let mut body = object(json!({"txt": "hi"})).unwrap();
        let err = text_field(&mut body, "text", loc(), 10).unwrap_err();
        assert_eq!(err.kind, "missing");
        assert_eq!(err.input, json!({"txt": "hi"}));
    }
}
