//! The learned model's non-lexical features: four marks of social-media style, which the model
//! multiplies with VADER's compound to learn where VADER is to be trusted (tweets). Each is defined
//! on ASCII alone, identically in `scripts/learned/train.py` (`style`).

use super::tokenize::is_space;

/// How many style marks there are.
pub(super) const N_STYLE: usize = 4;

/// The style marks of a text (the original, not lowercased), each 0.0 or 1.0: a `!`, a non-ASCII
/// character, at most 12 words (split on Python's whitespace), a shouted word (at least two ASCII
/// capitals and no ASCII small letter).
pub(super) fn style(text: &str) -> [f64; N_STYLE] {
    let mut words = 0usize;
    let mut shouted = false;
    for word in text.split(is_space).filter(|w| !w.is_empty()) {
        words += 1;
        if !shouted {
            let capitals = word.bytes().filter(u8::is_ascii_uppercase).count();
            shouted = capitals >= 2 && !word.bytes().any(|b| b.is_ascii_lowercase());
        }
    }
    let mark = |b: bool| if b { 1.0 } else { 0.0 };
    [
        mark(text.as_bytes().contains(&b'!')),
        mark(!text.is_ascii()),
        mark(words <= 12),
        mark(shouted),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks() {
        assert_eq!(style(""), [0.0, 0.0, 1.0, 0.0]);
        assert_eq!(style("OMG so good!! @you"), [1.0, 0.0, 1.0, 1.0]);
        assert_eq!(style("café :)"), [0.0, 1.0, 1.0, 0.0]);
        assert_eq!(style("OK3 A1"), [0.0, 0.0, 1.0, 1.0]);
        assert_eq!(style("Ok A éÉ"), [0.0, 1.0, 1.0, 0.0]);
        let long = "word ".repeat(13);
        assert_eq!(style(&long)[2], 0.0);
        // Python's whitespace splits words: U+001C is whitespace to str.split().
        assert_eq!(style(&"w\x1c".repeat(13))[2], 0.0);
        assert_eq!(style(&"w\u{200b}".repeat(13))[2], 1.0);
    }
}
