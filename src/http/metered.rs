//! The `Metered` extractor: the handle a metered handler settles its request's full cost through
//! (a batch); and where a request leaves the quota for the `RateLimit` headers of its answer.

use std::cell::{Cell, RefCell};
use std::future::{ready, Ready};
use std::rc::Rc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use super::authorize::{quota_refused, unavailable, AuthenticatedKey};
use crate::auth::KeyEntry;
use crate::error::ApiError;
use crate::limits::{Decision, Overrides, QuotaState};
use crate::paths::loggable_path;
use crate::quota::Usage;

/// A key's own limits, as the limiter takes them.
pub(super) fn overrides(key: &KeyEntry) -> Overrides {
    Overrides {
        limit: key.rate_limit_per_minute,
        burst: key.rate_limit_burst,
    }
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

/// A request on a metered route, whose arrival unit the authorization step spent; a handler that
/// learns the request costs more (a batch) settles with [`Metered::charge_total`].
pub struct Metered {
    req: HttpRequest,
}

impl FromRequest for Metered {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Metered { req: req.clone() }))
    }
}

impl Metered {
    /// Makes this request cost `units` in all, the one unit paid on arrival included, as one
    /// purchase (so a batch larger than the burst can pass on a full quota); or answers 429, and the
    /// arrival unit stays spent of the rate limit (the day and month quotas get it back). Settled
    /// in the store that took the arrival unit.
    pub async fn charge_total(&self, units: usize) -> Result<(), ApiError> {
        if units <= 1 {
            return Ok(());
        }
        let units = u32::try_from(units).unwrap_or(u32::MAX);
        let Some(key) = self.req.extensions().get::<AuthenticatedKey>().cloned() else {
            log::error!(
                "Metered on {}, a route with no authorization step",
                loggable_path(self.req.path())
            );
            return Err(ApiError::Internal);
        };
        let outcome = self.settle(&key, units).await;
        // A batch refused here gives its quotas back the arrival unit the authorization step
        // spent: a refused request is billed nothing (it keeps that unit of the rate limit).
        if key.entry.has_quota()
            && matches!(
                outcome,
                Err(ApiError::QuotaExceeded { .. } | ApiError::RateLimited { .. })
            )
        {
            super::quota::refund_arrival(&self.req, &key.quotas, &key.entry).await;
        }
        outcome
    }

    async fn settle(&self, key: &AuthenticatedKey, units: u32) -> Result<(), ApiError> {
        // The quotas first, spending nothing: a batch they refuse keeps only its arrival unit
        // of the rate limit, which cannot give units back once `settle` took them.
        if key.entry.has_quota() {
            super::quota::check(&self.req, &key.quotas, &key.entry, units - 1).await?;
        }
        let decision = key
            .limits
            .settle(&key.entry.id, overrides(&key.entry), units, 1, key.paid_in)
            .await
            .map_err(unavailable)?;
        leave_quota(&self.req, decision.state());
        if let Decision::Denied { state, retry_after } = decision {
            return Err(quota_refused(&key.entry, units, state, retry_after));
        }
        // The day and month quotas (issue 28): the rest of the batch, the arrival unit being
        // spent by the authorization step already.
        if key.entry.has_quota() {
            super::quota::spend(&self.req, &key.quotas, &key.entry, units - 1).await?;
        }
        Ok(())
    }
}
