//! OpenTelemetry traces (cargo feature `otel`; `cargo test --features otel --test otel`): the real
//! binary, started with the standard `OTEL_*` variables, exports OTLP/HTTP JSON to a receiver this
//! test runs on loopback. Spans continue the caller's `traceparent`, carry the route, status, key
//! id and model, never the key or the text; a collector that does not answer costs requests
//! nothing, and the spans it loses are counted in `/metrics`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const KEY: &str = "otel-test-key-0123456789abcdef";
/// Long enough for a slow shared machine; only a bound on waiting, never a timed assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// An OTLP/HTTP receiver on loopback: answers every POST with 200 `{}` and hands on its body.
struct Collector {
    endpoint: String,
    bodies: mpsc::Receiver<(String, Value)>,
    /// Every request's header lines (lowercased names), in arrival order.
    headers: mpsc::Receiver<Vec<String>>,
}

const OK: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";

fn collector() -> Collector {
    answering(OK.to_vec())
}

/// A receiver that gives every request `answer` (raw HTTP/1.1).
fn answering(answer: Vec<u8>) -> Collector {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (tx, bodies) = mpsc::channel();
    let (htx, headers) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let (tx, htx, answer) = (tx.clone(), htx.clone(), answer.clone());
            std::thread::spawn(move || serve_otlp(conn, tx, htx, &answer));
        }
    });
    Collector {
        endpoint,
        bodies,
        headers,
    }
}

/// One connection of the receiver, kept alive for as many requests as the exporter sends.
fn serve_otlp(
    conn: TcpStream,
    tx: mpsc::Sender<(String, Value)>,
    htx: mpsc::Sender<Vec<String>>,
    answer: &[u8],
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
                headers.push(format!("{}:{}", name.to_ascii_lowercase(), value));
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let path = request_line
            .split(' ')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        // Handed on before the answer, so that whatever the exporter does next comes after.
        let _ = htx.send(headers);
        let _ = tx.send((path, serde_json::from_slice(&body).unwrap()));
        if writer.write_all(answer).is_err() {
            return;
        }
    }
}

/// The binary, started in an empty directory with only the given variables; killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(vars: &[(&str, &str)]) -> Server {
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "sentiment-api-otel-{}-{}",
        std::process::id(),
        vars.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sentiment-api"))
        .current_dir(&dir)
        .env_clear()
        .envs([
            ("API_SECRET_KEY", KEY),
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("RUST_LOG", "debug"),
        ])
        .envs(vars.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    for stream in [
        Box::new(child.stderr.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stdout.take().unwrap()),
    ] {
        let (log, tx) = (Arc::clone(&log), tx.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { return };
                if let Some(at) = line.find("listening on http://") {
                    let addr = line[at + 20..]
                        .split_whitespace()
                        .next()
                        .unwrap()
                        .to_owned();
                    let _ = tx.send(addr);
                }
                log.lock().unwrap().push(line);
            }
        });
    }
    let addr = rx
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("the server did not start: {:?}", log.lock().unwrap()))
        .parse()
        .unwrap();
    Server { child, addr, log }
}

/// One HTTP/1.1 request; the status and the body.
fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut conn = TcpStream::connect(addr).unwrap();
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: 0\r\n"
    );
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    conn.write_all(raw.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// Every span of `body`, with its resource's `service.name`.
fn spans_of(body: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for rs in body["resourceSpans"].as_array().unwrap() {
        let service = rs["resource"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == "service.name")
            .map(|a| a["value"]["stringValue"].as_str().unwrap().to_owned())
            .unwrap();
        for ss in rs["scopeSpans"].as_array().unwrap() {
            for span in ss["spans"].as_array().unwrap() {
                out.push((service.clone(), span.clone()));
            }
        }
    }
    out
}

fn attributes(span: &Value) -> HashMap<String, String> {
    span["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let value = &a["value"];
            let text = value["stringValue"]
                .as_str()
                .or(value["intValue"].as_str())
                .unwrap()
                .to_owned();
            (a["key"].as_str().unwrap().to_owned(), text)
        })
        .collect()
}

fn server_span(spans: &[(String, Value)], trace: &str) -> Option<(String, Value)> {
    spans
        .iter()
        .find(|(_, s)| s["traceId"] == trace && s["kind"] == 2)
        .cloned()
}

