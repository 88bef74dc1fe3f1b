//! The one middleware every request passes through: admission under overload, the panic guard,
//! the headers every answer carries (request id, `RateLimit`, CORS, `Strict-Transport-Security`
//! over HTTPS when configured), the metrics and the access log.
//!
//! These used to be four `from_fn` layers; each boxed its own future and walked the request again,
//! which the load benchmark showed as a measurable share of a request's cost. One hand-written
//! layer does the same work in one pass, in the same order as before (outermost first): time and
//! log the request, admit it or refuse it with 503, catch a handler panic as a 500, add the quota
//! headers to the response.

use std::any::Any;
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::future::{ready, Ready};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use uuid::Uuid;

use crate::cors::CorsOrigins;
use crate::error::{ApiError, Overload};
use crate::http::{AuthenticatedKey, QuotaSlot};
use crate::limits::{InFlight, Policy, QuotaState};
use crate::log_context::InRequest;
use crate::metrics::MetricShard;
use crate::paths::{loggable_path, RouteLabel, NEVER_SHED, ROUTES};
use crate::quota::Usage;

/// The log target of the access log (one line per request at `info`).
pub const ACCESS_LOG: &str = "sentiment_api::access";

/// Wrap the app in this (`App::wrap(Frontdoor::new(..))`); see the module documentation.
pub struct Frontdoor {
    metrics: Arc<MetricShard>,
    in_flight: Arc<InFlight>,
    cors: Option<Arc<CorsOrigins>>,
    hsts_max_age: Option<u64>,
}

impl Frontdoor {
    /// The middleware over a worker's shard of the metrics, the service's in-flight cap, and the
    /// origins allowed to read answers (no CORS headers at all when `None`).
    pub fn new(
        metrics: Arc<MetricShard>,
        in_flight: Arc<InFlight>,
        cors: Option<Arc<CorsOrigins>>,
    ) -> Self {
        Frontdoor {
            metrics,
            in_flight,
            cors,
            hsts_max_age: None,
        }
    }

    /// Adds `Strict-Transport-Security: max-age=<seconds>` to every answer. Only for a server that
    /// speaks HTTPS: the header means nothing over plain HTTP (RFC 6797, 8.1).
    pub fn with_hsts(mut self, max_age: Option<u64>) -> Self {
        self.hsts_max_age = max_age;
        self
    }
}

/// What the middleware reads on every request, held once per worker: cloning an `Rc` per request
/// costs nothing, where cloning the shared `Arc`s made both workers write to the same cache lines.
struct Shared {
    metrics: Arc<MetricShard>,
    in_flight: Arc<InFlight>,
    cors: Option<Arc<CorsOrigins>>,
    /// The `Strict-Transport-Security` value, built once per worker.
    hsts: Option<HeaderValue>,
}

impl<S, B> Transform<S, ServiceRequest> for Frontdoor
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = FrontdoorService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(FrontdoorService {
            service: Rc::new(service),
            shared: Rc::new(Shared {
                metrics: Arc::clone(&self.metrics),
                in_flight: Arc::clone(&self.in_flight),
                cors: self.cors.clone(),
                hsts: self.hsts_max_age.map(|age| {
                    let mut digits = [0u8; 20];
                    let value = [b"max-age=", decimal(age, &mut digits)].concat();
                    HeaderValue::from_bytes(&value).unwrap_or(HeaderValue::from_static("max-age=0"))
                }),
            }),
        }))
    }
}

/// The service [`Frontdoor`] puts in front of the app.
pub struct FrontdoorService<S> {
    service: Rc<S>,
    shared: Rc<Shared>,
}

