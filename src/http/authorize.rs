//! The one authorization step of every protected route, run before the handler's extractors:
//! key → scope → failed-key throttle → rate limit (the route's arrival unit) → poll limit, in
//! that order whatever the backend, so a request is judged on its key before anything reads its
//! body. The route table gives each route its scope and cost; the outcome is left in the
//! request's extensions for [`ApiKey`](super::ApiKey) and [`Metered`](super::Metered).

use std::future::{ready, Ready};
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{web, Error, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use time::OffsetDateTime;

use super::credentials::{self, Presented};
use super::quota_slot::leave_quota;
use crate::auth::{KeyEntry, KeyRefusal, KeyStore, Verdict};
use crate::error::{ApiError, Limit};
use crate::limits::{
    retry_after_secs, Decision, KeyAdmission, Limits, Overrides, PaidIn, QuotaState, RateLimiter,
    TrustedProxies, POLL_POLICY,
};
use crate::paths::{loggable_path, Cost, RouteSpec, Scope};
use crate::quota::{Quotas, Receipt};
use crate::redis_backend::Unavailable;

/// The log target of refused authentications (kept stable for `RUST_LOG` filters).
pub const AUTH_LOG: &str = "sentiment_api::auth";

/// A key's own limits, as the limiter takes them.
pub(super) fn overrides(key: &KeyEntry) -> Overrides {
    Overrides {
        limit: key.rate_limit_per_minute,
        burst: key.rate_limit_burst,
    }
}

/// Everything the authorization step reads, one per worker: the keys, the limits (in this
/// process or in Redis, chosen at start-up), the proxies whose `X-Forwarded-For` is believed,
/// and the poll limit.
pub struct Gate {
    keys: web::Data<KeyStore>,
    limits: Rc<dyn Limits>,
    proxies: Arc<TrustedProxies>,
    polls: Arc<RateLimiter>,
    quotas: Rc<Quotas>,
}

impl Gate {
    /// The step over `keys` and `limits`; `polls` counts job polls per key (shared by workers);
    /// `quotas` keeps the day and month quotas of keys and owners (issue 28).
    pub fn new(
        keys: web::Data<KeyStore>,
        limits: Rc<dyn Limits>,
        proxies: Arc<TrustedProxies>,
        polls: Arc<RateLimiter>,
        quotas: Rc<Quotas>,
    ) -> Self {
        Gate {
            keys,
            limits,
            proxies,
            polls,
            quotas,
        }
    }

    /// The day and month quotas (for `/me`).
    pub fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    /// Gives back the poll the authorization step spent for key `id` (see [`Gate::authorize`])
    /// when the poll read no finished job: only reads of results count.
    pub fn refund_poll(&self, id: &str) {
        self.polls.settle(id, POLL_POLICY, 0, 1);
    }

    /// The limits, for readiness and the metrics.
    pub fn limits(&self) -> &dyn Limits {
        &*self.limits
    }

    /// The address a request is counted against: the peer, or the client a trusted proxy names.
    pub fn client_address(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if self.proxies.is_empty() {
            return Some(peer);
        }
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .map(|value| value.as_bytes());
        Some(self.proxies.client(peer, forwarded))
    }

    /// Key → scope → throttle → arrival unit (→ poll limit) for a request on `route`.
    async fn authorize(
        &self,
        route: &'static RouteSpec,
        req: &HttpRequest,
    ) -> Result<AuthenticatedKey, ApiError> {
        let presented = self.presented_key(req)?;
        // The body never says why a key was refused; the log does.
        let verdict = self
            .keys
            .snapshot()
            .verify(presented, OffsetDateTime::now_utc);
        let Verdict::Valid(entry) = verdict else {
            return Err(self.refuse_key(req, verdict).await);
        };
        let missing = route.scope.filter(|scope| !entry.allows(*scope));
        let units = u32::from(missing.is_none() && route.cost == Cost::Metered);
        // The client's address is worked out only when the store needs it.
        let client = if self.limits.needs_client() {
            self.client_address(req)
        } else {
            None
        };
        let admission = self
            .limits
            .admit(client, &entry.id, overrides(&entry), units)
            .await
            .map_err(unavailable)?;
        let (decision, paid_in) = match admission {
            KeyAdmission::Throttled(wait) => return Err(throttled(req, client, wait)),
            KeyAdmission::Decided(decision, paid_in) => (decision, paid_in),
        };
        // Every authenticated answer shows the quota: spent, or as it stands.
        leave_quota(req, decision.state());
        // So do the day and month quotas of the key and its owner (issue 28): the arrival unit
        // is spent under them once the rate limit granted it (the receipt says where, for a
        // batch's refund), any other answer shows them as they stand. A key with none never
        // asks the store.
        let arrival = if !entry.has_quota() {
            None
        } else if units > 0 && matches!(decision, Decision::Allowed(_)) {
            super::quota::spend(req, &self.quotas, &entry, units).await?
        } else {
            super::quota::peek(req, &self.quotas, &entry).await;
            None
        };
        if let Some(scope) = missing {
            return Err(refuse_scope(req, &entry, scope));
        }
        let quota = match decision {
            Decision::Allowed(state) => state,
            Decision::Denied { state, retry_after } => {
                return Err(quota_refused(&entry, units, state, retry_after));
            }
        };
        // A poll is spent here, before anything is read, and given back by the handler when the
        // job is not done (`Gate::refund_poll`): polls sent at once cannot all pass a check made
        // before any of them was counted. A key with none left is refused before any read.
        if route.cost == Cost::Poll {
            if let Decision::Denied { retry_after, .. } =
                self.polls.acquire(&entry.id, POLL_POLICY, 1)
            {
                log::warn!(
                    "job poll limit exceeded: key id {} read more than {} finished jobs in {}s",
                    entry.id,
                    POLL_POLICY.burst,
                    POLL_POLICY.window.as_secs()
                );
                return Err(ApiError::RateLimited {
                    cause: Limit::JobPolls,
                    retry_after: retry_after_secs(retry_after),
                });
            }
        }
        Ok(AuthenticatedKey {
            entry,
            quota,
            paid_in,
            limits: Rc::clone(&self.limits),
            quotas: Rc::clone(&self.quotas),
            arrival,
        })
    }

    /// The key as presented, in `X-API-Key` or as `Authorization: Bearer` (see
    /// `credentials`), or the refusal of a request that presents none, or two.
    fn presented_key<'r>(&self, req: &'r HttpRequest) -> Result<&'r [u8], ApiError> {
        let (why, error) = match credentials::presented_key(req.headers()) {
            Presented::Key(key) => return Ok(key),
            // No key guesses nothing: a throttled address without one still gets the 401 that
            // says what is missing (authentication is answered before any limit).
            Presented::Missing => ("missing key", ApiError::MissingKey),
            Presented::DuplicateApiKey => ("duplicate X-API-Key header", ApiError::DuplicateKey),
            Presented::DuplicateAuthorization => (
                "duplicate Authorization header",
                ApiError::DuplicateAuthorization,
            ),
            Presented::Conflicting => (
                "different keys in X-API-Key and Authorization",
                ApiError::ConflictingKeys,
            ),
        };
        log_refusal(req, self.client_address(req), why, None);
        Err(error)
    }

    /// A wrong key is a guess: counted against the address that sent it, unless that address is
    /// throttled already (then 429).
    async fn refuse_key(&self, req: &HttpRequest, verdict: Verdict) -> ApiError {
        let (refusal, why, refused) = match verdict {
            Verdict::Valid(_) | Verdict::Unknown => (KeyRefusal::Unknown, "unknown key", None),
            Verdict::Expired(e) => (KeyRefusal::Expired, "expired key", Some(e)),
            Verdict::Disabled(e) => (KeyRefusal::Disabled, "disabled key", Some(e)),
        };
        let client = self.client_address(req);
        if let Some(ip) = client {
            match self.limits.record_failure(ip).await {
                Err(e) => return unavailable(e),
                Ok(Some(wait)) => return throttled(req, client, wait),
                Ok(None) => {}
            }
        }
        log_refusal(req, client, why, refused.as_ref().map(|e| e.id.as_str()));
        ApiError::InvalidKey(refusal)
    }
}

