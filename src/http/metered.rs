//! The `Metered` extractor: the handle a metered handler settles its request's full cost through
//! (a batch).

use std::future::{ready, Ready};
use std::rc::Rc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use super::authorize::{overrides, quota_refused, unavailable, AuthenticatedKey};
use super::quota_slot::leave_quota;
use crate::error::ApiError;
use crate::limits::Decision;
use crate::paths::loggable_path;

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
        let Some(key) = self.req.extensions().get::<Rc<AuthenticatedKey>>().cloned() else {
            log::error!(
                "Metered on {}, a route with no authorization step",
                loggable_path(self.req.path())
            );
            return Err(ApiError::Internal);
        };
        let outcome = self.settle(&key, units).await;
        // A batch refused here gives its quotas back the arrival unit the authorization step
        // spent: a refused request is billed nothing (it keeps that unit of the rate limit).
        if let Some(arrival) = &key.arrival {
            if matches!(
                outcome,
                Err(ApiError::QuotaExceeded { .. } | ApiError::RateLimited { .. })
            ) {
                super::quota::refund_arrival(&self.req, &key.quotas, &key.entry, arrival).await;
            }
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