impl<S, B> Service<ServiceRequest> for FrontdoorService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = InRequest<LocalBoxFuture<'static, Result<ServiceResponse<B>, Error>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let shared = Rc::clone(&self.shared);
        let (id, replaced) = request_id_of(req.headers());
        // Visible ASCII only, by construction.
        let id_header = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("-"));
        let headers = Added {
            request_id: id_header,
            allow_origin: allowed_origin(shared.cors.as_deref(), req.headers()),
            hsts: shared.hsts.clone(),
            vary_origin: matches!(shared.cors.as_deref(), Some(CorsOrigins::Only(_))),
            quota: None,
            usage: None,
        };
        #[cfg(feature = "otel")]
        let trace = (
            crate::telemetry::RequestSpan::start(req.headers(), NEVER_SHED.contains(&req.path())),
            req.method().clone(),
        );
        let future = Box::pin(async move {
            if replaced {
                log::info!(
                    "X-Request-Id was not 1 to 128 visible ASCII characters; replaced with a new id"
                );
            }
            let started = Instant::now();
            let seen = Seen::of(&req);
            let (metrics, cap) = (&*shared.metrics, &*shared.in_flight);
            let admission = if NEVER_SHED.contains(&req.path()) {
                None
            } else {
                let Some(admission) = cap.try_admit() else {
                    log::warn!(
                        "overloaded: {} requests in flight, refusing {} {}",
                        cap.current(),
                        seen.method,
                        seen.path
                    );
                    let refused = Err(ApiError::Overloaded {
                        cause: Overload::InFlight,
                        retry_after: 1,
                    }
                    .into());
                    finish(&seen, started, metrics, &refused);
                    return decorate(refused, headers);
                };
                Some(admission)
            };
            let quota = QuotaSlot::default();
            req.extensions_mut().insert(quota.clone());
            let result = guarded(&*service, req, &seen).await;
            drop(admission);
            finish(&seen, started, metrics, &result);
            decorate(
                result,
                Added {
                    quota: quota.get(),
                    usage: quota.usage(),
                    ..headers
                },
            )
        });
        #[cfg(feature = "otel")]
        let future = Box::pin(traced(trace, future));
        InRequest::new(id, future)
    }
}

/// `future` under the request's server span, ended with the answer's route template, status and
/// key id (`src/telemetry.rs`).
#[cfg(feature = "otel")]
async fn traced<B, F>(
    (span, method): (crate::telemetry::RequestSpan, Method),
    future: F,
) -> Result<ServiceResponse<B>, Error>
where
    F: std::future::Future<Output = Result<ServiceResponse<B>, Error>>,
{
    let result = span.scope(future).await;
    let (status, route, key_id) = match &result {
        Ok(res) => (
            res.status(),
            res.request()
                .app_data::<RouteLabel>()
                .map(|label| label.0.path),
            res.request()
                .extensions()
                .get::<Rc<AuthenticatedKey>>()
                .map(|k| k.entry.id.clone()),
        ),
        Err(err) => (err.as_response_error().status_code(), None, None),
    };
    span.end(method.as_str(), route, status.as_u16(), key_id.as_deref());
    result
}

/// The header that names a request, the client's or one made for it.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id: the client's `X-Request-Id` when it is one value of 1 to 128 visible ASCII
/// characters, else a new UUID v4 (and `true` when a value was there but refused).
fn request_id_of(headers: &HeaderMap) -> (String, bool) {
    let mut values = headers.get_all(X_REQUEST_ID);
    match (values.next(), values.next()) {
        (Some(value), None)
            if is_request_id(value.as_bytes()) && !is_the_key(headers, value.as_bytes()) =>
        {
            (
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
                false,
            )
        }
        (None, _) => (new_request_id(), false),
        _ => (new_request_id(), true),
    }
}

/// A new UUID v4, written straight into its string (its `Display` goes through the formatter).
fn new_request_id() -> String {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    Uuid::new_v4()
        .hyphenated()
        .encode_lower(&mut text)
        .to_owned()
}

/// Whether `id` holds a key the request presents (in `X-API-Key` or as a Bearer token: a client
/// or proxy template that sends its key as the id, or in it, as `retry1-<key>`): such an id is
/// replaced, or the key would reach the answer's headers and every log line of the request.
fn is_the_key(headers: &HeaderMap, id: &[u8]) -> bool {
    crate::http::every_presented_key(headers)
        .filter(|key| key.len() <= id.len())
        .any(|key| id.windows(key.len()).any(|part| part == key))
}