/// What the authorization step leaves in the request's extensions (as an `Rc<AuthenticatedKey>`):
/// the key, its quota, and the handle a batch settles its remaining units through (in the store
/// that took the arrival unit).
pub struct AuthenticatedKey {
    /// The key that authenticated the request.
    pub entry: Arc<KeyEntry>,
    /// Its quota as the step left it.
    pub quota: QuotaState,
    pub(super) paid_in: PaidIn,
    pub(super) limits: Rc<dyn Limits>,
    /// Where a batch spends the rest of its units under the day and month quotas.
    pub(super) quotas: Rc<Quotas>,
    /// Where the arrival unit was spent under those quotas, if it was: a refused batch gives it
    /// back there.
    pub(super) arrival: Option<Receipt>,
}

/// The authorization step as middleware on one protected route (`Route::wrap`): it runs after
/// routing, before the handler's extractors.
pub struct Authorize {
    route: &'static RouteSpec,
    gate: Rc<Gate>,
}

impl Authorize {
    /// The step for `route`, over `gate`.
    pub fn new(route: &'static RouteSpec, gate: Rc<Gate>) -> Self {
        Authorize { route, gate }
    }
}

impl<S> Transform<S, ServiceRequest> for Authorize
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error> + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Transform = AuthorizeService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthorizeService {
            service: Rc::new(service),
            route: self.route,
            gate: Rc::clone(&self.gate),
        }))
    }
}

