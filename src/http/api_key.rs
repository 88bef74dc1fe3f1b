//! The `ApiKey` extractor: FastAPI's `Depends(verify_api_key)`, listed on every protected handler.
//! The work is done before the handler's extractors run, by [`Authorize`](super::Authorize):
//! `ApiKey` reads its outcome.

use std::fmt;
use std::future::{ready, Ready};
use std::rc::Rc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use super::authorize::AuthenticatedKey;
use crate::auth::KeyEntry;
use crate::error::ApiError;
use crate::limits::QuotaState;
use crate::paths::loggable_path;

pub use super::credentials::API_KEY_HEADER;

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
///
/// It shares the authorization step's outcome with the request (an `Rc`: the key's entry is an
/// `Arc` every worker holds, and counting one more reference to it on every request made the
/// workers write to one cache line).
#[derive(Clone)]
pub struct ApiKey(Rc<AuthenticatedKey>);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("entry", &self.0.entry)
            .field("quota", &self.0.quota)
            .finish()
    }
}

impl ApiKey {
    /// The id of the key that authenticated this request.
    pub fn id(&self) -> &str {
        &self.0.entry.id
    }

    /// Everything the store knows about this key: owner, expiry, limits (never the key itself).
    pub fn entry(&self) -> &KeyEntry {
        &self.0.entry
    }

    /// The key's quota as this request left it (after its arrival unit, on a metered route).
    pub fn quota(&self) -> QuotaState {
        self.0.quota
    }
}

impl FromRequest for ApiKey {
    type Error = ApiError;
    /// Always ready: the route's authorization step ran before any extractor.
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let extensions = req.extensions();
        let Some(authorized) = extensions.get::<Rc<AuthenticatedKey>>() else {
            // Only a route the table calls public and whose handler lists `ApiKey` gets here;
            // the route-table test catches it.
            log::error!(
                "ApiKey on {}, a route with no authorization step",
                loggable_path(req.path())
            );
            return ready(Err(ApiError::Internal));
        };
        ready(Ok(ApiKey(Rc::clone(authorized))))
    }
}
