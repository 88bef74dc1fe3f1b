//! The `encoder` feature against independent references:
//!
//! - embeddings against `tests/fixtures/encoder_reference.jsonl`, written by
//!   `scripts/encoder/reference.py` (a plain-Python WordPiece and a float64 numpy forward pass of
//!   the BERT encoder): cosine >= 0.9999 for each text, the same number of word pieces;
//! - the head against `tests/fixtures/encoder_head_reference.jsonl`, written by
//!   `scripts/encoder/train_head.py` (scikit-learn's probabilities): within 1e-5.
//!
//! ```text
//! python3 scripts/encoder/fetch_model.py        # once: target/minilm
//! MODEL_DIR=target/minilm cargo test --features encoder --test encoder
//! ```
//!
//! `MODEL_DIR` is required: without it every test here fails (it does not skip).
#![cfg(feature = "encoder")]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sentiment_api::model::{Encoder, EncoderError, Sentiment, SentimentModel};
use serde::Deserialize;

const REFERENCE: &str = include_str!("fixtures/encoder_reference.jsonl");
const HEAD_REFERENCE: &str = include_str!("fixtures/encoder_head_reference.jsonl");

fn model_dir() -> PathBuf {
    match std::env::var_os("MODEL_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => panic!(
            "MODEL_DIR is not set: run scripts/encoder/fetch_model.py and set MODEL_DIR=target/minilm"
        ),
    }
}

fn encoder() -> &'static Encoder {
    static ENCODER: OnceLock<Encoder> = OnceLock::new();
    ENCODER.get_or_init(|| Encoder::load(&model_dir()).unwrap_or_else(|e| panic!("{e}")))
}

#[derive(Deserialize)]
struct Reference {
    text: String,
    tokens: usize,
    embedding: Vec<f64>,
}

fn references() -> Vec<Reference> {
    REFERENCE
        .lines()
        .map(|line| serde_json::from_str(line).expect("a fixture line"))
        .collect()
}

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn word_pieces_match_the_plain_python_wordpiece() {
    let encoder = encoder();
    for r in references() {
        let ids = encoder.token_ids(&r.text).unwrap();
        assert_eq!(ids.len(), r.tokens, "word pieces of {:?}", r.text);
    }
}

#[test]
fn embeddings_match_the_numpy_reference_one_at_a_time() {
    let encoder = encoder();
    let references = references();
    assert!(references.len() >= 20);
    let mut lowest = f64::INFINITY;
    for r in &references {
        let embedding = encoder.embed(&[&r.text]).pop().unwrap();
        assert_eq!(embedding.len(), 384);
        let c = cosine(&embedding, &r.embedding);
        assert!(c >= 0.9999, "cosine {c} for {:?}", r.text);
        lowest = lowest.min(c);
    }
    eprintln!("one at a time: 1 - lowest cosine = {:.1e}", 1.0 - lowest);
}

#[test]
fn embeddings_match_the_numpy_reference_in_one_batch() {
    // Padded to the longest text (256 word pieces): the mask must keep the padding out.
    let encoder = encoder();
    let references = references();
    let texts: Vec<&str> = references.iter().map(|r| r.text.as_str()).collect();
    let embeddings = encoder.embed(&texts);
    assert_eq!(embeddings.len(), texts.len());
    let mut lowest = f64::INFINITY;
    for (r, embedding) in references.iter().zip(&embeddings) {
        let c = cosine(embedding, &r.embedding);
        assert!(c >= 0.9999, "cosine {c} for {:?} in a batch", r.text);
        lowest = lowest.min(c);
        let norm: f64 = embedding.iter().map(|x| f64::from(*x).powi(2)).sum();
        assert!((norm - 1.0).abs() < 1e-5, "norm² {norm} for {:?}", r.text);
    }
    eprintln!("in one batch: 1 - lowest cosine = {:.1e}", 1.0 - lowest);
}

#[test]
fn texts_are_cut_at_the_models_maximum_length() {
    let encoder = encoder();
    assert_eq!(encoder.max_tokens(), 256);
    let long = "good ".repeat(1000);
    assert_eq!(encoder.token_ids(&long).unwrap().len(), 256);
    assert_eq!(encoder.token_ids("").unwrap().len(), 2); // [CLS] [SEP]
}

#[derive(Deserialize)]
struct HeadReference {
    text: String,
    probability: f64,
}

