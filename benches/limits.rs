//! The cost of the per-key rate limiter and the failed-authentication throttle on the hot path.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use sentiment_api::limits::{AuthThrottle, Policy, RateLimiter};

fn rate_limiter(c: &mut Criterion) {
    // A policy that never refuses, so every iteration takes the granting path.
    let policy = Policy {
        limit: u32::MAX,
        burst: u32::MAX,
        window: Duration::from_secs(60),
    };
    let limiter = RateLimiter::new();
    let ids: Vec<String> = (0..10_000).map(|i| format!("key-{i}")).collect();
    for id in &ids {
        limiter.acquire(id, policy, 1);
    }
    let mut group = c.benchmark_group("rate_limiter");
    group.bench_function("acquire/1_unit/one_key", |b| {
        b.iter(|| limiter.acquire("key-42", policy, 1))
    });
    let mut i = 0;
    group.bench_function("acquire/1_unit/10000_keys_round_robin", |b| {
        b.iter(|| {
            i = (i + 1) % ids.len();
            limiter.acquire(&ids[i], policy, 1)
        })
    });
    group.bench_function("peek/one_key", |b| {
        b.iter(|| limiter.peek("key-42", policy))
    });
    group.finish();

    // Two threads hammering one key: the compare-and-swap under contention.
    let shared = Arc::new(RateLimiter::new());
    c.bench_function("rate_limiter/acquire/1_unit/one_key_2_threads", |b| {
        b.iter_custom(|iters| {
            let other = Arc::clone(&shared);
            let rival = std::thread::spawn(move || {
                for _ in 0..iters {
                    other.acquire("hot", policy, 1);
                }
            });
            let start = std::time::Instant::now();
            for _ in 0..iters {
                shared.acquire("hot", policy, 1);
            }
            let elapsed = start.elapsed();
            rival.join().expect("rival thread");
            elapsed
        })
    });
}

fn auth_throttle(c: &mut Criterion) {
    let throttle = AuthThrottle::new(30, Duration::from_secs(60));
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    // The usual state: no failure on record, so the check reads one counter.
    c.bench_function("auth_throttle/blocked/nothing_tracked", |b| {
        b.iter(|| throttle.blocked(ip))
    });
    // Failures on record for other addresses: every check looks its own address up.
    for n in 0..1000u32 {
        throttle.record_failure(IpAddr::V4(Ipv4Addr::from(0x0b00_0000 | n)));
    }
    c.bench_function("auth_throttle/blocked/clean_address_1000_tracked", |b| {
        b.iter(|| throttle.blocked(ip))
    });
    let mut n: u32 = 0;
    c.bench_function("auth_throttle/record_failure/distinct_addresses", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            throttle.record_failure(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (n & 0x00ff_ffff))))
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = rate_limiter, auth_throttle
}
criterion_main!(benches);
