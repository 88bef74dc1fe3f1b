//! Scores lines from stdin with the service's VADER model and prints one compound per line.
//!
//! Input: one record per `\n`-terminated line, `ID<TAB>TEXT`. The text is everything after the first
//! tab, byte for byte (a `\r` before the newline is kept as part of it: VADER reads it as whitespace,
//! so it cannot change a score). A line with no tab is scored as a text with an empty ID, so the output
//! always has exactly one line per input line. Invalid UTF-8 is replaced with U+FFFD, never fatal.
//!
//! Output: `ID<TAB>COMPOUND` per line, the compound printed the way Python prints the float
//! (`0.0`, `-0.128`, `0.6597`), so it can be diffed against `vaderSentiment` output directly.
//!
//! ```text
//! printf '1\tThe soup was good.\n' | cargo run --quiet --example vader_scores
//! ```
//!
//! `scripts/vader_parity.py` drives it to check parity with Python on the VADER ground-truth sets.

use std::io::{self, BufRead, BufWriter, Write};

use sentiment_api::model::{SentimentModel, Vader};

fn main() -> io::Result<()> {
    let model = Vader::new();
    let mut input = io::stdin().lock();
    let mut output = BufWriter::new(io::stdout().lock());
    let mut line = Vec::new();

    // Reading raw bytes rather than `lines()`, which fails on the first invalid UTF-8 sequence.
    while input.read_until(b'\n', &mut line)? > 0 {
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let record = String::from_utf8_lossy(&line);
        let (id, text) = record.split_once('\t').unwrap_or(("", &record));
        let compound = model.score(text).compound;
        writeln!(output, "{id}\t{}", python_float(compound))?;
        line.clear();
    }
    output.flush()
}

/// Formats a float as Python's `repr` does for the values VADER returns (at most 4 decimals, |x| <= 1).
///
/// Rust's `Display` already prints the shortest decimal that reads back as the same `f64`, as `repr`
/// does; it only leaves out the `.0` Python puts on integral values (`0`, `-0`, `1` → `0.0`, `-0.0`,
/// `1.0`). Python switches to exponent notation below 1e-4, which a value rounded to 4 decimals never
/// reaches unless it is zero.
fn python_float(value: f64) -> String {
    let mut text = value.to_string();
    if value.is_finite() && !text.contains('.') {
        text.push_str(".0");
    }
    text
}
