//! The VADER model alone, on texts of about 10, 20, 100 and 2,000 words.
//!
//! Run with `cargo bench --bench model`; ids read `model/vader/<size>_<n>_words` for the service's
//! model (the fast ASCII path) and `model/vader-parity/<size>_<n>_words` for the `vader-parity` crate
//! it falls back to (the exact reference implementation it replaces for ASCII texts), on the same
//! texts. The throughput column is in words per second, so the sizes can be compared directly.
//! The texts are written here, so the bench needs no data outside the repository.

use std::hint::black_box;

#[path = "common/texts.rs"]
mod texts;

use texts::{MEDIUM, REVIEW, SHORT};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sentiment_api::model::{SentimentModel, Vader};
use vader_parity::SentimentIntensityAnalyzer;

/// Paragraphs cycled word by word into the 2,000-word text: varied enough that VADER's rules
/// (negation, boosters, "but", "least", idioms, caps, punctuation emphasis) all get exercised.
const PARAGRAPHS: &[&str] = &[
    MEDIUM,
    "I wanted to love this phone. The screen is gorgeous and the camera takes sharp, vivid photos \
     even at night. Sadly the battery is terrible: it barely lasts until lunch, and the charger \
     gets worryingly hot. Support was useless and kept sending me the same canned answer. \
     After two weeks I returned it, disappointed and frankly annoyed!!",
    "The film starts slowly, almost too slowly, yet the last hour is stunning. The lead actor gives \
     a quiet, heartbreaking performance, and the music never overwhelms the story. Some scenes \
     drag and the villain is a cliche, but I left the cinema smiling. Not the best film of the \
     year, but certainly one of the kindest.",
    "Honestly, this is the worst pizza I have ever eaten. The crust was soggy, the cheese tasted \
     like plastic, and the delivery took ninety minutes. When I called to complain, the manager \
     laughed and hung up. At least the driver was polite. I will never order from them again, \
     no matter how cheap the coupons get.",
    "The new library is a wonderful addition to the neighbourhood. Children crowd the reading \
     corner every afternoon, the staff are patient and welcoming, and the cafe serves surprisingly \
     good cake. The only complaint is the wifi, which is painfully slow and drops out constantly. \
     Kind of a shame, but it does not spoil a great place.",
    "Delivery was quick and the package arrived undamaged. The blender itself is solid and easy to \
     clean, though it is louder than I expected and the lid leaks a little if you overfill it. \
     For smoothies it works fine; for ice it struggles. Fair value for the money, nothing more, \
     nothing less.",
];

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Exactly `n` words taken from `PARAGRAPHS` in turn, joined by single spaces.
fn long_text(n: usize) -> String {
    let text = PARAGRAPHS
        .iter()
        .cycle()
        .flat_map(|p| p.split_whitespace())
        .take(n)
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(words(&text), n);
    text
}

fn model(c: &mut Criterion) {
    let vader = Vader::new();
    let parity = SentimentIntensityAnalyzer::new();
    let long = long_text(2_000);
    let cases = [
        ("short_10_words", SHORT, 10),
        ("review_20_words", REVIEW, 20),
        ("medium_100_words", MEDIUM, 100),
        ("long_2000_words", long.as_str(), 2_000),
    ];

    for (id, text, expected_words) in cases {
        // The ids promise a word count: keep the texts honest if someone edits them.
        assert_eq!(words(text), expected_words, "{id}");
        // A sanity check that the model runs and is not trivially neutral on these texts.
        let scores = vader.score(text);
        assert!(scores.compound != 0.0, "{id}");
        // The two implementations agree, and the service's model takes its fast path here.
        assert_eq!(vader.score_fast_path(text), Some(scores), "{id}");
        assert_eq!(
            parity.polarity_scores(text).compound,
            scores.compound,
            "{id}"
        );
    }

    let mut group = c.benchmark_group("model");
    for (id, text, expected_words) in cases {
        group.throughput(Throughput::Elements(expected_words as u64));
        group.bench_function(format!("vader/{id}"), |b| {
            b.iter(|| vader.score(black_box(text)))
        });
        group.bench_function(format!("vader-parity/{id}"), |b| {
            b.iter(|| parity.polarity_scores(black_box(text)))
        });
    }
    group.finish();
}

criterion_group!(benches, model);
criterion_main!(benches);
