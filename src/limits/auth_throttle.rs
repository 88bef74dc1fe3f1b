use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::clock::{Clock, SystemClock};

/// Most client addresses tracked at once; beyond it, expired entries go first, then a batch of
/// live ones (an attacker needs more than this many addresses in one window to be forgotten).
pub const MAX_TRACKED_CLIENTS: usize = 65_536;

const SHARDS: usize = 16;

/// Entries forgotten at once when a full shard holds only live ones.
const EVICT_BATCH: usize = 256;

/// Throttles clients that keep presenting wrong keys: after `limit` answers of 403 within `window`,
/// every route that needs a key answers that address 429 until the window has passed, whatever key
/// it sends (a right guess made while throttled is not confirmed). A missing key (401) guesses
/// nothing and is not counted.
///
/// Memory is bounded whatever arrives: nothing about the keys tried is kept, only a counter per
/// address, and at most [`MAX_TRACKED_CLIENTS`] addresses (about 3 MiB).
pub struct AuthThrottle<C: Clock = SystemClock> {
    clock: C,
    limit: u32,
    window: Duration,
    shards: Box<[Mutex<HashMap<IpAddr, Failures>>]>,
    /// Addresses tracked in all shards. While it is zero (the usual case), [`AuthThrottle::blocked`]
    /// answers from it alone: no hash, no lock, no write to a cache line the workers share.
    tracked: AtomicUsize,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    since: Instant,
    count: u32,
}

impl AuthThrottle {
    /// A throttle allowing `limit` failures per `window` and address.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self::with_clock(limit, window, SystemClock)
    }
}

impl<C: Clock> AuthThrottle<C> {
    /// The same, reading time from `clock`.
    pub fn with_clock(limit: u32, window: Duration, clock: C) -> Self {
        AuthThrottle {
            clock,
            limit,
            window,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            tracked: AtomicUsize::new(0),
        }
    }

    /// Failures an address may have per window.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The window failures are counted over.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Whether any address has failures on record (while none has, no request is throttled).
    pub fn is_tracking(&self) -> bool {
        self.tracked.load(Ordering::Acquire) != 0
    }

    /// If `client` is throttled now, how long until it is not.
    pub fn blocked(&self, client: IpAddr) -> Option<Duration> {
        // No address tracked (the usual state while clients hold valid keys): nothing to look up.
        // Entries are counted under their shard's lock, so a failure recorded before this request
        // arrived is seen here.
        if !self.is_tracking() {
            return None;
        }
        let client = subject(client);
        let shard = self.shard(client).lock().unwrap_or_else(|e| e.into_inner());
        let f = shard.get(&client)?;
        // The clock is read only for an address with failures: this runs on every request.
        let elapsed = self.clock.now().saturating_duration_since(f.since);
        (f.count >= self.limit && elapsed < self.window).then(|| self.window - elapsed)
    }

    /// Counts one failed authentication from `client`.
    pub fn record_failure(&self, client: IpAddr) {
        let client = subject(client);
        let now = self.clock.now();
        let mut shard = self.shard(client).lock().unwrap_or_else(|e| e.into_inner());
        let before = shard.len();
        if !shard.contains_key(&client) && shard.len() >= MAX_TRACKED_CLIENTS / SHARDS {
            let window = self.window;
            shard.retain(|_, f| now.saturating_duration_since(f.since) < window);
            if shard.len() >= MAX_TRACKED_CLIENTS / SHARDS {
                // Still full of live entries (a flood from more addresses than we track): forget a
                // batch at once, so the next inserts are cheap again instead of scanning each time.
                let doomed: Vec<IpAddr> = shard.keys().take(EVICT_BATCH).copied().collect();
                for ip in doomed {
                    shard.remove(&ip);
                }
            }
        }
        let evicted = before - shard.len();
        if evicted > 0 {
            self.tracked.fetch_sub(evicted, Ordering::Release);
        }
        let f = shard.entry(client).or_insert(Failures {
            since: now,
            count: 0,
        });
        if f.count == 0 {
            // A new entry: counted before the lock is released.
            self.tracked.fetch_add(1, Ordering::Release);
        }
        if now.saturating_duration_since(f.since) >= self.window {
            *f = Failures {
                since: now,
                count: 0,
            };
        }
        f.count = f.count.saturating_add(1);
    }