fn is_request_id(bytes: &[u8]) -> bool {
    (1..=128).contains(&bytes.len()) && bytes.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// What every answer gets on its way out.
#[derive(Debug, Clone)]
struct Added {
    /// Its request's id.
    request_id: HeaderValue,
    /// `Access-Control-Allow-Origin`, for an origin `CORS_ALLOWED_ORIGINS` allows.
    allow_origin: Option<HeaderValue>,
    /// `Strict-Transport-Security`, over HTTPS with `HSTS_MAX_AGE`.
    hsts: Option<HeaderValue>,
    /// `Vary: Origin`: answers depend on the origin (a list of origins, not `*`).
    vary_origin: bool,
    /// The quota the request spent or looked at, for the `RateLimit` headers (the contract puts
    /// them on every authenticated answer, the 500 of a handler that panicked after paying too).
    quota: Option<QuotaState>,
    /// A key's day and month quotas, where it has any (issue 28): listed after `"default"`.
    usage: Option<Usage>,
}

impl Added {
    /// Taken by value: the values move into the answer. Cloning a header value made for this
    /// request (the request id) would allocate, as its bytes are not yet shared.
    fn apply(self, headers: &mut HeaderMap) {
        if let Some(state) = self.quota {
            add_quota_headers(headers, state);
            if let Some(usage) = &self.usage {
                append_usage_headers(headers, usage);
            }
        }
        headers.insert(X_REQUEST_ID, self.request_id);
        if let Some(hsts) = self.hsts {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts);
        }
        if let Some(origin) = self.allow_origin {
            const EXPOSED: HeaderValue = HeaderValue::from_static(
                "RateLimit, RateLimit-Policy, Retry-After, X-Request-Id, Location",
            );
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED);
        }
        if self.vary_origin {
            // With a list of origins the answer depends on the Origin, allowed or not: a shared
            // cache must not hand one origin's answer to another.
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

/// `Access-Control-Allow-Origin` for this request: `*` when any origin may read, the request's
/// own `Origin` when the list holds it, else none (and the browser keeps the answer from the
/// page).
fn allowed_origin(cors: Option<&CorsOrigins>, headers: &HeaderMap) -> Option<HeaderValue> {
    let cors = cors?;
    let origin = headers.get(header::ORIGIN)?;
    match cors {
        CorsOrigins::Any => Some(HeaderValue::from_static("*")),
        CorsOrigins::Only(_) => cors.allows(origin.to_str().ok()?).then(|| origin.clone()),
    }
}

/// Adds [`Added`] to the answer, whether the app answered or failed.
fn decorate<B>(
    result: Result<ServiceResponse<B>, Error>,
    added: Added,
) -> Result<ServiceResponse<B>, Error> {
    match result {
        Ok(mut res) => {
            added.apply(res.headers_mut());
            Ok(res)
        }
        Err(error) => Err(Decorated { error, added }.into()),
    }
}

/// What the middleware keeps of the request once it has been handed on.
struct Seen {
    method: Method,
    path: Cow<'static, str>,
    /// The peer address, only when the access log will be written.
    peer: Option<String>,
}

impl Seen {
    fn of(req: &ServiceRequest) -> Self {
        let logging = log::log_enabled!(target: ACCESS_LOG, log::Level::Info);
        Seen {
            method: req.method().clone(),
            path: static_path(req.path()),
            peer: logging.then(|| {
                req.peer_addr()
                    .map_or_else(|| "-".to_owned(), |a| a.ip().to_string())
            }),
        }
    }
}

/// The loggable form of `path` ([`loggable_path`]), kept past the request: a route's own path
/// (nearly every request) is borrowed from the route table rather than copied.
fn static_path(path: &str) -> Cow<'static, str> {
    match ROUTES
        .iter()
        .find(|route| route.path == path && !route.path.contains('{'))
    {
        Some(route) => Cow::Borrowed(route.path),
        None => Cow::Owned(loggable_path(path).into_owned()),
    }
}

/// Calls the app, turning a panic (in the call or while its future runs) into a 500 JSON answer.
///
/// The error is returned rather than a response built here: the request is not cloned before
/// routing (actix needs it uniquely owned), and actix answers an error with its JSON body.
async fn guarded<S, B>(
    service: &S,
    req: ServiceRequest,
    seen: &Seen,
) -> Result<ServiceResponse<B>, Error>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    let outcome = match panic::catch_unwind(AssertUnwindSafe(|| service.call(req))) {
        Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
        Err(panic) => Err(panic),
    };
    outcome.unwrap_or_else(|panic| {
        log::error!(
            "handler panicked on {} {}: {:?}",
            seen.method,
            seen.path,
            // Debug-escaped: a panic message may quote request text (newlines, terminal escapes),
            // which must not forge log lines.
            panic_message(&*panic)
        );
        Err(ApiError::Internal.into())
    })
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// An error answered with the headers [`decorate`] adds.
#[derive(Debug)]
struct Decorated {
    error: Error,
    added: Added,
}

impl fmt::Display for Decorated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for Decorated {
    fn status_code(&self) -> StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = self.error.error_response();
        self.added.clone().apply(res.headers_mut());
        res
    }
}

