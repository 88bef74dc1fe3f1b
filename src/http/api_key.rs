//! The `ApiKey` extractor: FastAPI's `Depends(verify_api_key)`, listed on every protected handler.

use std::future::{ready, Ready};
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{Either, LocalBoxFuture};
use time::OffsetDateTime;

use super::credentials::{self, Presented};
use super::metered::{leave_quota, overrides, SharedCharge, WantsUnit};
use crate::auth::{KeyEntry, KeyRefusal, KeyStore, Verdict};
use crate::error::{ApiError, Limit};
use crate::limits::{retry_after_secs, AuthThrottle, KeyAdmission, SharedLimits, TrustedProxies};
use crate::paths::{loggable_path, RouteLabel, Scope};

/// The log target of refused authentications (kept stable for `RUST_LOG` filters).
pub const AUTH_LOG: &str = "sentiment_api::auth";

/// An authenticated caller: list it as a handler parameter and the handler runs only with a valid key.
///
/// The counterpart of FastAPI's `Depends(verify_api_key)`:
///
/// ```no_run
/// use actix_web::HttpResponse;
/// use sentiment_api::http::ApiKey;
///
/// async fn whoami(key: ApiKey) -> HttpResponse {
///     HttpResponse::Ok().body(key.id().to_owned())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ApiKey {
    entry: Arc<KeyEntry>,
}

impl ApiKey {
    /// The id of the key that authenticated this request.
    pub fn id(&self) -> &str {
        &self.entry.id
    }

    /// Everything the store knows about this key: owner, expiry, limits (never the key itself).
    pub fn entry(&self) -> &KeyEntry {
        &self.entry
    }
}

/// The authenticated key, left in the request's extensions for the rate limiter and the access log.
#[derive(Debug, Clone)]
pub struct AuthenticatedKey(pub Arc<KeyEntry>);

impl FromRequest for ApiKey {
    type Error = ApiError;
    /// Answered at once in one process; with `REDIS_URL`, after one call to Redis.
    type Future = Either<
        Ready<Result<Self, Self::Error>>,
        LocalBoxFuture<'static, Result<Self, Self::Error>>,
    >;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        match req.app_data::<web::Data<SharedLimits>>() {
            None => Either::Left(ready(authenticate(req))),
            Some(shared) => {
                Either::Right(Box::pin(authenticate_shared(req.clone(), shared.clone())))
            }
        }
    }
}

/// The address a request is counted against: the peer, or the client a trusted proxy names.
pub fn client_address(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let Some(proxies) = req.app_data::<web::Data<TrustedProxies>>() else {
        return Some(peer);
    };
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|value| value.to_str().ok());
    Some(proxies.client(peer, forwarded))
}