    /// Forgets every address whose window has passed (its failures no longer count, and the next
    /// one would start a new window anyway), so that the throttle returns to tracking nobody, and
    /// to its lookup-free check, once wrong keys stop arriving. See [`spawn_sweeper`].
    pub fn forget_expired(&self) {
        let now = self.clock.now();
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let before = shard.len();
            shard.retain(|_, f| now.saturating_duration_since(f.since) < self.window);
            let forgotten = before - shard.len();
            if forgotten > 0 {
                self.tracked.fetch_sub(forgotten, Ordering::Release);
            }
        }
    }

    /// How many addresses are tracked now.
    pub fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    fn shard(&self, client: IpAddr) -> &Mutex<HashMap<IpAddr, Failures>> {
        let mut hasher = DefaultHasher::new();
        client.hash(&mut hasher);
        &self.shards[hasher.finish() as usize % SHARDS]
    }
}

/// Runs [`AuthThrottle::forget_expired`] once per window on the current actix runtime, for as
/// long as it runs.
pub fn spawn_sweeper<C: Clock>(throttle: Arc<AuthThrottle<C>>) {
    let period = throttle.window.max(Duration::from_millis(10));
    actix_rt::spawn(async move {
        let mut tick = actix_rt::time::interval(period);
        tick.tick().await; // the first tick is immediate
        loop {
            tick.tick().await;
            throttle.forget_expired();
        }
    });
}

/// What is counted: an IPv4 address, or an IPv6 /64 (one host usually holds a whole /64, so
/// counting single IPv6 addresses would let one attacker rotate past the throttle).
pub(super) fn subject(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::net::Ipv4Addr;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x7f00_0000 | n))
    }

    #[test]
    fn an_address_is_blocked_after_the_limit_and_others_are_not() {
        let t = AuthThrottle::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            t.record_failure(ip(1));
        }
        assert!(t.blocked(ip(1)).is_none());
        t.record_failure(ip(1));
        let wait = t.blocked(ip(1)).expect("blocked after 3 failures");
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(59));
        assert!(t.blocked(ip(2)).is_none());
    }

    #[test]
    fn ipv6_addresses_of_one_64_count_together() {
        let t = AuthThrottle::new(2, Duration::from_secs(60));
        t.record_failure("2001:db8::1".parse().unwrap());
        t.record_failure("2001:db8::ffff:2".parse().unwrap());
        assert!(t.blocked("2001:db8::3".parse().unwrap()).is_some());
        assert!(t.blocked("2001:db8:0:1::1".parse().unwrap()).is_none());
    }

    #[test]
    fn the_block_ends_with_the_window() {
        let clock = ManualClock::new();
        let t = AuthThrottle::with_clock(1, Duration::from_secs(60), Arc::clone(&clock));
        t.record_failure(ip(1));
        clock.advance(Duration::from_secs(59));
        assert_eq!(t.blocked(ip(1)), Some(Duration::from_secs(1)));
        clock.advance(Duration::from_secs(1));
        assert!(t.blocked(ip(1)).is_none());
    }

    #[test]
    fn expired_addresses_are_forgotten_and_the_count_follows() {
        let clock = ManualClock::new();
        let t = AuthThrottle::with_clock(2, Duration::from_secs(60), Arc::clone(&clock));
        assert!(!t.is_tracking());
        for n in 0..5_000 {
            t.record_failure(ip(n));
        }
        t.record_failure(ip(1));
        assert!(t.is_tracking());
        assert!(t.blocked(ip(1)).is_some());
        assert_eq!(t.tracked.load(Ordering::Relaxed), t.tracked());
        clock.advance(Duration::from_secs(61));
        // A failure after the window: the entry starts a new window, still counted once.
        t.record_failure(ip(7));
        assert_eq!(t.tracked.load(Ordering::Relaxed), 5_000);
        t.forget_expired();
        assert_eq!(t.tracked(), 1, "only the fresh failure is left");
        assert_eq!(t.tracked.load(Ordering::Relaxed), 1);
        clock.advance(Duration::from_secs(61));
        t.forget_expired();
        assert_eq!(t.tracked(), 0);
        assert!(!t.is_tracking(), "back to the lookup-free check");
        assert!(t.blocked(ip(1)).is_none());
    }

    #[test]
    fn memory_is_bounded_however_many_addresses_fail() {
        let t = AuthThrottle::new(30, Duration::from_secs(60));
        for n in 0..100_000 {
            t.record_failure(ip(n));
        }
        assert!(t.tracked() <= MAX_TRACKED_CLIENTS, "{}", t.tracked());
        assert_eq!(
            t.tracked.load(Ordering::Relaxed),
            t.tracked(),
            "the count follows evictions"
        );
        // The most recent offender is still tracked.
        for _ in 0..29 {
            t.record_failure(ip(99_999));
        }
        assert!(t.blocked(ip(99_999)).is_some());
    }
}
