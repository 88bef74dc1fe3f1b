//! Request-wide concerns: the access log and turning a handler panic into a 500 JSON answer.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use futures_util::FutureExt;

use crate::auth::AuthenticatedKey;
use crate::error::{ApiError, Overload};
use crate::limits::{InFlight, QuotaState};
use crate::metrics::Metrics;

/// One line per request: peer, method, path (never the query string, which may carry secrets
/// by mistake), status, latency and the key id or `-`.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let logging = log::log_enabled!(target: "sentiment_api::access", log::Level::Info);
    // Formatted only when the line will be written: this runs on every request.
    let peer = if logging {
        req.peer_addr()
            .map_or_else(|| "-".to_owned(), |a| a.ip().to_string())
    } else {
        String::new()
    };
    let method = req.method().clone();
    let path = if logging {
        req.path().to_owned()
    } else {
        String::new()
    };
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let result = next.call(req).await;
    let elapsed = started.elapsed();
    let status = match &result {
        Ok(res) => res.status(),
        Err(err) => err.as_response_error().status_code(),
    };
    let error = match &result {
        Ok(res) => res.response().error(),
        Err(err) => Some(err),
    };
    if let Some(metrics) = metrics {
        let route = result
            .as_ref()
            .ok()
            .and_then(|r| r.request().match_pattern());
        let api_error = error.and_then(|e| e.as_error::<ApiError>());
        metrics.observe_request(route.as_deref(), &method, status, elapsed, api_error);
    }
    if !logging {
        return result;
    }
    let key_id = result.as_ref().ok().and_then(|res| {
        res.request()
            .extensions()
            .get::<AuthenticatedKey>()
            .map(|k| k.0.id.clone())
    });
    // The error's Display names what went wrong (never input text or key material).
    let error = error.map(ToString::to_string);
    log::info!(
        target: "sentiment_api::access",
        "{peer} \"{method} {path}\" {} {:.3}ms key={}{}{}",
        status.as_u16(),
        elapsed.as_secs_f64() * 1e3,
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

/// Paths that stay answerable under overload, so monitoring can see what is happening.
const NEVER_SHED: &[&str] = &["/health", "/metrics"];

/// Refuses a request at once with 503 when `MAX_CONCURRENT_REQUESTS` are already in flight.
pub async fn shed_load(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let in_flight = req.app_data::<web::Data<InFlight>>().cloned();
    let admission = match &in_flight {
        Some(cap) if !NEVER_SHED.contains(&req.path()) => match cap.try_admit() {
            Some(admission) => Some(admission),
            None => {
                log::warn!(
                    "overloaded: {} requests in flight, refusing {} {}",
                    cap.current(),
                    req.method(),
                    req.path()
                );
                return Err(ApiError::Overloaded {
                    cause: Overload::InFlight,
                    retry_after: 1,
                }
                .into());
            }
        },
        _ => None,
    };
    let result = next.call(req).await;
    drop(admission);
    result
}

/// Adds the IETF draft `RateLimit-Policy` and `RateLimit` headers to every response that
/// spent or looked at a key's quota.
pub async fn rate_limit_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    let state = res.request().extensions().get::<QuotaState>().copied();
    if let Some(state) = state {
        let policy = format!(
            "\"default\";q={};w={}",
            state.policy.limit,
            state.policy.window.as_secs()
        );
        let current = format!(
            "\"default\";r={};t={}",
            state.remaining,
            state.next_unit_secs()
        );
        let headers = res.headers_mut();
        for (name, value) in [("ratelimit-policy", policy), ("ratelimit", current)] {
            if let Ok(value) = HeaderValue::try_from(value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
    Ok(res)
}
