//! Limits: per-key rate limits, throttling of failed authentication, and the in-flight cap.

mod auth_throttle;
mod client_ip;
mod overload;
mod rate_limiter;

pub use auth_throttle::{spawn_sweeper, AuthThrottle, MAX_TRACKED_CLIENTS};
pub use client_ip::{client_ip, TrustedProxies};
pub use overload::{Admission, InFlight};
pub use rate_limiter::{Decision, Policy, QuotaState, RateLimiter};

use std::cell::Cell;
use std::future::{ready, Ready};
use std::rc::Rc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use crate::auth::{AuthenticatedKey, KeyEntry};
use crate::error::{ApiError, Limit};

/// The per-key limiter with the service's default policy.
pub struct RateLimits {
    limiter: RateLimiter,
    default: Policy,
}

impl RateLimits {
    /// A limiter whose keys get `default` unless their entry overrides it.
    pub fn new(default: Policy) -> Self {
        RateLimits {
            limiter: RateLimiter::new(),
            default,
        }
    }

    /// The policy in force for `key`: its own overrides, else the default. The burst never
    /// exceeds the limit, so the advertised `q` per window holds.
    pub fn policy_for(&self, key: &KeyEntry) -> Policy {
        let limit = key.rate_limit_per_minute.unwrap_or(self.default.limit);
        Policy {
            limit,
            burst: key
                .rate_limit_burst
                .unwrap_or(self.default.burst)
                .min(limit),
            window: self.default.window,
        }
    }

    /// Spends `units` of `key`'s quota.
    pub fn acquire(&self, key: &KeyEntry, units: u32) -> Decision {
        self.limiter.acquire(&key.id, self.policy_for(key), units)
    }

    /// Makes a request that paid `paid` units cost `units` in all, or changes nothing.
    pub fn settle(&self, key: &KeyEntry, units: u32, paid: u32) -> Decision {
        self.limiter
            .settle(&key.id, self.policy_for(key), units, paid)
    }

    /// `key`'s quota now, spending nothing.
    pub fn peek(&self, key: &KeyEntry) -> QuotaState {
        self.limiter.peek(&key.id, self.policy_for(key))
    }
}

/// Shows `key`'s quota on this response (the `RateLimit` headers) without spending any, for
/// routes that only read the caller's own state (`/me`, `/jobs/{id}`).
pub fn show_quota(req: &HttpRequest, key: &KeyEntry) -> Option<QuotaState> {
    let limits = req.app_data::<web::Data<RateLimits>>()?;
    let state = limits.peek(key);
    leave_quota(req, state);
    Some(state)
}

/// Where a request leaves the quota it spent or looked at, for the `RateLimit` headers of its
/// answer. The middleware puts one in the request's extensions and keeps a handle on it, so the
/// headers reach every answer to an authenticated request, even the 500 of a handler that
/// panicked after paying.
#[derive(Debug, Clone, Default)]
pub struct QuotaSlot(Rc<Cell<Option<QuotaState>>>);

impl QuotaSlot {
    /// The quota left here, if any.
    pub fn get(&self) -> Option<QuotaState> {
        self.0.get()
    }
}

/// Leaves `state` for the `RateLimit` headers of the answer to `req`.
pub fn leave_quota(req: &HttpRequest, state: QuotaState) {
    if let Some(slot) = req.extensions().get::<QuotaSlot>() {
        slot.0.set(Some(state));
    }
}

/// Whole seconds, rounded up, at least one: the form `Retry-After` takes.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// A request that has paid one unit of its key's rate limit. List it right after
/// [`ApiKey`](crate::auth::ApiKey) on every metered handler; a handler that learns the request
/// costs more (a batch) settles with [`Metered::charge_total`].
pub struct Metered {
    req: HttpRequest,
}

impl FromRequest for Metered {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let metered = Metered { req: req.clone() };
        ready(metered.charge(1).map(|()| metered))
    }
}

impl Metered {
    /// Makes this request cost `units` in all, the one unit paid on arrival included, as one
    /// purchase (so a batch larger than the burst can pass on a full quota); or answers 429, and the
    /// arrival unit stays spent.
    pub fn charge_total(&self, units: usize) -> Result<(), ApiError> {
        if units <= 1 {
            return Ok(());
        }
        let units = u32::try_from(units).unwrap_or(u32::MAX);
        let limits = self.limits()?;
        self.with_key(|key| self.record(key, limits.settle(key, units, 1), units))
    }

    /// Runs `f` on the key [`ApiKey`](crate::auth::ApiKey) authenticated, borrowed from the
    /// request's extensions (no reference count to update, as cloning the key's `Arc` would).
    fn with_key<R>(&self, f: impl FnOnce(&KeyEntry) -> Result<R, ApiError>) -> Result<R, ApiError> {
        let extensions = self.req.extensions();
        let Some(AuthenticatedKey(key)) = extensions.get::<AuthenticatedKey>() else {
            // Normal when ApiKey refused the request: actix builds every extractor, and the
            // client gets ApiKey's error. A route listing Metered without ApiKey answers 500,
            // which the route-table test would catch.
            log::debug!(
                "Metered without an authenticated key on {}",
                crate::middleware::loggable_path(self.req.path())
            );
            return Err(ApiError::Internal);
        };
        f(key)
    }

    fn limits(&self) -> Result<&web::Data<RateLimits>, ApiError> {
        self.req.app_data::<web::Data<RateLimits>>().ok_or_else(|| {
            log::error!("no RateLimits in app data: refusing");
            ApiError::Internal
        })
    }

    /// Spends `units` more of the key's quota, or answers 429 spending nothing.
    fn charge(&self, units: u32) -> Result<(), ApiError> {
        let limits = self.limits()?;
        self.with_key(|key| self.record(key, limits.acquire(key, units), units))
    }

    /// Leaves the quota state for the headers, and turns a refusal into a 429.
    fn record(&self, key: &KeyEntry, decision: Decision, units: u32) -> Result<(), ApiError> {
        match decision {
            Decision::Allowed(state) => {
                leave_quota(&self.req, state);
                Ok(())
            }
            Decision::Denied { state, retry_after } => {
                leave_quota(&self.req, state);
                log::warn!(
                    "rate limit exceeded: key id {} asked for {units} units with {} left of {} per {}s",
                    key.id,
                    state.remaining,
                    state.policy.limit,
                    state.policy.window.as_secs()
                );
                Err(ApiError::RateLimited {
                    cause: Limit::KeyQuota,
                    retry_after: retry_after_secs(retry_after),
                })
            }
        }
    }
}
