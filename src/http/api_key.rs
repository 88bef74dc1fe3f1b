//! The `ApiKey` extractor: FastAPI's `Depends(verify_api_key)`, listed on every protected handler.

use std::future::{ready, Ready};
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::HeaderName;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use time::OffsetDateTime;

use crate::auth::{KeyEntry, KeyRefusal, KeyStore, Verdict};
use crate::error::{ApiError, Limit};
use crate::limits::{retry_after_secs, AuthThrottle, TrustedProxies};
use crate::paths::{loggable_path, RouteLabel};

/// The header that carries the key (matched case-insensitively, as every HTTP header is).
pub const API_KEY_HEADER: &str = "x-api-key";

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
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
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

/// The header, the throttle, the store: one reading of the key, and its verdict.
fn authenticate(req: &HttpRequest) -> Result<ApiKey, ApiError> {
    let (Some(store), Some(throttle)) = (
        req.app_data::<web::Data<KeyStore>>(),
        req.app_data::<web::Data<AuthThrottle>>(),
    ) else {
        log::error!("no KeyStore or AuthThrottle in app data: refusing every key");
        return Err(ApiError::Internal);
    };
    // A constant name: looking a header up by `&str` parses the name again on every request.
    const HEADER: HeaderName = HeaderName::from_static(API_KEY_HEADER);
    let mut values = req.headers().get_all(HEADER);
    let first = values.next();
    if values.next().is_some() {
        log_refusal(req, client_address(req), "duplicate X-API-Key header", None);
        return Err(ApiError::DuplicateKey);
    }
    let presented = first.map(|v| v.as_bytes().trim_ascii()).unwrap_or_default();
    if presented.is_empty() {
        // No key guesses nothing: a throttled address without one still gets the 401 that says
        // what is missing (authentication is answered before any limit).
        log_refusal(req, client_address(req), "missing key", None);
        return Err(ApiError::MissingKey);
    }
    // The client's address is worked out only when it is needed: a refusal, or a throttle
    // that tracks someone.
    if throttle.is_tracking() {
        let client = client_address(req);
        if let Some(wait) = client.and_then(|ip| throttle.blocked(ip)) {
            log_refusal(req, client, "throttled after too many failed keys", None);
            return Err(ApiError::RateLimited {
                cause: Limit::AuthFailures,
                retry_after: retry_after_secs(wait),
            });
        }
    }
    // The body never says why a key was refused; the log does.
    let (refusal, why, refused) = match store.snapshot().verify(presented, OffsetDateTime::now_utc)
    {
        Verdict::Valid(entry) => {
            check_scope(req, &entry)?;
            req.extensions_mut()
                .insert(AuthenticatedKey(Arc::clone(&entry)));
            return Ok(ApiKey { entry });
        }
        Verdict::Unknown => (KeyRefusal::Unknown, "unknown key", None),
        Verdict::Expired(e) => (KeyRefusal::Expired, "expired key", Some(e)),
        Verdict::Disabled(e) => (KeyRefusal::Disabled, "disabled key", Some(e)),
    };
    let client = client_address(req);
    log_refusal(req, client, why, refused.as_ref().map(|e| e.id.as_str()));
    // A wrong key is a guess: counted against the address that sent it.
    if let Some(ip) = client {
        throttle.record_failure(ip);
    }
    Err(ApiError::InvalidKey(refusal))
}

/// Refuses a valid key on a route outside its scopes: 403, no unit spent (the key is not left for
/// `Metered`), and not a failed key (the throttle counts guesses, and this is no guess).
fn check_scope(req: &HttpRequest, entry: &KeyEntry) -> Result<(), ApiError> {
    let Some(scope) = req.app_data::<RouteLabel>().and_then(|route| route.0.scope) else {
        return Ok(());
    };
    if entry.allows(scope) {
        return Ok(());
    }
    // An authenticated answer: its RateLimit headers show the quota, untouched.
    super::show_quota(req, entry);
    log::warn!(
        target: AUTH_LOG,
        "not enough permissions: key id {} lacks scope {} for {} {}",
        entry.id,
        scope.as_str(),
        req.method(),
        loggable_path(req.path())
    );
    Err(ApiError::NotEnoughPermissions)
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
