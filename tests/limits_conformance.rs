//! The rate-limit rule is written once (`limits::gcra::decide`) and transcribed for Redis
//! (`limits/gcra.lua`): this runs the limiter properties' random policies and arrivals through
//! the in-process limiter and through the Redis script (a real `redis-server`, on the same clock,
//! passed in) and asserts identical decisions: granted or not, Retry-After, and the quota the
//! `RateLimit` headers show.
//!
//! `#[ignore]`d in a bare `cargo test` (a fresh clone has no redis-server); `.ci/run` installs it
//! and runs `cargo test --test limits_conformance -- --ignored`.

#[path = "common/arrivals.rs"]
mod arrivals;
#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrivals::{arrivals, policy};
use proptest::prelude::*;
use redis_server::redis_server;
use sentiment_api::clock::ManualClock;
use sentiment_api::limits::{
    AuthThrottle, KeyAdmission, LocalLimits, Overrides, PaidIn, RateLimits, RateStore, SharedLimits,
};
use sentiment_api::metrics::Metrics;
use sentiment_api::redis_backend::{FailureMode, Redis, RedisSettings};

/// A key id no other case has used (the server is shared by every case).
fn fresh_key() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("k{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Each arrival pays one unit on arrival, and a batch then settles the rest (as the routes
    /// do): both steps give the same decision in process and in Redis.
    #[test]
    #[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
    fn the_redis_script_decides_as_the_in_process_limiter(
        policy in policy(),
        arrivals in arrivals(),
    ) {
        let port = redis_server().port;
        actix_rt::System::new().block_on(async move {
            let clock = ManualClock::new();
            let local = RateLimits::with_clock(policy, Arc::clone(&clock));
            let settings = RedisSettings::new(
                &format!("redis://127.0.0.1:{port}"),
                "conformance:".into(),
                Duration::from_secs(5),
                FailureMode::Closed,
            )
            .unwrap();
            let fallback = LocalLimits {
                quotas: Arc::new(RateLimits::new(policy)),
                throttle: Arc::new(AuthThrottle::new(5, Duration::from_secs(60))),
            };
            let redis = Redis::new(settings, Metrics::new().redis());
            let shared = SharedLimits::new(redis.connect(), fallback).with_clock(Arc::clone(&clock));
            let id = fresh_key();
            let own = Overrides::default();
            for (i, (gap_ms, units)) in arrivals.into_iter().enumerate() {
                clock.advance(Duration::from_millis(gap_ms));
                let expected = local.acquire(&id, own, 1);
                let got = RateStore::admit(&shared, None, &id, own, 1).await.unwrap();
                prop_assert_eq!(
                    got,
                    KeyAdmission::Decided(expected, PaidIn::Redis),
                    "arrival {} of 1 unit under {:?}", i, policy
                );
                if units > 1 && matches!(expected, sentiment_api::limits::Decision::Allowed(_)) {
                    let expected = local.settle(&id, own, units, 1);
                    let got = RateStore::settle(&shared, &id, own, units, 1, PaidIn::Redis)
                        .await
                        .unwrap();
                    prop_assert_eq!(got, expected, "arrival {} settling {} units under {:?}", i, units, policy);
                }
            }
            Ok(())
        })?;
    }
}
