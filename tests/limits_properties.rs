//! Properties of the limiter and the failed-key throttle, searched by proptest over random
//! policies and random traffic, on a clock the test moves (no sleeping, no flakiness).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use sentiment_api::clock::ManualClock;
use sentiment_api::limits::{AuthThrottle, Decision, RateLimiter};

#[path = "common/arrivals.rs"]
mod arrivals;

use arrivals::{arrivals, policy};

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The GCRA bound: between two admissions at times a <= b, the units admitted (both
    /// included) never exceed (b - a) / interval, plus the burst or, when the last of them is a
    /// batch larger than the burst (admitted only on a full quota, leaving a debt), that batch.
    #[test]
    fn admitted_units_never_exceed_the_policy(policy in policy(), arrivals in arrivals()) {
        let clock = ManualClock::new();
        let limiter = RateLimiter::with_clock(Arc::clone(&clock));
        let mut admitted: Vec<(u128, u32)> = Vec::new();
        let mut now_ns: u128 = 0;
        for (gap_ms, units) in arrivals {
            clock.advance(Duration::from_millis(gap_ms));
            now_ns += u128::from(gap_ms) * 1_000_000;
            if let Decision::Allowed(_) = limiter.acquire("k", policy, units) {
                admitted.push((now_ns, units));
            }
        }
        // The rule's tick is a microsecond (as in Redis): the interval is the window over the
        // limit in whole microseconds, so a window the limit does not divide refills a little
        // faster than window / limit in nanoseconds would (found by proptest: 231 of 230).
        let interval_ns = u128::from(policy.interval_us()) * 1000;
        for a in 0..admitted.len() {
            let mut total: u128 = 0;
            for b in a..admitted.len() {
                total += u128::from(admitted[b].1);
                let elapsed = admitted[b].0 - admitted[a].0;
                let allowance = elapsed / interval_ns
                    + u128::from(policy.burst.max(admitted[b].1));
                prop_assert!(
                    total <= allowance,
                    "{total} units admitted in {elapsed} ns (allowance {allowance}) under {policy:?}"
                );
            }
        }
    }

    /// Retry-After is never early: a refused request sent again exactly when it was told is
    /// admitted (nothing else arriving meanwhile).
    #[test]
    fn a_request_retried_after_retry_after_is_admitted(
        policy in policy(),
        arrivals in arrivals(),
        units in 1u32..=150,
    ) {
        let clock = ManualClock::new();
        let limiter = RateLimiter::with_clock(Arc::clone(&clock));
        for (gap_ms, n) in arrivals {
            clock.advance(Duration::from_millis(gap_ms));
            limiter.acquire("k", policy, n);
        }
        if let Decision::Denied { retry_after, .. } = limiter.acquire("k", policy, units) {
            clock.advance(retry_after);
            let again = limiter.acquire("k", policy, units);
            prop_assert!(
                matches!(again, Decision::Allowed(_)),
                "{units} units refused again after waiting {retry_after:?} under {policy:?}: {again:?}"
            );
        }
    }

    /// A policy changed by a reload applies at once, whichever way it changes: the next request
    /// is judged by the new policy on the state as it stands (what `peek` shows under it).
    #[test]
    fn a_changed_policy_applies_at_once(
        before in policy(),
        after in policy(),
        arrivals in arrivals(),
        units in 1u32..=120,
    ) {
        let clock = ManualClock::new();
        let limiter = RateLimiter::with_clock(Arc::clone(&clock));
        for (gap_ms, n) in arrivals {
            clock.advance(Duration::from_millis(gap_ms));
            limiter.acquire("k", before, n);
        }
        prop_assume!(units <= after.burst);
        let remaining = limiter.peek("k", after).remaining;
        let decision = limiter.acquire("k", after, units);
        prop_assert_eq!(
            matches!(decision, Decision::Allowed(_)),
            units <= remaining,
            "{} units with {} remaining under the new {:?} (was {:?}): {:?}",
            units, remaining, after, before, decision
        );
    }

    /// The throttle never blocks an address below its limit of failures in the current window,
    /// and always blocks one at or over it, for any interleaving of addresses and times.
    #[test]
    fn the_throttle_blocks_exactly_at_the_limit(
        limit in 1u32..=10,
        window_s in 1u64..=60,
        failures in prop::collection::vec((0u8..4, 0u64..=20_000), 1..80),
    ) {
        let clock = ManualClock::new();
        let window = Duration::from_secs(window_s);
        let throttle = AuthThrottle::with_clock(limit, window, Arc::clone(&clock));
        // The model: per address, when its current window began and its failures in it.
        let mut model: [(u128, u32); 4] = [(0, 0); 4];
        let mut now_ms: u128 = 0;
        for (who, gap_ms) in failures {
            clock.advance(Duration::from_millis(gap_ms));
            now_ms += u128::from(gap_ms);
            let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, who));
            let (since, count) = &mut model[usize::from(who)];
            if *count == 0 || now_ms - *since >= window.as_millis() {
                *since = now_ms;
                *count = 0;
            }
            *count += 1;
            throttle.record_failure(ip);
            for (other, (since, count)) in model.iter().enumerate() {
                let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, other as u8));
                let live = *count > 0 && now_ms - *since < window.as_millis();
                let expected = live && *count >= limit;
                prop_assert_eq!(
                    throttle.blocked(ip).is_some(),
                    expected,
                    "address {} with {} failures since {} ms, now {} ms, limit {}, window {:?}",
                    other, count, since, now_ms, limit, window
                );
            }
        }
        prop_assert!(throttle.tracked() <= 4);
    }
}
