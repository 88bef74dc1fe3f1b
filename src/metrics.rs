//! Prometheus metrics: requests, latency, refusals by reason, inference time, and gauges read at
//! scrape time. Label sets are bounded: route templates (never raw paths), fixed reason names, and
//! status codes; no key, key id or text ever becomes a label.

use std::collections::btree_map::{BTreeMap, Entry};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

use crate::paths::ROUTES;

/// A refused request, as the refusal counters count it: which counter, and its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `auth_failures_total{reason}`, one of [`AUTH_FAILURE_REASONS`].
    Auth(&'static str),
    /// `rate_limited_total{limit}`, one of [`RATE_LIMITS`].
    RateLimited(&'static str),
    /// `overloaded_total{cause}`, one of [`OVERLOAD_CAUSES`].
    Overloaded(&'static str),
}

// Every value of each refusal counter's label. Each series is made at the start, so a dashboard
// sees 0, not no series; a unit test in `error` holds every refusal the service gives to these.
/// The values of `auth_failures_total{reason}`.
pub const AUTH_FAILURE_REASONS: [&str; 6] = [
    "missing",
    "unknown",
    "expired",
    "disabled",
    "duplicate",
    "conflicting",
];
/// The values of `rate_limited_total{limit}`.
pub const RATE_LIMITS: [&str; 4] = ["key_quota", "quota", "job_polls", "auth_failures"];
/// The values of `overloaded_total{cause}`.
pub const OVERLOAD_CAUSES: [&str; 6] = [
    "in_flight",
    "inference_timeout",
    "pending_jobs",
    "stored_jobs",
    "rate_limit_backend",
    "job_backend",
];

/// Every metric of the service, in its own registry.
///
/// The series written on every request (`http_requests_total`, `http_request_duration_seconds`,
/// `inference_duration_seconds`) are kept once per worker, in a [`MetricShard`], and summed when
/// scraped: with one shared copy, both workers wrote the same cache lines on every request (four
/// atomic writes per histogram observation), which the load benchmark's profile showed. The
/// scrape is exact: it adds up every shard's current values.
pub struct Metrics {
    registry: Registry,
    auth_failures: IntCounterVec,
    rate_limited: IntCounterVec,
    overloaded: IntCounterVec,
    /// Requests in flight (set when scraped).
    pub in_flight: IntGauge,
    /// Background jobs queued or running (set when scraped).
    pub jobs_pending: IntGauge,
    /// Keys in force (set when scraped).
    pub keys_loaded: IntGauge,
    /// The serving certificate's `notAfter` (registered on first use: only a server with TLS has one).
    certificate_expiry: OnceLock<IntGauge>,
    /// The Redis series (registered on first use: only a server with `REDIS_URL` has them).
    redis: OnceLock<RedisMetrics>,
    owner_usage: OnceLock<OwnerUsage>,
    shards: Arc<Shards>,
}

/// Units spent under owners' quotas, by owner (`quota_owner_units_total`): only with
/// `QUOTA_OWNER_METRICS` set, and then for at most that many owners, in the order they are first
/// seen; any other owner is counted under `owner="_other"`. The label set stays bounded whatever
/// the keys file holds, and a key id never becomes a label.
pub struct OwnerUsage {
    units: IntCounterVec,
    max_owners: usize,
    labelled: Mutex<std::collections::BTreeSet<String>>,
}

impl OwnerUsage {
    /// Counts `units` spent under `owner`'s quota.
    pub fn spent(&self, owner: &str, units: u64) {
        let label = {
            let mut labelled = self
                .labelled
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if labelled.contains(owner)
                || (labelled.len() < self.max_owners && labelled.insert(owner.to_owned()))
            {
                owner
            } else {
                "_other"
            }
        };
        self.units.with_label_values(&[label]).inc_by(units);
    }
}

/// The series of a server that shares its limits through Redis (`REDIS_URL`).
#[derive(Clone)]
pub struct RedisMetrics {
    /// `redis_errors_total{reason}`: `timeout`, `error` (connection refused, reset, a script error).
    pub errors: IntCounterVec,
    /// `redis_call_duration_seconds`: the time of each Redis call that got an answer.
    pub latency: Histogram,
    /// `rate_limit_fallback_total{limit}`: decisions taken in this process because Redis could not
    /// be asked (`REDIS_FAILURE_MODE=open`), by limit (`key_quota`, `auth_failures`).
    pub fallback: IntCounterVec,
    /// `redis_circuit_open`: 1 while calls to Redis are skipped after a failure, else 0.
    pub circuit_open: IntGauge,
}

/// The per-request series of one worker. Get one with [`Metrics::new_shard`].
pub struct MetricShard {
    requests: IntCounterVec,
    latency: HistogramVec,
    inference: HistogramVec,
    /// `inference_duration_seconds`'s two series, `inline` then `pool`.
    inference_by_place: [Histogram; 2],
    routes: Vec<RouteSeries>,
    /// The refusal counters (shared: they count errors, not every request).
    refusals: Refusals,
}

#[derive(Clone)]
struct Refusals {
    auth_failures: IntCounterVec,
    rate_limited: IntCounterVec,
    overloaded: IntCounterVec,
}

/// Every shard ever made, summed into one set of series when the registry is gathered. A shard is
/// never dropped from the list: its counts stay in the sums, so no counter goes backwards.
#[derive(Default)]
struct Shards(Mutex<Vec<Arc<MetricShard>>>);

/// The statuses whose series a route keeps at hand (the others are looked up by label each time).
const CACHED_STATUSES: [u16; 8] = [200, 202, 400, 401, 403, 404, 422, 429];

/// One route's series, looked up by label once and then kept: hashing three labels under a lock
/// on every request showed in the load benchmark. Each is created on first use, as before, so
/// `/metrics` lists only series that have seen a request.
struct RouteSeries {
    route: &'static str,
    method: &'static str,
    latency: OnceLock<Histogram>,
    answers: [OnceLock<IntCounter>; CACHED_STATUSES.len()],
}

/// What the Prometheus text format is served as.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        #[cfg(feature = "otel")]
        registry
            .register(Box::new(crate::telemetry::SpanCounters::new()))
            .expect("unique metric");
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let refusal_counter = |name: &str, help: &str, label: &str, values: &[&str]| {
            let help = format!("{help}, by {label} ({}).", values.join(", "));
            let c = counter(name, &help, &[label]);
            for value in values {
                c.with_label_values(&[value]);
            }
            c
        };
        let refusals = Refusals {
            auth_failures: refusal_counter(
                "auth_failures_total",
                "Refused authentications",
                "reason",
                &AUTH_FAILURE_REASONS,
            ),
            rate_limited: refusal_counter(
                "rate_limited_total",
                "Answers of 429",
                "limit",
                &RATE_LIMITS,
            ),
            overloaded: refusal_counter(
                "overloaded_total",
                "Answers of 503",
                "cause",
                &OVERLOAD_CAUSES,
            ),
        };
        let shards = Arc::new(Shards::default());
        registry
            .register(Box::new(SummedShards {
                shards: Arc::clone(&shards),
                described_by: MetricShard::new(refusals.clone()),
            }))
            .expect("unique metric");
        Metrics {
            in_flight: gauge("http_requests_in_flight", "Requests being handled now."),
            jobs_pending: gauge("jobs_pending", "Background jobs queued or running."),
            keys_loaded: gauge("api_keys_loaded", "API keys in force."),
            certificate_expiry: OnceLock::new(),
            redis: OnceLock::new(),
            owner_usage: OnceLock::new(),
            auth_failures: refusals.auth_failures,
            rate_limited: refusals.rate_limited,
            overloaded: refusals.overloaded,
            shards,
            registry,
        }
    }

    /// A new shard of the per-request series, for one worker: summed with the others at scrape.
    pub fn new_shard(&self) -> Arc<MetricShard> {
        let shard = Arc::new(MetricShard::new(Refusals {
            auth_failures: self.auth_failures.clone(),
            rate_limited: self.rate_limited.clone(),
            overloaded: self.overloaded.clone(),
        }));
        self.shards.add(Arc::clone(&shard));
        shard
    }

    /// Sets `tls_certificate_expiry_timestamp_seconds`, the serving certificate's `notAfter` in
    /// seconds since the Unix epoch; the series exists from the first call on.
    pub fn set_certificate_expiry(&self, not_after_unix: i64) {
        self.certificate_expiry
            .get_or_init(|| {
                let g = IntGauge::new(
                    "tls_certificate_expiry_timestamp_seconds",
                    "When the TLS certificate in force expires (its notAfter), in Unix seconds.",
                )
                .expect("valid metric");
                self.registry
                    .register(Box::new(g.clone()))
                    .expect("unique metric");
                g
            })
            .set(not_after_unix);
    }

    /// The Redis series, registered on the first call.
    /// Turns on `quota_owner_units_total` for at most `max_owners` owners (0: stays off).
    pub fn enable_owner_usage(&self, max_owners: usize) {
        if max_owners == 0 {
            return;
        }
        self.owner_usage.get_or_init(|| {
            let units = IntCounterVec::new(
                Opts::new(
                    "quota_owner_units_total",
                    "Units spent under owners' day and month quotas, by owner (QUOTA_OWNER_METRICS \
                     owners at most; the rest as _other).",
                ),
                &["owner"],
            )
            .expect("valid metric");
            if let Err(e) = self.registry.register(Box::new(units.clone())) {
                log::error!("quota_owner_units_total not registered: {e}");
            }
            OwnerUsage {
                units,
                max_owners,
                labelled: Mutex::default(),
            }
        });
    }

    /// The per-owner quota counter, when `QUOTA_OWNER_METRICS` turned it on.
    pub fn owner_usage(&self) -> Option<&OwnerUsage> {
        self.owner_usage.get()
    }

    pub fn redis(&self) -> RedisMetrics {
        self.redis
            .get_or_init(|| {
                let errors = IntCounterVec::new(
                    Opts::new(
                        "redis_errors_total",
                        "Redis calls that failed, by reason (timeout, error).",
                    ),
                    &["reason"],
                )
                .expect("valid metric");
                let fallback = IntCounterVec::new(
                    Opts::new(
                        "rate_limit_fallback_total",
                        "Limit decisions taken in this process because Redis was unavailable \
                         (REDIS_FAILURE_MODE=open), by limit (key_quota, quota, auth_failures).",
                    ),
                    &["limit"],
                )
                .expect("valid metric");
                for reason in ["timeout", "error"] {
                    errors.with_label_values(&[reason]);
                }
                for limit in ["key_quota", "quota", "auth_failures"] {
                    fallback.with_label_values(&[limit]);
                }
                let latency = Histogram::with_opts(
                    HistogramOpts::new(
                        "redis_call_duration_seconds",
                        "Time of each Redis call that was answered.",
                    )
                    .buckets(LATENCY_BUCKETS.to_vec()),
                )
                .expect("valid metric");
                let circuit_open = IntGauge::new(
                    "redis_circuit_open",
                    "1 while calls to Redis are skipped after a failure, else 0.",
                )
                .expect("valid metric");
                let metrics = RedisMetrics {
                    errors,
                    latency,
                    fallback,
                    circuit_open,
                };
                for c in [
                    Box::new(metrics.errors.clone()) as Box<dyn Collector>,
                    Box::new(metrics.latency.clone()),
                    Box::new(metrics.fallback.clone()),
                    Box::new(metrics.circuit_open.clone()),
                ] {
                    self.registry.register(c).expect("unique metric");
                }
                metrics
            })
            .clone()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            log::error!("metrics could not be encoded: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The buckets of both latency histograms, in seconds.
const LATENCY_BUCKETS: [f64; 15] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0,
];

impl MetricShard {
    fn new(refusals: Refusals) -> Self {
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            HistogramVec::new(
                HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
                labels,
            )
            .expect("valid metric")
        };
        let inference = histogram(
            "inference_duration_seconds",
            "Time spent scoring one request's texts, by where it ran (inline, pool).",
            &["place"],
        );
        MetricShard {
            requests: IntCounterVec::new(
                Opts::new(
                    "http_requests_total",
                    "HTTP requests answered, by route template, method and status.",
                ),
                &["route", "method", "status"],
            )
            .expect("valid metric"),
            latency: histogram(
                "http_request_duration_seconds",
                "Time to answer a request, by route template.",
                &["route"],
            ),
            // Both series exist from the start and are kept: one is observed on every request.
            inference_by_place: ["inline", "pool"]
                .map(|place| inference.with_label_values(&[place])),
            inference,
            routes: ROUTES
                .iter()
                .map(|spec| RouteSeries {
                    route: spec.path,
                    method: spec.method,
                    latency: OnceLock::new(),
                    answers: std::array::from_fn(|_| OnceLock::new()),
                })
                .collect(),
            refusals,
        }
    }

    /// Records one answered request. `route` is the matched route template, if any; `method` the
    /// request's method; `status` the answer's status code (100 to 999).
    pub fn observe_request(
        &self,
        route: Option<&str>,
        method: &str,
        status: u16,
        elapsed: Duration,
        refusal: Option<Refusal>,
    ) {
        let route = route.unwrap_or("unmatched");
        let method = match method {
            "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS" => method,
            _ => "OTHER",
        };
        let series = self
            .routes
            .iter()
            .find(|s| std::ptr::eq(s.route, route) || s.route == route);
        let latency = series.map(|s| {
            s.latency
                .get_or_init(|| self.latency.with_label_values(&[route]))
        });
        match latency {
            Some(histogram) => histogram.observe(elapsed.as_secs_f64()),
            None => self
                .latency
                .with_label_values(&[route])
                .observe(elapsed.as_secs_f64()),
        }
        let answers = series.filter(|s| s.method == method).and_then(|s| {
            let at = CACHED_STATUSES.iter().position(|&c| c == status)?;
            Some(&s.answers[at])
        });
        let label = || {
            let digits = status_digits(status);
            let status = std::str::from_utf8(&digits).unwrap_or("000");
            self.requests.with_label_values(&[route, method, status])
        };
        match answers {
            Some(counter) => counter.get_or_init(label).inc(),
            None => label().inc(),
        }
        let (counter, value) = match refusal {
            Some(Refusal::Auth(reason)) => (&self.refusals.auth_failures, reason),
            Some(Refusal::RateLimited(limit)) => (&self.refusals.rate_limited, limit),
            Some(Refusal::Overloaded(cause)) => (&self.refusals.overloaded, cause),
            None => return,
        };
        counter.with_label_values(&[value]).inc();
    }

    /// Records the time one request's texts took to score.
    pub fn observe_inference(&self, pooled: bool, elapsed: Duration) {
        let [inline, pool] = &self.inference_by_place;
        let histogram = if pooled { pool } else { inline };
        histogram.observe(elapsed.as_secs_f64());
    }

    fn collect(&self) -> impl Iterator<Item = MetricFamily> {
        [
            self.requests.collect(),
            self.latency.collect(),
            self.inference.collect(),
        ]
        .into_iter()
        .flatten()
    }
}

/// A status code's three digits (HTTP status codes run from 100 to 999).
fn status_digits(status: u16) -> [u8; 3] {
    let status = status.clamp(100, 999);
    [
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ]
}

impl Shards {
    fn add(&self, shard: Arc<MetricShard>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(shard);
    }
}

/// The collector the registry gathers the shards through: one family per name, one series per
/// label set, each the sum of that series over every shard.
struct SummedShards {
    shards: Arc<Shards>,
    /// A shard, never written, whose vectors describe the families (every shard's are alike), so
    /// the registry checks their names and labels against every other metric's.
    described_by: MetricShard,
}

impl Collector for SummedShards {
    fn desc(&self) -> Vec<&Desc> {
        let shard = &self.described_by;
        [
            shard.requests.desc(),
            shard.latency.desc(),
            shard.inference.desc(),
        ]
        .concat()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let shards = self
            .shards
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        sum_families(shards.iter().flat_map(|shard| shard.collect()))
    }
}

/// Families with the same name merged, and series with the same labels in them added up.
fn sum_families(families: impl Iterator<Item = MetricFamily>) -> Vec<MetricFamily> {
    type Labels = Vec<(String, String)>;
    let mut by_name: BTreeMap<String, (MetricFamily, BTreeMap<Labels, proto::Metric>)> =
        BTreeMap::new();
    for mut family in families {
        let metrics = family.take_metric();
        let (_, series) = by_name
            .entry(family.name().to_owned())
            .or_insert_with(|| (family, BTreeMap::new()));
        for metric in metrics {
            let labels = metric
                .get_label()
                .iter()
                .map(|l| (l.name().to_owned(), l.value().to_owned()))
                .collect();
            match series.entry(labels) {
                Entry::Vacant(slot) => {
                    slot.insert(metric);
                }
                Entry::Occupied(mut total) => add_metric(total.get_mut(), &metric),
            }
        }
    }
    by_name
        .into_values()
        .map(|(mut family, series)| {
            family.set_metric(series.into_values().collect());
            family
        })
        .collect()
}

/// Adds `other`'s counter and histogram values to `total`'s (the shards' series are of one
/// kind and share their buckets).
fn add_metric(total: &mut proto::Metric, other: &proto::Metric) {
    let mut counter = proto::Counter::default();
    counter.set_value(total.get_counter().get_value() + other.get_counter().get_value());
    total.set_counter(counter);
    let (a, b) = (total.get_histogram(), other.get_histogram());
    let mut histogram = proto::Histogram::default();
    histogram.set_sample_count(a.get_sample_count() + b.get_sample_count());
    histogram.set_sample_sum(a.get_sample_sum() + b.get_sample_sum());
    histogram.set_bucket(
        a.get_bucket()
            .iter()
            .zip(b.get_bucket())
            .map(|(x, y)| {
                let mut bucket = proto::Bucket::default();
                bucket.set_upper_bound(x.upper_bound());
                bucket.set_cumulative_count(x.cumulative_count() + y.cumulative_count());
                bucket
            })
            .collect(),
    );
    total.set_histogram(histogram);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_refusals_are_counted_by_bounded_labels() {
        let m = Metrics::new();
        let s = m.new_shard();
        s.observe_request(
            Some("/jobs/{job_id}"),
            "GET",
            200,
            Duration::from_millis(2),
            None,
        );
        s.observe_request(
            None,
            "BREW",
            403,
            Duration::from_millis(1),
            Some(Refusal::Auth("expired")),
        );
        let text = m.render();
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/jobs/{job_id}",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"http_requests_total{method="OTHER",route="unmatched",status="403"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"auth_failures_total{reason="expired"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn worker_shards_are_summed_into_one_series_when_scraped() {
        let m = Metrics::new();
        let (a, b) = (m.new_shard(), m.new_shard());
        let route = ROUTES.iter().find(|r| r.path == "/predict").unwrap().path;
        for (shard, millis) in [(&a, 1), (&a, 3), (&b, 200)] {
            shard.observe_request(
                Some(route),
                "POST",
                200,
                Duration::from_millis(millis),
                None,
            );
        }
        b.observe_request(
            Some("/nowhere"),
            "GET",
            403,
            Duration::ZERO,
            Some(Refusal::Auth("unknown")),
        );
        b.observe_inference(false, Duration::from_micros(50));
        a.observe_inference(true, Duration::from_millis(20));
        let text = m.render();
        for line in [
            r#"http_requests_total{method="POST",route="/predict",status="200"} 3"#,
            r#"http_requests_total{method="GET",route="/nowhere",status="403"} 1"#,
            r#"http_request_duration_seconds_count{route="/predict"} 3"#,
            r#"http_request_duration_seconds_bucket{route="/predict",le="0.001"} 1"#,
            r#"http_request_duration_seconds_bucket{route="/predict",le="0.005"} 2"#,
            r#"http_request_duration_seconds_bucket{route="/predict",le="0.1"} 2"#,
            r#"http_request_duration_seconds_bucket{route="/predict",le="0.25"} 3"#,
            r#"http_request_duration_seconds_bucket{route="/predict",le="+Inf"} 3"#,
            r#"inference_duration_seconds_count{place="inline"} 1"#,
            r#"inference_duration_seconds_count{place="pool"} 1"#,
            r#"auth_failures_total{reason="unknown"} 1"#,
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
        // One series per label set, each family announced once.
        let predict_200 = r#"http_requests_total{method="POST",route="/predict",status="200"}"#;
        assert_eq!(text.matches(predict_200).count(), 1, "{text}");
        for family in [
            "# TYPE http_requests_total counter",
            "# TYPE http_request_duration_seconds histogram",
            "# TYPE inference_duration_seconds histogram",
        ] {
            assert_eq!(text.matches(family).count(), 1, "{text}");
        }
        // The sum is the shards' sum.
        let sum: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix(r#"http_request_duration_seconds_sum{route="/predict"} "#))
            .and_then(|v| v.parse().ok())
            .expect("a sum line");
        assert!((sum - 0.204).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn the_certificate_expiry_appears_only_once_set() {
        let m = Metrics::new();
        assert!(!m.render().contains("tls_certificate_expiry"));
        m.set_certificate_expiry(1_900_000_000);
        m.set_certificate_expiry(1_900_000_001);
        let text = m.render();
        assert!(
            text.contains("\ntls_certificate_expiry_timestamp_seconds 1900000001\n"),
            "{text}"
        );
    }

    #[test]
    fn the_summed_families_are_registered_names() {
        let m = Metrics::new();
        let clash = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route template, method and status.",
            ),
            &["route", "method", "status"],
        )
        .unwrap();
        assert!(m.registry.register(Box::new(clash)).is_err());
    }

    #[test]
    fn kept_series_count_as_the_label_lookup_does_and_appear_only_once_used() {
        let m = Metrics::new();
        let s = m.new_shard();
        let route = ROUTES.iter().find(|r| r.path == "/predict").unwrap().path;
        assert!(!m.render().contains("route=\"/predict\""));
        for status in [200, 200, 418] {
            s.observe_request(Some(route), "POST", status, Duration::from_millis(1), None);
        }
        // The same route by another method, and by an equal string that is not the table's.
        let copy = String::from("/predict");
        s.observe_request(Some(&copy), "GET", 200, Duration::ZERO, None);
        let text = m.render();
        for line in [
            r#"http_requests_total{method="POST",route="/predict",status="200"} 2"#,
            r#"http_requests_total{method="POST",route="/predict",status="418"} 1"#,
            r#"http_requests_total{method="GET",route="/predict",status="200"} 1"#,
            r#"http_request_duration_seconds_count{route="/predict"} 4"#,
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
    }
}
