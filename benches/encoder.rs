//! The `encoder` feature's all-MiniLM-L6-v2 model: one 20-word text, and 8 texts one at a time
//! against the same 8 in one forward pass.
//!
//! ```text
//! MODEL_DIR=target/minilm cargo bench --features encoder --bench encoder
//! ```
//!
//! Ids: `encoder/score/20_words` (the whole model: tokenizer, BERT, pooling, VADER and the head),
//! `encoder/embed/20_words` (the embedding alone), `encoder/embed_8/one_pass` and
//! `encoder/embed_8/eight_passes` (throughput in texts per second, so the two compare directly);
//! `serving/{1,4,16,64}_concurrent/coalesced` and `serving/16_concurrent/one_at_a_time`: that
//! many concurrent requests through the server's `Inference`, with the encoder's requests coalesced
//! into shared forward passes (what the server does) or each run alone on the blocking pool (what it
//! did before), in texts per second; `1_concurrent`'s time per iteration is the latency at low load.
//! `serving/{n}_concurrent/reference` is the coalesced encoder with the forward pass before issue 26
//! (`Encoder::load_reference`: candle-transformers' BERT, every text padded to the batch's
//! longest), measured beside it in the same run.
//! `ENCODER_THREADS` sets the encoder's pool size (default: every CPU the process may use), so the
//! one-thread and the two-thread figures can be taken on the same machine. Before measuring, the
//! bench prints the process's VmRSS with the model loaded.
//!
//! Fails rather than skips without `MODEL_DIR` (fetch the files with scripts/encoder/fetch_model.py).

use std::hint::black_box;
use std::path::PathBuf;

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::future::join_all;
use sentiment_api::inference::Inference;
use sentiment_api::model::{Cost, Encoder, Models, Scores, SentimentModel};

/// The twenty-word review the model and load benchmarks use.
const REVIEW: &str =
    "I absolutely loved this little cafe: the coffee was rich, the staff were friendly, \
and the prices felt very fair.";

/// Eight reviews of 10-30 words, as concurrent `/predict` requests might bring.
const EIGHT: [&str; 8] = [
    REVIEW,
    "The soup was great, but the service was painfully slow!",
    "Honestly, this is the worst pizza I have ever eaten; the crust was soggy and cold.",
    "Delivery was quick and the package arrived undamaged, though the lid leaks a little.",
    "The film starts slowly, yet the last hour is stunning and the lead actor is heartbreaking.",
    "Support was useless and kept sending me the same canned answer. Returned it.",
    "A wonderful addition to the neighbourhood: patient staff, good cake, painfully slow wifi.",
    "Not the best film of the year, but certainly one of the kindest, and I left smiling.",
];

/// The numbers of concurrent requests the serving benchmark runs; `1_concurrent`'s time is the
/// latency at low load.
const CONCURRENCY: [usize; 4] = [1, 4, 16, 64];

/// The encoder, or with `reference` the forward pass before issue 26 (`Encoder::load_reference`).
fn load(reference: bool) -> Encoder {
    let dir = PathBuf::from(
        std::env::var("MODEL_DIR").expect("set MODEL_DIR (scripts/encoder/fetch_model.py)"),
    );
    let threads = match std::env::var("ENCODER_THREADS") {
        Ok(n) => n.parse().expect("ENCODER_THREADS: a number"),
        Err(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let encoder = if reference {
        Encoder::load_reference(&dir, threads)
    } else {
        Encoder::load_with_threads(&dir, threads)
    }
    .unwrap_or_else(|e| panic!("{e}"));
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap_or("VmRSS: ?");
    eprintln!(
        "encoder loaded: {} threads; {}",
        encoder.threads(),
        rss.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    encoder
}

fn bench(c: &mut Criterion) {
    let encoder = load(false);
    assert_eq!(REVIEW.split_whitespace().count(), 20);

    let mut group = c.benchmark_group("encoder");
    group.throughput(Throughput::Elements(1));
    group.bench_function("score/20_words", |b| {
        b.iter(|| encoder.score(black_box(REVIEW)))
    });
    group.bench_function("embed/20_words", |b| {
        b.iter(|| encoder.embed(black_box(&[REVIEW])))
    });

    group.throughput(Throughput::Elements(EIGHT.len() as u64));
    group.bench_function("embed_8/one_pass", |b| {
        b.iter(|| encoder.embed(black_box(&EIGHT)))
    });
    group.bench_function("embed_8/eight_passes", |b| {
        b.iter(|| {
            EIGHT
                .iter()
                .map(|t| encoder.embed(black_box(&[t])))
                .collect::<Vec<_>>()
        })
    });
    group.finish();

    serving(c, Arc::new(encoder));
}

/// The encoder as it was served before coalescing: one text a call, on the blocking pool.
struct OneAtATime(Arc<Encoder>);

impl SentimentModel for OneAtATime {
    fn name(&self) -> &'static str {
        "minilm"
    }

    fn score(&self, text: &str) -> Scores {
        self.0.score(text)
    }

    fn cost(&self) -> Cost {
        Cost::Heavy
    }
}

fn serving(c: &mut Criterion, encoder: Arc<Encoder>) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let timeout = Duration::from_secs(60);
    let coalesced = Inference::new(Models::single(encoder.clone()), threads, timeout);
    let reference = Inference::new(Models::single(Arc::new(load(true))), threads, timeout);
    let alone = Inference::new(
        Models::single(Arc::new(OneAtATime(encoder))),
        threads,
        timeout,
    );
    let system = actix_rt::System::new();
    let mut group = c.benchmark_group("serving");
    group.sample_size(20);
    let runs = CONCURRENCY
        .iter()
        .flat_map(|&n| [(n, "coalesced", &coalesced), (n, "reference", &reference)])
        .chain([(16, "one_at_a_time", &alone)]);
    for (concurrent, name, inference) in runs {
        let id = inference.models().default_id();
        group.throughput(Throughput::Elements(concurrent as u64));
        group.bench_function(format!("{concurrent}_concurrent/{name}"), |b| {
            b.iter(|| {
                system.block_on(join_all((0..concurrent).map(|i| {
                    let text = EIGHT[i % EIGHT.len()].to_owned();
                    inference.predict(id, text)
                })))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