/// Adds the IETF draft `RateLimit-Policy` and `RateLimit` headers of `state`.
fn add_quota_headers(headers: &mut HeaderMap, state: QuotaState) {
    let policy = policy_header(state.policy);
    let current = quota_header(&[
        ("r", u64::from(state.remaining)),
        ("t", state.next_unit_secs()),
    ]);
    const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
    const CURRENT: HeaderName = HeaderName::from_static("ratelimit");
    headers.insert(POLICY, policy);
    headers.insert(CURRENT, current);
}

/// Appends a key's day and month quotas to the `RateLimit-Policy` and `RateLimit` lists, after
/// `"default"`: `"day";q=1000;w=86400` and `"day";r=997;t=<seconds to the period's end>`.
fn append_usage_headers(headers: &mut HeaderMap, usage: &Usage) {
    const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
    const CURRENT: HeaderName = HeaderName::from_static("ratelimit");
    let (policies, current) = crate::http::usage_items(usage);
    for (name, items) in [(POLICY, policies), (CURRENT, current)] {
        let mut value = headers
            .get(&name)
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default();
        value.extend_from_slice(items.as_bytes());
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            headers.insert(name, value);
        }
    }
}

/// The `RateLimit-Policy` value of `policy`. It changes only with the policy, so each worker
/// keeps the last one it wrote: a header value clones without allocating.
fn policy_header(policy: Policy) -> HeaderValue {
    thread_local! {
        static LAST: RefCell<Option<(Policy, HeaderValue)>> = const { RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((seen, value)) if *seen == policy => value.clone(),
        _ => {
            let value = quota_header(&[
                ("q", u64::from(policy.limit)),
                ("w", policy.window.as_secs()),
            ]);
            *last = Some((policy, value.clone()));
            value
        }
    })
}

/// `"default";a=1;b=2`, written without the formatting machinery: it is on every metered answer.
fn quota_header(params: &[(&str, u64); 2]) -> HeaderValue {
    // Two parameters of one letter and at most 20 digits each: 9 + 2 * 23 bytes at most.
    let mut value = [0u8; 64];
    let mut len = 0;
    let mut push = |bytes: &[u8]| {
        value[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    push(b"\"default\"");
    for (name, number) in params {
        push(b";");
        push(name.as_bytes());
        push(b"=");
        let mut digits = [0u8; 20];
        push(decimal(*number, &mut digits));
    }
    // Quotes, letters, digits, `;` and `=` only: always a valid header value.
    HeaderValue::from_bytes(&value[..len])
        .unwrap_or_else(|_| HeaderValue::from_static("\"default\""))
}

/// `number` in decimal, written into the end of `digits`.
fn decimal(mut number: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            return &digits[at..];
        }
    }
}

