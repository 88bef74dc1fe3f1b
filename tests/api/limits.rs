//! Per-key rate limits, failed-authentication throttling, and overload protection.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::Client;
use sentiment_api::model::Vader;
use serde_json::json;

use crate::helpers::{
    error_json, eventually, retry_after, settings_with_keys, spawn_app, spawn_app_with,
    status_and_json, test_settings, RunningBinary, TestApp, TEST_KEY,
};

const KEY_A: &str = "key-a-0123456789abcdef";
const KEY_B: &str = "key-b-0123456789abcdef";
const KEY_C: &str = "key-c-0123456789abcdef";

/// An app whose keys get `limit` units per `window`, burst equal to the limit.
async fn app_with_limit(limit: u32, window: Duration, keys: &[(&str, &str)]) -> TestApp {
    let mut settings = settings_with_keys(keys);
    settings.limits.rate_limit.limit = limit;
    settings.limits.rate_limit.burst = limit;
    settings.limits.rate_limit.window = window;
    settings.listen.workers = 2;
    spawn_app_with(settings, Arc::new(Vader::new())).await
}

async fn statuses(app: &TestApp, key: &str, n: usize) -> Vec<u16> {
    let requests =
        (0..n).map(|_| async { app.predict_query("good", Some(key)).await.status().as_u16() });
    join_all(requests).await
}

#[actix_rt::test]
async fn parallel_requests_on_several_keys_get_exactly_their_limit_across_workers() {
    // A long window, so no unit returns during the test: the count must be exact.
    let keys = [("a", KEY_A), ("b", KEY_B), ("c", KEY_C)];
    let app = app_with_limit(50, Duration::from_secs(3600), &keys).await;
    let per_key = keys.map(|(_, key)| statuses(&app, key, 200));
    for (i, outcome) in join_all(per_key).await.into_iter().enumerate() {
        let ok = outcome.iter().filter(|s| **s == 200).count();
        let limited = outcome.iter().filter(|s| **s == 429).count();
        assert_eq!((ok, limited), (50, 150), "key {i}: {outcome:?}");
    }
}

#[actix_rt::test]
async fn a_429_has_the_contract_body_and_headers_and_retry_after_is_never_before_t() {
    let app = app_with_limit(2, Duration::from_secs(60), &[("a", KEY_A)]).await;
    let first = app.predict_query("good", Some(KEY_A)).await;
    assert_eq!(first.headers()["ratelimit-policy"], "\"default\";q=2;w=60");
    assert_eq!(first.headers()["ratelimit"], "\"default\";r=1;t=30");
    app.predict_query("good", Some(KEY_A)).await;
    let res = app.predict_query("good", Some(KEY_A)).await;
    assert_eq!(res.headers()["ratelimit-policy"], "\"default\";q=2;w=60");
    let current = res.headers()["ratelimit"].to_str().unwrap().to_owned();
    assert!(current.starts_with("\"default\";r=0;t="), "{current}");
    assert!(res.headers().contains_key("x-request-id"));
    let t: u64 = current.rsplit("t=").next().unwrap().parse().unwrap();
    let retry = retry_after(&res);
    assert!(
        retry >= t && (1..=30).contains(&retry),
        "retry {retry}, t {t}"
    );
    assert_eq!(
        status_and_json(res).await,
        error_json(429, "Rate limit exceeded")
    );
}

#[actix_rt::test]
async fn every_authenticated_response_carries_the_headers_and_unauthenticated_ones_do_not() {
    let app = spawn_app().await;
    let invalid = app
        .post_json("/predict", &json!({"text": 5}), Some(TEST_KEY))
        .await;
    assert_eq!(invalid.status(), 422);
    assert!(invalid.headers().contains_key("ratelimit"));
    let me = app.get("/me", Some(TEST_KEY)).await;
    assert!(me.headers().contains_key("ratelimit-policy"));
    let refused = app.predict_query("good", Some("wrong")).await;
    assert!(!refused.headers().contains_key("ratelimit"));
}

#[actix_rt::test]
async fn me_shows_the_quota_without_spending_it() {
    let app = app_with_limit(3, Duration::from_secs(60), &[("a", KEY_A)]).await;
    app.predict_query("good", Some(KEY_A)).await;
    for _ in 0..5 {
        let res = app.get("/me", Some(KEY_A)).await;
        assert_eq!(res.headers()["ratelimit"], "\"default\";r=2;t=20");
        let (status, body) = status_and_json(res).await;
        assert_eq!(status, 200);
        assert_eq!(
            body["rate_limit"],
            json!({"limit":3,"burst":3,"window_seconds":60,"remaining":2,"reset_seconds":20})
        );
    }
}

