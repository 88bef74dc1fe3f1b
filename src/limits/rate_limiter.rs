use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use super::gcra::{self, Gcra};
use crate::clock::{Clock, SystemClock};

/// A rate-limit policy: `limit` units per `window`, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Units that return over one window.
    pub limit: u32,
    /// Most units available at once.
    pub burst: u32,
    /// The window `limit` is counted over (60 s outside tests).
    pub window: Duration,
}

impl Policy {
    /// One unit's worth of time in whole microseconds (Redis `TIME`'s resolution), at least one.
    pub fn interval_us(&self) -> u64 {
        (self.window.as_micros() / u128::from(self.limit.max(1))).max(1) as u64
    }
}

/// A key's quota at one moment, for the `RateLimit` headers and `/me`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaState {
    /// The policy in force for the key.
    pub policy: Policy,
    /// Units the key may still spend now.
    pub remaining: u32,
    /// Time until the next unit returns (zero when the quota is full).
    pub next_unit_in: Duration,
}

impl QuotaState {
    /// Whole seconds until the next unit returns, rounded up; 0 when the quota is full.
    pub fn next_unit_secs(&self) -> u64 {
        if self.next_unit_in.is_zero() {
            0
        } else {
            super::retry_after_secs(self.next_unit_in)
        }
    }
}

/// The outcome of asking for units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Granted; the state after spending them.
    Allowed(QuotaState),
    /// Refused; nothing was spent.
    Denied {
        /// The state, unchanged.
        state: QuotaState,
        /// How long until the request could succeed.
        retry_after: Duration,
    },
}

impl Decision {
    /// The quota the decision leaves (unchanged when refused).
    pub fn state(&self) -> QuotaState {
        match *self {
            Decision::Allowed(state) | Decision::Denied { state, .. } => state,
        }
    }
}

/// Per-key rate limits (GCRA), shared by every worker, exact under concurrency.
///
/// Each key's state is one atomic "theoretical arrival time", updated by compare-and-swap: no lock
/// is held while deciding, and two racing requests can never both spend the last unit. The map
/// from key id to state is sharded, so a lookup takes one shard's read lock, never a global one.
/// It holds one small entry per key id that has been used, so it is bounded by the key store.
pub struct RateLimiter<C: Clock = SystemClock> {
    clock: C,
    epoch: Instant,
    shards: Box<[Shard]>,
}

/// Per key id, the theoretical arrival time: microseconds since `epoch` at which its quota is
/// full again. The policy is not stored: it is given on every call, so a changed limit (a keys
/// file reload) applies at once to the same state.
type Shard = RwLock<HashMap<Box<str>, AtomicU64, BuildHasherDefault<KeyIdHasher>>>;

/// FNV-1a over a key id. Ids come from the service's own configuration, never from a request, so
/// a keyed hash (SipHash, the map's default) buys no protection here and would cost time on every
/// metered request; the one hash picks the shard and the slot.
#[derive(Default)]
struct KeyIdHasher(u64);

impl Hasher for KeyIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

const SHARDS: usize = 16;

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    /// An empty limiter on the system clock.
    pub fn new() -> Self {
        Self::with_clock(SystemClock)
    }
}

impl<C: Clock> RateLimiter<C> {
    /// An empty limiter reading time from `clock`.
    pub fn with_clock(clock: C) -> Self {
        RateLimiter {
            epoch: clock.now(),
            clock,
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
        }
    }

    /// Spends `units` of `key`'s quota under `policy`, or spends nothing and says when to retry.
    pub fn acquire(&self, key: &str, policy: Policy, units: u32) -> Decision {
        self.settle(key, policy, units, 0)
    }

    /// Makes a request that already spent `paid` units cost `units` in all, as one purchase: if
    /// the whole does not fit, nothing changes (the `paid` units stay spent).
    pub fn settle(&self, key: &str, policy: Policy, units: u32, paid: u32) -> Decision {
        self.with_bucket(key, |tat_cell| self.buy(tat_cell, policy, units, paid))
    }

