use std::net::IpAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures_util::future::{Either, LocalBoxFuture};
use redis::Script;

use super::auth_throttle::subject;
use super::rate_limiter::state_in;
use super::store::{Answer, Limits, LocalLimits, RateStore, ThrottleStore};
use super::{AuthThrottle, Decision, Overrides, RateLimits};
use crate::redis_backend::{FailureMode, RedisConn, Unavailable};

static GCRA: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("gcra.lua")));
static AUTH_FAILURE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("auth_failure.lua")));

/// Nanoseconds in one tick of Redis `TIME` as the scripts count it (a microsecond).
const TICK_NS: u64 = 1_000;

/// What a request with a valid key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAdmission {
    /// Its address is throttled after too many failed keys, for this long.
    Throttled(Duration),
    /// The rate limit's decision (for zero units, only the quota as it stands), and where it was
    /// taken: a batch settles its arrival unit in the same place.
    Decided(Decision, PaidIn),
}

/// Where a decision was taken, and so where a unit it granted was spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaidIn {
    /// In Redis, shared by every replica.
    Redis,
    /// In this process (`REDIS_FAILURE_MODE=open` while Redis could not be asked).
    Process,
}

/// The per-key limits and the failed-key throttle, kept in Redis so that every replica sharing it
/// enforces one limit: each decision is one atomic script on Redis's clock. One per worker.
///
/// While Redis cannot be asked, `REDIS_FAILURE_MODE=open` decides with this process's own
/// limiter and throttle (counted in `rate_limit_fallback_total`); `closed` returns
/// [`Unavailable`].
pub struct SharedLimits {
    conn: RedisConn,
    local: Arc<RateLimits>,
    throttle: Arc<AuthThrottle>,
    fallback: LocalLimits,
    /// Tests only: the time the scripts take as now, instead of Redis `TIME`.
    clock: Option<TestClock>,
}

/// A test's clock, read as microseconds since it was handed over.
type TestClock = Box<dyn Fn() -> u64 + Send + Sync>;

impl SharedLimits {
    /// Limits kept through `conn`, with `fallback` as the `REDIS_FAILURE_MODE=open` fallback (and
    /// its policies).
    pub fn new(conn: RedisConn, fallback: LocalLimits) -> Self {
        SharedLimits {
            conn,
            local: Arc::clone(&fallback.quotas),
            throttle: Arc::clone(&fallback.throttle),
            fallback,
            clock: None,
        }
    }

    /// Tests only: the scripts take `clock`'s time (counted from now) instead of Redis's, so a
    /// test can run the same arrivals through this and an in-process limiter on one clock.
    #[cfg(any(test, feature = "testing"))]
    pub fn with_clock(mut self, clock: Arc<crate::clock::ManualClock>) -> Self {
        use crate::clock::Clock;
        let epoch = clock.now();
        self.clock = Some(Box::new(move || {
            clock.now().saturating_duration_since(epoch).as_micros() as u64
        }));
        self
    }

    /// Passes the test clock's time to a script, if there is one (after the five arguments).
    fn at_now(&self, invocation: &mut redis::ScriptInvocation<'_>) {
        if let Some(clock) = &self.clock {
            invocation.arg(clock());
        }
    }

    /// For a valid key `id` from `client`: whether the address is throttled and, if not, spends
    /// `units` (0 or 1) of the key's quota, in one round trip.
    pub async fn admit(
        &self,
        client: Option<IpAddr>,
        id: &str,
        overrides: Overrides,
        units: u32,
    ) -> Result<KeyAdmission, Unavailable> {
        let policy = self.local.policy_for(overrides);
        let interval = policy.interval_us();
        let mut invocation = GCRA.key(self.quota_key(id));
        if let Some(ip) = client {
            invocation.key(self.failures_key(ip));
        }
        invocation
            .arg(interval)
            .arg(policy.burst)
            .arg(units)
            .arg(0)
            .arg(self.throttle.limit());
        self.at_now(&mut invocation);
        let answer = self
            .conn
            .call(|mut conn| async move { invocation.invoke_async::<[i64; 4]>(&mut conn).await })
            .await;
        match answer {
            Ok([-1, left_ms, ..]) => Ok(KeyAdmission::Throttled(millis(left_ms))),
            Ok(answer) => Ok(KeyAdmission::Decided(
                decision(policy, interval, answer),
                PaidIn::Redis,
            )),
            Err(e) => {
                self.fall_back(e, "key_quota")?;
                Ok(self.fallback.admit_now(client, id, overrides, units))
            }
        }
    }

