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
    let ascii = text.is_ascii();
    let (words, shouted) = if ascii {
        ascii_words(text.as_bytes())
    } else {
        words(text)
    };
    let mark = |b: bool| if b { 1.0 } else { 0.0 };
    [
        mark(text.as_bytes().contains(&b'!')),
        mark(!ascii),
        mark(words <= 12),
        mark(shouted),
    ]
}

/// The number of words, and whether one is shouted.
fn words(text: &str) -> (usize, bool) {
    let mut words = 0usize;
    let mut shouted = false;
    for word in text.split(is_space).filter(|w| !w.is_empty()) {
        words += 1;
        shouted = shouted || is_shouted(word.bytes());
    }
    (words, shouted)
}

/// [`words`] of an ASCII text, in one pass over its bytes (a byte is its code point).
fn ascii_words(text: &[u8]) -> (usize, bool) {
    let mut words = 0usize;
    let mut shouted = false;
    for word in text
        .split(|&b| is_space(char::from(b)))
        .filter(|w| !w.is_empty())
    {
        words += 1;
        shouted = shouted || is_shouted(word.iter().copied());
    }
    (words, shouted)
}

/// At least two ASCII capitals and no ASCII small letter.
#[inline]
fn is_shouted(word: impl Iterator<Item = u8>) -> bool {
    let (mut capitals, mut small) = (0u32, false);
    for b in word {
        capitals += u32::from(b.is_ascii_uppercase());
        small |= b.is_ascii_lowercase();
    }
    capitals >= 2 && !small
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
