//! Limits, with no HTTP in them: per-key rate limits (GCRA), throttling of addresses that keep
//! presenting wrong keys, the in-flight cap, and which address a request counts against; in one
//! process, or shared by replicas through Redis (`SharedLimits`).

mod auth_throttle;
pub mod gcra;
mod overload;
mod proxies;
mod rate_limiter;
mod shared;
mod store;

pub use auth_throttle::{spawn_sweeper, AuthThrottle, MAX_TRACKED_CLIENTS};
pub use overload::{Admission, InFlight};
pub use proxies::TrustedProxies;
pub use rate_limiter::{Decision, Policy, QuotaState, RateLimiter};
pub use shared::{KeyAdmission, PaidIn, SharedLimits};
pub use store::{Answer, Limits, LocalLimits, RateStore, ThrottleStore};

use std::time::Duration;

use crate::clock::{Clock, SystemClock};

/// A key's own limits, where it has any (a keys-file entry's `rate_limit_per_minute` and
/// `rate_limit_burst`); the service's default policy fills in the rest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Units per window.
    pub limit: Option<u32>,
    /// Most units at once.
    pub burst: Option<u32>,
}

/// The per-key limiter with the service's default policy.
pub struct RateLimits<C: Clock = SystemClock> {
    limiter: RateLimiter<C>,
    default: Policy,
}

impl RateLimits {
    /// A limiter whose keys get `default` unless they override it.
    pub fn new(default: Policy) -> Self {
        Self::with_clock(default, SystemClock)
    }
}

impl<C: Clock> RateLimits<C> {
    /// The same, reading time from `clock`.
    pub fn with_clock(default: Policy, clock: C) -> Self {
        RateLimits {
            limiter: RateLimiter::with_clock(clock),
            default,
        }
    }

    /// The policy in force for a key with `overrides`: its own, else the default. The burst never
    /// exceeds the limit, so the advertised `q` per window holds.
    pub fn policy_for(&self, overrides: Overrides) -> Policy {
        let limit = overrides.limit.unwrap_or(self.default.limit);
        Policy {
            limit,
            burst: overrides.burst.unwrap_or(self.default.burst).min(limit),
            window: self.default.window,
        }
    }

    /// Spends `units` of the quota of key `id`.
    pub fn acquire(&self, id: &str, overrides: Overrides, units: u32) -> Decision {
        self.limiter.acquire(id, self.policy_for(overrides), units)
    }

    /// Makes a request of key `id` that paid `paid` units cost `units` in all, or changes nothing.
    pub fn settle(&self, id: &str, overrides: Overrides, units: u32, paid: u32) -> Decision {
        self.limiter
            .settle(id, self.policy_for(overrides), units, paid)
    }

    /// Key `id`'s quota now, spending nothing.
    pub fn peek(&self, id: &str, overrides: Overrides) -> QuotaState {
        self.limiter.peek(id, self.policy_for(overrides))
    }
}

/// The poll limit of `GET /jobs/{job_id}`, per key and per server: reads of finished jobs, 10 a
/// second, 20 at once. Polling spends no unit of the key's rate limit, and polls of a job still
/// processing cost nothing; but reading a finished job can move a megabyte, and this bounds what
/// one key can make a server read, far above what fetching one's results needs.
pub const POLL_POLICY: Policy = Policy {
    limit: 600,
    burst: 20,
    window: Duration::from_secs(60),
};

/// Whole seconds, rounded up, at least one: the form `Retry-After` takes.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keys_overrides_win_and_the_burst_never_exceeds_the_limit() {
        let limits = RateLimits::new(Policy {
            limit: 60,
            burst: 30,
            window: Duration::from_secs(60),
        });
        assert_eq!(limits.policy_for(Overrides::default()).limit, 60);
        let own = limits.policy_for(Overrides {
            limit: Some(10),
            burst: None,
        });
        assert_eq!((own.limit, own.burst), (10, 10));
        let both = limits.policy_for(Overrides {
            limit: Some(100),
            burst: Some(5),
        });
        assert_eq!((both.limit, both.burst), (100, 5));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }
}
