//! Prometheus metrics: requests, latency, refusals by reason, inference time, and gauges read at
//! scrape time. Label sets are bounded: route templates (never raw paths), fixed reason names, and
//! status codes; no key, key id or text ever becomes a label.

use std::sync::OnceLock;
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

use crate::error::ApiError;
use crate::routes::ROUTES;

/// Every metric of the service, in its own registry.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    auth_failures: IntCounterVec,
    rate_limited: IntCounterVec,
    overloaded: IntCounterVec,
    /// `inference_duration_seconds`'s two series, `inline` then `pool`.
    inference_by_place: [Histogram; 2],
    /// Requests in flight (set when scraped).
    pub in_flight: IntGauge,
    /// Background jobs queued or running (set when scraped).
    pub jobs_pending: IntGauge,
    /// Keys in force (set when scraped).
    pub keys_loaded: IntGauge,
    routes: Vec<RouteSeries>,
}

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
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: Vec<f64>| {
            let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
                .expect("valid metric");
            registry
                .register(Box::new(h.clone()))
                .expect("unique metric");
            h
        };
        let latency_buckets = vec![
            0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
            1.0, 2.5, 5.0,
        ];
        let inference = histogram(
            "inference_duration_seconds",
            "Time spent scoring one request's texts, by where it ran (inline, pool).",
            &["place"],
            latency_buckets.clone(),
        );
        let metrics = Metrics {
            requests: counter(
                "http_requests_total",
                "HTTP requests answered, by route template, method and status.",
                &["route", "method", "status"],
            ),
            latency: histogram(
                "http_request_duration_seconds",
                "Time to answer a request, by route template.",
                &["route"],
                latency_buckets.clone(),
            ),
            auth_failures: counter(
                "auth_failures_total",
                "Refused authentications, by reason (missing, unknown, expired, disabled, duplicate).",
                &["reason"],
            ),
            rate_limited: counter(
                "rate_limited_total",
                "Answers of 429, by limit (key_quota, auth_failures).",
                &["limit"],
            ),
            overloaded: counter(
                "overloaded_total",
                "Answers of 503, by cause (in_flight, inference_timeout, pending_jobs, stored_jobs).",
                &["cause"],
            ),
            in_flight: gauge("http_requests_in_flight", "Requests being handled now."),
            jobs_pending: gauge("jobs_pending", "Background jobs queued or running."),
            keys_loaded: gauge("api_keys_loaded", "API keys in force."),
            // Both series exist from the start and are kept: one is observed on every request.
            inference_by_place: ["inline", "pool"].map(|place| inference.with_label_values(&[place])),
            routes: ROUTES
                .iter()
                .map(|spec| RouteSeries {
                    route: spec.path,
                    method: spec.method,
                    latency: OnceLock::new(),
                    answers: std::array::from_fn(|_| OnceLock::new()),
                })
                .collect(),
            registry,
        };
        // Every fixed label value exists from the start, so a dashboard sees 0, not no series.
        for reason in ["missing", "unknown", "expired", "disabled", "duplicate"] {
            metrics.auth_failures.with_label_values(&[reason]);
        }
        for limit in ["key_quota", "auth_failures"] {
            metrics.rate_limited.with_label_values(&[limit]);
        }
        for cause in [
            "in_flight",
            "inference_timeout",
            "pending_jobs",
            "stored_jobs",
        ] {
            metrics.overloaded.with_label_values(&[cause]);
        }
        metrics
    }

    /// Records one answered request. `route` is the matched route template, if any.
    pub fn observe_request(
        &self,
        route: Option<&str>,
        method: &Method,
        status: StatusCode,
        elapsed: Duration,
        error: Option<&ApiError>,
    ) {
        let route = route.unwrap_or("unmatched");
        let method = match *method {
            Method::GET
            | Method::POST
            | Method::PUT
            | Method::DELETE
            | Method::PATCH
            | Method::HEAD
            | Method::OPTIONS => method.as_str(),
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
            let at = CACHED_STATUSES.iter().position(|&c| c == status.as_u16())?;
            Some(&s.answers[at])
        });
        let label = || {
            self.requests
                .with_label_values(&[route, method, status.as_str()])
        };
        match answers {
            Some(counter) => counter.get_or_init(label).inc(),
            None => label().inc(),
        }
        match error {
            Some(ApiError::MissingKey) => self.auth_failures.with_label_values(&["missing"]).inc(),
            Some(ApiError::DuplicateKey) => {
                self.auth_failures.with_label_values(&["duplicate"]).inc()
            }
            Some(ApiError::InvalidKey(why)) => {
                self.auth_failures.with_label_values(&[why.label()]).inc()
            }
            Some(ApiError::RateLimited { cause, .. }) => {
                self.rate_limited.with_label_values(&[cause.label()]).inc()
            }
            Some(ApiError::Overloaded { cause, .. }) => {
                self.overloaded.with_label_values(&[cause.label()]).inc()
            }
            _ => {}
        }
    }

    /// Records the time one request's texts took to score.
    pub fn observe_inference(&self, pooled: bool, elapsed: Duration) {
        let [inline, pool] = &self.inference_by_place;
        let histogram = if pooled { pool } else { inline };
        histogram.observe(elapsed.as_secs_f64());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::KeyRefusal;

    #[test]
    fn requests_and_refusals_are_counted_by_bounded_labels() {
        let m = Metrics::new();
        let get = Method::GET;
        m.observe_request(
            Some("/jobs/{job_id}"),
            &get,
            StatusCode::OK,
            Duration::from_millis(2),
            None,
        );
        m.observe_request(
            None,
            &Method::from_bytes(b"BREW").unwrap(),
            StatusCode::FORBIDDEN,
            Duration::from_millis(1),
            Some(&ApiError::InvalidKey(KeyRefusal::Expired)),
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
    fn kept_series_count_as_the_label_lookup_does_and_appear_only_once_used() {
        let m = Metrics::new();
        let route = ROUTES.iter().find(|r| r.path == "/predict").unwrap().path;
        assert!(!m.render().contains("route=\"/predict\""));
        for status in [StatusCode::OK, StatusCode::OK, StatusCode::IM_A_TEAPOT] {
            m.observe_request(
                Some(route),
                &Method::POST,
                status,
                Duration::from_millis(1),
                None,
            );
        }
        // The same route by another method, and by an equal string that is not the table's.
        let copy = String::from("/predict");
        m.observe_request(
            Some(&copy),
            &Method::GET,
            StatusCode::OK,
            Duration::ZERO,
            None,
        );
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
