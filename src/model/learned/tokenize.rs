//! scikit-learn's text preprocessing, reproduced exactly: `str.lower()`, the default token pattern
//! `(?u)\b\w\w+\b`, and `char_wb` n-grams, with Python's own Unicode tables ([`super::tables`]).
//!
//! N-grams are never built as strings: each is hashed as its code points are read ([`mix`]) and
//! looked up by that hash alone.

use super::tables;

/// One step of the n-gram hash (FxHash's mixing, one code point at a time): the vocabulary is
/// hashed the same way when the model is loaded.
#[inline]
pub(super) fn mix(hash: u64, c: char) -> u64 {
    mix_code(hash, u32::from(c))
}

/// [`mix`] of a code point given as a number.
#[inline(always)]
fn mix_code(hash: u64, c: u32) -> u64 {
    (hash.rotate_left(5) ^ u64::from(c)).wrapping_mul(0x517c_c1b7_2722_0a95)
}

/// The hash of a whole string, as [`mix`] builds it.
pub(super) fn hash_str(text: &str) -> u64 {
    text.chars().fold(0, mix)
}

fn in_ranges(table: &[(u32, u32)], c: u32) -> bool {
    match table.binary_search_by(|&(start, _)| start.cmp(&c)) {
        Ok(_) => true,
        Err(0) => false,
        Err(next) => c <= table[next - 1].1,
    }
}

/// Python `re`'s `\w` on a `str` pattern: `str.isalnum()` or `_`.
#[inline]
pub(super) fn is_word(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        in_ranges(tables::WORD, c as u32)
    }
}

/// Python's whitespace (`re`'s `\s`, `str.split()`, `str.isspace()`), which includes U+001C..U+001F
/// where Rust's `char::is_whitespace` does not.
#[inline]
pub(super) fn is_space(c: char) -> bool {
    let c = c as u32;
    if c < 0x80 {
        matches!(c, 0x09..=0x0D | 0x1C..=0x20)
    } else {
        tables::SPACE.binary_search(&c).is_ok()
    }
}

const CAPITAL_SIGMA: char = '\u{3A3}';

/// Python's `str.lower()` of `text`, appended to `out`.
pub(super) fn lower_into(text: &str, out: &mut String) {
    if text.is_ascii() {
        let start = out.len();
        out.push_str(text);
        out[start..].make_ascii_lowercase();
        return;
    }
    for (at, c) in text.char_indices() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if c == CAPITAL_SIGMA {
            out.push(if final_sigma(text, at) {
                '\u{3C2}'
            } else {
                '\u{3C3}'
            });
        } else {
            let cp = c as u32;
            match tables::LOWER.binary_search_by(|&(from, _, _)| from.cmp(&cp)) {
                Ok(index) => {
                    let (_, first, second) = tables::LOWER[index];
                    out.extend(char::from_u32(first));
                    if second != 0 {
                        out.extend(char::from_u32(second));
                    }
                }
                Err(_) => out.push(c),
            }
        }
    }
}

/// CPython's `handle_capital_sigma`: the Σ at byte `at` becomes ς when the nearest character
/// before it that is not case-ignorable is cased, and no cased one follows past case-ignorables.
fn final_sigma(text: &str, at: usize) -> bool {
    let ignorable = |c: char| in_ranges(tables::CASE_IGNORABLE, c as u32);
    let cased = |c: char| in_ranges(tables::CASED, c as u32);
    let before = text[..at].chars().rev().find(|&c| !ignorable(c));
    if !before.is_some_and(cased) {
        return false;
    }
    let after = text[at + CAPITAL_SIGMA.len_utf8()..]
        .chars()
        .find(|&c| !ignorable(c));
    !after.is_some_and(cased)
}

/// A token of the default pattern `(?u)\b\w\w+\b`: a maximal run of at least two word characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token {
    pub start: usize,
    pub end: usize,
    /// [`hash_str`] of the token.
    pub hash: u64,
}

/// The tokens of an (already lowercased) text, in order, into `out`.
pub(super) fn tokens(text: &str, out: &mut Vec<Token>) {
    if text.is_ascii() {
        // A byte is its code point: the same tokens and hashes, without decoding UTF-8.
        return tokens_of(
            text.bytes().enumerate().map(|(at, b)| (at, char::from(b))),
            text.len(),
            out,
        );
    }
    tokens_of(text.char_indices(), text.len(), out);
}