#[test]
fn the_head_gives_the_python_heads_probabilities() {
    let encoder = encoder();
    let mut checked = 0;
    let mut largest = 0.0f64;
    for line in HEAD_REFERENCE.lines() {
        let r: HeadReference = serde_json::from_str(line).expect("a fixture line");
        let p = encoder.probability(&r.text);
        assert!(
            (p - r.probability).abs() <= 1e-5,
            "{:?}: Rust {p}, scikit-learn {}",
            r.text,
            r.probability
        );
        checked += 1;
        largest = largest.max((p - r.probability).abs());
    }
    assert!(checked >= 5);
    eprintln!("largest |p(Rust) - p(scikit-learn)|: {largest:.2e}");
}

#[test]
fn the_head_gives_the_same_probability_on_the_numpy_embeddings() {
    // The head is steep in places (weights up to ~8 on unit-length embeddings): the probability
    // from the independent reference's embedding must agree too, not only the embeddings' angle.
    let encoder = encoder();
    let mut largest = 0.0f64;
    for r in references() {
        let reference: Vec<f32> = r.embedding.iter().map(|x| *x as f32).collect();
        let p_reference = encoder.head_probability(&r.text, &reference);
        let p = encoder.probability(&r.text);
        assert!(
            (p - p_reference).abs() <= 1e-5,
            "{:?}: {p} from candle, {p_reference} from numpy",
            r.text
        );
        largest = largest.max((p - p_reference).abs());
    }
    eprintln!("largest |p(candle) - p(numpy embedding)|: {largest:.2e}");
}

#[test]
fn scores_follow_the_documented_mapping() {
    let encoder = encoder();
    for text in ["I love it", "I hate it", "It is a table.", ""] {
        let p = encoder.probability(text);
        let s = encoder.score(text);
        assert!((0.0..=1.0).contains(&p));
        assert_eq!(s.compound, 2.0 * p - 1.0);
        assert_eq!((s.positive, s.neutral, s.negative), (p, 0.0, 1.0 - p));
    }
    assert_eq!(
        Sentiment::of(encoder.score("What a wonderful, joyful day!").compound),
        Sentiment::Positive
    );
    assert_eq!(
        Sentiment::of(encoder.score("This is awful, I want a refund.").compound),
        Sentiment::Negative
    );
}

#[test]
fn a_batch_scores_each_text_as_it_scores_alone() {
    // What the server's coalescing relies on: texts of different lengths in one padded pass, in
    // the caller's order, each scored as when alone (to float rounding).
    let encoder = encoder();
    let texts = [
        "The soup was good.",
        "",
        "Honestly, this is the worst pizza I have ever eaten, and the service was slow and rude.",
        "Not bad at all!",
    ];
    assert_eq!(encoder.batch_size(), 32);
    let batch = encoder.score_batch(&texts);
    assert_eq!(batch.len(), texts.len());
    for (text, scores) in texts.iter().zip(&batch) {
        let alone = encoder.score(text);
        assert!(
            (alone.compound - scores.compound).abs() < 1e-6,
            "{text:?}: {alone:?} alone, {scores:?} in the batch"
        );
        assert_eq!(scores.compound, 2.0 * scores.positive - 1.0);
    }
}

#[test]
fn a_one_thread_encoder_gives_the_same_embeddings() {
    let one = Encoder::load_with_threads(&model_dir(), 1).unwrap();
    assert_eq!(one.threads(), 1);
    let a = one.embed(&["The soup was good."]).pop().unwrap();
    let b = encoder().embed(&["The soup was good."]).pop().unwrap();
    let same = a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-6);
    assert!(same, "one thread and many disagree");
}

/// A scratch copy of the files the encoder reads, to break one at a time.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("encoder-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
    let source = model_dir();
    for file in [
        "config.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
        "tokenizer.json",
        "vocab.txt",
        "model.safetensors",
    ] {
        std::fs::copy(source.join(file), dir.join(file)).unwrap();
    }
    dir
}