/// Every span exported until the server spans of `traces` have all arrived, and the raw exports.
fn gather(collector: &Collector, traces: &[&str]) -> (Vec<(String, Value)>, String) {
    let mut spans = Vec::new();
    let mut raw = String::new();
    let deadline = Instant::now() + PATIENCE;
    while traces.iter().any(|t| server_span(&spans, t).is_none()) {
        let left = deadline.saturating_duration_since(Instant::now());
        let (path, body) = collector
            .bodies
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no complete export; spans so far: {spans:?}"));
        assert_eq!(path, "/v1/traces");
        raw.push_str(&body.to_string());
        spans.extend(spans_of(&body));
    }
    (spans, raw)
}

/// The spans of `trace` whose parent is `parent`, by name.
fn children_of(spans: &[(String, Value)], trace: &str, parent: &Value) -> HashMap<String, Value> {
    spans
        .iter()
        .filter(|(_, s)| s["traceId"] == trace && s["parentSpanId"] == *parent)
        .map(|(_, s)| (s["name"].as_str().unwrap().to_owned(), s.clone()))
        .collect()
}

#[test]
fn request_spans_continue_the_callers_trace_and_never_hold_the_key() {
    let collector = collector();
    let server = start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint),
        ("OTEL_SERVICE_NAME", "sentiment-test"),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ]);
    // A probe without a traceparent is not traced (orchestrators send several a second).
    assert_eq!(request(server.addr, "GET", "/health", &[]).0, 200);
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let traceparent = format!("00-{trace}-{parent}-01");
    let (status, body) = request(
        server.addr,
        "POST",
        "/predict?text=I%20love%20it",
        &[("X-API-Key", KEY), ("traceparent", &traceparent)],
    );
    assert_eq!(status, 200, "{body}");
    let refused_trace = "0af7651916cd43dd8448eb211c80319c";
    let wrong_key = "not-the-key-but-long-enough-0000";
    let (status, _) = request(
        server.addr,
        "POST",
        "/predict?text=hello",
        &[
            ("X-API-Key", wrong_key),
            (
                "traceparent",
                &format!("00-{refused_trace}-b7ad6b7169203331-01"),
            ),
        ],
    );
    assert_eq!(status, 403);

    // A method of the caller's invention (any token is a valid HTTP method) is not exported as
    // sent: OpenTelemetry's `_OTHER`.
    let odd_trace = "1af7651916cd43dd8448eb211c80319d";
    let odd_method = "XSECRETMETHOD";
    let (status, _) = request(
        server.addr,
        odd_method,
        "/predict?text=hello",
        &[(
            "traceparent",
            &format!("00-{odd_trace}-c7ad6b7169203331-01"),
        )],
    );
    assert!((400..500).contains(&status), "{status}");

    let (spans, raw) = gather(&collector, &[trace, refused_trace, odd_trace]);
    let (_, odd) = server_span(&spans, odd_trace).unwrap();
    assert_eq!(attributes(&odd)["http.request.method"], "_OTHER");
    assert!(!raw.contains(odd_method));

    // The server span: a child of the caller's span, named and labelled by the route template.
    let (service, root) = server_span(&spans, trace).unwrap();
    assert_eq!(service, "sentiment-test");
    assert_eq!(root["parentSpanId"], parent);
    assert_eq!(root["name"], "/predict");
    let attrs = attributes(&root);
    assert_eq!(attrs["http.route"], "/predict");
    assert_eq!(attrs["http.request.method"], "POST");
    assert_eq!(attrs["http.response.status_code"], "200");
    assert_eq!(attrs["sentiment.key_id"], "default");
    assert_eq!(attrs["sentiment.model"], "vader");

    // Its children: the key check and inference, in the same trace.
    let children = children_of(&spans, trace, &root["spanId"]);
    assert!(children.contains_key("auth.key_check"), "{children:?}");
    assert_eq!(
        attributes(&children["inference"])["sentiment.model"],
        "vader"
    );
    for child in children.values() {
        assert_ne!(child["spanId"], root["spanId"]);
    }

    // The refused request: its status, and no key id.
    let (_, refused) = server_span(&spans, refused_trace).unwrap();
    let attrs = attributes(&refused);
    assert_eq!(attrs["http.response.status_code"], "403");
    assert!(!attrs.contains_key("sentiment.key_id"), "{attrs:?}");

    // The probe, sent and ended before the others, is in no export (spans leave in order).
    assert!(
        !spans.iter().any(|(_, s)| s["name"] == "/health"),
        "{spans:?}"
    );

    // Nothing exported holds a key or the text.
    for secret in [KEY, wrong_key, "love", "hello"] {
        assert!(!raw.contains(secret), "an export holds {secret:?}");
    }
    assert!(server
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("traces exported to")));
}

