//! The VADER model against the Python reference (`vaderSentiment==3.3.2`): every fixture sentence, all
//! four scores, exactly. The fixture is written by `scripts/gen_vader_fixtures.py`; see its docstring to
//! regenerate it.

use std::fmt::Write as _;

use crate::shown;
use sentiment_api::model::{SentimentModel, Vader};
use serde::Deserialize;

const FIXTURE: &str = include_str!("../fixtures/vader_reference.jsonl");

/// One fixture line: a text and the scores Python returned for it.
#[derive(Debug, Deserialize)]
struct Reference {
    text: String,
    compound: f64,
    pos: f64,
    neu: f64,
    neg: f64,
}

fn references() -> Vec<Reference> {
    FIXTURE
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).unwrap_or_else(|err| {
                panic!(
                    "fixture line {} is not a reference record: {err}",
                    index + 1
                )
            })
        })
        .collect()
}

#[test]
fn the_fixture_holds_at_least_300_sentences() {
    let count = references().len();
    assert!(count >= 300, "the fixture holds only {count} sentences");
}

#[test]
fn vader_matches_the_python_reference_on_every_fixture_sentence() {
    let model = Vader::new();
    let references = references();
    let mut mismatches = Vec::new();

    for reference in &references {
        let actual = model.score(&reference.text);
        // Python rounds with `round(x, 3|4)` and prints the shortest repr; serde_json parses such short
        // decimals to the nearest f64, so exact equality is the right bar, not a tolerance.
        let fields = [
            ("compound", reference.compound, actual.compound),
            ("pos", reference.pos, actual.positive),
            ("neu", reference.neu, actual.neutral),
            ("neg", reference.neg, actual.negative),
        ];
        let differing: Vec<String> = fields
            .iter()
            .filter(|(_, expected, actual)| expected != actual)
            .map(|(name, expected, actual)| {
                format!("{name}: expected {expected:?}, got {actual:?}")
            })
            .collect();
        if !differing.is_empty() {
            mismatches.push((reference.text.as_str(), differing));
        }
    }

    if !mismatches.is_empty() {
        // Report every mismatching text, not just the first, so one run shows the whole picture.
        let mut report = format!(
            "{} of {} fixture texts differ from the Python reference:\n",
            mismatches.len(),
            references.len()
        );
        for (text, differing) in &mismatches {
            let _ = writeln!(report, "  {}: {}", shown(text, 120), differing.join("; "));
        }
        panic!("{report}");
    }
}