    /// Makes a request of key `id` that paid `paid` units in `paid_in` cost `units` in all, or
    /// changes nothing (the shared form of [`RateLimits::settle`]). Units paid in this process are
    /// settled here; units paid in Redis, in Redis, or, should it fail now (`open`), here as a
    /// purchase of all `units` (this process never saw the paid ones).
    pub async fn settle(
        &self,
        id: &str,
        overrides: Overrides,
        units: u32,
        paid: u32,
        paid_in: PaidIn,
    ) -> Result<Decision, Unavailable> {
        if paid_in == PaidIn::Process {
            return Ok(self.local.settle(id, overrides, units, paid));
        }
        let policy = self.local.policy_for(overrides);
        let interval = policy.interval_us();
        let mut invocation = GCRA.key(self.quota_key(id));
        invocation
            .arg(interval)
            .arg(policy.burst)
            .arg(units)
            .arg(paid)
            .arg(self.throttle.limit());
        self.at_now(&mut invocation);
        let answer = self
            .conn
            .call(|mut conn| async move { invocation.invoke_async::<[i64; 4]>(&mut conn).await })
            .await;
        match answer {
            Ok(answer) => Ok(decision(policy, interval, answer)),
            Err(e) => {
                self.fall_back(e, "key_quota")?;
                Ok(self.local.settle(id, overrides, units, 0))
            }
        }
    }

    /// Counts a failed key from `client`, unless the address is throttled already: then, how
    /// long it still is.
    pub async fn record_failure(&self, client: IpAddr) -> Result<Option<Duration>, Unavailable> {
        let invocation = {
            let mut i = AUTH_FAILURE.key(self.failures_key(client));
            i.arg(self.throttle.limit())
                .arg(self.throttle.window().as_millis() as u64);
            i
        };
        let answer = self
            .conn
            .call(|mut conn| async move { invocation.invoke_async::<[i64; 2]>(&mut conn).await })
            .await;
        match answer {
            Ok([1, left_ms]) => Ok(Some(millis(left_ms))),
            Ok(_) => Ok(None),
            Err(e) => {
                self.fall_back(e, "auth_failures")?;
                Ok(self.fallback.record_failure_now(client))
            }
        }
    }

    /// Whether Redis can be used (for readiness): the circuit breaker is closed and the last
    /// background probe succeeded (see [`RedisConn::usable`]).
    pub async fn reachable(&self) -> bool {
        self.conn.usable().await
    }

    /// Sets the `redis_circuit_open` gauge from the breaker (before a scrape).
    pub fn publish_circuit_state(&self) {
        self.conn.redis().publish_circuit_state();
    }

    /// In `open` mode, counts a decision about to be taken in process; in `closed`, the error.
    fn fall_back(&self, e: Unavailable, limit: &'static str) -> Result<(), Unavailable> {
        let redis = self.conn.redis();
        match redis.settings().failure_mode {
            FailureMode::Closed => Err(e),
            FailureMode::Open => {
                redis.metrics().fallback.with_label_values(&[limit]).inc();
                log::debug!("{e}: {limit} decided by this process alone");
                Ok(())
            }
        }
    }

    /// A key id's quota. Every limit key carries the hash tag `{rl}`: a script touches a quota
    /// and an address counter at once, and under Redis Cluster both must live on one node.
    fn quota_key(&self, id: &str) -> String {
        self.conn.key(format_args!("{{rl}}:quota:{id}"))
    }

    /// An address's failed keys (an IPv6 address counts as its /64).
    fn failures_key(&self, client: IpAddr) -> String {
        self.conn
            .key(format_args!("{{rl}}:fail:{}", subject(client)))
    }
}

