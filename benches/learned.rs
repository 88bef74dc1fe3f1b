//! The embedded learned model on the 20-word review the load benchmark posts (and, for scale, a
//! ten-word, a non-ASCII and a hundred-word text), beside the VADER model it builds on.
//!
//! Run with `cargo bench --bench learned`; ids read `learned/<model>/<case>`. Issue 26's target is
//! <= 3 µs for the 20-word text on one thread (2.9 µs on 2026-12-06: docs/internals/models.md).
//! The learned model's time includes a full VADER scoring of the text (its features), so
//! `vader/...` is the part of it that VADER takes.

use std::hint::black_box;

#[path = "common/texts.rs"]
mod texts;

use texts::{MEDIUM, REVIEW, SHORT};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sentiment_api::model::{Learned, SentimentModel, Vader};

/// Twenty words with accents, so VADER takes its exact (slower) non-ASCII path.
const ACCENTED: &str = "Le café était délicieux, mais le service était très lent et le serveur \
plutôt désagréable ce soir-là, vraiment dommage.";

fn learned(c: &mut Criterion) {
    let model = Learned::new();
    let vader = Vader::new();
    let cases = [
        ("short_10_words", SHORT),
        ("review_20_words", REVIEW),
        ("accented_20_words", ACCENTED),
        ("medium_100_words", MEDIUM),
    ];
    let mut group = c.benchmark_group("learned");
    for (id, text) in cases {
        let p = model.probability(text);
        assert!((0.0..=1.0).contains(&p), "{id}");
        group.throughput(Throughput::Elements(text.split_whitespace().count() as u64));
        group.bench_function(format!("learned/{id}"), |b| {
            b.iter(|| model.score(black_box(text)))
        });
        group.bench_function(format!("vader/{id}"), |b| {
            b.iter(|| vader.score(black_box(text)))
        });
    }
    group.finish();
    assert_eq!(REVIEW.split_whitespace().count(), 20);
}

criterion_group!(benches, learned);
criterion_main!(benches);
