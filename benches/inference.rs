//! Where should inference run? The model inline on the worker versus handed to the blocking pool,
//! for texts of growing size: the crossing point sets `INLINE_MAX_BYTES`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sentiment_api::inference::Inference;
use sentiment_api::model::{Models, Vader};

fn text_of(bytes: usize) -> String {
    let sentence = "The room was clean and the staff were friendly, but breakfast was awful. ";
    sentence.chars().cycle().take(bytes).collect()
}

fn inline_versus_pool(c: &mut Criterion) {
    let runtime = actix_rt::Runtime::new().expect("runtime");
    let models = Models::single(Arc::new(Vader::new()));
    let vader = models.default_id();
    let timeout = Duration::from_secs(5);
    // Construct inside the runtime: the pool path needs one to hand work to.
    let inline = Inference::new(models.clone(), 2, timeout);
    let pooled = Inference::new(models, 2, timeout).always_offload();
    let mut group = c.benchmark_group("inference");
    for bytes in [64, 512, 1024, 2048, 4096, 16384] {
        let text = text_of(bytes);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_with_input(BenchmarkId::new("inline", bytes), &text, |b, text| {
            b.iter(|| {
                runtime
                    .block_on(inline.predict(vader, text.clone()))
                    .expect("scored")
            })
        });
        group.bench_with_input(
            BenchmarkId::new("blocking_pool", bytes),
            &text,
            |b, text| {
                b.iter(|| {
                    runtime
                        .block_on(pooled.predict(vader, text.clone()))
                        .expect("scored")
                })
            },
        );
    }
    group.finish();
}

/// Texts per second through the batch path (`/predict/batch` less HTTP), at batch sizes 1, 16, 256
/// of 20-word reviews.
fn batch_throughput(c: &mut Criterion) {
    let runtime = actix_rt::Runtime::new().expect("runtime");
    let models = Models::single(Arc::new(Vader::new()));
    let vader = models.default_id();
    let inference = Inference::new(models, 2, Duration::from_secs(30));
    let review = "The battery lasts all day and the screen is bright, but the speakers sound thin and cheap.";
    let mut group = c.benchmark_group("batch");
    for size in [1usize, 16, 256] {
        let texts = vec![review.to_owned(); size];
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::new("texts", size), &texts, |b, texts| {
            b.iter(|| {
                runtime
                    .block_on(inference.predict_all(vader, texts.clone()))
                    .expect("scored")
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = inline_versus_pool, batch_throughput
}
criterion_main!(benches);