#[actix_rt::test]
async fn a_window_passing_restores_the_quota() {
    // One unit every 2 s: the three requests below have that long before a unit returns,
    // which holds even on a loaded machine.
    let app = app_with_limit(2, Duration::from_secs(4), &[("a", KEY_A)]).await;
    assert_eq!(
        statuses(&app, KEY_A, 3)
            .await
            .iter()
            .filter(|s| **s == 200)
            .count(),
        2
    );
    actix_rt::time::sleep(Duration::from_millis(4200)).await;
    assert_eq!(statuses(&app, KEY_A, 2).await, vec![200, 200]);
}

#[actix_rt::test]
async fn a_bad_key_never_costs_a_real_key_its_quota() {
    let app = app_with_limit(3, Duration::from_secs(3600), &[("a", KEY_A)]).await;
    for _ in 0..10 {
        app.predict_query("good", Some("not-the-key-at-all")).await;
    }
    assert_eq!(statuses(&app, KEY_A, 3).await, vec![200, 200, 200]);
}

async fn throttled_app(failures: u32, window: Duration, proxies: &str) -> TestApp {
    let mut settings = test_settings();
    settings.limits.auth_failures_per_window = failures;
    settings.limits.auth_failure_window = window;
    settings.limits.trusted_proxies =
        sentiment_api::limits::TrustedProxies::parse(proxies).unwrap();
    spawn_app_with(settings, Arc::new(Vader::new())).await
}

fn client_from(ip: &str) -> Client {
    Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn predict_from(
    client: &Client,
    app: &TestApp,
    key: Option<&str>,
    forwarded: Option<&str>,
) -> reqwest::Response {
    let mut req = client.post(app.url("/predict?text=good"));
    if let Some(key) = key {
        req = req.header("X-API-Key", key);
    }
    if let Some(ip) = forwarded {
        req = req.header("X-Forwarded-For", ip);
    }
    req.send().await.unwrap()
}

#[actix_rt::test]
async fn an_address_with_too_many_failed_keys_gets_429_whatever_key_it_sends_until_the_window_ends()
{
    let app = throttled_app(5, Duration::from_secs(3), "").await;
    let attacker = client_from("127.0.0.2");
    let bystander = client_from("127.0.0.3");
    // Missing keys guess nothing: they are not counted.
    for _ in 0..10 {
        assert_eq!(
            predict_from(&attacker, &app, None, None).await.status(),
            401
        );
    }
    for i in 0..5 {
        let key = format!("guess-{i}");
        assert_eq!(
            predict_from(&attacker, &app, Some(&key), None)
                .await
                .status(),
            403
        );
    }
    let res = predict_from(&attacker, &app, Some(TEST_KEY), None).await;
    let retry = retry_after(&res);
    assert!((1..=3).contains(&retry), "{retry}");
    assert_eq!(
        status_and_json(res).await,
        error_json(429, "Rate limit exceeded")
    );
    // Authentication is answered before any limit: without a key, the throttled address is
    // told what is missing, as any client is.
    assert_eq!(
        status_and_json(predict_from(&attacker, &app, None, None).await).await,
        error_json(401, "Not authenticated")
    );
    // Another address is not affected.
    assert_eq!(
        predict_from(&bystander, &app, Some(TEST_KEY), None)
            .await
            .status(),
        200
    );
    // When the window has passed, the right key works again.
    actix_rt::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(
        predict_from(&attacker, &app, Some(TEST_KEY), None)
            .await
            .status(),
        200
    );
}

#[actix_rt::test]
async fn x_forwarded_for_is_believed_only_from_a_trusted_proxy() {
    // 127.0.0.4 is a trusted proxy: the addresses it forwards for are throttled separately.
    let app = throttled_app(3, Duration::from_secs(60), "127.0.0.4").await;
    let proxy = client_from("127.0.0.4");
    for _ in 0..3 {
        predict_from(&proxy, &app, Some("wrong"), Some("203.0.113.7")).await;
    }
    assert_eq!(
        predict_from(&proxy, &app, Some(TEST_KEY), Some("203.0.113.7"))
            .await
            .status(),
        429
    );
    assert_eq!(
        predict_from(&proxy, &app, Some(TEST_KEY), Some("203.0.113.8"))
            .await
            .status(),
        200
    );
    // From an untrusted peer the header is ignored: its own address is what counts.
    let direct = client_from("127.0.0.5");
    for i in 0..3 {
        predict_from(
            &direct,
            &app,
            Some("wrong"),
            Some(&format!("198.51.100.{i}")),
        )
        .await;
    }
    assert_eq!(
        predict_from(&direct, &app, Some(TEST_KEY), Some("198.51.100.99"))
            .await
            .status(),
        429
    );
}

/// Opens a request that is authenticated but whose body never finishes, so it stays in flight.
async fn stalled_request(address: &str) -> TcpStream {
    let host = address.trim_start_matches("http://").to_owned();
    actix_rt::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(host).unwrap();
        let head = format!(
            "POST /predict HTTP/1.1\r\nHost: x\r\nX-API-Key: {TEST_KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"text\":"
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream
    })
    .await
    .unwrap()
}

