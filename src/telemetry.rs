//! OpenTelemetry traces (cargo feature `otel`, off by default): a server span per request that
//! continues the caller's W3C `traceparent`, child spans around the key check, Redis calls and
//! inference, exported as OTLP/HTTP JSON to `OTEL_EXPORTER_OTLP_ENDPOINT`.
//!
//! Hand-written rather than the `opentelemetry` SDK: the SDK's batch processor drops spans when
//! its queue is full but exposes no count of them for `/metrics`, and its context must be attached
//! around every poll of an actix future anyway (as `log_context` does for the request id). What is
//! left is a bounded queue, one exporter thread and a JSON document; the only client is reqwest,
//! already in the tree for the `client` feature.
//!
//! A request never waits on tracing: a finished span is offered to a bounded queue
//! (`OTEL_BSP_MAX_QUEUE_SIZE`) and dropped, and counted, when it is full; the exporter thread
//! posts batches on its own runtime, and sends what is left when the server stops (`flush`),
//! within `FLUSH_BOUND`. Attributes are route templates, statuses, key ids and model
//! names only: never a key, a text or a raw path.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::http::header::HeaderMap;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounter, IntCounterVec, Opts};

/// The `OTEL_*` settings this service reads (the standard names).
#[derive(Clone, PartialEq, Eq)]
pub struct OtelSettings {
    /// Where spans are posted: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`.
    pub traces_endpoint: String,
    /// `service.name` (`OTEL_SERVICE_NAME`, default `sentiment-api`).
    pub service_name: String,
    /// Extra request headers for the collector (`OTEL_EXPORTER_OTLP_HEADERS`, `k=v,k=v`); may
    /// hold credentials, so never shown.
    pub headers: Vec<(String, String)>,
    /// Bound on one export (`OTEL_EXPORTER_OTLP_TIMEOUT`, ms, default 10000).
    pub timeout: Duration,
    /// Finished spans waiting for export before new ones are dropped (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub max_queue: usize,
    /// Longest a span waits before its batch is sent (`OTEL_BSP_SCHEDULE_DELAY`, ms, default 5000).
    pub schedule_delay: Duration,
    /// Most spans in one export (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512).
    pub max_batch: usize,
}

impl std::fmt::Debug for OtelSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelSettings")
            .field("traces_endpoint", &redacted(&self.traces_endpoint))
            .field("service_name", &self.service_name)
            .field(
                "headers",
                &format_args!("[{} redacted]", self.headers.len()),
            )
            .finish_non_exhaustive()
    }
}

impl OtelSettings {
    /// The settings `lookup` gives; `None` when no endpoint is set or `OTEL_SDK_DISABLED=true`.
    /// An error names the variable and the problem (never a header's value).
    pub fn from_lookup<F>(lookup: F) -> Result<Option<Self>, (&'static str, String)>
    where
        F: Fn(&'static str) -> Result<Option<String>, (&'static str, String)>,
    {
        let set = |name| -> Result<Option<String>, (&'static str, String)> {
            Ok(lookup(name)?.filter(|v| !v.trim().is_empty()))
        };
        if set("OTEL_SDK_DISABLED")?.is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let traces_endpoint = match (
            set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")?,
            set("OTEL_EXPORTER_OTLP_ENDPOINT")?,
        ) {
            (Some(url), _) => url.trim().to_owned(),
            (None, Some(base)) => format!("{}/v1/traces", base.trim().trim_end_matches('/')),
            (None, None) => return Ok(None),
        };
        if !(traces_endpoint.starts_with("http://") || traces_endpoint.starts_with("https://")) {
            return Err((
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!(
                    "cannot use {:?}: give an http:// or https:// URL",
                    redacted(&traces_endpoint)
                ),
            ));
        }
        for name in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(protocol) = set(name)? {
                if protocol.trim() != "http/json" {
                    return Err((
                        name,
                        format!("cannot use {protocol:?}: this service exports http/json only"),
                    ));
                }
            }
        }
        let headers = match set("OTEL_EXPORTER_OTLP_HEADERS")? {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .filter(|h| !h.trim().is_empty())
                .map(|h| {
                    let (k, v) = h.split_once('=').ok_or((
                        "OTEL_EXPORTER_OTLP_HEADERS",
                        "give key=value pairs separated by commas".to_owned(),
                    ))?;
                    Ok((k.trim().to_owned(), v.trim().to_owned()))
                })
                .collect::<Result<_, _>>()?,
        };
        let number = |name: &'static str, default: u64| -> Result<u64, (&'static str, String)> {
            match set(name)? {
                None => Ok(default),
                Some(raw) => raw.trim().parse::<u64>().ok().filter(|n| *n > 0).ok_or((
                    name,
                    format!("cannot use {raw:?}: give a whole number above 0"),
                )),
            }
        };
        Ok(Some(OtelSettings {
            traces_endpoint,
            service_name: set("OTEL_SERVICE_NAME")?.unwrap_or_else(|| "sentiment-api".into()),
            headers,
            timeout: Duration::from_millis(number("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000)?),
            max_queue: number("OTEL_BSP_MAX_QUEUE_SIZE", 2048)? as usize,
            schedule_delay: Duration::from_millis(number("OTEL_BSP_SCHEDULE_DELAY", 5000)?),
            max_batch: number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)? as usize,
        }))
    }