    /// [`RateLimiter::settle`] on the key's state: the rule of [`gcra::decide`], applied by
    /// compare-and-swap.
    fn buy(&self, tat_cell: &AtomicU64, policy: Policy, units: u32, paid: u32) -> Decision {
        let interval = policy.interval_us();
        let mut tat = tat_cell.load(Ordering::Acquire);
        loop {
            // Read the clock after every load: a thread that lost the race must not judge the
            // winner's state with an older clock, or it would refuse a unit that is there.
            let now = self.now_us();
            match gcra::decide(tat, now, interval, policy.burst, units, paid) {
                Gcra::Refused { retry } => {
                    return Decision::Denied {
                        state: state_at(policy, tat, now),
                        retry_after: Duration::from_micros(retry),
                    };
                }
                Gcra::Granted { tat: new_tat } => match tat_cell.compare_exchange_weak(
                    tat,
                    new_tat,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return Decision::Allowed(state_at(policy, new_tat, now)),
                    Err(actual) => tat = actual,
                },
            }
        }
    }

    /// The key's quota now, spending nothing.
    pub fn peek(&self, key: &str, policy: Policy) -> QuotaState {
        let tat = self.with_bucket(key, |cell| cell.load(Ordering::Acquire));
        state_at(policy, tat, self.now_us())
    }

    /// Microseconds since `epoch`: the ticks of [`gcra::decide`], as in Redis.
    fn now_us(&self) -> u64 {
        self.clock
            .now()
            .saturating_duration_since(self.epoch)
            .as_micros() as u64
    }

    /// Runs `f` on `key`'s state, under its shard's read lock (the write lock only to add a key
    /// seen for the first time). The state is borrowed, not cloned out: no reference count to
    /// update on a cache line the workers share.
    fn with_bucket<R>(&self, key: &str, f: impl FnOnce(&AtomicU64) -> R) -> R {
        let hash = BuildHasherDefault::<KeyIdHasher>::default().hash_one(key);
        // Middle bits pick the shard: the map uses the low bits for its slot and the top ones
        // for its control bytes, so the one hash serves both.
        let shard = &self.shards[(hash >> 40) as usize % SHARDS];
        if let Some(cell) = shard.read().unwrap_or_else(|e| e.into_inner()).get(key) {
            return f(cell);
        }
        let mut map = shard.write().unwrap_or_else(|e| e.into_inner());
        f(map.entry(Box::from(key)).or_default())
    }
}

fn state_at(policy: Policy, tat: u64, now: u64) -> QuotaState {
    state_in(policy, policy.interval_us(), tat, now, 1_000)
}

