//! The JSON body reader: any bytes give a value or an error in the contract's shape (400 for a
//! body that is not UTF-8, else 422 `json_invalid` with Python's message and a position inside the
//! body), never a panic; and the typed fast path agrees with the `Value` path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sentiment_api::error::ApiError;
use sentiment_api_fuzz::{check_error, json_text};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let body = sentiment_api::http::JsonBody::from_bytes(data);
    let text = json_text(data);
    match body.value() {
        Ok(value) => {
            let text = text.expect("a value from a body that is not UTF-8");
            let reread: Option<Value> = serde_json::from_str(text)
                .ok()
                .filter(|v: &Value| !v.is_null());
            assert_eq!(value, reread, "{text:?}");
        }
        Err(err) => {
            match (&err, text) {
                (ApiError::MalformedBody, None) | (ApiError::Validation(_), Some(_)) => {}
                (other, _) => panic!("{data:?} gave {other:?}"),
            }
            check_error(&err, text);
            // The typed path never accepts what the `Value` path refuses.
            assert!(
                body.object_as::<serde_json::Map<String, Value>>().is_none(),
                "{text:?}"
            );
        }
    }
});