    /// The endpoint without user info or query, for the start's log line.
    pub fn endpoint_for_log(&self) -> String {
        redacted(&self.traces_endpoint)
    }
}

/// `url` without `user:password@`, query or fragment, for a log line or an error. Errs on the side
/// of hiding: everything up to the last `@` goes (a password may hold `/`, `?` or `#` unescaped in
/// a mistyped URL), with or without a scheme.
fn redacted(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let rest = rest.rsplit('@').next().unwrap_or_default();
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    match scheme {
        Some(scheme) => format!("{scheme}://{rest}"),
        None => rest.to_owned(),
    }
}

/// A span's identity: the trace it belongs to and its own id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace id (16 bytes, never all zero).
    pub trace_id: [u8; 16],
    /// The span id (8 bytes, never all zero).
    pub span_id: [u8; 8],
}

/// The caller's span from a W3C `traceparent` header (`00-<trace>-<span>-<flags>`), and whether
/// it was sampled; `None` when absent or malformed (a new trace starts then).
pub fn parse_traceparent(headers: &HeaderMap) -> Option<(SpanContext, bool)> {
    let mut values = headers.get_all("traceparent");
    let value = values.next()?.to_str().ok()?.trim();
    if values.next().is_some() {
        return None;
    }
    let mut parts = value.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    // Version 00 has exactly four fields; a later version may append more (W3C, 4.3).
    if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
        return None;
    }
    let _ = hex::<1>(version)?;
    let trace_id = hex::<16>(trace)?;
    let span_id = hex::<8>(span)?;
    let flags = hex::<1>(flags)?;
    if trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    Some((SpanContext { trace_id, span_id }, flags[0] & 1 == 1))
}

/// `N` bytes from exactly `2N` lowercase hex digits.
fn hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let nibble = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn new_trace_id() -> [u8; 16] {
    *uuid::Uuid::new_v4().as_bytes()
}

fn new_span_id() -> [u8; 8] {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    // The first 6 bytes of a v4 UUID are random; never all zero, as W3C forbids that id.
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[..8]);
    id[7] |= 1;
    id
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string (route templates, key ids, model names: never a key or a text).
    Str(String),
    /// An integer (statuses).
    Int(i64),
}