#[test]
fn a_collector_that_never_answers_costs_requests_nothing_and_lost_spans_are_counted() {
    // Accepts connections (the kernel does) but never reads or answers them.
    let hung = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", hung.local_addr().unwrap());
    let server = start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "600000"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "4"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2"),
        ("OTEL_BSP_SCHEDULE_DELAY", "10"),
    ]);
    for _ in 0..40 {
        let (status, body) = request(
            server.addr,
            "POST",
            "/predict?text=fine",
            &[("X-API-Key", KEY)],
        );
        assert_eq!(status, 200, "{body}");
    }
    let (status, metrics) = request(server.addr, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    let value = |name: &str| series(&metrics, name);
    // 40 requests of 3 spans each; the exporter holds one batch, the queue 4 more.
    let dropped = value("otel_spans_dropped_total{reason=\"queue_full\"}");
    assert!(dropped >= 100, "{metrics}");
    assert_eq!(value("otel_spans_exported_total"), 0, "{metrics}");
    drop(hung);
}

/// The value of the Prometheus series `series` (its exact name and labels) in `metrics`.
fn series(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0, |v| v.parse().unwrap())
}

#[test]
fn a_collector_redirect_is_not_followed_and_the_headers_never_leave_for_another_host() {
    // The legitimate collector's endpoint answers 307 towards another host (here another port),
    // which would accept anything: the exporter must neither follow it nor hand that host the
    // credentials of OTEL_EXPORTER_OTLP_HEADERS (a custom header, which a redirect keeps).
    let elsewhere = collector();
    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: {}/v1/traces\r\ncontent-length: 0\r\n\r\n",
        elsewhere.endpoint
    );
    let redirecting = answering(redirect.into_bytes());
    let token = "collector-token-s3cret";
    let headers = format!("x-collector-token={token}");
    let server = start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &redirecting.endpoint),
        ("OTEL_EXPORTER_OTLP_HEADERS", &headers),
        ("OTEL_BSP_SCHEDULE_DELAY", "10"),
    ]);
    let (status, _) = request(
        server.addr,
        "POST",
        "/predict?text=fine",
        &[("X-API-Key", KEY)],
    );
    assert_eq!(status, 200);
    // The redirecting collector got the export, with its credentials.
    let seen = redirecting.headers.recv_timeout(PATIENCE).unwrap();
    assert!(seen.iter().any(|h| h.contains(token)), "{seen:?}");
    // Wait until the exporter has settled that export one way or the other.
    let deadline = Instant::now() + PATIENCE;
    let metrics = loop {
        let (_, metrics) = request(server.addr, "GET", "/metrics", &[]);
        let failed = series(
            &metrics,
            "otel_spans_dropped_total{reason=\"export_failed\"}",
        );
        if failed + series(&metrics, "otel_spans_exported_total") > 0 {
            break metrics;
        }
        assert!(
            Instant::now() < deadline,
            "the export never ended: {metrics}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    if let Ok(headers) = elsewhere.headers.try_recv() {
        panic!("the exporter followed the redirect to another host, sending {headers:?}");
    }
    // A redirect is not an accepted export: its spans are counted as lost.
    assert_eq!(
        series(&metrics, "otel_spans_exported_total"),
        0,
        "{metrics}"
    );
    assert!(
        series(
            &metrics,
            "otel_spans_dropped_total{reason=\"export_failed\"}"
        ) > 0
    );
    // Neither the token nor the collector's answer reach the log.
    assert!(!server.log.lock().unwrap().iter().any(|l| l.contains(token)));
}

#[test]
fn a_machine_without_ca_certificates_still_exports_to_an_http_collector() {
    // The image is FROM scratch, with no CA certificate: an http:// collector (a sidecar, a
    // collector in the cluster) needs none, and must get the spans.
    let collector = collector();
    let server = start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "10"),
        ("SSL_CERT_FILE", "/nonexistent/ca-certificates.crt"),
        ("SSL_CERT_DIR", "/nonexistent/certs"),
    ]);
    let trace = "2af7651916cd43dd8448eb211c80319e";
    let (status, _) = request(
        server.addr,
        "POST",
        "/predict?text=fine",
        &[
            ("X-API-Key", KEY),
            ("traceparent", &format!("00-{trace}-d7ad6b7169203331-01")),
        ],
    );
    assert_eq!(status, 200);
    let (spans, _) = gather(&collector, &[trace]);
    assert!(server_span(&spans, trace).is_some());
}

