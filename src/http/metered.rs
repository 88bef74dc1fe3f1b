//! The `Metered` extractor: a request that has paid its unit of the key's rate limit; and the
//! quota a request leaves for the `RateLimit` headers of its answer.

use std::cell::{Cell, RefCell};
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{Either, LocalBoxFuture};

use super::AuthenticatedKey;
use crate::auth::KeyEntry;
use crate::error::{ApiError, Limit};
use crate::limits::{
    retry_after_secs, Decision, Overrides, PaidIn, QuotaState, RateLimits, SharedLimits,
};
use crate::paths::loggable_path;
use crate::quota::Usage;

/// A key's own limits, as the limiter takes them.
pub(super) fn overrides(key: &KeyEntry) -> Overrides {
    Overrides {
        limit: key.rate_limit_per_minute,
        burst: key.rate_limit_burst,
    }
}

/// Shows `key`'s quota on this response (the `RateLimit` headers) without spending any, for
/// routes that only read the caller's own state (`/me`, `/jobs/{id}`).
pub fn show_quota(req: &HttpRequest, key: &KeyEntry) -> Option<QuotaState> {
    if req.app_data::<web::Data<SharedLimits>>().is_some() {
        // Shared limits: `ApiKey` already looked the quota up, in the call that checked the
        // throttle, and left it here.
        return req.extensions().get::<QuotaSlot>().and_then(QuotaSlot::get);
    }
    let limits = req.app_data::<web::Data<RateLimits>>()?;
    let state = limits.peek(&key.id, overrides(key));
    leave_quota(req, state);
    Some(state)
}

/// Where a request leaves the quota it spent or looked at, for the `RateLimit` headers of its
/// answer. The middleware puts one in the request's extensions and keeps a handle on it, so the
/// headers reach every answer to an authenticated request, even the 500 of a handler that
/// panicked after paying.
/// A key with a day or month quota (issue 28) also leaves its usage there.
#[derive(Debug, Clone, Default)]
pub struct QuotaSlot(Rc<Cell<Option<QuotaState>>>, Rc<RefCell<Option<Usage>>>);

impl QuotaSlot {
    /// The quota left here, if any.
    pub fn get(&self) -> Option<QuotaState> {
        self.0.get()
    }

    /// The day and month quotas left here, if the key has any.
    pub fn usage(&self) -> Option<Usage> {
        self.1.borrow().clone()
    }

    pub(super) fn set_usage(&self, usage: Usage) {
        *self.1.borrow_mut() = Some(usage);
    }
}

/// Leaves `state` for the `RateLimit` headers of the answer to `req`.
pub(super) fn leave_quota(req: &HttpRequest, state: QuotaState) {
    if let Some(slot) = req.extensions().get::<QuotaSlot>() {
        slot.0.set(Some(state));
    }
}

/// A request that has paid one unit of its key's rate limit. List it right after
/// [`ApiKey`](super::ApiKey) on every metered handler; a handler that learns the request
/// costs more (a batch) settles with [`Metered::charge_total`].
pub struct Metered {
    req: HttpRequest,
}

/// Left by `Metered` for `ApiKey` when the limits are shared: this route spends a unit on arrival,
/// and `ApiKey` spends it in the same Redis call as its throttle check.
#[derive(Debug, Clone, Copy)]
pub(super) struct WantsUnit;

/// Left by `ApiKey` for `Metered` when the limits are shared: the arrival unit's decision, and
/// where the unit was paid (a batch settles it there).
#[derive(Debug, Clone, Copy)]
pub(super) struct SharedCharge(pub Decision, pub PaidIn);

/// Left by `Metered` for [`Metered::charge_total`]: where the arrival unit was paid.
#[derive(Debug, Clone, Copy)]
struct ArrivalPaidIn(PaidIn);

impl FromRequest for Metered {
    type Error = ApiError;
    type Future =
        Either<Ready<Result<Self, ApiError>>, LocalBoxFuture<'static, Result<Self, ApiError>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let metered = Metered { req: req.clone() };
        if req.app_data::<web::Data<SharedLimits>>().is_some() {
            // Every extractor is built before any is polled: `ApiKey`'s future sees this.
            req.extensions_mut().insert(WantsUnit);
            // QUOTA (issue 28): the key is not known yet; its quota is spent once `ApiKey`'s
            // decision granted the arrival unit.
            return Either::Right(Box::pin(async move {
                let metered = ChargedByApiKey(Some(metered)).await?;
                metered.spend_quota(1).await?;
                Ok(metered)
            }));
        }
        if let Err(refused) = metered.charge(1) {
            return Either::Left(ready(Err(refused)));
        }
        // QUOTA (issue 28): only a key with a day or month quota waits on a quota store.
        if !metered.has_quota() {
            return Either::Left(ready(Ok(metered)));
        }
        Either::Right(Box::pin(async move {
            metered.spend_quota(1).await?;
            Ok(metered)
        }))
    }
}