/// Records the request in the metrics and, when enabled, writes its access log line: peer,
/// method, path (never the query string, which may carry secrets by mistake), status, latency and
/// the key id or `-`.
fn finish<B>(
    seen: &Seen,
    started: Instant,
    metrics: &MetricShard,
    result: &Result<ServiceResponse<B>, Error>,
) {
    let elapsed = started.elapsed();
    let (status, error) = match result {
        Ok(res) => (res.status(), res.response().error()),
        Err(err) => (err.as_response_error().status_code(), Some(err)),
    };
    let route = result
        .as_ref()
        .ok()
        .and_then(|res| res.request().app_data::<RouteLabel>())
        .map(|label| label.0.path);
    let refusal = error
        .and_then(|e| e.as_error::<ApiError>())
        .and_then(ApiError::refusal);
    metrics.observe_request(
        route,
        seen.method.as_str(),
        status.as_u16(),
        elapsed,
        refusal,
    );
    let Some(peer) = &seen.peer else {
        return;
    };
    let key_id = result.as_ref().ok().and_then(|res| {
        res.request()
            .extensions()
            .get::<Rc<AuthenticatedKey>>()
            .map(|k| k.entry.id.clone())
    });
    log_line(peer, seen, route, status, elapsed, key_id, error);
}

fn log_line(
    peer: &str,
    seen: &Seen,
    route: Option<&str>,
    status: StatusCode,
    elapsed: Duration,
    key_id: Option<String>,
    error: Option<&Error>,
) {
    // The error's Display names what went wrong (never input text or key material).
    let error = error.map(ToString::to_string);
    // Milliseconds with three decimals (rounded), in integers: cheaper than formatting a float.
    let micros = (elapsed.as_nanos() + 500) / 1000;
    let latency_ms = elapsed.as_secs_f64() * 1e3;
    // The fields again, for structured logs (`LOG_FORMAT=json`); the text format shows the message.
    log::info!(
        target: ACCESS_LOG,
        peer = peer,
        method = seen.method.as_str(),
        route = route.unwrap_or("unmatched"),
        path = &*seen.path,
        status = status.as_u16(),
        latency_ms = latency_ms,
        key_id = key_id.as_deref().unwrap_or("-");
        "{peer} \"{} {}\" {} {}.{:03}ms key={}{}{}",
        seen.method,
        seen.path,
        status.as_u16(),
        micros / 1000,
        micros % 1000,
        key_id.as_deref().unwrap_or("-"),
        if error.is_some() { " error=" } else { "" },
        error.as_deref().unwrap_or(""),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_holding_the_key_anywhere_is_the_key() {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-api-key"),
            HeaderValue::from_static(" secret-key-123 "),
        );
        assert!(is_the_key(&headers, b"secret-key-123"));
        assert!(is_the_key(&headers, b"retry1-secret-key-123"));
        assert!(is_the_key(&headers, b"secret-key-123-2"));
        assert!(!is_the_key(&headers, b"secret-key-12"));
        assert!(!is_the_key(&HeaderMap::new(), b"anything"));
        let mut bearer = HeaderMap::new();
        bearer.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  secret-key-456"),
        );
        assert!(is_the_key(&bearer, b"retry1-secret-key-456"));
        assert!(!is_the_key(&bearer, b"bearer"));
    }

    #[test]
    fn quota_headers_read_as_the_ietf_draft_writes_them() {
        assert_eq!(
            quota_header(&[("q", 60), ("w", 60)]),
            "\"default\";q=60;w=60"
        );
        assert_eq!(
            quota_header(&[("r", 0), ("t", u64::MAX)]),
            "\"default\";r=0;t=18446744073709551615"
        );
        let state = QuotaState {
            policy: Policy {
                limit: 1_000_000_000,
                burst: 10,
                window: Duration::from_secs(60),
            },
            remaining: 7,
            next_unit_in: Duration::from_millis(1),
        };
        assert_eq!(state.next_unit_secs(), 1);
    }
}