#[test]
fn an_https_collector_without_ca_certificates_stops_the_start_with_a_clear_error() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sentiment-api"))
        .env_clear()
        .envs([
            ("API_SECRET_KEY", KEY),
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("RUST_LOG", "info"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://user:s3cret-password@collector.invalid:4318",
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-collector-token=s3cret-token",
            ),
            ("SSL_CERT_FILE", "/nonexistent/ca-certificates.crt"),
            ("SSL_CERT_DIR", "/nonexistent/certs"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read to the end. A server that starts anyway is stopped at its "listening on" line, so
    // that the test fails instead of waiting for it forever.
    let mut stderr = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("listening on") {
            let _ = child.kill();
        }
        stderr.push_str(&line);
        stderr.push('\n');
    }
    let status = child.wait().unwrap();
    assert!(
        !stderr.contains("listening on"),
        "it started without CA certificates: {stderr}"
    );
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && stderr.contains("CA certificate"),
        "{stderr}"
    );
    assert!(
        stderr.contains("https://collector.invalid:4318/v1/traces"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

#[test]
fn spans_still_queued_at_sigterm_are_exported_before_the_exit() {
    let collector = collector();
    let mut server = start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint),
        // Far longer than the test: only the stop can send this batch.
        ("OTEL_BSP_SCHEDULE_DELAY", "3600000"),
    ]);
    let trace = "3af7651916cd43dd8448eb211c80319f";
    let (status, _) = request(
        server.addr,
        "POST",
        "/predict?text=fine",
        &[
            ("X-API-Key", KEY),
            ("traceparent", &format!("00-{trace}-e7ad6b7169203331-01")),
        ],
    );
    assert_eq!(status, 200);
    assert!(Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}: {:?}", server.log.lock().unwrap());
    // The receiver hands a body on before answering it, and the process exits only after the
    // answer: whatever was exported is in the channel by now.
    let spans: Vec<_> = collector
        .bodies
        .try_iter()
        .flat_map(|(_, body)| spans_of(&body))
        .collect();
    let (_, root) = server_span(&spans, trace).unwrap_or_else(|| {
        panic!(
            "the request's span was lost at the stop: {spans:?} {:?}",
            server.log.lock().unwrap()
        )
    });
    assert!(children_of(&spans, trace, &root["spanId"]).contains_key("inference"));
}

#[test]
fn a_collector_that_refuses_connections_is_logged_and_counted_without_its_user_info() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let endpoint = format!("http://user:s3cret-password@127.0.0.1:{port}");
    let server = start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "10"),
    ]);
    let (status, _) = request(
        server.addr,
        "POST",
        "/predict?text=fine",
        &[("X-API-Key", KEY)],
    );
    assert_eq!(status, 200);
    let shown = format!("export to http://127.0.0.1:{port}/v1/traces failed");
    let deadline = Instant::now() + PATIENCE;
    let line = loop {
        let found = server
            .log
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains(&shown))
            .cloned();
        if let Some(line) = found {
            break line;
        }
        assert!(
            Instant::now() < deadline,
            "no failed export logged: {:?}",
            server.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // The line says why.
    assert!(line.contains("refused"), "{line}");
    // Counted before it is logged.
    let (_, metrics) = request(server.addr, "GET", "/metrics", &[]);
    assert!(
        series(
            &metrics,
            "otel_spans_dropped_total{reason=\"export_failed\"}"
        ) > 0,
        "{metrics}"
    );
    assert_eq!(series(&metrics, "otel_spans_exported_total"), 0);
    let log = server.log.lock().unwrap();
    assert!(log.iter().any(|l| l.contains(&format!(
        "traces exported to http://127.0.0.1:{port}/v1/traces"
    ))));
    assert!(!log.iter().any(|l| l.contains("s3cret")), "{log:?}");
}

/// A `redis-server` on a free loopback port, no persistence, killed by PID when dropped.
struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
fn with_redis_each_call_is_a_client_span_of_its_request() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server runs (scripts/redis/install.sh installs it)");
    let _redis = Redis(child);
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let collector = collector();
    let redis_url = format!("redis://127.0.0.1:{port}");
    let server = start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ("REDIS_URL", &redis_url),
        ("REDIS_TIMEOUT_MS", "1000"),
    ]);
    let trace = "5bf92f3577b34da6a3ce929d0e0e4737";
    let (status, body) = request(
        server.addr,
        "POST",
        "/predict?text=fine",
        &[
            ("X-API-Key", KEY),
            ("traceparent", &format!("00-{trace}-10f067aa0ba902b7-01")),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let (spans, raw) = gather(&collector, &[trace]);
    let (_, root) = server_span(&spans, trace).unwrap();
    let children = children_of(&spans, trace, &root["spanId"]);
    let redis = &children["redis"];
    assert_eq!(redis["kind"], 3, "a client span");
    assert_eq!(attributes(redis)["db.system.name"], "redis");
    assert!(children.contains_key("auth.key_check") && children.contains_key("inference"));
    assert!(!raw.contains(KEY) && !raw.contains(&redis_url));
}