/// A span that has ended, waiting for export.
#[derive(Debug, Clone)]
struct Finished {
    name: &'static str,
    kind: u8,
    context: SpanContext,
    parent: Option<[u8; 8]>,
    start: SystemTime,
    end: SystemTime,
    attributes: Vec<(&'static str, Value)>,
    error: bool,
}

/// What the exporter thread receives, in order.
enum Message {
    Span(Finished),
    /// Export what has arrived so far now, then answer (`flush`).
    Flush(SyncSender<()>),
}

/// The exporter, once `OTEL_EXPORTER_OTLP_ENDPOINT` has installed it.
struct Exporter {
    /// Unbounded as a channel (it allocates as spans arrive, not `max_queue` slots up front);
    /// `QUEUED` bounds it.
    queue: Sender<Message>,
    max_queue: usize,
}

static EXPORTER: OnceLock<Exporter> = OnceLock::new();
/// Spans sent to the exporter and not yet received by it.
static QUEUED: AtomicUsize = AtomicUsize::new(0);
static EXPORTED: AtomicU64 = AtomicU64::new(0);
static DROPPED_QUEUE_FULL: AtomicU64 = AtomicU64::new(0);
static DROPPED_EXPORT_FAILED: AtomicU64 = AtomicU64::new(0);
static EXPORTER_GONE: AtomicBool = AtomicBool::new(false);

/// Starts exporting spans per `settings` (once per process; a second call changes nothing and
/// returns false). Until this is called, spans cost nothing and go nowhere.
///
/// Everything that could stop the export for good is settled here, at start, so that it stops the
/// start instead: the HTTP client and its TLS roots (an `https://` endpoint with no usable CA
/// certificate is an error; `http://` needs none), the exporter's thread and runtime. The error
/// says what is wrong (never a header's value or the endpoint's user info).
pub fn install(settings: OtelSettings) -> Result<bool, String> {
    if EXPORTER.get().is_some() {
        return Ok(false);
    }
    let client = http_client(&settings)?;
    let max_queue = settings.max_queue;
    let (queue, spans) = channel();
    let (started, start) = sync_channel(1);
    std::thread::Builder::new()
        .name("otel-export".into())
        .spawn(move || {
            let runtime = match actix_rt::Runtime::new() {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = started.send(Err(format!("cannot start the exporter's runtime: {e}")));
                    return;
                }
            };
            let _ = started.send(Ok(()));
            export_loop(&runtime, &client, &settings, &spans);
        })
        .map_err(|e| format!("cannot start the exporter's thread: {e}"))?;
    start
        .recv()
        .map_err(|_| "the exporter's thread ended at start".to_owned())??;
    Ok(EXPORTER.set(Exporter { queue, max_queue }).is_ok())
}

fn enabled() -> bool {
    EXPORTER.get().is_some()
}