/// The service [`Authorize`] puts in front of a protected route's handler.
pub struct AuthorizeService<S> {
    service: Rc<S>,
    route: &'static RouteSpec,
    gate: Rc<Gate>,
}

impl<S> Service<ServiceRequest> for AuthorizeService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error> + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<ServiceResponse<BoxBody>, Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let gate = Rc::clone(&self.gate);
        let route = self.route;
        Box::pin(async move {
            match gate.authorize(route, req.request()).await {
                Ok(key) => {
                    req.extensions_mut().insert(Rc::new(key));
                    service.call(req).await
                }
                // Answered here, as a handler's error is: the metrics still see the route.
                Err(refused) => Ok(req.error_response(refused)),
            }
        })
    }
}

/// Redis could not be asked and `REDIS_FAILURE_MODE=closed`: the 503.
pub(super) fn unavailable(e: Unavailable) -> ApiError {
    log::debug!("{e}: refusing (REDIS_FAILURE_MODE=closed)");
    ApiError::from(e)
}

/// The 429 of a key that asked for more units than it has.
pub(super) fn quota_refused(
    key: &KeyEntry,
    units: u32,
    state: QuotaState,
    retry_after: Duration,
) -> ApiError {
    log::warn!(
        "rate limit exceeded: key id {} asked for {units} units with {} left of {} per {}s",
        key.id,
        state.remaining,
        state.policy.limit,
        state.policy.window.as_secs()
    );
    ApiError::RateLimited {
        cause: Limit::KeyQuota,
        retry_after: retry_after_secs(retry_after),
    }
}

fn throttled(req: &HttpRequest, client: Option<IpAddr>, wait: Duration) -> ApiError {
    log_refusal(req, client, "throttled after too many failed keys", None);
    ApiError::RateLimited {
        cause: Limit::AuthFailures,
        retry_after: retry_after_secs(wait),
    }
}

/// Refuses a valid key on a route outside its scopes: 403, no unit spent, and not a failed key
/// (the throttle counts guesses, and this is no guess).
fn refuse_scope(req: &HttpRequest, entry: &KeyEntry, scope: Scope) -> ApiError {
    log::warn!(
        target: AUTH_LOG,
        "not enough permissions: key id {} lacks scope {} for {} {}",
        entry.id,
        scope.as_str(),
        req.method(),
        loggable_path(req.path())
    );
    ApiError::NotEnoughPermissions
}

/// Logs a refused request: the reason and the key's id where known, never the key.
fn log_refusal(req: &HttpRequest, client: Option<IpAddr>, reason: &str, key_id: Option<&str>) {
    log::warn!(
        target: AUTH_LOG,
        "authentication failed: {reason} (key id {}) from {} on {} {}",
        key_id.unwrap_or("-"),
        client.map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
        req.method(),
        loggable_path(req.path())
    );
}
