//! The embedded learned model against scikit-learn: `tests/fixtures/learned_reference.jsonl` holds,
//! for texts the training did not see, the probability `predict_proba` gives (written by
//! `scripts/learned/train.py --fixture`). The Rust inference must give the same label and a
//! probability within 1e-6 for every one. Starts no server.

use sentiment_api::model::{Learned, Sentiment, SentimentModel};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/learned_reference.jsonl"
);
/// Names another file of the same format to check instead (e.g. a larger corpus written by hand).
const FIXTURE_VARIABLE: &str = "LEARNED_FIXTURE";
const TOLERANCE: f64 = 1e-6;

struct Case {
    text: String,
    p: f64,
    evidence: bool,
    label: String,
}

fn cases() -> Vec<Case> {
    let path = std::env::var(FIXTURE_VARIABLE).unwrap_or_else(|_| FIXTURE.to_string());
    let content = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!("cannot read {path}: {err}; run scripts/learned/train.py --fixture")
    });
    let cases: Vec<Case> = content
        .lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(number, line)| {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("fixture line {}: {err}", number + 1));
            Case {
                text: value["text"].as_str().expect("text").to_string(),
                p: value["p"].as_f64().expect("p"),
                evidence: value["evidence"].as_bool().expect("evidence"),
                label: value["label"].as_str().expect("label").to_string(),
            }
        })
        .collect();
    assert!(
        cases.len() >= 250,
        "the fixture holds only {} texts",
        cases.len()
    );
    cases
}

fn label(sentiment: Sentiment) -> &'static str {
    match sentiment {
        Sentiment::Positive => "positive",
        Sentiment::Neutral => "neutral",
        Sentiment::Negative => "negative",
    }
}

#[test]
fn probabilities_and_labels_match_scikit_learn() {
    let model = Learned::new();
    let cases = cases();
    let mut failures = Vec::new();
    let mut worst = 0.0f64;
    for case in &cases {
        let evaluation = model.evaluate(&case.text);
        let p = evaluation.probability;
        let got = label(Sentiment::of(model.score(&case.text).compound));
        worst = worst.max((p - case.p).abs());
        if (p - case.p).abs() > TOLERANCE
            || got != case.label
            || evaluation.evidence != case.evidence
        {
            failures.push(format!(
                "{:?}: rust p={p} {got} evidence={}, python p={} {} evidence={}",
                case.text.chars().take(80).collect::<String>(),
                evaluation.evidence,
                case.p,
                case.label,
                case.evidence
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} texts differ (largest |dp| {worst:e}):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!(
        "{} texts, largest |p_rust - p_python| = {worst:e}",
        cases.len()
    );
}

#[test]
fn the_fixture_is_varied() {
    let cases = cases();
    let has = |f: &dyn Fn(&str) -> bool| cases.iter().any(|c| f(&c.text));
    assert!(has(&|t| t.is_empty()));
    assert!(has(&|t| !t.is_empty() && t.trim().is_empty()));
    assert!(has(&|t| t.contains('İ')));
    assert!(has(&|t| t.contains('ß')));
    assert!(has(&|t| t
        .chars()
        .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))));
    assert!(has(&|t| t.split_whitespace().count() >= 1000));
    for label in ["positive", "negative"] {
        assert!(
            cases.iter().filter(|c| c.label == label).count() >= 20,
            "{label}"
        );
    }
}

#[test]
fn score_is_total_and_in_range() {
    let model = Learned::new();
    for text in [
        "",
        "\u{0}",
        "\u{10ffff}",
        "Σ",
        "ΣΣ",
        "aΣ",
        "\u{130}\u{130}",
        &"ab ".repeat(5000),
    ] {
        let s = model.score(text);
        assert!((-1.0..=1.0).contains(&s.compound), "{text:?}");
        assert!((s.positive + s.neutral + s.negative - 1.0).abs() < 1e-12);
    }
}
