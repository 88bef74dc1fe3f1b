//! The checks behind `/predict/batch`: any body gives texts within the limits and a loaded model,
//! or errors in the contract's shape (every bad item named, a 4xx), never a panic.
//!
//! The first two bytes set `MAX_BATCH_SIZE` (1-8) and `MAX_TEXT_CHARS` (1-16), so that small
//! inputs reach both limits; the rest is the body.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sentiment_api::config::InputLimits;
use sentiment_api::error::ApiError;
use sentiment_api::http::validation::batch_input;
use sentiment_api::http::JsonBody;
use sentiment_api::model::Models;
use sentiment_api_fuzz::{check_error, json_text};

// Both compiled-in models, so a wrong `model` is told two names; tfidf loads only when used,
// which validation never does.
static MODELS: LazyLock<Models> = LazyLock::new(|| {
    let names = ["vader".to_owned(), "tfidf".to_owned()];
    Models::load(Some(&names), "vader", None).expect("the compiled-in models")
});

fuzz_target!(|data: &[u8]| {
    let [batch, chars, body @ ..] = data else {
        return;
    };
    let limits = InputLimits {
        max_batch_size: usize::from(batch % 8) + 1,
        max_text_chars: usize::from(chars % 16) + 1,
        ..InputLimits::default()
    };
    match batch_input(JsonBody::from_bytes(body), &limits, &MODELS) {
        Ok(input) => {
            let n = input.texts.len();
            assert!(
                (1..=limits.max_batch_size).contains(&n),
                "{n} texts admitted"
            );
            for text in &input.texts {
                assert!(
                    text.chars().count() <= limits.max_text_chars,
                    "{text:?} admitted"
                );
            }
            assert!(MODELS.names().contains(&MODELS.get(input.model).name()));
        }
        Err(err) => {
            if let ApiError::Validation(items) = &err {
                // One item per bad text at most, plus the list's and the model's.
                assert!(
                    items.len() <= limits.max_batch_size + 1,
                    "{} items",
                    items.len()
                );
            }
            check_error(&err, json_text(body));
        }
    }
});