/// The key as presented (`X-API-Key` or `Authorization: Bearer`, see `credentials`), or the
/// refusal of a request that presents none, or two.
fn presented_key(req: &HttpRequest) -> Result<&[u8], ApiError> {
    let (why, error) = match credentials::presented_key(req.headers()) {
        Presented::Key(key) => return Ok(key),
        // No key guesses nothing: a throttled address without one still gets the 401 that says
        // what is missing (authentication is answered before any limit).
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
    log_refusal(req, client_address(req), why, None);
    Err(error)
}

/// The store's verdict on a refused key: what the client is told, and what the log says.
fn refusal(verdict: Verdict) -> (KeyRefusal, &'static str, Option<Arc<KeyEntry>>) {
    match verdict {
        Verdict::Valid(_) | Verdict::Unknown => (KeyRefusal::Unknown, "unknown key", None),
        Verdict::Expired(e) => (KeyRefusal::Expired, "expired key", Some(e)),
        Verdict::Disabled(e) => (KeyRefusal::Disabled, "disabled key", Some(e)),
    }
}

fn throttled(req: &HttpRequest, client: Option<IpAddr>, wait: std::time::Duration) -> ApiError {
    log_refusal(req, client, "throttled after too many failed keys", None);
    ApiError::RateLimited {
        cause: Limit::AuthFailures,
        retry_after: retry_after_secs(wait),
    }
}

/// The header, the throttle, the store: one reading of the key, and its verdict.
fn authenticate(req: &HttpRequest) -> Result<ApiKey, ApiError> {
    let (Some(store), Some(throttle)) = (
        req.app_data::<web::Data<KeyStore>>(),
        req.app_data::<web::Data<AuthThrottle>>(),
    ) else {
        log::error!("no KeyStore or AuthThrottle in app data: refusing every key");
        return Err(ApiError::Internal);
    };
    let presented = presented_key(req)?;
    // The client's address is worked out only when it is needed: a refusal, or a throttle
    // that tracks someone.
    if throttle.is_tracking() {
        let client = client_address(req);
        if let Some(wait) = client.and_then(|ip| throttle.blocked(ip)) {
            return Err(throttled(req, client, wait));
        }
    }
    // The body never says why a key was refused; the log does.
    let verdict = store.snapshot().verify(presented, OffsetDateTime::now_utc);
    if let Verdict::Valid(entry) = verdict {
        check_scope(req, &entry)?;
        req.extensions_mut()
            .insert(AuthenticatedKey(Arc::clone(&entry)));
        return Ok(ApiKey { entry });
    }
    let (refusal, why, refused) = refusal(verdict);
    let client = client_address(req);
    log_refusal(req, client, why, refused.as_ref().map(|e| e.id.as_str()));
    // A wrong key is a guess: counted against the address that sent it.
    if let Some(ip) = client {
        throttle.record_failure(ip);
    }
    Err(ApiError::InvalidKey(refusal))
}

/// [`authenticate`] with the throttle and the limits in Redis: the key is checked here first,
/// then one script answers whether the address is throttled and, for a metered route, spends
/// the arrival unit (left for [`Metered`](super::Metered)), in one round trip.
async fn authenticate_shared(
    req: HttpRequest,
    shared: web::Data<SharedLimits>,
) -> Result<ApiKey, ApiError> {
    let Some(store) = req.app_data::<web::Data<KeyStore>>() else {
        log::error!("no KeyStore in app data: refusing every key");
        return Err(ApiError::Internal);
    };
    let verdict = store
        .snapshot()
        .verify(presented_key(&req)?, OffsetDateTime::now_utc);
    let client = client_address(&req);
    let Verdict::Valid(entry) = verdict else {
        let (refusal, why, refused) = refusal(verdict);
        if let Some(ip) = client {
            if let Some(wait) = shared.record_failure(ip).await.map_err(unavailable)? {
                return Err(throttled(&req, client, wait));
            }
        }
        log_refusal(&req, client, why, refused.as_ref().map(|e| e.id.as_str()));
        return Err(ApiError::InvalidKey(refusal));
    };
    let missing = missing_scope(&req, &entry);
    let units = u32::from(missing.is_none() && req.extensions().contains::<WantsUnit>());
    let admission = shared
        .admit(client, &entry.id, overrides(&entry), units)
        .await
        .map_err(unavailable)?;
    let (decision, paid_in) = match admission {
        KeyAdmission::Throttled(wait) => return Err(throttled(&req, client, wait)),
        KeyAdmission::Decided(decision, paid_in) => (decision, paid_in),
    };
    if let Some(scope) = missing {
        leave_quota(&req, decision.state());
        return Err(refuse_scope(&req, &entry, scope));
    }
    if units == 0 {
        // Spent nothing: the quota as it stands, for the headers and `/me`.
        leave_quota(&req, decision.state());
    } else {
        req.extensions_mut().insert(SharedCharge(decision, paid_in));
    }
    req.extensions_mut()
        .insert(AuthenticatedKey(Arc::clone(&entry)));
    Ok(ApiKey { entry })
}

/// Redis could not be asked and `REDIS_FAILURE_MODE=closed`: the 503.
fn unavailable(e: crate::redis_backend::Unavailable) -> ApiError {
    log::debug!("{e}: refusing (REDIS_FAILURE_MODE=closed)");
    ApiError::from(e)
}

/// The scope `entry` lacks for this route, if any.
fn missing_scope(req: &HttpRequest, entry: &KeyEntry) -> Option<Scope> {
    let scope = req.app_data::<RouteLabel>()?.0.scope?;
    (!entry.allows(scope)).then_some(scope)
}

/// Refuses a valid key on a route outside its scopes: 403, no unit spent (the key is not left for
/// `Metered`), and not a failed key (the throttle counts guesses, and this is no guess).
fn check_scope(req: &HttpRequest, entry: &KeyEntry) -> Result<(), ApiError> {
    let Some(scope) = missing_scope(req, entry) else {
        return Ok(());
    };
    // An authenticated answer: its RateLimit headers show the quota, untouched.
    super::show_quota(req, entry);
    Err(refuse_scope(req, entry, scope))
}

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
