//! API-key verification with 1 and with 10,000 stored keys, for a valid and an unknown key.
//!
//! Run with `cargo bench --bench auth`. The ids read `auth/verify/<valid|unknown>/<n>_keys`;
//! the four figures should be equal within noise, and close to `auth/sha256/32_byte_key`:
//! a lookup costs one SHA-256 of the presented key whatever the size of the set.
//! `auth/store_verify/...` adds what a request pays on top: the store's read lock, an `Arc` clone
//! and reading the clock for the expiry check.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use sentiment_api::auth::{hash_key, KeyEntry, KeySet, KeyStore, Secret, Verdict};
use time::OffsetDateTime;

/// A 32-character key, distinct for every `i`.
fn key(i: usize) -> String {
    format!("sk_bench_{i:023}")
}

fn key_set(n: usize) -> KeySet {
    KeySet::new((0..n).map(|i| KeyEntry::from_secret(format!("key-{i}"), &Secret::new(key(i)))))
}

fn verify(c: &mut Criterion) {
    // Never stored in any set: same length and shape as the stored keys.
    let unknown = "sk_bench_unknown_key_0123456789a".to_owned();
    assert_eq!(unknown.len(), 32);

    // Fixed for the plain lookups, so they measure the set and not the clock.
    let now = OffsetDateTime::now_utc();

    let mut group = c.benchmark_group("auth");
    group.bench_function("sha256/32_byte_key", |b| {
        b.iter(|| hash_key(black_box(unknown.as_bytes())))
    });

    for n in [1, 10_000] {
        let set = key_set(n);
        assert_eq!(set.len(), n);
        let label = if n == 1 {
            "1_key".to_owned()
        } else {
            format!("{n}_keys")
        };
        // The last key inserted, so a valid lookup cannot profit from being first in anything.
        let valid = key(n - 1);
        assert!(matches!(
            set.verify(valid.as_bytes(), || now),
            Verdict::Valid(_)
        ));
        assert_eq!(set.verify(unknown.as_bytes(), || now), Verdict::Unknown);

        group.bench_with_input(BenchmarkId::new("verify/valid", &label), &valid, |b, k| {
            b.iter(|| set.verify(black_box(k.as_bytes()), || now))
        });
        group.bench_with_input(
            BenchmarkId::new("verify/unknown", &label),
            &unknown,
            |b, k| b.iter(|| set.verify(black_box(k.as_bytes()), || now)),
        );

        // What the ApiKey extractor does per request.
        let store = KeyStore::new(set);
        group.bench_with_input(
            BenchmarkId::new("store_verify/valid", &label),
            &valid,
            |b, k| {
                b.iter(|| {
                    store
                        .snapshot()
                        .verify(black_box(k.as_bytes()), OffsetDateTime::now_utc)
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
