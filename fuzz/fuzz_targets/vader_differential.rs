//! VADER's fast ASCII path against `vader-parity`, all four scores bit for bit.
//!
//! Input that is UTF-8 is scored as it is: the fast path must decline (`None`) or agree. Any
//! other input is folded to ASCII (each byte's low 7 bits), so that every run also searches the
//! texts the fast path exists for. Either way the served score (`Vader::score`) must be the
//! reference's.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sentiment_api::model::{Scores, SentimentModel, Vader};

static VADER: LazyLock<Vader> = LazyLock::new(Vader::new);

fn bits(s: &Scores) -> [u64; 4] {
    [
        s.compound.to_bits(),
        s.positive.to_bits(),
        s.neutral.to_bits(),
        s.negative.to_bits(),
    ]
}

fuzz_target!(|data: &[u8]| {
    let folded;
    let text = match std::str::from_utf8(data) {
        Ok(text) => text,
        Err(_) => {
            folded = data
                .iter()
                .map(|b| char::from(b & 0x7f))
                .collect::<String>();
            &folded
        }
    };
    let reference = VADER.score_reference(text);
    if let Some(fast) = VADER.score_fast_path(text) {
        assert!(
            text.is_ascii(),
            "the fast path took a non-ASCII text {text:?}"
        );
        assert_eq!(
            bits(&fast),
            bits(&reference),
            "{text:?}: fast path {fast:?}, vader-parity {reference:?}"
        );
    }
    let served = VADER.score(text);
    assert_eq!(
        bits(&served),
        bits(&reference),
        "{text:?}: served {served:?}, vader-parity {reference:?}"
    );
});