#[actix_rt::test]
async fn past_max_concurrent_requests_new_requests_get_503_at_once_and_the_server_recovers() {
    let mut settings = test_settings();
    settings.limits.max_concurrent_requests = 2;
    let app = spawn_app_with(settings, Arc::new(Vader::new())).await;
    let stalled = vec![
        stalled_request(&app.address).await,
        stalled_request(&app.address).await,
    ];
    eventually(
        "both stalled requests in flight",
        Duration::from_secs(10),
        || async {
            let metrics = app.get("/metrics", None).await.text().await.unwrap();
            metrics.contains("http_requests_in_flight 2").then_some(())
        },
    )
    .await;

    let started = Instant::now();
    let res = app.predict_query("good", Some(TEST_KEY)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once, not queued"
    );
    assert_eq!(res.headers()["retry-after"], "1");
    // Refused before any handler runs, and still named for the client's logs.
    assert!(res.headers().contains_key("x-request-id"));
    assert_eq!(
        status_and_json(res).await,
        error_json(503, "Server overloaded")
    );
    // Health stays answerable, so monitoring sees an overloaded server rather than a dead one.
    assert_eq!(app.get("/health", None).await.status(), 200);

    drop(stalled);
    eventually("the server recovering", Duration::from_secs(10), || async {
        let res = app.predict_query("good", Some(TEST_KEY)).await;
        (res.status() == 200).then_some(())
    })
    .await;
}

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// The bound docs/internals/reliability.md documents for a flood of bad keys.
const FLOOD_RSS_BOUND_KIB: u64 = 64 * 1024;

#[actix_rt::test]
async fn a_flood_of_100000_distinct_bad_keys_from_many_addresses_keeps_memory_bounded() {
    let server = RunningBinary::start(&[
        ("API_SECRET_KEY", TEST_KEY),
        ("WORKERS", "2"),
        (
            "RUST_LOG",
            "warn,sentiment_api=info,sentiment_api::access=warn,sentiment_api::auth=error",
        ),
    ]);
    let host = server.address.clone();
    let sent = Arc::new(AtomicUsize::new(0));
    let answers = Arc::new(AtomicUsize::new(0));
    const ADDRESSES: u32 = 10_000;
    const KEYS_PER_ADDRESS: u32 = 10;
    const THREADS: u32 = 8;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (host, sent, answers) = (host.clone(), sent.clone(), answers.clone());
            std::thread::spawn(move || {
                for a in (t..ADDRESSES).step_by(THREADS as usize) {
                    // 127.1.x.y: one loopback source address per simulated client.
                    let ip = std::net::Ipv4Addr::new(127, 1, (a >> 8) as u8, a as u8);
                    let mut stream = bind_from(ip, &host);
                    let mut buf = vec![0u8; 4096];
                    for k in 0..KEYS_PER_ADDRESS {
                        let req = format!(
                            "POST /predict?text=x HTTP/1.1\r\nHost: x\r\nX-API-Key: bad-{a}-{k}-{t}-0123456789\r\nContent-Length: 0\r\n\r\n"
                        );
                        stream.write_all(req.as_bytes()).unwrap();
                        sent.fetch_add(1, Ordering::Relaxed);
                        let n = stream.read(&mut buf).unwrap();
                        if buf[..n].starts_with(b"HTTP/1.1 403") || buf[..n].starts_with(b"HTTP/1.1 429") {
                            answers.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let total = (ADDRESSES * KEYS_PER_ADDRESS) as usize;
    assert_eq!(sent.load(Ordering::Relaxed), total);
    assert_eq!(
        answers.load(Ordering::Relaxed),
        total,
        "every bad key got 403 or 429"
    );
    let peak = peak_rss_kib(server.pid());
    assert!(
        peak < FLOOD_RSS_BOUND_KIB,
        "peak RSS {peak} KiB over the {FLOOD_RSS_BOUND_KIB} KiB bound"
    );
    eprintln!("flood of {total} bad keys: peak RSS {peak} KiB");
}

/// A blocking connection to `host` from the loopback source address `ip`.
fn bind_from(ip: std::net::Ipv4Addr, host: &str) -> TcpStream {
    use socket2::{Domain, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SockAddr::from(std::net::SocketAddr::new(ip.into(), 0)))
        .unwrap();
    socket
        .connect(&SockAddr::from(
            host.parse::<std::net::SocketAddr>().unwrap(),
        ))
        .unwrap();
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

#[actix_rt::test]
async fn a_wrong_key_is_answered_before_the_body_is_looked_at_and_counted() {
    let mut settings = test_settings();
    crate::helpers::key_before_input(&mut settings);
    let app = spawn_app_with(settings, Arc::new(Vader::new())).await;
    crate::helpers::assert_key_before_input(&app, "not-the-key-at-all").await;
}
