//! The learned model's non-lexical features: six marks of social-media style, which the model
//! multiplies with VADER's compound to learn where VADER is to be trusted (tweets). Each is defined
//! on ASCII alone, identically in `scripts/learned/train.py` (`style`).

use super::tokenize::is_space;

/// How many style marks there are.
pub(super) const N_STYLE: usize = 6;

/// The style marks of a text (the original, not lowercased), each 0.0 or 1.0: an emoticon, a `!`,
/// a `@` / `#` / `http`, a non-ASCII character, at most 12 words (split on Python's whitespace), a
/// shouted word (at least two ASCII capitals and no ASCII small letter).
pub(super) fn style(text: &str) -> [f64; N_STYLE] {
    let bytes = text.as_bytes();
    let mut words = 0usize;
    let mut shouted = false;
    for word in text.split(is_space).filter(|w| !w.is_empty()) {
        words += 1;
        if !shouted {
            let capitals = word.bytes().filter(u8::is_ascii_uppercase).count();
            shouted = capitals >= 2 && !word.bytes().any(|b| b.is_ascii_lowercase());
        }
    }
    let social = bytes.contains(&b'@') || bytes.contains(&b'#') || text.contains("http");
    let mark = |b: bool| if b { 1.0 } else { 0.0 };
    [
        mark(has_emoticon(bytes)),
        mark(bytes.contains(&b'!')),
        mark(social),
        mark(!text.is_ascii()),
        mark(words <= 12),
        mark(shouted),
    ]
}

/// Whether the regex `[:;=8xX][-o^]?[()DPpdO/\\|*]|<3|[()][-o^]?[:;=]` matches anywhere. Only ASCII
/// bytes take part, and in UTF-8 those never occur inside another character.
fn has_emoticon(bytes: &[u8]) -> bool {
    let nose = |b: Option<&u8>| matches!(b, Some(b'-' | b'o' | b'^'));
    // The optional nose and the eyes or mouth that follow share no character, so trying the nose
    // first never needs the backtracking a regex would do.
    let followed_by = |at: usize, set: fn(u8) -> bool| {
        let at = if nose(bytes.get(at)) { at + 1 } else { at };
        bytes.get(at).is_some_and(|&b| set(b))
    };
    let mouth = |b: u8| {
        matches!(
            b,
            b'(' | b')' | b'D' | b'P' | b'p' | b'd' | b'O' | b'/' | b'\\' | b'|' | b'*'
        )
    };
    let eyes = |b: u8| matches!(b, b':' | b';' | b'=');
    bytes.iter().enumerate().any(|(at, &b)| match b {
        b':' | b';' | b'=' | b'8' | b'x' | b'X' => followed_by(at + 1, mouth),
        b'<' => bytes.get(at + 1) == Some(&b'3'),
        b'(' | b')' => followed_by(at + 1, eyes),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoticons() {
        for yes in [
            ":)", ":-(", ";D", "=P", "8)", "xD", "XO", ":/", "<3", "(:", ")-;", ":^*", "a:|b",
        ] {
            assert!(has_emoticon(yes.as_bytes()), "{yes}");
        }
        for no in ["", ":", "x-y", ":o", "<4", "(a)", "8-", "::", "é:"] {
            assert!(!has_emoticon(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn marks() {
        assert_eq!(style(""), [0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        assert_eq!(style("OMG so good!! @you"), [0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
        assert_eq!(style("café :)"), [1.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
        assert_eq!(style("OK3 A1"), [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        assert_eq!(
            style("Ok A"),
            [0.0; 4].into_iter().chain([1.0, 0.0]).collect::<Vec<_>>()[..]
        );
        let long = "word ".repeat(13);
        assert_eq!(style(&long)[4], 0.0);
        // Python's whitespace splits words: U+001C is whitespace to str.split().
        assert_eq!(style(&"w\x1c".repeat(13))[4], 0.0);
    }
}