fn offer(span: Finished) {
    let Some(exporter) = EXPORTER.get() else {
        return;
    };
    // Taken before sending, so that concurrent offers cannot overshoot the bound.
    if QUEUED.fetch_add(1, Ordering::Relaxed) >= exporter.max_queue {
        QUEUED.fetch_sub(1, Ordering::Relaxed);
        DROPPED_QUEUE_FULL.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if exporter.queue.send(Message::Span(span)).is_err() {
        // The exporter thread is gone (it panicked): nothing more is exported.
        QUEUED.fetch_sub(1, Ordering::Relaxed);
        DROPPED_EXPORT_FAILED.fetch_add(1, Ordering::Relaxed);
        if !EXPORTER_GONE.swap(true, Ordering::Relaxed) {
            log::error!(
                "traces: the exporter has stopped; every span from now on is dropped (counted in \
                 otel_spans_dropped_total{{reason=\"export_failed\"}})"
            );
        }
    }
}

/// How long the process waits, once stopped, for its last spans to be exported (`flush`).
pub const FLUSH_BOUND: Duration = Duration::from_secs(5);

/// Exports the spans queued so far and waits for that export, at most `bound`; true when it
/// ended in time (accepted or not). Called once the server has stopped, so that the last
/// requests' spans are not lost with the process. Without an exporter, true at once.
pub fn flush(bound: Duration) -> bool {
    let Some(exporter) = EXPORTER.get() else {
        return true;
    };
    let (done, finished) = sync_channel(1);
    if exporter.queue.send(Message::Flush(done)).is_err() {
        return false;
    }
    finished.recv_timeout(bound).is_ok()
}

/// The exporter thread: gathers spans into batches (full, or `schedule_delay` after the first,
/// or at once on a flush) and posts each on its own runtime.
fn export_loop(
    runtime: &actix_rt::Runtime,
    client: &reqwest::Client,
    settings: &OtelSettings,
    spans: &Receiver<Message>,
) {
    let resource = resource_json(&settings.service_name);
    let mut warned = false;
    loop {
        let first = match spans.recv() {
            Ok(Message::Span(span)) => span,
            Ok(Message::Flush(done)) => {
                let _ = done.send(());
                continue;
            }
            Err(_) => return,
        };
        QUEUED.fetch_sub(1, Ordering::Relaxed);
        let deadline = Instant::now() + settings.schedule_delay;
        let mut batch = vec![first];
        let mut flush = None;
        while batch.len() < settings.max_batch {
            match spans.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Message::Span(span)) => {
                    QUEUED.fetch_sub(1, Ordering::Relaxed);
                    batch.push(span);
                }
                // Every span offered before the flush is in this batch or an earlier one.
                Ok(Message::Flush(done)) => {
                    flush = Some(done);
                    break;
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        let count = batch.len() as u64;
        match runtime.block_on(export(client, settings, document(&resource, &batch))) {
            Ok(()) => {
                EXPORTED.fetch_add(count, Ordering::Relaxed);
                warned = false;
            }
            Err(e) => {
                DROPPED_EXPORT_FAILED.fetch_add(count, Ordering::Relaxed);
                // One line per outage, not one per batch.
                if !warned {
                    log::warn!(
                        "traces: export to {} failed, {count} spans dropped (counted in \
                         otel_spans_dropped_total): {e}",
                        redacted(&settings.traces_endpoint),
                    );
                    warned = true;
                }
            }
        }
        if let Some(done) = flush {
            let _ = done.send(());
        }
    }
}

/// Posts one OTLP document; the error says why it was not accepted, without the URL (whose user
/// info may hold a password) or the headers.
async fn export(
    client: &reqwest::Client,
    settings: &OtelSettings,
    body: String,
) -> Result<(), String> {
    let mut request = client
        .post(&settings.traces_endpoint)
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in &settings.headers {
        request = request.header(k.as_str(), v.as_str());
    }
    match request.send().await {
        Ok(res) if res.status().is_success() => Ok(()),
        // Not followed (see `http_client`): a 3xx is a failed export too.
        Ok(res) => Err(format!("the collector answered {}", res.status())),
        Err(e) => {
            // reqwest's own line is "error sending request"; the causes say which (refused,
            // timed out, an unknown certificate issuer). None holds the URL.
            let e = e.without_url();
            let mut reason = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                let _ = write!(reason, ": {c}");
                cause = c.source();
            }
            Err(reason)
        }
    }
}

/// The HTTP client of the exporter. TLS roots only for an `https://` endpoint: a plain-HTTP
/// collector (a sidecar, a node agent) needs no CA certificate, which the scratch image has none
/// of; an `https://` one without them could never be verified, so that is an error now rather
/// than a failure at every export.
fn http_client(settings: &OtelSettings) -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let tls = if settings.traces_endpoint.starts_with("https://") {
        let verifier = rustls_platform_verifier::Verifier::new(provider).map_err(|e| {
            format!(
                "{} is https:// but no CA certificate could be loaded to verify the collector \
                 ({e}): mount a CA bundle and point SSL_CERT_FILE at it, or export to an \
                 http:// collector",
                redacted(&settings.traces_endpoint)
            )
        })?;
        tls.dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    } else {
        // Never used: plain HTTP makes no TLS connection, and a redirect is never followed.
        tls.with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        // A redirect is never followed: reqwest would re-send the spans, and every header of
        // OTEL_EXPORTER_OTLP_HEADERS but `authorization`, to whatever host it names, over plain
        // HTTP too. A collector's URL is configured, not discovered.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.timeout)
        .build()
        .map_err(|e| e.to_string())
}

fn resource_json(service_name: &str) -> serde_json::Value {
    serde_json::json!({
        "attributes": [
            {"key": "service.name", "value": {"stringValue": service_name}},
            {"key": "service.version", "value": {"stringValue": env!("CARGO_PKG_VERSION")}},
            {"key": "telemetry.sdk.name", "value": {"stringValue": "sentiment-api"}},
            {"key": "telemetry.sdk.language", "value": {"stringValue": "rust"}},
        ]
    })
}

fn nanos(t: SystemTime) -> String {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        .to_string()
}

/// The OTLP/JSON `ExportTraceServiceRequest` of `spans` (ids in hex, times as decimal strings,
/// as the OTLP JSON mapping says).
fn document(resource: &serde_json::Value, spans: &[Finished]) -> String {
    let spans: Vec<serde_json::Value> = spans
        .iter()
        .map(|s| {
            let attributes: Vec<serde_json::Value> = s
                .attributes
                .iter()
                .map(|(key, value)| {
                    let value = match value {
                        Value::Str(v) => serde_json::json!({"stringValue": v}),
                        Value::Int(v) => serde_json::json!({"intValue": v.to_string()}),
                    };
                    serde_json::json!({"key": key, "value": value})
                })
                .collect();
            let mut span = serde_json::json!({
                "traceId": to_hex(&s.context.trace_id),
                "spanId": to_hex(&s.context.span_id),
                "name": s.name,
                "kind": s.kind,
                "startTimeUnixNano": nanos(s.start),
                "endTimeUnixNano": nanos(s.end),
                "attributes": attributes,
                "status": {"code": if s.error { 2 } else { 0 }},
            });
            if let Some(parent) = s.parent {
                span["parentSpanId"] = to_hex(&parent).into();
            }
            span
        })
        .collect();
    serde_json::json!({
        "resourceSpans": [{
            "resource": resource,
            "scopeSpans": [{
                "scope": {"name": "sentiment-api", "version": env!("CARGO_PKG_VERSION")},
                "spans": spans,
            }],
        }]
    })
    .to_string()
}

const KIND_INTERNAL: u8 = 1;
const KIND_SERVER: u8 = 2;
const KIND_CLIENT: u8 = 3;

/// What the request being polled on this thread lets its child spans see and add to.
#[derive(Clone)]
struct Current {
    context: SpanContext,
    /// The model the request was scored with, for the server span.
    model: Rc<Cell<Option<&'static str>>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// A request's server span, from arrival to answer. Made by the middleware; a no-op (no
/// allocation, nothing recorded) while no exporter is installed or the caller did not sample.
pub struct RequestSpan {
    inner: Option<(Current, Option<[u8; 8]>, SystemTime)>,
}

impl RequestSpan {
    /// Starts the span of a request with these headers: a child of the caller's `traceparent`
    /// when there is one (and dropped when the caller did not sample it), else a new trace. A
    /// `probe` (health checks, scrapes: several a second from orchestrators) is traced only
    /// when its caller sends a `traceparent`.
    pub fn start(headers: &HeaderMap, probe: bool) -> Self {
        if !enabled() {
            return RequestSpan { inner: None };
        }
        let (trace_id, parent) = match parse_traceparent(headers) {
            Some((_, false)) => return RequestSpan { inner: None },
            Some((caller, true)) => (caller.trace_id, Some(caller.span_id)),
            None if probe => return RequestSpan { inner: None },
            None => (new_trace_id(), None),
        };
        let current = Current {
            context: SpanContext {
                trace_id,
                span_id: new_span_id(),
            },
            model: Rc::default(),
        };
        RequestSpan {
            inner: Some((current, parent, SystemTime::now())),
        }
    }

    /// Runs `future` with this span as the parent of every span started while it is polled.
    pub async fn scope<F: Future>(&self, future: F) -> F::Output {
        let Some((current, _, _)) = &self.inner else {
            return future.await;
        };
        let mut future = pin!(future);
        std::future::poll_fn(|cx| {
            let outer = CURRENT.with_borrow_mut(|c| c.replace(current.clone()));
            let _restore = Restore(outer);
            future.as_mut().poll(cx)
        })
        .await
    }

    /// Ends the span with what the answer says: method, route template (never the raw path),
    /// status, key id and model.
    pub fn end(self, method: &str, route: Option<&'static str>, status: u16, key_id: Option<&str>) {
        let Some((current, parent, start)) = self.inner else {
            return;
        };
        let mut attributes = vec![
            (
                "http.request.method",
                Value::Str(known_method(method).to_owned()),
            ),
            ("http.response.status_code", Value::Int(i64::from(status))),
        ];
        if let Some(route) = route {
            attributes.push(("http.route", Value::Str(route.to_owned())));
        }
        if let Some(key_id) = key_id {
            attributes.push(("sentiment.key_id", Value::Str(key_id.to_owned())));
        }
        if let Some(model) = current.model.get() {
            attributes.push(("sentiment.model", Value::Str(model.to_owned())));
        }
        offer(Finished {
            name: route.unwrap_or("unmatched"),
            kind: KIND_SERVER,
            context: current.context,
            parent,
            start,
            end: SystemTime::now(),
            attributes,
            error: status >= 500,
        });
    }
}

/// `method` if it is one of HTTP's registered methods, else `_OTHER` (OpenTelemetry's semantic
/// conventions): any token is a valid method, and the caller's own must not reach the collector.
fn known_method(method: &str) -> &str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("_OTHER")
}

/// Puts the outer request's context back when a poll ends (even by a panic).
struct Restore(Option<Current>);

impl Drop for Restore {
    fn drop(&mut self) {
        let outer = self.0.take();
        CURRENT.with_borrow_mut(|c| *c = outer);
    }
}

/// A child span of the request being polled on this thread, ended when dropped: hold it around
/// the call it times. Outside a traced request it is a no-op.
#[must_use = "the span ends when this is dropped"]
pub struct Span {
    inner: Option<Box<Finished>>,
}

/// Starts a child span `name` of the current request (internal work).
pub fn span(name: &'static str) -> Span {
    start(name, KIND_INTERNAL)
}

/// Starts a child span `name` of the current request for a call to another service (Redis).
pub fn client_span(name: &'static str) -> Span {
    start(name, KIND_CLIENT)
}

fn start(name: &'static str, kind: u8) -> Span {
    let inner = CURRENT.with_borrow(|current| {
        current.as_ref().map(|current| {
            Box::new(Finished {
                name,
                kind,
                context: SpanContext {
                    trace_id: current.context.trace_id,
                    span_id: new_span_id(),
                },
                parent: Some(current.context.span_id),
                start: SystemTime::now(),
                end: SystemTime::UNIX_EPOCH,
                attributes: Vec::new(),
                error: false,
            })
        })
    });
    Span { inner }
}

impl Span {
    /// Adds an attribute (never a key or a text).
    pub fn set(&mut self, key: &'static str, value: &str) {
        if let Some(span) = &mut self.inner {
            span.attributes.push((key, Value::Str(value.to_owned())));
        }
    }

    /// Marks the span failed.
    pub fn fail(&mut self) {
        if let Some(span) = &mut self.inner {
            span.error = true;
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(mut span) = self.inner.take() {
            span.end = SystemTime::now();
            offer(*span);
        }
    }
}

/// Records the model the current request is scored with, on its server span.
pub fn record_model(name: &'static str) {
    CURRENT.with_borrow(|current| {
        if let Some(current) = current {
            current.model.set(Some(name));
        }
    });
}

/// The exporter's counters as Prometheus series: `otel_spans_exported_total` and
/// `otel_spans_dropped_total{reason="queue_full"|"export_failed"}`.
pub struct SpanCounters {
    exported: IntCounter,
    dropped: IntCounterVec,
}

impl SpanCounters {
    /// The collector; register it once.
    pub fn new() -> Self {
        SpanCounters {
            exported: IntCounter::new(
                "otel_spans_exported_total",
                "Spans the trace collector accepted.",
            )
            .expect("valid metric"),
            dropped: IntCounterVec::new(
                Opts::new(
                    "otel_spans_dropped_total",
                    "Spans dropped: the export queue was full, or the collector refused or did \
                     not answer.",
                ),
                &["reason"],
            )
            .expect("valid metric"),
        }
    }
}

impl Default for SpanCounters {
    fn default() -> Self {
        Self::new()
    }
}

impl Collector for SpanCounters {
    fn desc(&self) -> Vec<&Desc> {
        let mut desc = self.exported.desc();
        desc.extend(self.dropped.desc());
        desc
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let sync = |counter: &IntCounter, total: &AtomicU64| {
            let total = total.load(Ordering::Relaxed);
            counter.inc_by(total.saturating_sub(counter.get()));
        };
        sync(&self.exported, &EXPORTED);
        sync(
            &self.dropped.with_label_values(&["queue_full"]),
            &DROPPED_QUEUE_FULL,
        );
        sync(
            &self.dropped.with_label_values(&["export_failed"]),
            &DROPPED_EXPORT_FAILED,
        );
        let mut families = self.exported.collect();
        families.extend(self.dropped.collect());
        families
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(traceparent: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static("traceparent"),
            HeaderValue::from_str(traceparent).unwrap(),
        );
        h
    }

    #[test]
    fn a_valid_traceparent_is_continued() {
        let (ctx, sampled) = parse_traceparent(&headers(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ))
        .unwrap();
        assert_eq!(to_hex(&ctx.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(to_hex(&ctx.span_id), "00f067aa0ba902b7");
        assert!(sampled);
    }

    #[test]
    fn malformed_traceparents_start_a_new_trace() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse_traceparent(&headers(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn settings_follow_the_standard_variables() {
        let lookup = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &'static str| {
                Ok(vars
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string()))
            }
        };
        assert_eq!(OtelSettings::from_lookup(lookup(&[])).unwrap(), None);
        let s = OtelSettings::from_lookup(lookup(&[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://user:pw@collector:4318/",
            ),
            ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer s3cret"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(s.traces_endpoint, "http://user:pw@collector:4318/v1/traces");
        assert_eq!(s.endpoint_for_log(), "http://collector:4318/v1/traces");
        assert_eq!(s.service_name, "sentiment-api");
        assert!(!format!("{s:?}").contains("s3cret") && !format!("{s:?}").contains("pw"));
        let off = OtelSettings::from_lookup(lookup(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ]));
        assert_eq!(off.unwrap(), None);
        for (vars, variable) in [
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ][..],
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")][..],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                    ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
                ][..],
                "OTEL_BSP_MAX_QUEUE_SIZE",
            ),
        ] {
            let vars: &'static [(&'static str, &'static str)] = vars;
            assert_eq!(
                OtelSettings::from_lookup(lookup(vars)).unwrap_err().0,
                variable
            );
        }
    }

    #[test]
    fn the_endpoints_user_info_never_reaches_a_log_line_or_an_error() {
        for (url, shown) in [
            (
                "http://user:s3cret@collector:4318/v1/traces",
                "http://collector:4318/v1/traces",
            ),
            (
                "https://user:s3c@ret@collector/v1/traces",
                "https://collector/v1/traces",
            ),
            // Mistyped (unescaped) passwords: the URL is invalid, the password still secret.
            (
                "http://user:s3c/ret@collector/v1/traces",
                "http://collector/v1/traces",
            ),
            (
                "http://user:s3c?ret@collector/v1/traces",
                "http://collector/v1/traces",
            ),
            (
                "http://user:s3c#ret@collector/v1/traces",
                "http://collector/v1/traces",
            ),
            ("user:s3cret@collector:4318", "collector:4318"),
            (
                "http://collector/v1/traces?token=s3cret",
                "http://collector/v1/traces",
            ),
            (
                "http://collector:4318/v1/traces",
                "http://collector:4318/v1/traces",
            ),
        ] {
            assert_eq!(redacted(url), shown, "{url}");
        }
        // Every line that prints the endpoint goes through `redacted`: the start's line, the
        // settings' Debug, the error of a URL that is not http(s)://.
        let lookup = |endpoint: &'static str| {
            move |name: &'static str| {
                Ok((name == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| endpoint.to_owned()))
            }
        };
        let s = OtelSettings::from_lookup(lookup("https://user:s3cret@collector:4318"))
            .unwrap()
            .unwrap();
        assert_eq!(s.endpoint_for_log(), "https://collector:4318/v1/traces");
        assert!(!format!("{s:?}").contains("s3cret"));
        for bad in ["user:s3cret@collector:4318", "ftp://user:s3cret@collector"] {
            let (variable, problem) = OtelSettings::from_lookup(lookup(bad)).unwrap_err();
            assert_eq!(variable, "OTEL_EXPORTER_OTLP_ENDPOINT");
            assert!(
                problem.contains("collector") && !problem.contains("s3cret"),
                "{problem}"
            );
        }
    }

    #[test]
    fn the_document_uses_otlp_json_ids_and_times() {
        let span = Finished {
            name: "/predict",
            kind: KIND_SERVER,
            context: SpanContext {
                trace_id: [0xab; 16],
                span_id: [0x01; 8],
            },
            parent: Some([0x02; 8]),
            start: UNIX_EPOCH + Duration::from_nanos(5),
            end: UNIX_EPOCH + Duration::from_nanos(7),
            attributes: vec![("http.response.status_code", Value::Int(200))],
            error: false,
        };
        let doc: serde_json::Value =
            serde_json::from_str(&document(&resource_json("svc"), &[span])).unwrap();
        let s = &doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(s["traceId"], "abababababababababababababababab");
        assert_eq!(s["parentSpanId"], "0202020202020202");
        assert_eq!(s["startTimeUnixNano"], "5");
        assert_eq!(s["attributes"][0]["value"]["intValue"], "200");
        assert_eq!(
            doc["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "svc"
        );
    }
}
