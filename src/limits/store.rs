//! The limits as capabilities, each chosen once at start-up: a quota store (per-key GCRA) and a
//! failed-key throttle store, in this process ([`LocalLimits`]) or in Redis
//! ([`SharedLimits`](super::SharedLimits), which holds a `LocalLimits` as its
//! `REDIS_FAILURE_MODE=open` fallback). Nothing above this module asks which one it has.

use std::future::{ready, Ready};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, LocalBoxFuture};

use super::{AuthThrottle, Decision, KeyAdmission, Overrides, PaidIn, RateLimits};
use crate::redis_backend::Unavailable;

/// A store's answer: ready at once in this process, after a round trip to Redis otherwise (only
/// the latter is boxed).
pub type Answer<'a, T> =
    Either<Ready<Result<T, Unavailable>>, LocalBoxFuture<'a, Result<T, Unavailable>>>;

/// An answer known now.
pub fn now<'a, T>(value: T) -> Answer<'a, T> {
    Either::Left(ready(Ok(value)))
}

/// Where failed keys are counted, per client address.
pub trait ThrottleStore {
    /// Whether a decision needs the client's address at all (working it out from
    /// `X-Forwarded-For` costs time; in one process, only while some address is tracked).
    fn needs_client(&self) -> bool;

    /// Counts a failed key from `client`, unless the address is throttled already: then, how
    /// long it still is (nothing counted).
    fn record_failure(&self, client: IpAddr) -> Answer<'_, Option<Duration>>;
}

/// Where each key's per-minute rate limit is kept (GCRA).
pub trait RateStore {
    /// For a valid key `id` from `client`: whether the address is throttled and, if not, spends
    /// `units` (0: only looks) of the key's quota; one step (one round trip to Redis).
    fn admit<'a>(
        &'a self,
        client: Option<IpAddr>,
        id: &'a str,
        own: Overrides,
        units: u32,
    ) -> Answer<'a, KeyAdmission>;

    /// Makes a request of key `id` that paid `paid` units (in `paid_in`) cost `units` in all, as
    /// one purchase, or changes nothing.
    fn settle<'a>(
        &'a self,
        id: &'a str,
        own: Overrides,
        units: u32,
        paid: u32,
        paid_in: PaidIn,
    ) -> Answer<'a, Decision>;
}

/// The limits of one server: both stores, and whether their backend can be used now.
pub trait Limits: RateStore + ThrottleStore {
    /// Whether the backend can be used now (readiness), without waiting on it but for the very
    /// first call.
    fn usable(&self) -> LocalBoxFuture<'_, bool> {
        Box::pin(async { true })
    }

    /// Publishes the backend's state to the metrics before a scrape (the circuit breaker).
    fn publish_state(&self) {}
}

/// The limits in this process: exact for one server, shared by its workers.
#[derive(Clone)]
pub struct LocalLimits {
    /// Per-key quotas.
    pub quotas: Arc<RateLimits>,
    /// Failed keys per address.
    pub throttle: Arc<AuthThrottle>,
}

impl LocalLimits {
    pub(super) fn admit_now(
        &self,
        client: Option<IpAddr>,
        id: &str,
        own: Overrides,
        units: u32,
    ) -> KeyAdmission {
        if let Some(wait) = client.and_then(|ip| self.throttle.blocked(ip)) {
            return KeyAdmission::Throttled(wait);
        }
        let decision = if units == 0 {
            Decision::Allowed(self.quotas.peek(id, own))
        } else {
            self.quotas.acquire(id, own, units)
        };
        KeyAdmission::Decided(decision, PaidIn::Process)
    }

    pub(super) fn record_failure_now(&self, client: IpAddr) -> Option<Duration> {
        if let Some(wait) = self.throttle.blocked(client) {
            return Some(wait);
        }
        self.throttle.record_failure(client);
        None
    }
}

impl ThrottleStore for LocalLimits {
    fn needs_client(&self) -> bool {
        self.throttle.is_tracking()
    }

    fn record_failure(&self, client: IpAddr) -> Answer<'_, Option<Duration>> {
        now(self.record_failure_now(client))
    }
}

impl RateStore for LocalLimits {
    fn admit<'a>(
        &'a self,
        client: Option<IpAddr>,
        id: &'a str,
        own: Overrides,
        units: u32,
    ) -> Answer<'a, KeyAdmission> {
        now(self.admit_now(client, id, own, units))
    }

    fn settle<'a>(
        &'a self,
        id: &'a str,
        own: Overrides,
        units: u32,
        paid: u32,
        _: PaidIn,
    ) -> Answer<'a, Decision> {
        now(self.quotas.settle(id, own, units, paid))
    }
}

impl Limits for LocalLimits {}