impl ThrottleStore for SharedLimits {
    fn needs_client(&self) -> bool {
        true
    }

    fn record_failure(&self, client: IpAddr) -> Answer<'_, Option<Duration>> {
        Either::Right(Box::pin(SharedLimits::record_failure(self, client)))
    }
}

impl RateStore for SharedLimits {
    fn admit<'a>(
        &'a self,
        client: Option<IpAddr>,
        id: &'a str,
        own: Overrides,
        units: u32,
    ) -> Answer<'a, KeyAdmission> {
        Either::Right(Box::pin(SharedLimits::admit(self, client, id, own, units)))
    }

    fn settle<'a>(
        &'a self,
        id: &'a str,
        own: Overrides,
        units: u32,
        paid: u32,
        paid_in: PaidIn,
    ) -> Answer<'a, Decision> {
        Either::Right(Box::pin(SharedLimits::settle(
            self, id, own, units, paid, paid_in,
        )))
    }
}

impl Limits for SharedLimits {
    fn usable(&self) -> LocalBoxFuture<'_, bool> {
        Box::pin(self.reachable())
    }

    fn publish_state(&self) {
        self.publish_circuit_state();
    }
}

/// A script's `{granted, tat, now, retry}` (microseconds) as the limiter's decision.
fn decision(
    policy: super::Policy,
    interval: u64,
    [granted, tat, now, retry]: [i64; 4],
) -> Decision {
    let (tat, now) = (tat.max(0) as u64, now.max(0) as u64);
    let state = state_in(policy, interval, tat, now, TICK_NS);
    if granted == 1 {
        Decision::Allowed(state)
    } else {
        Decision::Denied {
            state,
            retry_after: Duration::from_micros(retry.max(1) as u64),
        }
    }
}

/// A `PTTL` answer as a wait: at least a millisecond (it may have just run out).
fn millis(ms: i64) -> Duration {
    Duration::from_millis(ms.max(1) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Policy;
    use crate::redis_backend::{Redis, RedisSettings};

    /// Limits in `open` mode on a Redis nobody listens on: every call falls back.
    fn unreachable_open() -> (SharedLimits, Arc<RateLimits>) {
        let settings = RedisSettings::new(
            "redis://127.0.0.1:1",
            "t:".into(),
            Duration::from_millis(50),
            FailureMode::Open,
        )
        .unwrap();
        let redis = Redis::new(settings, crate::metrics::Metrics::new().redis());
        let local = Arc::new(RateLimits::new(Policy {
            limit: 10,
            burst: 10,
            window: Duration::from_secs(3600),
        }));
        let throttle = Arc::new(AuthThrottle::new(5, Duration::from_secs(60)));
        let fallback = LocalLimits {
            quotas: Arc::clone(&local),
            throttle,
        };
        let shared = SharedLimits::new(redis.connect(), fallback);
        (shared, local)
    }

    #[actix_rt::test]
    async fn a_unit_paid_in_redis_is_not_credited_by_a_settlement_that_falls_back() {
        let (shared, local) = unreachable_open();
        let own = Overrides::default();
        // The arrival unit went to Redis; Redis then fails: this process charges all 4 units.
        let decision = shared.settle("k", own, 4, 1, PaidIn::Redis).await.unwrap();
        assert!(matches!(decision, Decision::Allowed(_)));
        assert_eq!(local.peek("k", own).remaining, 6);
    }

    #[actix_rt::test]
    async fn a_unit_paid_in_process_is_settled_in_process() {
        let (shared, local) = unreachable_open();
        let own = Overrides::default();
        let admitted = shared.admit(None, "k", own, 1).await.unwrap();
        assert!(matches!(
            admitted,
            KeyAdmission::Decided(Decision::Allowed(_), PaidIn::Process)
        ));
        assert_eq!(local.peek("k", own).remaining, 9);
        shared
            .settle("k", own, 4, 1, PaidIn::Process)
            .await
            .unwrap();
        assert_eq!(
            local.peek("k", own).remaining,
            6,
            "4 in all, the paid one included"
        );
    }
}