/// The tokens of a text given as (byte offset, code point) pairs, `end` bytes long.
#[inline(always)]
fn tokens_of(chars: impl Iterator<Item = (usize, char)>, end: usize, out: &mut Vec<Token>) {
    let mut start = 0;
    let mut length = 0usize;
    let mut hash = 0u64;
    for (at, c) in chars {
        if is_word(c) {
            if length == 0 {
                start = at;
                hash = 0;
            }
            length += 1;
            hash = mix(hash, c);
        } else {
            if length >= 2 {
                out.push(Token {
                    start,
                    end: at,
                    hash,
                });
            }
            length = 0;
        }
    }
    if length >= 2 {
        out.push(Token { start, end, hash });
    }
}

/// Appends to `out` the [`hash_str`] of every `char_wb` 2-5-gram of an (already lowercased) text, as scikit-learn's `_char_wb_ngrams` yields them: each whitespace-separated
/// word padded with one space either side, then every window of 2 to 5 code points (a padded word
/// shorter than 5 gives itself once as its longest n-gram). `padded` is a reusable buffer.
///
/// An ASCII text (most of them) is read byte by byte: a byte is its code point, so the hashes are
/// the same, without decoding UTF-8 or widening the word to `char`s.
///
/// Not inlined: in a function of its own, the loops keep their state in registers.
#[inline(never)]
pub(super) fn char_wb_ngrams(text: &str, padded: &mut Vec<u32>, out: &mut Vec<u64>) {
    // Written by index into a buffer sized once (a word of n >= 1 code points gives at most
    // 4n + 2 <= 6n n-grams), so the count stays in a register; cut to length at the end.
    let start = out.len();
    out.resize(start + 6 * text.len(), 0);
    let hashes = &mut out[start..];
    let mut n = 0;
    if text.is_ascii() {
        let bytes = text.as_bytes();
        let is_space_byte = |b: u8| matches!(b, 0x09..=0x0D | 0x1C..=0x20);
        let mut at = 0;
        while at < bytes.len() {
            while at < bytes.len() && is_space_byte(bytes[at]) {
                at += 1;
            }
            let start = at;
            while at < bytes.len() && !is_space_byte(bytes[at]) {
                at += 1;
            }
            if at > start {
                padded.clear();
                padded.push(u32::from(b' '));
                padded.extend(bytes[start..at].iter().map(|&b| u32::from(b)));
                padded.push(u32::from(b' '));
                n = windows(padded, hashes, n);
            }
        }
    } else {
        for word in text.split(is_space).filter(|w| !w.is_empty()) {
            padded.clear();
            padded.push(u32::from(' '));
            padded.extend(word.chars().map(u32::from));
            padded.push(u32::from(' '));
            n = windows(padded, hashes, n);
        }
    }
    out.truncate(start + n);
}