/// The quota of a key whose theoretical arrival time is `tat` at time `now`, both counted in
/// ticks of `tick_ns` nanoseconds, as is `interval` (one unit's worth of time): the microseconds
/// of Redis `TIME` in both limiters.
pub(super) fn state_in(
    policy: Policy,
    interval: u64,
    tat: u64,
    now: u64,
    tick_ns: u64,
) -> QuotaState {
    let capacity = interval.saturating_mul(u64::from(policy.burst));
    // Above `capacity` after a batch larger than the burst: the key is in debt.
    let used = tat.saturating_sub(now);
    let remaining = (capacity.saturating_sub(used) / interval).min(u64::from(policy.burst)) as u32;
    let next_unit_in = if used == 0 {
        Duration::ZERO
    } else {
        // The next unit is back when the debt falls to the level of one more free unit.
        let level = u64::from(policy.burst - remaining - 1).saturating_mul(interval);
        Duration::from_nanos(used.saturating_sub(level).saturating_mul(tick_ns))
    };
    QuotaState {
        policy,
        remaining,
        next_unit_in,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    fn policy(limit: u32, burst: u32, window_secs: u64) -> Policy {
        Policy {
            limit,
            burst,
            window: Duration::from_secs(window_secs),
        }
    }

    #[test]
    fn a_burst_is_granted_exactly_then_refused() {
        let limiter = RateLimiter::new();
        let p = policy(5, 5, 3600);
        for expected_remaining in (0..5).rev() {
            match limiter.acquire("k", p, 1) {
                Decision::Allowed(s) => assert_eq!(s.remaining, expected_remaining),
                other => panic!("{other:?}"),
            }
        }
        match limiter.acquire("k", p, 1) {
            Decision::Denied { state, retry_after } => {
                assert_eq!(state.remaining, 0);
                assert!(retry_after > Duration::from_secs(700), "{retry_after:?}");
                assert!(retry_after <= Duration::from_secs(720));
                assert!(retry_after >= state.next_unit_in);
            }
            other => panic!("{other:?}"),
        }
        // Another key is not affected.
        assert!(matches!(
            limiter.acquire("other", p, 1),
            Decision::Allowed(_)
        ));
    }

    #[test]
    fn a_batch_costs_its_size_and_a_refused_batch_costs_nothing() {
        let limiter = RateLimiter::new();
        let p = policy(10, 10, 3600);
        assert!(matches!(limiter.acquire("k", p, 7), Decision::Allowed(s) if s.remaining == 3));
        assert!(matches!(
            limiter.acquire("k", p, 4),
            Decision::Denied { .. }
        ));
        assert_eq!(limiter.peek("k", p).remaining, 3);
        assert!(matches!(limiter.acquire("k", p, 3), Decision::Allowed(s) if s.remaining == 0));
    }

    #[test]
    fn a_request_larger_than_the_burst_needs_a_full_quota_and_leaves_a_debt() {
        let limiter = RateLimiter::new();
        let p = policy(60, 10, 60);
        assert!(matches!(limiter.acquire("k", p, 1), Decision::Allowed(_)));
        // Not full: refused, told to wait until it is (about one second).
        match limiter.acquire("k", p, 25) {
            Decision::Denied { retry_after, .. } => {
                assert!(retry_after <= Duration::from_secs(1), "{retry_after:?}")
            }
            other => panic!("{other:?}"),
        }
        let fresh = RateLimiter::new();
        match fresh.acquire("k", p, 25) {
            Decision::Allowed(s) => {
                assert_eq!(s.remaining, 0);
                // 25 units spent at 1/s with a burst of 10: 16 s until the first unit is back.
                assert_eq!(s.next_unit_secs(), 16);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(fresh.acquire("k", p, 1), Decision::Denied { retry_after, .. } if retry_after > Duration::from_secs(15))
        );
    }

    #[test]
    fn settling_a_request_counts_what_it_already_paid_and_changes_nothing_when_refused() {
        let limiter = RateLimiter::new();
        let p = policy(10, 10, 3600);
        limiter.acquire("k", p, 1);
        assert!(matches!(limiter.settle("k", p, 4, 1), Decision::Allowed(s) if s.remaining == 6));
        limiter.acquire("k", p, 1);
        // 7 in all with 1 paid needs 6 more, and only 5 are left: refused, the paid unit stays spent.
        assert!(matches!(
            limiter.settle("k", p, 7, 1),
            Decision::Denied { .. }
        ));
        assert_eq!(limiter.peek("k", p).remaining, 5);
        // Larger than the burst: only on a full quota, counting the paid unit.
        let fresh = RateLimiter::new();
        fresh.acquire("k", p, 1);
        assert!(matches!(fresh.settle("k", p, 25, 1), Decision::Allowed(s) if s.remaining == 0));
    }

    #[test]
    fn a_changed_policy_applies_to_the_same_state() {
        let limiter = RateLimiter::new();
        // 5 units at one per 360 s leave 1,800 s to pay back; at one per 180 s that is 10 units.
        limiter.acquire("k", policy(10, 10, 3600), 5);
        assert_eq!(limiter.peek("k", policy(20, 20, 3600)).remaining, 10);
    }

    #[test]
    fn huge_bursts_do_not_overflow() {
        let limiter = RateLimiter::new();
        let p = policy(1, u32::MAX, 60);
        assert!(matches!(limiter.acquire("k", p, 1), Decision::Allowed(_)));
        let _ = limiter.peek("k", p).next_unit_secs();
    }

    #[test]
    fn units_return_over_the_window() {
        let clock = ManualClock::new();
        let limiter = RateLimiter::with_clock(Arc::clone(&clock));
        let p = policy(2, 2, 60);
        assert!(matches!(limiter.acquire("k", p, 2), Decision::Allowed(_)));
        assert!(matches!(
            limiter.acquire("k", p, 1),
            Decision::Denied { .. }
        ));
        // One unit returns every 30 s.
        clock.advance(Duration::from_secs(29));
        assert_eq!(limiter.peek("k", p).remaining, 0);
        assert_eq!(limiter.peek("k", p).next_unit_in, Duration::from_secs(1));
        clock.advance(Duration::from_secs(1));
        assert_eq!(limiter.peek("k", p).remaining, 1);
        clock.advance(Duration::from_secs(30));
        assert_eq!(limiter.peek("k", p).remaining, 2);
        assert_eq!(limiter.peek("k", p).next_unit_in, Duration::ZERO);
    }

    #[test]
    fn a_refused_settlement_is_told_to_wait_for_all_it_will_pay_on_its_retry() {
        let limiter = RateLimiter::new();
        let p = policy(10, 10, 3600);
        limiter.acquire("k", p, 5);
        // A batch of 7 arrives: it pays 1 (4 left), then needs 6 more and is refused. Its retry
        // pays 1 on arrival again and then needs 6 more: 7 from the 4 left, 3 units of 360 s.
        limiter.acquire("k", p, 1);
        match limiter.settle("k", p, 7, 1) {
            Decision::Denied { retry_after, .. } => {
                assert!(retry_after > Duration::from_secs(1070), "{retry_after:?}");
                assert!(retry_after <= Duration::from_secs(1080), "{retry_after:?}");
            }
            other => panic!("{other:?}"),
        }
        // Larger than the burst: the retry needs a full quota after its own arrival unit is
        // spent, so the wait runs until the quota is full as it stands.
        let fresh = RateLimiter::new();
        fresh.acquire("k", p, 3);
        fresh.acquire("k", p, 1);
        match fresh.settle("k", p, 25, 1) {
            Decision::Denied { retry_after, .. } => {
                assert!(retry_after > Duration::from_secs(1430), "{retry_after:?}");
                assert!(retry_after <= Duration::from_secs(1440), "{retry_after:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refused_batch_that_waits_retry_after_then_passes() {
        let clock = ManualClock::new();
        let limiter = RateLimiter::with_clock(Arc::clone(&clock));
        let p = policy(5, 5, 5);
        // The first batch of 3 passes (2 left); the second pays its arrival unit and is refused.
        limiter.acquire("k", p, 1);
        assert!(matches!(limiter.settle("k", p, 3, 1), Decision::Allowed(_)));
        limiter.acquire("k", p, 1);
        let Decision::Denied { retry_after, .. } = limiter.settle("k", p, 3, 1) else {
            panic!("the second batch should not fit");
        };
        // A moment before Retry-After, the retry's three units are not all back yet; a client
        // that waits exactly as told, then sends the batch again, gets through.
        clock.advance(retry_after - Duration::from_millis(1));
        assert!(limiter.peek("k", p).remaining < 3);
        clock.advance(Duration::from_millis(1));
        assert!(matches!(limiter.acquire("k", p, 1), Decision::Allowed(_)));
        assert!(
            matches!(limiter.settle("k", p, 3, 1), Decision::Allowed(_)),
            "refused again after waiting {retry_after:?}"
        );
    }

    #[test]
    fn concurrent_requests_never_get_more_than_the_burst() {
        let limiter = Arc::new(RateLimiter::new());
        let p = policy(50, 50, 3600);
        let granted: u32 = (0..8)
            .map(|_| {
                let limiter = Arc::clone(&limiter);
                std::thread::spawn(move || {
                    (0..100)
                        .filter(|_| matches!(limiter.acquire("k", p, 1), Decision::Allowed(_)))
                        .count() as u32
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum();
        assert_eq!(granted, 50);
    }
}
