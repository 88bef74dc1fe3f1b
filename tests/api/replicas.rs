//! Replicas sharing one Redis (`REDIS_URL`): two in-process servers against a real
//! `redis-server` that each test starts on a free port and stops by PID.
//!
//! `#[ignore]`d in a bare `cargo test` (a fresh clone has no redis-server); `.ci/run` installs it
//! (`scripts/redis/install.sh`) and runs them with `cargo test --test api replicas -- --ignored`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use sentiment_api::model::{Scores, SentimentModel, Vader};
use sentiment_api::redis_backend::{FailureMode, RedisSettings};
use serde_json::json;

use sentiment_api::testing::TestKey;

use crate::helpers::{
    error_json, eventually, remaining, retry_after, settings_with_test_keys, spawn_app_with,
    status_and_json, TestApp, TestSettings,
};

const KEY_A: &str = "key-a-0123456789abcdef";
const KEY_B: &str = "key-b-0123456789abcdef";
const WRONG: &str = "not-a-key-0123456789abc";

/// A `redis-server` of this test: no persistence, on a free loopback port, killed by PID.
struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    fn start() -> Self {
        let port = free_port();
        let mut server = RedisServer { port, child: None };
        server.restart();
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: gone at once, as a crashed Redis is.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on the same port, empty, and waits until it accepts connections.
    fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/redis/install.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP relay in front of Redis that can stop forwarding (a hung Redis, a network that drops
/// everything) while keeping the connections open.
struct Relay {
    port: u16,
    holding: Arc<AtomicBool>,
    dropping: Arc<AtomicBool>,
}

impl Relay {
    fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let holding = Arc::new(AtomicBool::new(false));
        let dropping = Arc::new(AtomicBool::new(false));
        let (hold, drop) = (Arc::clone(&holding), Arc::clone(&dropping));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let (hold, drop) = (Arc::clone(&hold), Arc::clone(&drop));
                    std::thread::spawn(move || pipe(from, to, &hold, &drop));
                }
            }
        });
        Relay {
            port,
            holding,
            dropping,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// From now on, bytes are held instead of forwarded (or forwarded again).
    fn hold(&self, on: bool) {
        self.holding.store(on, Ordering::SeqCst);
    }

    /// From now on, bytes are thrown away (or forwarded again): a network that silently loses
    /// them, with no error and no closed connection for the client to notice.
    fn drop_bytes(&self, on: bool) {
        self.dropping.store(on, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, holding: &AtomicBool, dropping: &AtomicBool) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if dropping.load(Ordering::SeqCst) {
            continue;
        }
        while holding.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A server with keys `a` and `b`, `limit` units per `window` (burst = limit), sharing `url`;
/// one worker, so that a test that sees it answer through Redis has seen its only connection.
/// Its Redis timeout is [`patient`]: the tests that use it count exactly.
async fn replica(url: &str, limit: u32, window: Duration, mode: FailureMode) -> TestApp {
    replica_with(url, mode, |settings| {
        one_worker_limited(settings, limit, window);
        patient(settings);
    })
    .await
}

fn one_worker_limited(settings: &mut TestSettings, limit: u32, window: Duration) {
    settings.listen.workers = 1;
    settings.limits.rate_limit.limit = limit;
    settings.limits.rate_limit.burst = limit;
    settings.limits.rate_limit.window = window;
}

/// A server sharing `url`, as `adjust` sets it up; returned once ready (its connection to Redis
/// made).
async fn replica_with(
    url: &str,
    mode: FailureMode,
    adjust: impl FnOnce(&mut TestSettings),
) -> TestApp {
    replica_serving(url, mode, default_keys(), adjust, Arc::new(Vader::new())).await
}

/// Keys `a` and `b`, with the server's limits.
fn default_keys() -> Vec<TestKey> {
    vec![
        TestKey::new("a").secret(KEY_A),
        TestKey::new("b").secret(KEY_B),
    ]
}

/// Two replicas in closed mode sharing `url`, each serving `keys()` and `model()`, set up by `adjust`.
async fn two_replicas_serving(
    url: &str,
    keys: impl Fn() -> Vec<TestKey>,
    adjust: impl Fn(&mut TestSettings),
    model: impl Fn() -> Arc<dyn SentimentModel>,
) -> (TestApp, TestApp) {
    let one = replica_serving(url, FailureMode::Closed, keys(), &adjust, model()).await;
    let two = replica_serving(url, FailureMode::Closed, keys(), &adjust, model()).await;
    (one, two)
}

async fn replica_serving(
    url: &str,
    mode: FailureMode,
    keys: Vec<TestKey>,
    adjust: impl FnOnce(&mut TestSettings),
    model: Arc<dyn SentimentModel>,
) -> TestApp {
    let mut settings = settings_with_test_keys(keys);
    settings.listen.workers = 2;
    settings.redis = Some(RedisSettings::new(url, "test:".into(), TIMEOUT, mode).unwrap());
    adjust(&mut settings);
    let app = spawn_app_with(settings, model).await;
    eventually("readiness", Duration::from_secs(10), || async {
        (app.get("/health/ready", None).await.status() == 200).then_some(())
    })
    .await;
    app
}

/// `REDIS_TIMEOUT_MS` of the failure tests (the default).
const TIMEOUT: Duration = Duration::from_millis(50);

/// A generous Redis timeout for the tests that count exactly: 100 requests at once on one
/// debug-build worker on a shared machine can keep an answer from Redis waiting for the worker
/// longer than 50 ms, and a 503 is not what those tests are about.
fn patient(settings: &mut TestSettings) {
    if let Some(redis) = &mut settings.redis {
        redis.timeout = Duration::from_secs(2);
    }
}

async fn statuses(apps: &[&TestApp], key: &str, n: usize) -> Vec<u16> {
    let requests = (0..n).map(|i| async move {
        let app = apps[i % apps.len()];
        app.predict_query("good", Some(key)).await.status().as_u16()
    });
    join_all(requests).await
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn two_replicas_sharing_redis_grant_exactly_the_limit_between_them() {
    let redis = RedisServer::start();
    // A long window, so no unit returns during the test: the count must be exact.
    let hour = Duration::from_secs(3600);
    let limited = |settings: &mut TestSettings| {
        settings.limits.rate_limit.limit = 50;
        settings.limits.rate_limit.burst = 50;
        settings.limits.rate_limit.window = hour;
        patient(settings);
    };
    let one = replica_with(&redis.url(), FailureMode::Closed, limited).await;
    let two = replica_with(&redis.url(), FailureMode::Closed, limited).await;
    let outcome = statuses(&[&one, &two], KEY_A, 200).await;
    assert_eq!(
        (count(&outcome, 200), count(&outcome, 429)),
        (50, 150),
        "{outcome:?}"
    );
    // Each replica on its own would have granted 50: the other key is untouched.
    let other = statuses(&[&two, &one], KEY_B, 60).await;
    assert_eq!(count(&other, 200), 50);
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_keys_own_limit_holds_across_replicas() {
    let redis = RedisServer::start();
    let keys = || {
        vec![
            TestKey::new("a").secret(KEY_A),
            TestKey::new("b").secret(KEY_B).rate_limit(7, 3),
        ]
    };
    let own_limit = |settings: &mut TestSettings| {
        settings.limits.rate_limit.window = Duration::from_secs(3600);
        patient(settings);
    };
    let vader = || Arc::new(Vader::new()) as Arc<dyn SentimentModel>;
    let (one, two) = two_replicas_serving(&redis.url(), keys, own_limit, vader).await;
    let outcome = statuses(&[&one, &two], KEY_B, 12).await;
    assert_eq!((count(&outcome, 200), count(&outcome, 429)), (3, 9));
    let res = two.get("/me", Some(KEY_B)).await;
    assert_eq!(res.headers()["ratelimit-policy"], "\"default\";q=7;w=3600");
    assert_eq!(remaining(&res), 0);
    // Key a keeps the default.
    assert_eq!(remaining(&one.get("/me", Some(KEY_A)).await), 60);
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_batch_costs_its_size_across_replicas_and_leaves_a_debt_above_the_burst() {
    let redis = RedisServer::start();
    // 10 units an hour: one every 360 s.
    let hour = Duration::from_secs(3600);
    let one = replica(&redis.url(), 10, hour, FailureMode::Closed).await;
    let two = replica(&redis.url(), 10, hour, FailureMode::Closed).await;
    let batch = |n: usize| json!({ "texts": vec!["good"; n] });
    let res = one
        .post_json("/predict/batch", &batch(4), Some(KEY_A))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(remaining(&res), 6);
    // Seven do not fit in the six left, on the other replica: refused, only the arrival unit
    // spent.
    let res = two
        .post_json("/predict/batch", &batch(7), Some(KEY_A))
        .await;
    assert_eq!(res.status(), 429);
    assert_eq!(remaining(&two.predict_query("good", Some(KEY_A)).await), 4);

    // Key b: a batch of 15, above the burst of 10, passes on a full quota and leaves a debt of
    // 5 units (plus the next request's own): 6 units of 360 s before anything passes again.
    let res = two
        .post_json("/predict/batch", &batch(15), Some(KEY_B))
        .await;
    assert_eq!(res.status(), 200);
    let refused = one.predict_query("good", Some(KEY_B)).await;
    assert_eq!(refused.status(), 429);
    let wait = retry_after(&refused);
    assert!((2159..=2160).contains(&wait), "Retry-After {wait}");
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_client_that_waits_retry_after_then_passes_on_the_other_replica() {
    let redis = RedisServer::start();
    // 2 units every 2 s: one a second.
    let window = Duration::from_secs(2);
    let one = replica(&redis.url(), 2, window, FailureMode::Closed).await;
    let two = replica(&redis.url(), 2, window, FailureMode::Closed).await;
    for _ in 0..3 {
        assert_eq!(statuses(&[&one, &two], KEY_A, 2).await, [200, 200]);
        let refused = one.predict_query("good", Some(KEY_A)).await;
        assert_eq!(refused.status(), 429);
        let wait = retry_after(&refused);
        actix_rt::time::sleep(Duration::from_secs(wait)).await;
        // Never early: after exactly Retry-After, the retry passes wherever it lands.
        assert_eq!(
            two.predict_query("good", Some(KEY_A)).await.status(),
            200,
            "refused after waiting Retry-After ({wait} s)"
        );
        actix_rt::time::sleep(Duration::from_secs(2)).await;
    }
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn failed_keys_on_both_replicas_trip_one_throttle_at_exactly_the_limit() {
    let redis = RedisServer::start();
    let throttled = |settings: &mut TestSettings| {
        settings.limits.auth_failures_per_window = 5;
        patient(settings);
    };
    let one = replica_with(&redis.url(), FailureMode::Closed, throttled).await;
    let two = replica_with(&redis.url(), FailureMode::Closed, throttled).await;
    let apps = [&one, &two];
    let mut answers = Vec::new();
    for i in 0..5 {
        answers.push(
            apps[i % 2]
                .predict_query("x", Some(WRONG))
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(answers, [403; 5]);
    for app in apps {
        let (status, body) = status_and_json(app.predict_query("x", Some(WRONG)).await).await;
        assert_eq!((status, body), error_json(429, "Rate limit exceeded"));
        // A right key from the throttled address is not confirmed either.
        let res = app.get("/me", Some(KEY_A)).await;
        assert_eq!(res.status(), 429);
        assert!(retry_after(&res) <= 60);
    }
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_killed_redis_closed_answers_503_and_limits_are_exact_again_after_a_restart() {
    let mut redis = RedisServer::start();
    let hour = Duration::from_secs(3600);
    let one = replica(&redis.url(), 5, hour, FailureMode::Closed).await;
    let two = replica(&redis.url(), 5, hour, FailureMode::Closed).await;
    assert_eq!(count(&statuses(&[&one, &two], KEY_A, 2).await, 200), 2);

    redis.kill();
    for app in [&one, &two] {
        let res = app.predict_query("good", Some(KEY_A)).await;
        assert_eq!(res.status(), 503);
        assert!(retry_after(&res) >= 1);
        let (status, body) = status_and_json(res).await;
        assert_eq!(
            (status, body),
            error_json(503, "Rate limit backend unavailable")
        );
        let (status, body) = status_and_json(app.get("/health/ready", None).await).await;
        assert_eq!(
            (status, body),
            (503, json!({"status": "redis_unavailable"}))
        );
        assert_eq!(app.get("/health", None).await.status(), 200);
        let metrics = app.get("/metrics", None).await.text().await.unwrap();
        assert!(
            metrics.contains("overloaded_total{cause=\"rate_limit_backend\"}"),
            "{metrics}"
        );
    }

    // Back, empty (no persistence): a full quota, shared and exact again, without a restart of
    // either replica.
    redis.restart();
    for app in [&one, &two] {
        eventually(
            "readiness after Redis came back",
            Duration::from_secs(10),
            || async { (app.get("/health/ready", None).await.status() == 200).then_some(()) },
        )
        .await;
    }
    eventually(
        "a request through Redis",
        Duration::from_secs(10),
        || async { (one.predict_query("good", Some(KEY_B)).await.status() == 200).then_some(()) },
    )
    .await;
    eventually(
        "a request through Redis",
        Duration::from_secs(10),
        || async { (two.predict_query("good", Some(KEY_B)).await.status() == 200).then_some(()) },
    )
    .await;
    let outcome = statuses(&[&one, &two], KEY_A, 20).await;
    assert_eq!((count(&outcome, 200), count(&outcome, 429)), (5, 15));
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_killed_redis_open_falls_back_to_each_replicas_own_limit_and_counts_it() {
    let mut redis = RedisServer::start();
    let hour = Duration::from_secs(3600);
    let one = replica(&redis.url(), 5, hour, FailureMode::Open).await;
    redis.kill();
    let outcome = statuses(&[&one], KEY_A, 8).await;
    // The process's own limiter: the full limit, still enforced.
    assert_eq!((count(&outcome, 200), count(&outcome, 429)), (5, 3));
    let metrics = one.get("/metrics", None).await.text().await.unwrap();
    let fallbacks: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("rate_limit_fallback_total{limit=\"key_quota\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no fallback count in {metrics}"));
    assert_eq!(fallbacks, 8);
    // Jobs have no per-process store another replica could read: 503 whatever the mode.
    let job = json!({"texts": ["good"]});
    let (status, body) =
        status_and_json(one.post_json("/analyze_batch", &job, Some(KEY_B)).await).await;
    assert_eq!((status, body), error_json(503, "Job store unavailable"));
    let res = one
        .get("/jobs/0b6f2a3e-1c1d-4a5e-9f00-1234567890ab", Some(KEY_B))
        .await;
    assert_eq!(res.status(), 503);
    let errors: u64 = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("redis_errors_total{reason="))
        .filter_map(|l| l.split_once(' ')?.1.parse::<u64>().ok())
        .sum();
    assert!(errors >= 1, "{metrics}");
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_hung_redis_costs_a_request_the_timeout_not_a_stall() {
    let redis = RedisServer::start();
    let relay = Relay::start(redis.port);
    let hour = Duration::from_secs(3600);
    // REDIS_TIMEOUT_MS as deployed (50 ms), not `patient`: the timeout is what is tested.
    let limited = |settings: &mut TestSettings| one_worker_limited(settings, 5, hour);
    let open = replica_with(&relay.url(), FailureMode::Open, limited).await;
    let closed = replica_with(&relay.url(), FailureMode::Closed, limited).await;
    assert_eq!(open.predict_query("good", Some(KEY_A)).await.status(), 200);
    assert_eq!(
        closed.predict_query("good", Some(KEY_A)).await.status(),
        200
    );

    relay.hold(true);
    // REDIS_TIMEOUT_MS is 50: a stalled call would wait for as long as Redis hangs (seconds
    // here). The margin covers a debug build on a loaded machine, and is far below a stall.
    let bound = TIMEOUT + Duration::from_millis(500);
    for _ in 0..3 {
        let ((a, a_took), (b, b_took)) =
            futures_util::future::join(timed(&open), timed(&closed)).await;
        assert!(a_took < bound, "open took {a_took:?}");
        assert!(b_took < bound, "closed took {b_took:?}");
        assert_eq!((a, b), (200, 503));
    }
    for app in [&open, &closed] {
        let metrics = app.get("/metrics", None).await.text().await.unwrap();
        assert!(
            metrics.lines().any(|l| l == "redis_circuit_open 1"),
            "the breaker is open while Redis is held: {metrics}"
        );
    }
    assert_eq!(open.get("/health/ready", None).await.status(), 503);

    relay.hold(false);
    eventually(
        "readiness after Redis answers again",
        Duration::from_secs(10),
        || async { (closed.get("/health/ready", None).await.status() == 200).then_some(()) },
    )
    .await;
    eventually(
        "a request through Redis",
        Duration::from_secs(10),
        || async {
            (closed.predict_query("good", Some(KEY_B)).await.status() == 200).then_some(())
        },
    )
    .await;
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_redis_that_answers_ping_but_refuses_writes_is_not_ready() {
    let redis = RedisServer::start();
    let app = replica_with(&redis.url(), FailureMode::Closed, patient).await;
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-p", &redis.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        assert!(out.status.success());
    };
    // Out of memory (noeviction): PING still answers, every script that writes is refused.
    cli(&["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(app.predict_query("good", Some(KEY_A)).await.status(), 503);
    let (status, body) = status_and_json(app.get("/health/ready", None).await).await;
    assert_eq!(
        (status, body),
        (503, json!({"status": "redis_unavailable"}))
    );
    cli(&["CONFIG", "SET", "maxmemory", "0"]);
    eventually(
        "readiness once Redis takes writes again",
        Duration::from_secs(10),
        || async { (app.get("/health/ready", None).await.status() == 200).then_some(()) },
    )
    .await;
    assert_eq!(app.predict_query("good", Some(KEY_A)).await.status(), 200);
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_connection_that_silently_lost_answers_is_replaced() {
    let redis = RedisServer::start();
    let relay = Relay::start(redis.port);
    let limited = |settings: &mut TestSettings| {
        one_worker_limited(settings, 100, Duration::from_secs(3600));
    };
    let app = replica_with(&relay.url(), FailureMode::Closed, limited).await;
    assert_eq!(app.predict_query("good", Some(KEY_A)).await.status(), 200);
    // Requests and answers vanish: the connection stays open and only times out.
    relay.drop_bytes(true);
    for _ in 0..6 {
        assert_eq!(app.predict_query("good", Some(KEY_A)).await.status(), 503);
        // Past the breaker's cooldown, so each request really tries Redis.
        actix_rt::time::sleep(Duration::from_millis(300)).await;
    }
    relay.drop_bytes(false);
    eventually(
        "a request through Redis on a new connection",
        Duration::from_secs(10),
        || async { (app.predict_query("good", Some(KEY_A)).await.status() == 200).then_some(()) },
    )
    .await;
}

/// The status of one request of key b, and how long it took.
async fn timed(app: &TestApp) -> (u16, Duration) {
    let started = Instant::now();
    let status = app.predict_query("good", Some(KEY_B)).await.status();
    (status.as_u16(), started.elapsed())
}

/// VADER, slowly, on texts that start with "slow": holds a job pending.
struct Slow(Vader);

impl SentimentModel for Slow {
    fn name(&self) -> &'static str {
        "vader"
    }

    fn score(&self, text: &str) -> Scores {
        if text.starts_with("slow") {
            std::thread::sleep(Duration::from_millis(800));
        }
        self.0.score(text)
    }
}

async fn start_job(app: &TestApp, texts: &[&str], key: &str) -> (u16, String) {
    let res = app
        .post_json("/analyze_batch", &json!({ "texts": texts }), Some(key))
        .await;
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location)
}

async fn finished(app: &TestApp, location: &str, key: &str) -> serde_json::Value {
    eventually("the job to finish", Duration::from_secs(10), || async {
        let (status, body) = status_and_json(app.get(location, Some(key)).await).await;
        assert_eq!(status, 200, "{body}");
        (body["status"] != "processing").then_some(body)
    })
    .await
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_job_made_on_one_replica_is_read_on_the_other_and_is_a_404_to_another_key() {
    let redis = RedisServer::start();
    let one = replica_with(&redis.url(), FailureMode::Closed, patient).await;
    let two = replica_with(&redis.url(), FailureMode::Closed, patient).await;
    let texts = ["I love it", "This is terrible", "ok \u{1F600}"];
    let (status, location) = start_job(&one, &texts, KEY_A).await;
    assert_eq!(status, 202);
    let job = finished(&two, &location, KEY_A).await;
    assert_eq!(job["status"], "done");
    // The same results as scoring the texts directly.
    let direct = one
        .post_json("/predict/batch", &json!({ "texts": texts }), Some(KEY_A))
        .await;
    let (_, direct) = status_and_json(direct).await;
    assert_eq!(job["results"], direct["results"]);
    for app in [&one, &two] {
        let (status, body) = status_and_json(app.get(&location, Some(KEY_B)).await).await;
        assert_eq!((status, body), error_json(404, "Not Found"));
    }
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_job_that_finishes_while_redis_is_held_keeps_its_results() {
    let redis = RedisServer::start();
    let relay = Relay::start(redis.port);
    let app = replica_serving(
        &relay.url(),
        FailureMode::Closed,
        default_keys(),
        |_| {},
        Arc::new(Slow(Vader::new())),
    )
    .await;
    let (status, location) = start_job(&app, &["slow but good"], KEY_A).await;
    assert_eq!(status, 202);
    // The job finishes after 800 ms, while Redis does not answer: far past REDIS_TIMEOUT_MS, and
    // with the circuit breaker opened by a request meanwhile.
    relay.hold(true);
    assert_eq!(
        app.predict_query("good", Some(KEY_A)).await.status(),
        503,
        "the breaker opens"
    );
    actix_rt::time::sleep(Duration::from_millis(1500)).await;
    relay.hold(false);
    let job = finished(&app, &location, KEY_A).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["results"][0]["text"], "slow but good");
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn the_pending_jobs_cap_holds_across_replicas() {
    let redis = RedisServer::start();
    let one_pending = |settings: &mut TestSettings| {
        settings.jobs.max_pending = 1;
        patient(settings);
    };
    let slow = || Arc::new(Slow(Vader::new())) as Arc<dyn SentimentModel>;
    let (one, two) = two_replicas_serving(&redis.url(), default_keys, one_pending, slow).await;
    let long = format!("slow {}", "x".repeat(4000));
    let (status, first) = start_job(&one, &[&long], KEY_A).await;
    assert_eq!(status, 202);
    let refused = two
        .post_json("/analyze_batch", &json!({"texts": ["quick"]}), Some(KEY_A))
        .await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        status_and_json(refused).await,
        error_json(503, "Too many pending jobs")
    );
    finished(&two, &first, KEY_A).await;
    assert_eq!(start_job(&two, &["quick"], KEY_A).await.0, 202);
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_job_whose_replica_died_reads_failed_and_gives_its_pending_place_back() {
    let redis = RedisServer::start();
    let app = replica_with(&redis.url(), FailureMode::Closed, |settings| {
        settings.jobs.max_pending = 1;
        patient(settings);
    })
    .await;
    // What a replica that died mid-job leaves: a pending job whose deadline has passed.
    let id = "0b6f2a3e-1c1d-4a5e-9f00-1234567890ab";
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-p", &redis.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        assert!(out.status.success());
    };
    cli(&[
        "HSET",
        &format!("test:{{jobs}}:job:{id}"),
        "owner",
        "a",
        "state",
        "processing",
    ]);
    cli(&["ZADD", "test:{jobs}:pending", "1", id]);
    // Whoever looks first (a read here; the next job's creation otherwise) heals it.
    let (status, body) = status_and_json(app.get(&format!("/jobs/{id}"), Some(KEY_A)).await).await;
    assert_eq!((status, body["status"].clone()), (200, json!("failed")));
    assert_eq!(start_job(&app, &["quick"], KEY_A).await.0, 202);
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn polling_a_big_job_cannot_take_the_replica_out_for_other_keys() {
    let redis = RedisServer::start();
    // A Redis timeout short enough that reading a megabyte through the limits' path outlasts it
    // (as the 50 ms default does), with room for a debug build on a shared machine to answer the
    // small calls of other keys in time.
    let app = replica_with(&redis.url(), FailureMode::Closed, |settings| {
        one_worker_limited(settings, 1000, Duration::from_secs(60));
        if let Some(redis) = &mut settings.redis {
            redis.timeout = Duration::from_millis(250);
        }
    })
    .await;
    // One full batch of long texts: about a megabyte of results.
    let text = format!("good {}", "y".repeat(3990));
    let texts: Vec<&str> = (0..256).map(|_| text.as_str()).collect();
    let (status, location) = start_job(&app, &texts, KEY_A).await;
    assert_eq!(status, 202);
    let job = finished(&app, &location, KEY_A).await;
    assert_eq!(job["status"], "done");

    for round in 0..3 {
        let polls =
            (0..24).map(|_| async { app.get(&location, Some(KEY_A)).await.status().as_u16() });
        let others = async {
            let mut seen = Vec::new();
            for _ in 0..5 {
                seen.push(
                    app.predict_query("good", Some(KEY_B))
                        .await
                        .status()
                        .as_u16(),
                );
                seen.push(app.get("/health/ready", None).await.status().as_u16());
            }
            seen
        };
        let (polled, others) = futures_util::future::join(join_all(polls), others).await;
        // A poll is answered, or refused by the poll limit; never a 503 of a tripped breaker.
        assert!(
            polled.iter().all(|s| *s == 200 || *s == 429),
            "round {round}: polls {polled:?}"
        );
        if round == 0 {
            assert!(polled.contains(&200), "round {round}: polls {polled:?}");
        }
        assert!(
            others.iter().all(|s| *s == 200),
            "round {round}: another key and readiness {others:?}"
        );
    }
    assert_eq!(app.predict_query("good", Some(KEY_B)).await.status(), 200);
    assert_eq!(app.get("/health/ready", None).await.status(), 200);
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l == "redis_circuit_open 0"),
        "{metrics}"
    );
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_wrong_key_is_answered_before_the_body_is_looked_at_and_counted_in_redis() {
    let redis = RedisServer::start();
    let app = replica_with(&redis.url(), FailureMode::Closed, |settings| {
        crate::helpers::key_before_input(settings);
        patient(settings);
    })
    .await;
    crate::helpers::assert_key_before_input(&app, WRONG).await;
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn two_replicas_share_an_owners_day_quota_exactly_through_redis() {
    use sentiment_api::clock::ManualWallClock;
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    let redis = RedisServer::start();
    let noon = OffsetDateTime::parse("2026-06-10T12:00:00Z", &Rfc3339).unwrap();
    // Both replicas read one manual wall clock: the day is the same for both, as NTP makes it.
    let clock = ManualWallClock::at(noon);
    let keys = || {
        vec![
            TestKey::new("a").secret(KEY_A).owner("acme"),
            TestKey::new("b")
                .secret(KEY_B)
                .owner("acme")
                .quota(Some(1000), None),
        ]
    };
    let adjust = |settings: &mut TestSettings| {
        settings.limits.rate_limit.limit = 10_000;
        settings.limits.rate_limit.burst = 10_000;
        settings.wall_clock = sentiment_api::clock::SharedWallClock(clock.clone());
        settings.owner_quota("acme", Some(30), None);
        patient(settings);
    };
    let model = || Arc::new(Vader::new()) as Arc<dyn SentimentModel>;
    let (one, two) = two_replicas_serving(&redis.url(), keys, adjust, model).await;
    let (one, two) = (&one, &two);
    let requests = (0..100).map(|i| async move {
        let app = if i % 2 == 0 { one } else { two };
        let key = if i % 4 < 2 { KEY_A } else { KEY_B };
        status_and_json(app.predict_query("good", Some(key)).await).await
    });
    let answers = join_all(requests).await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let refused = answers
        .iter()
        .filter(|a| **a == error_json(429, "Quota exceeded"))
        .count();
    assert_eq!((ok, refused), (30, 70), "{answers:?}");
    let me = status_and_json(two.get("/me", Some(KEY_A)).await).await.1;
    assert_eq!(me["quota"]["owner"]["day"]["used"], 30, "{me}");
    // The next day, on either replica, the owner's keys start again.
    clock.advance(Duration::from_secs(12 * 3600));
    assert_eq!(one.predict_query("good", Some(KEY_B)).await.status(), 200);
    let me = status_and_json(one.get("/me", Some(KEY_B)).await).await.1;
    assert_eq!(me["quota"]["owner"]["day"]["used"], 1, "{me}");
    assert_eq!(me["quota"]["key"]["day"]["used"], 1, "{me}");
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn keys_usage_reads_what_the_servers_spent_from_redis() {
    use crate::helpers::{binary, temp_dir, usage_line, RunningBinary};
    use crate::keys::{entry, keys_file};

    let redis = RedisServer::start();
    let dir = temp_dir("quota-usage-redis");
    // Enough quotas that reading them all takes more than one script (they are read in chunks).
    let many: Vec<(String, String)> = (0..300)
        .map(|i| {
            (
                format!("q{i:03}"),
                format!("sk_quota-many-{i:03}-0123456789abcdef"),
            )
        })
        .collect();
    let mut entries = vec![
        entry("a", KEY_A, "owner = \"acme\"\nquota = { per_month = 50 }"),
        entry("b", KEY_B, "owner = \"acme\""),
        "[owners.acme]\nquota = { per_day = 10 }\n".to_owned(),
    ];
    entries.extend(
        many.iter()
            .map(|(id, secret)| entry(id, secret, "quota = { per_day = 5 }")),
    );
    let file = keys_file(&dir, &entries);
    let socket = dir.join("admin.sock");
    let envs = [
        ("API_KEYS_FILE", file.to_str().unwrap()),
        ("REDIS_URL", &redis.url()),
        ("ADMIN_SOCKET", socket.to_str().unwrap()),
    ];
    let server = RunningBinary::start_in(&dir, &envs);
    let app = server.app();
    for key in [KEY_A, KEY_A, KEY_B, &many[299].1] {
        assert_eq!(app.predict_query("good", Some(key)).await.status(), 200);
    }
    // From Redis directly, and from the server's admin socket, which reads the same counters.
    let direct = binary(&dir, &envs).args(["keys", "usage"]).output();
    let socket_arg = socket.to_str().unwrap();
    let via_socket = binary(&dir, &[])
        .args(["keys", "usage", "--socket", socket_arg])
        .output();
    for (out, source) in [
        (direct.unwrap(), "from Redis at"),
        (via_socket.unwrap(), "counted in Redis"),
    ] {
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(text.contains(source), "{text}");
        let line = |kind, name, period| usage_line(&text, kind, name, period);
        assert_eq!(
            line("key", "a", "month").as_deref(),
            Some("2 of 50"),
            "{text}"
        );
        assert_eq!(
            line("owner", "acme", "day").as_deref(),
            Some("3 of 10"),
            "{text}"
        );
        assert_eq!(line("key", "q299", "day").as_deref(), Some("1 of 5"));
        assert_eq!(line("key", "q000", "day").as_deref(), Some("0 of 5"));
        assert_eq!(text.lines().filter(|l| l.starts_with("key ")).count(), 301);
    }
    server.stop();
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_killed_redis_decides_quotas_as_the_failure_mode_says() {
    let mut redis = RedisServer::start();
    let quota_keys = || {
        vec![
            TestKey::new("a").secret(KEY_A).quota(Some(3), None),
            TestKey::new("b").secret(KEY_B),
        ]
    };
    let open = replica_serving(
        &redis.url(),
        FailureMode::Open,
        quota_keys(),
        patient,
        Arc::new(Vader::new()),
    )
    .await;
    let closed = replica_serving(
        &redis.url(),
        FailureMode::Closed,
        quota_keys(),
        |_| {},
        Arc::new(Vader::new()),
    )
    .await;
    assert_eq!(open.predict_query("good", Some(KEY_A)).await.status(), 200);
    redis.kill();
    // Open: this process's own count, which never saw the unit spent in Redis: 3 more.
    let outcome = statuses(&[&open], KEY_A, 5).await;
    assert_eq!(
        (count(&outcome, 200), count(&outcome, 429)),
        (3, 2),
        "{outcome:?}"
    );
    let metrics = open.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("rate_limit_fallback_total{limit=\"quota\"} 5"),
        "{metrics}"
    );
    // Closed: 503, as for the rate limit.
    let (status, _) = status_and_json(closed.predict_query("good", Some(KEY_A)).await).await;
    assert_eq!(status, 503);
}

#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_batch_refused_by_a_quota_in_redis_gives_its_arrival_unit_back() {
    let redis = RedisServer::start();
    let app = replica_serving(
        &redis.url(),
        FailureMode::Closed,
        vec![TestKey::new("a")
            .secret(KEY_A)
            .owner("acme")
            .quota(Some(5), None)],
        |settings| {
            settings.owner_quota("acme", None, Some(100));
            patient(settings);
        },
        Arc::new(Vader::new()),
    )
    .await;
    let batch = json!({"texts": ["good", "bad", "fine"]});
    let res = app.post_json("/predict/batch", &batch, Some(KEY_A)).await;
    assert_eq!(res.status(), 200);
    let res = app.post_json("/predict/batch", &batch, Some(KEY_A)).await;
    assert_eq!(
        status_and_json(res).await,
        error_json(429, "Quota exceeded")
    );
    let me = status_and_json(app.get("/me", Some(KEY_A)).await).await.1;
    assert_eq!(me["quota"]["key"]["day"]["used"], 3, "{me}");
    assert_eq!(me["quota"]["owner"]["month"]["used"], 3, "{me}");
}

/// The poll limit (`POLL_POLICY`: 20 at once) is spent before the read: polls sent in parallel
/// cannot all pass a check made before any of them was counted (review finding F4). (Polls by
/// several keys against a release binary: `scripts/poll_storm_check.py`.)
#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn parallel_polls_of_a_done_job_get_no_more_than_the_poll_burst() {
    let redis = RedisServer::start();
    let app = replica_with(&redis.url(), FailureMode::Closed, |settings| {
        one_worker_limited(settings, 100_000, Duration::from_secs(60));
        patient(settings);
    })
    .await;
    let text = format!("good {}", "y".repeat(3990));
    let texts: Vec<&str> = (0..256).map(|_| text.as_str()).collect();
    let (status, location) = start_job(&app, &texts, KEY_A).await;
    assert_eq!(status, 202);
    finished(&app, &location, KEY_A).await;
    // The burst refills at 10 a second: wait until it is full again.
    actix_rt::time::sleep(Duration::from_secs(3)).await;
    let polls = (0..200).map(|_| async { app.get(&location, Some(KEY_A)).await.status().as_u16() });
    let polled = join_all(polls).await;
    // 20 at once, plus 10 a second for however long the 200 polls took (a few seconds at most).
    assert!(
        count(&polled, 200) <= 40,
        "{} reads of a 1 MB job for one key",
        count(&polled, 200)
    );
}

/// `REDIS_FAILURE_MODE=open`: a batch whose arrival unit was spent in this process while Redis
/// stalled, and refused once Redis answers again, gives its unit back to Redis, which never had
/// it: one unit minted over the day's quota.
#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_refund_goes_back_where_its_arrival_unit_was_spent() {
    use std::io::{Read, Write};
    let redis = RedisServer::start();
    let relay = Relay::start(redis.port);
    let app = replica_serving(
        &relay.url(),
        FailureMode::Open,
        vec![TestKey::new("a").secret(KEY_A).quota(Some(3), None)],
        |settings| settings.listen.workers = 1,
        Arc::new(Vader::new()),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(app.predict_query("good", Some(KEY_A)).await.status(), 200);
    }
    let body = json!({"texts": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]}).to_string();
    let host = app.url("").trim_start_matches("http://").to_owned();
    relay.hold(true);
    let mut tcp = TcpStream::connect(&host).unwrap();
    write!(
        tcp,
        "POST /predict/batch HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {KEY_A}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    // The arrival unit is decided in this process (Redis does not answer within the timeout).
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    relay.hold(false);
    eventually("Redis answers again", Duration::from_secs(10), || async {
        (app.get("/health/ready", None).await.status() == 200).then_some(())
    })
    .await;
    tcp.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    let res = app.predict_query("good", Some(KEY_A)).await;
    assert_eq!(res.status(), 429, "a 4th unit of a quota of 3");
}

/// With Redis too, a batch whose arrival unit was spent on one day and refused on the next gives
/// that unit back to the day it was spent in (and to the month, the same one), not to the new day.
#[actix_rt::test]
#[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
async fn a_batch_refused_after_midnight_gives_its_unit_back_to_the_day_it_was_spent_in() {
    use sentiment_api::clock::ManualWallClock;
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    let at = |s: &str| OffsetDateTime::parse(s, &Rfc3339).unwrap();
    let redis = RedisServer::start();
    let clock = ManualWallClock::at(at("2026-03-14T23:59:59Z"));
    let app = replica_serving(
        &redis.url(),
        FailureMode::Closed,
        vec![TestKey::new("a").secret(KEY_A).quota(Some(5), Some(100))],
        |settings| {
            settings.wall_clock = sentiment_api::clock::SharedWallClock(clock.clone());
            patient(settings);
        },
        Arc::new(Vader::new()),
    )
    .await;
    let body = json!({"texts": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]}).to_string();
    let host = app.url("").trim_start_matches("http://").to_owned();
    let mut tcp = TcpStream::connect(&host).unwrap();
    write!(
        tcp,
        "POST /predict/batch HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {KEY_A}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    eventually("the arrival unit", Duration::from_secs(5), || async {
        let me = status_and_json(app.get("/me", Some(KEY_A)).await).await.1;
        (me["quota"]["key"]["day"]["used"] == 1).then_some(())
    })
    .await;
    clock.set(at("2026-03-15T00:00:01Z"));
    for _ in 0..5 {
        assert_eq!(app.predict_query("good", Some(KEY_A)).await.status(), 200);
    }
    tcp.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    let res = app.predict_query("good", Some(KEY_A)).await;
    assert_eq!(res.status(), 429, "a 6th unit on the 15th, quota 5");
    let me = status_and_json(app.get("/me", Some(KEY_A)).await).await.1;
    assert_eq!(me["quota"]["key"]["month"]["used"], 5, "{me}");
    // The 14th's counter (kept a day after its end) got the unit back.
    clock.set(at("2026-03-14T23:59:59Z"));
    let me = status_and_json(app.get("/me", Some(KEY_A)).await).await.1;
    assert_eq!(me["quota"]["key"]["day"]["used"], 0, "{me}");
}