fn load_error(dir: &Path) -> String {
    match Encoder::load(dir) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_missing_or_bad_file_is_named() {
    let dir = scratch("missing");
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    let error = load_error(&dir);
    assert!(
        error.contains("model.safetensors") && error.contains("fetch_model.py"),
        "{error}"
    );

    std::fs::write(dir.join("model.safetensors"), b"not a safetensors file").unwrap();
    let error = load_error(&dir);
    assert!(error.contains("model.safetensors"), "{error}");

    std::fs::write(dir.join("tokenizer.json"), b"{").unwrap();
    let error = load_error(&dir);
    assert!(error.contains("tokenizer.json"), "{error}");

    std::fs::write(
        dir.join("1_Pooling/config.json"),
        br#"{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": false, "pooling_mode_cls_token": true}"#,
    )
    .unwrap();
    let error = load_error(&dir);
    assert!(
        error.contains("1_Pooling") && error.contains("mean pooling"),
        "{error}"
    );

    std::fs::remove_file(dir.join("config.json")).unwrap();
    assert!(matches!(
        Encoder::load(&dir),
        Err(EncoderError::Read { .. })
    ));
    assert!(load_error(&dir).contains("config.json"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_catalog_loads_minilm_from_model_dir_and_refuses_it_without() {
    use sentiment_api::model::Models;
    let dir = model_dir();
    let names = ["vader".to_owned(), "minilm".to_owned()];
    let models = Models::load(Some(&names), "vader", Some(&dir)).expect("minilm loads");
    let id = models.find("minilm").expect("minilm is loaded");
    let minilm = models.get(id);
    assert_eq!(minilm.card().kind, "encoder");
    assert_eq!(minilm.card().licence, "Apache-2.0");
    let scores = minilm.score("An absolute delight from start to finish, I loved it.");
    assert!(scores.compound > 0.05, "{scores:?}");
    // Every model compiled in whose files are at hand: minilm only with MODEL_DIR.
    assert!(Models::load(None, "vader", Some(&dir))
        .unwrap()
        .find("minilm")
        .is_some());
    assert!(Models::load(None, "vader", None)
        .unwrap()
        .find("minilm")
        .is_none());
    let err = Models::load(Some(&names), "vader", None).err().unwrap();
    assert!(
        err.to_string()
            .starts_with("MODELS: minilm needs MODEL_DIR"),
        "{err}"
    );
    let err = Models::load(Some(&names), "vader", Some(Path::new("/no/such/dir")))
        .err()
        .unwrap();
    assert!(err.to_string().starts_with("MODEL_DIR: "), "{err}");
}

/// The packed forward pass (issue 26) against the padded one before it (`Encoder::load_reference`,
/// candle-transformers' BERT), on batches whose packing is not trivial: mixed lengths in any order
/// (each result must come back to its own text), equal lengths (no gather), empty texts, and lengths
/// that straddle the token budget of one pass. Any component off by more than float rounding fails.
#[test]
fn the_packed_forward_pass_matches_the_padded_reference() {
    static REFERENCE: OnceLock<Encoder> = OnceLock::new();
    let reference = REFERENCE
        .get_or_init(|| Encoder::load_reference(&model_dir(), 2).unwrap_or_else(|e| panic!("{e}")));
    const WORDS: [&str; 12] = [
        "the", "film", "was", "not", "good", "but", "great", "food", "and", "awful", "very", "day",
    ];
    // A text of `words` words, varied by `seed`.
    let text = |words: usize, seed: usize| -> String {
        (0..words)
            .map(|i| WORDS[(i * 7 + seed * 5 + i * i) % WORDS.len()])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mixed: Vec<String> = [0, 254, 1, 15, 62, 63, 98, 3, 30, 31, 0]
        .iter()
        .enumerate()
        .map(|(seed, &n)| text(n, seed))
        .collect();
    let mut reversed = mixed.clone();
    reversed.reverse();
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("mixed", mixed),
        ("mixed, reversed", reversed),
        ("equal lengths", (0..6).map(|s| text(10, s)).collect()),
        ("empty texts", vec![String::new(); 5]),
        (
            "around the budget",
            (0..40).map(|s| text(58 + s % 8, s)).collect(),
        ),
    ];
    for (name, texts) in cases {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let packed = encoder().try_embed(&texts).unwrap();
        let padded = reference.try_embed(&texts).unwrap();
        assert_eq!(packed.len(), texts.len(), "{name}");
        for (i, (a, b)) in packed.iter().zip(&padded).enumerate() {
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(
                a.iter().all(|x| x.is_finite()) && worst < 1e-4,
                "{name}, text {i}: off by {worst}"
            );
        }
    }
}