/// Writes the hashes of every window of 2 to 5 code points of a padded word, by start then
/// length, into `out` from `n` on; returns the new count.
#[inline(always)]
fn windows(padded: &[u32], out: &mut [u64], mut n: usize) -> usize {
    // Every start but the last four has all four windows: one chain of five mixes gives them.
    for w in padded.windows(5) {
        let h2 = mix_code(mix_code(0, w[0]), w[1]);
        let h3 = mix_code(h2, w[2]);
        let h4 = mix_code(h3, w[3]);
        let h5 = mix_code(h4, w[4]);
        out[n..n + 4].copy_from_slice(&[h2, h3, h4, h5]);
        n += 4;
    }
    let length = padded.len();
    for start in length.saturating_sub(4)..length - 1 {
        let mut hash = mix_code(0, padded[start]);
        for &c in &padded[start + 1..] {
            hash = mix_code(hash, c);
            out[n] = hash;
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lower(text: &str) -> String {
        let mut out = String::new();
        lower_into(text, &mut out);
        out
    }

    fn token_strings(text: &str) -> Vec<String> {
        let lowered = lower(text);
        let mut found = Vec::new();
        tokens(&lowered, &mut found);
        for t in &found {
            assert_eq!(t.hash, hash_str(&lowered[t.start..t.end]));
        }
        found
            .iter()
            .map(|t| lowered[t.start..t.end].to_string())
            .collect()
    }

    /// The char_wb n-grams of `text`, by a slow path that builds each one, checked against the
    /// hashes the fast path gives.
    fn ngrams(text: &str) -> Vec<String> {
        let lowered = lower(text);
        let mut out = Vec::new();
        for word in lowered.split(is_space).filter(|w| !w.is_empty()) {
            let padded: Vec<char> = format!(" {word} ").chars().collect();
            for start in 0..padded.len() - 1 {
                for end in start + 2..=(start + 5).min(padded.len()) {
                    out.push(padded[start..end].iter().collect::<String>());
                }
            }
        }
        let mut hashes = Vec::new();
        char_wb_ngrams(&lowered, &mut Vec::new(), &mut hashes);
        assert_eq!(hashes, out.iter().map(|g| hash_str(g)).collect::<Vec<_>>());
        out.sort();
        out
    }

    // Every expectation below was checked against Python 3.11 and scikit-learn 1.9.1's analyzers.
    #[test]
    fn lowercases_as_python_does() {
        assert_eq!(lower("Hello WORLD"), "hello world");
        // U+0130 lowers to "i" + U+0307 (two code points); dotless ı stays.
        assert_eq!(lower("İSTANBUL ıI"), "i\u{307}stanbul ıi");
        // ß stays, ẞ (U+1E9E) lowers to ß; Σ is final only at the end of a word.
        assert_eq!(lower("STRAẞE ß"), "straße ß");
        assert_eq!(lower("ΟΔΟΣ Σ ΣΑΣ."), "οδος σ σας.");
        // The apostrophe is case-ignorable: the first Σ sees the cased Σ after it.
        assert_eq!(lower("ΟΔΟΣ'Σ"), "οδοσ'ς");
        // Georgian Mtavruli and Cherokee: Python 3.11's Unicode 14 tables.
        assert_eq!(lower("ᲐᲑ Ꮳ"), "აბ ꮳ");
        assert_eq!(lower("Ⅻ"), "ⅻ");
    }

    #[test]
    fn tokens_follow_the_default_pattern() {
        assert_eq!(token_strings(""), Vec::<String>::new());
        assert_eq!(token_strings("a b c"), Vec::<String>::new());
        assert_eq!(
            token_strings("I'm ok, you're fine"),
            ["ok", "you", "re", "fine"]
        );
        assert_eq!(
            token_strings("snake_case __x 42 a1"),
            ["snake_case", "__x", "42", "a1"]
        );
        // The combining dot of lowered İ is not a word character: it splits the token.
        assert_eq!(token_strings("İstanbul"), ["stanbul"]);
        // Python's \w includes ², ½ and CJK, excludes combining marks (Rust's is_alphanumeric
        // includes some: Arabic harakat, Devanagari vowel signs).
        assert_eq!(token_strings("x² ½½ 中文"), ["x²", "½½", "中文"]);
        // Harakat (Mn) split Arabic words; Python keeps only the unvowelled run.
        assert_eq!(token_strings("كِتَابٌ"), ["اب"]);
        assert_eq!(token_strings("बहुत"), ["बह"]);
        assert_eq!(token_strings("日本語です!"), ["日本語です"]);
    }

    #[test]
    fn whitespace_is_pythons() {
        for c in [
            '\t', '\n', '\x0b', '\x0c', '\r', '\x1c', '\x1f', ' ', '\u{85}', '\u{a0}',
        ] {
            assert!(is_space(c), "{c:?}");
        }
        for c in [
            '\u{3000}', '\u{2028}', '\u{2029}', '\u{202f}', '\u{2009}', '\u{1680}',
        ] {
            assert!(is_space(c), "{c:?}");
        }
        for c in ['a', '_', '\u{200b}', '\u{feff}', '\u{180e}', '\0'] {
            assert!(!is_space(c), "{c:?}");
        }
    }

    #[test]
    fn char_wb_ngrams_pad_each_word() {
        assert_eq!(ngrams(""), Vec::<String>::new());
        assert_eq!(ngrams(" \t\u{3000} "), Vec::<String>::new());
        // " a ": " a", "a ", and itself once.
        assert_eq!(ngrams("A"), [" a", " a ", "a "]);
        // " ab ": 3 bigrams, 2 trigrams, itself.
        assert_eq!(ngrams("ab"), [" a", " ab", " ab ", "ab", "ab ", "b "]);
        let long = ngrams("abcdef");
        // 7 + 6 + 5 + 4 windows of 2..5 over " abcdef " (8 code points).
        assert_eq!(long.len(), 7 + 6 + 5 + 4);
        assert!(long.contains(&" abcd".to_string()) && long.contains(&"cdef ".to_string()));
        // Whitespace of every kind separates words; code points, not bytes, make the windows.
        assert_eq!(ngrams("é\x1cß"), [" ß", " ß ", " é", " é ", "ß ", "é "]);
    }
}
