//! Request-wide concerns: the access log and turning a handler panic into a 500 JSON answer.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use futures_util::FutureExt;

use crate::auth::AuthenticatedKeyId;
use crate::error::ApiError;

/// One line per request: peer, method, path (never the query string, which may carry secrets
/// by mistake), status, latency and the key id or `-`.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let peer = req
        .peer_addr()
        .map_or_else(|| "-".to_owned(), |a| a.ip().to_string());
    let method = req.method().clone();
    let path = req.path().to_owned();
    let result = next.call(req).await;
    let status = match &result {
        Ok(res) => res.status(),
        Err(err) => err.as_response_error().status_code(),
    };
    let key_id = result.as_ref().ok().and_then(|res| {
        res.request()
            .extensions()
            .get::<AuthenticatedKeyId>()
            .map(|k| k.0.clone())
    });
    // The error's Display names what went wrong (never input text or key material).
    let error = match &result {
        Ok(res) => res.response().error().map(ToString::to_string),
        Err(err) => Some(err.to_string()),
    };
    log::info!(
        target: "sentiment_api::access",
        "{peer} \"{method} {path}\" {} {:.3}ms key={}{}{}",
        status.as_u16(),
        started.elapsed().as_secs_f64() * 1e3,
        key_id.as_deref().unwrap_or("-"),
        if error.is_some() { " error=" } else { "" },
        error.as_deref().unwrap_or(""),
    );
    result
}

/// Answers 500 `{"detail":"Internal Server Error"}` when a handler panics, and keeps serving.
///
/// The error is returned rather than a response built here: the request must not be cloned
/// before routing (actix needs it uniquely owned), and actix answers an error with its JSON body.
pub async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let method = req.method().clone();
    let path = req.path().to_owned();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            log::error!(
                "handler panicked on {method} {path}: {}",
                panic_message(&*panic)
            );
            Err(ApiError::Internal.into())
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
