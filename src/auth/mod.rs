//! API-key authentication: the `ApiKey` extractor, the key store and key generation.

mod generate;
pub mod key_file;
mod key_store;
mod reload;
mod secret;

pub use generate::{generate_key, KEY_PREFIX};
pub use key_store::{hash_key, KeyEntry, KeyHash, KeySet, KeyStore, Verdict};
pub use reload::{spawn_reloader, KeySource};
pub use secret::Secret;

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use time::OffsetDateTime;

use crate::error::ApiError;

/// The header that carries the key (matched case-insensitively, as every HTTP header is).
pub const API_KEY_HEADER: &str = "x-api-key";

/// An authenticated caller: list it as a handler parameter and the handler runs only with a valid key.
///
/// The counterpart of FastAPI's `Depends(verify_api_key)`:
///
/// ```no_run
/// use actix_web::HttpResponse;
/// use sentiment_api::auth::ApiKey;
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

/// The id of the authenticated key, left in the request's extensions for the access log.
#[derive(Debug, Clone)]
pub struct AuthenticatedKeyId(pub Arc<str>);

impl FromRequest for ApiKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<ApiKey, ApiError> {
    let Some(store) = req.app_data::<web::Data<KeyStore>>() else {
        log::error!("no KeyStore in app data: refusing every key");
        return Err(ApiError::Internal);
    };
    let mut values = req.headers().get_all(API_KEY_HEADER);
    let first = values.next();
    if values.next().is_some() {
        reject(req, "duplicate X-API-Key header", None);
        return Err(ApiError::DuplicateKey);
    }
    let presented = first.map(|v| v.as_bytes().trim_ascii()).unwrap_or_default();
    if presented.is_empty() {
        reject(req, "missing key", None);
        return Err(ApiError::MissingKey);
    }
    // The body never says why a key was refused; the log does.
    match store
        .snapshot()
        .verify(presented, OffsetDateTime::now_utc())
    {
        Verdict::Valid(entry) => {
            req.extensions_mut()
                .insert(AuthenticatedKeyId(Arc::from(entry.id.as_str())));
            Ok(ApiKey { entry })
        }
        Verdict::Unknown => {
            reject(req, "unknown key", None);
            Err(ApiError::InvalidKey)
        }
        Verdict::Expired(entry) => {
            reject(req, "expired key", Some(&entry.id));
            Err(ApiError::InvalidKey)
        }
        Verdict::Disabled(entry) => {
            reject(req, "disabled key", Some(&entry.id));
            Err(ApiError::InvalidKey)
        }
    }
}

/// Logs a failed authentication: the reason and the key's id where known, never the key.
fn reject(req: &HttpRequest, reason: &str, key_id: Option<&str>) {
    let peer = req
        .peer_addr()
        .map_or_else(|| "-".to_owned(), |a| a.ip().to_string());
    log::warn!(
        "authentication failed: {reason} (key id {}) from {peer} on {} {}",
        key_id.unwrap_or("-"),
        req.method(),
        req.path()
    );
}
