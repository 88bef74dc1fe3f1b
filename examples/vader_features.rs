//! Scores texts from stdin with the service's VADER model and prints its four scores for each.
//!
//! The learned model (`src/model/learned`) takes VADER's scores as features; its training script,
//! `scripts/learned/train.py`, reads them from here so that training and the service's inference see
//! exactly the same numbers (the service's VADER follows CPython >= 3.12; Debian's python3 is 3.11).
//!
//! Input: one JSON string per line (so a text may hold any character, newlines included).
//!
//! Output: `COMPOUND<TAB>POS<TAB>NEU<TAB>NEG` per input line, each float printed as the shortest
//! decimal that reads back as the same `f64` (so Python's `float()` gets the exact bits back).
//!
//! ```text
//! printf '"The soup was good."\n' | cargo run --quiet --example vader_features
//! ```

use std::io::{self, BufRead, BufWriter, Write};

use sentiment_api::model::{SentimentModel, Vader};

fn main() -> io::Result<()> {
    let model = Vader::new();
    let mut output = BufWriter::new(io::stdout().lock());
    for (number, line) in io::stdin().lock().lines().enumerate() {
        let text: String = serde_json::from_str(&line?).map_err(|err| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line {}: {err}", number + 1),
            )
        })?;
        let s = model.score(&text);
        writeln!(
            output,
            "{:?}\t{:?}\t{:?}\t{:?}",
            s.compound, s.positive, s.neutral, s.negative
        )?;
    }
    output.flush()
}