/// With shared limits, `Metered` waits for the decision `ApiKey` leaves. actix polls a handler's
/// extractors in the order they are listed, each time any of them wakes, and stops at the first
/// error: once `ApiKey` (listed first) is done, this finds its decision in the same pass.
struct ChargedByApiKey(Option<Metered>);

impl Future for ChargedByApiKey {
    type Output = Result<Metered, ApiError>;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(metered) = self.0.take() else {
            return Poll::Ready(Err(ApiError::Internal));
        };
        let charge = metered.req.extensions_mut().remove::<SharedCharge>();
        if let Some(SharedCharge(decision, paid_in)) = charge {
            metered.req.extensions_mut().insert(ArrivalPaidIn(paid_in));
            let outcome = metered.with_key(|key| metered.record(key, decision, 1));
            return Poll::Ready(outcome.map(|()| metered));
        }
        if metered.req.extensions().contains::<AuthenticatedKey>() {
            log::error!(
                "Metered found no decision after ApiKey on {}: list ApiKey first",
                loggable_path(metered.req.path())
            );
            return Poll::Ready(Err(ApiError::Internal));
        }
        // `ApiKey` is still waiting for Redis; its wake-up polls this again.
        self.0 = Some(metered);
        Poll::Pending
    }
}

impl Metered {
    /// Makes this request cost `units` in all, the one unit paid on arrival included, as one
    /// purchase (so a batch larger than the burst can pass on a full quota); or answers 429, and the
    /// arrival unit stays spent.
    pub async fn charge_total(&self, units: usize) -> Result<(), ApiError> {
        if units <= 1 {
            return Ok(());
        }
        let units = u32::try_from(units).unwrap_or(u32::MAX);
        if let Some(shared) = self.req.app_data::<web::Data<SharedLimits>>() {
            let (id, own) = self.with_key(|key| Ok((key.id.clone(), overrides(key))))?;
            let paid_in = self
                .req
                .extensions()
                .get::<ArrivalPaidIn>()
                .map_or(PaidIn::Redis, |paid| paid.0);
            let decision = shared
                .settle(&id, own, units, 1, paid_in)
                .await
                .inspect_err(|e| log::debug!("{e}: refusing (REDIS_FAILURE_MODE=closed)"))?;
            self.with_key(|key| self.record(key, decision, units))?;
        } else {
            let limits = self.limits()?;
            self.with_key(|key| {
                let decision = limits.settle(&key.id, overrides(key), units, 1);
                self.record(key, decision, units)
            })?;
        }
        // QUOTA (issue 28): the rest of the batch, the arrival unit being spent already.
        self.spend_quota(units - 1).await
    }

    /// Whether the authenticated key is held to a day or month quota.
    fn has_quota(&self) -> bool {
        self.with_key(|key| Ok(key.has_quota())).unwrap_or(false)
    }

    /// Spends `units` of the key's day and month quotas, if it has any.
    async fn spend_quota(&self, units: u32) -> Result<(), ApiError> {
        let key = self.with_key(|key| Ok(key.has_quota().then(|| key.clone())))?;
        match key {
            Some(key) if units > 0 => super::quota::spend(&self.req, &key, units).await,
            _ => Ok(()),
        }
    }

    /// Runs `f` on the key [`ApiKey`](super::ApiKey) authenticated, borrowed from the
    /// request's extensions (no reference count to update, as cloning the key's `Arc` would).
    fn with_key<R>(&self, f: impl FnOnce(&KeyEntry) -> Result<R, ApiError>) -> Result<R, ApiError> {
        let extensions = self.req.extensions();
        let Some(AuthenticatedKey(key)) = extensions.get::<AuthenticatedKey>() else {
            // Normal when ApiKey refused the request: actix builds every extractor, and the
            // client gets ApiKey's error. A route listing Metered without ApiKey answers 500,
            // which the route-table test would catch.
            log::debug!(
                "Metered without an authenticated key on {}",
                loggable_path(self.req.path())
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
        self.with_key(|key| {
            let decision = limits.acquire(&key.id, overrides(key), units);
            self.record(key, decision, units)
        })
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
