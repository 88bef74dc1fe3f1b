//! The keys-file parser: any text is read or refused in one line, never a panic, and a refusal
//! never echoes what was written where a key's hash belongs (a key pasted there by mistake).
//!
//! The first byte picks the input: odd, the rest is a whole keys file; even, the rest is the
//! `sha256` value of an otherwise good entry, so that every run also aims at that field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sentiment_api::auth::key_file::{self, KeyFileError};

/// Values shorter than this are too short to be a key, and may turn up in a message by chance.
const SHORTEST_KEY: usize = 8;

fn check_refusal(err: &KeyFileError, text: &str, pasted: &[String]) {
    let shown = err.to_string();
    assert!(
        !shown.contains('\n'),
        "a refusal of more than one line: {shown:?}"
    );
    for value in pasted {
        // An echo is fine only when the same characters are also written elsewhere in the file,
        // where they may be named (an id, a scope, an expiry).
        let elsewhere = text
            .replacen(value.as_str(), "", 1)
            .contains(value.as_str());
        assert!(
            value.chars().count() < SHORTEST_KEY || elsewhere || !shown.contains(value.as_str()),
            "the refusal {shown:?} echoes the sha256 value {value:?}"
        );
    }
}

/// The `sha256` strings of a file's `[[keys]]` tables that are not a hash, when it reads as TOML.
fn pasted_values(text: &str) -> Vec<String> {
    let Ok(doc) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let Some(keys) = doc.get("keys").and_then(toml::Value::as_array) else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|entry| entry.get("sha256")?.as_str())
        .filter(|v| {
            let digits = v.strip_prefix("sha256:").unwrap_or(v);
            !(digits.len() == 64 && digits.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .map(str::to_owned)
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return;
    };
    let (text, pasted) = if mode % 2 == 1 {
        (rest.to_owned(), pasted_values(rest))
    } else {
        let quoted = toml::Value::String(rest.to_owned()).to_string();
        let text = format!("[[keys]]\nid = \"fuzz\"\nsha256 = {quoted}\n");
        (text, vec![rest.to_owned()])
    };
    if let Err(err) = key_file::parse(&text) {
        check_refusal(&err, &text, &pasted);
    }
});
