//! `POST /predict/batch`, background jobs, inference timeouts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sentiment_api::model::{Scores, SentimentModel, Vader};
use serde_json::{json, Value};

use crate::helpers::{
    error_json, eventually, remaining, retry_after, settings_with_keys, settings_with_limit,
    spawn_app_with, status_and_json, test_settings, TestApp, TestSettings, TEST_KEY,
};

const OTHER_KEY: &str = "other-key-0123456789abcdef";

/// Test settings with limits high enough that batches are never rate limited.
fn roomy() -> TestSettings {
    let mut settings = settings_with_keys(&[("test", TEST_KEY), ("other", OTHER_KEY)]);
    settings.limits.rate_limit.limit = 1_000_000;
    settings.limits.rate_limit.burst = 1_000_000;
    settings
}

async fn app(settings: TestSettings) -> TestApp {
    spawn_app_with(settings, Arc::new(Vader::new())).await
}

const TEXTS: [&str; 4] = [
    "I love it",
    "This is terrible, I hate it.",
    "The meeting is at noon.",
    "Not bad at all :)",
];

#[actix_rt::test]
async fn a_batch_answers_in_input_order_exactly_as_predict_does_for_each_text() {
    let app = app(roomy()).await;
    let (status, body) = status_and_json(
        app.post_json("/predict/batch", &json!({"texts": TEXTS}), Some(TEST_KEY))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "success");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), TEXTS.len());
    for (text, result) in TEXTS.iter().zip(results) {
        assert_eq!(result, &single(&app, text).await, "{text}");
        assert!(result.get("status").is_none());
    }
}

#[actix_rt::test]
async fn bad_batch_items_are_each_reported_with_their_index() {
    let mut settings = roomy();
    settings.input.max_text_chars = 10;
    let app = app(settings).await;
    let body = json!({"texts": ["fine", 42, "much too long for ten", "ok", ["x"]]});
    let (status, body) =
        status_and_json(app.post_json("/predict/batch", &body, Some(TEST_KEY)).await).await;
    assert_eq!(status, 422);
    let found: Vec<(String, Value)> = body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].as_str().unwrap().to_owned(), e["loc"].clone()))
        .collect();
    assert_eq!(
        found,
        vec![
            ("string_type".into(), json!(["body", "texts", 1])),
            ("string_too_long".into(), json!(["body", "texts", 2])),
            ("string_type".into(), json!(["body", "texts", 4])),
        ]
    );
}

#[actix_rt::test]
async fn batches_outside_the_size_limits_get_422_too_short_or_too_long() {
    let mut settings = roomy();
    settings.input.max_batch_size = 3;
    let app = app(settings).await;
    for path in ["/predict/batch", "/analyze_batch"] {
        for (body, kind) in [
            (json!({"texts": []}), "too_short"),
            (json!({"texts": ["a", "b", "c", "d"]}), "too_long"),
            (json!({"texts": "a"}), "list_type"),
            (json!({"text": ["a"]}), "missing"),
        ] {
            let (status, res) =
                status_and_json(app.post_json(path, &body, Some(TEST_KEY)).await).await;
            assert_eq!(status, 422, "{path} {body}");
            assert_eq!(res["detail"][0]["type"], kind, "{path} {body}");
            assert_eq!(res["detail"][0]["loc"], json!(["body", "texts"]));
        }
        let empty = app.request("POST", path, Some(TEST_KEY)).await;
        assert_eq!(empty.status(), 422, "{path} with no body");
    }
}

#[actix_rt::test]
async fn a_full_batch_of_the_longest_texts_completes() {
    let mut settings = roomy();
    settings.input.max_batch_size = 256;
    settings.input.max_text_chars = 10_000;
    settings.input.max_body_bytes = 4 * 1024 * 1024;
    // A debug build scores 2.5 MB of text far slower than a release build.
    settings.jobs.inference_timeout = Duration::from_secs(120);
    let app = app(settings).await;
    let sentence = "The food was great but the service was awfully slow! ";
    let text: String = sentence.chars().cycle().take(10_000).collect();
    let texts = vec![text; 256];
    let (status, body) = status_and_json(
        app.post_json("/predict/batch", &json!({"texts": texts}), Some(TEST_KEY))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["results"].as_array().unwrap().len(), 256);
}

#[actix_rt::test]
async fn a_batch_of_n_texts_costs_n_units_and_a_refused_one_only_its_arrival() {
    let app = spawn_app_with(settings_with_limit(10), Arc::new(Vader::new())).await;
    let batch = |n: usize| json!({ "texts": vec!["a"; n] });
    let res = app
        .post_json("/predict/batch", &batch(7), Some(TEST_KEY))
        .await;
    assert_eq!((res.status().as_u16(), remaining(&res)), (200, 3));
    // Four do not fit in the three left: refused; the request itself still cost its unit,
    // so an exhausted key cannot send refused batches for free.
    let res = app
        .post_json("/predict/batch", &batch(4), Some(TEST_KEY))
        .await;
    assert_eq!((res.status().as_u16(), remaining(&res)), (429, 2));
    assert!(res.headers().contains_key("retry-after"));
    let res = app
        .post_json("/predict/batch", &batch(2), Some(TEST_KEY))
        .await;
    assert_eq!((res.status().as_u16(), remaining(&res)), (200, 0));
}

#[actix_rt::test]
async fn a_refused_batch_sent_again_after_retry_after_gets_through() {
    // 5 units per 5 s: one unit returns every second.
    let mut settings = settings_with_limit(5);
    settings.limits.rate_limit.window = Duration::from_secs(5);
    let app = spawn_app_with(settings, Arc::new(Vader::new())).await;
    let batch = json!({ "texts": ["a", "b", "c"] });
    let res = app
        .post_json("/predict/batch", &batch, Some(TEST_KEY))
        .await;
    assert_eq!((res.status().as_u16(), remaining(&res)), (200, 2));
    // The second batch pays its arrival unit (1 left) and does not fit. Its retry will pay on
    // arrival again, so it needs 3 units from the 1 left: 2 s.
    let res = app
        .post_json("/predict/batch", &batch, Some(TEST_KEY))
        .await;
    assert_eq!(res.status(), 429);
    let retry = retry_after(&res);
    assert_eq!(retry, 2);
    // A client that waits exactly as told gets through.
    actix_rt::time::sleep(Duration::from_secs(retry)).await;
    let res = app
        .post_json("/predict/batch", &batch, Some(TEST_KEY))
        .await;
    assert_eq!(res.status(), 200);
}

/// Starts a job of `texts` with `key`; returns its `Location`.
async fn start_job(app: &TestApp, texts: &[&str], key: &str) -> String {
    let res = app
        .post_json("/analyze_batch", &json!({ "texts": texts }), Some(key))
        .await;
    assert_eq!(res.status(), 202);
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// What `/predict` answers for `text`, without its `status`: the shape of a batch item.
async fn single(app: &TestApp, text: &str) -> Value {
    let (_, mut single) = status_and_json(app.predict_query(text, Some(TEST_KEY)).await).await;
    single.as_object_mut().unwrap().remove("status");
    single
}

#[actix_rt::test]
async fn a_batch_larger_than_the_burst_passes_on_a_full_quota_and_leaves_a_debt() {
    let mut settings = test_settings();
    settings.limits.rate_limit.limit = 60;
    settings.limits.rate_limit.burst = 10;
    let app = spawn_app_with(settings, Arc::new(Vader::new())).await;
    let res = app
        .post_json(
            "/predict/batch",
            &json!({"texts": vec!["good"; 25]}),
            Some(TEST_KEY),
        )
        .await;
    assert_eq!(res.status(), 200);
    // 25 units at one a second with a burst of 10: the next unit is back in 16 s.
    assert_eq!(res.headers()["ratelimit"], "\"default\";r=0;t=16");
    let res = app.predict_query("good", Some(TEST_KEY)).await;
    assert_eq!(res.status(), 429);
    let retry = retry_after(&res);
    assert!((15..=16).contains(&retry), "{retry}");
}

/// Polls the job at `location` until it is no longer processing; returns its last view.
async fn wait_for_job(app: &TestApp, location: &str, key: &str) -> Value {
    eventually("the job finishing", Duration::from_secs(30), || async {
        let (status, body) = status_and_json(app.get(location, Some(key)).await).await;
        assert_eq!(status, 200, "{body}");
        (body["status"] != "processing").then_some(body)
    })
    .await
}

#[actix_rt::test]
async fn a_job_goes_from_202_to_done_with_the_results_of_predict_for_each_text() {
    let app = app(roomy()).await;
    let res = app
        .post_json("/analyze_batch", &json!({"texts": TEXTS}), Some(TEST_KEY))
        .await;
    assert_eq!(res.status(), 202);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let (_, body) = status_and_json(res).await;
    let job_id = body["job_id"].as_str().unwrap().to_owned();
    assert_eq!(body, json!({"job_id": job_id, "status": "processing"}));
    assert_eq!(location, format!("/jobs/{job_id}"));
    assert_eq!(job_id.len(), 36, "a UUID: 122 random bits");

    let done = wait_for_job(&app, &location, TEST_KEY).await;
    assert_eq!(done["status"], "done");
    assert_eq!(done["job_id"], job_id.as_str());
    for (text, result) in TEXTS.iter().zip(done["results"].as_array().unwrap()) {
        assert_eq!(result, &single(&app, text).await);
    }
}

#[actix_rt::test]
async fn polling_a_job_spends_no_unit_of_the_rate_limit() {
    let app = spawn_app_with(settings_with_limit(3), Arc::new(Vader::new())).await;
    let location = start_job(&app, &["hello"], TEST_KEY).await;
    for _ in 0..10 {
        let res = app.get(&location, Some(TEST_KEY)).await;
        assert_eq!((res.status().as_u16(), remaining(&res)), (200, 2));
    }
}

#[actix_rt::test]
async fn another_keys_job_is_a_404_exactly_like_a_job_that_never_existed() {
    let app = &app(roomy()).await;
    let location = start_job(app, &["hello"], TEST_KEY).await;
    wait_for_job(app, &location, TEST_KEY).await;
    let get = |path: String, key: &'static str| async move {
        let res = app.get(&path, Some(key)).await;
        (res.status().as_u16(), res.text().await.unwrap())
    };
    let theirs = get(location.clone(), OTHER_KEY).await;
    let never = get(
        "/jobs/6f1c7e0a-0000-4000-8000-000000000000".into(),
        OTHER_KEY,
    )
    .await;
    let junk = get("/jobs/..%2F..%2Fetc".into(), TEST_KEY).await;
    assert_eq!(theirs, (404, r#"{"detail":"Not Found"}"#.to_owned()));
    assert_eq!(never, theirs);
    assert_eq!(junk, theirs);
}

#[actix_rt::test]
async fn a_job_id_that_names_no_job_gets_404_with_the_rate_limit_headers() {
    let app = spawn_app_with(settings_with_limit(10), Arc::new(Vader::new())).await;
    for path in [
        "/jobs/not-a-uuid",
        "/jobs/6f1c7e0a-0000-4000-8000-000000000000",
    ] {
        let res = app.get(path, Some(TEST_KEY)).await;
        // Authenticated, so it carries the quota like every authenticated answer; it spends none.
        assert_eq!(
            res.headers()["ratelimit-policy"],
            "\"default\";q=10;w=60",
            "{path}"
        );
        assert_eq!(remaining(&res), 10, "{path}");
        assert_eq!(
            (res.status().as_u16(), res.text().await.unwrap()),
            (404, r#"{"detail":"Not Found"}"#.to_owned()),
            "{path}"
        );
    }
}

/// A model that takes its time on texts starting with "slow", to hold jobs and requests open.
struct SlowModel(Vader, Duration);

impl SentimentModel for SlowModel {
    fn name(&self) -> &'static str {
        "slow"
    }

    fn score(&self, text: &str) -> Scores {
        if text.starts_with("slow") {
            std::thread::sleep(self.1);
        }
        self.0.score(text)
    }
}

/// Long enough to be sent to the blocking pool rather than scored inline.
fn slow_text() -> String {
    format!("slow {}", "x".repeat(4000))
}

#[actix_rt::test]
async fn the_pending_jobs_cap_answers_503_and_frees_up_when_jobs_finish() {
    let mut settings = roomy();
    settings.jobs.max_pending = 1;
    let app = spawn_app_with(
        settings,
        Arc::new(SlowModel(Vader::new(), Duration::from_millis(800))),
    )
    .await;
    let first = start_job(&app, &[&slow_text()], TEST_KEY).await;
    let quick = json!({"texts": ["quick"]});
    let second = app
        .post_json("/analyze_batch", &quick, Some(TEST_KEY))
        .await;
    assert!(second.headers().contains_key("retry-after"));
    assert_eq!(
        status_and_json(second).await,
        error_json(503, "Too many pending jobs")
    );
    wait_for_job(&app, &first, TEST_KEY).await;
    start_job(&app, &["quick"], TEST_KEY).await;
}

#[actix_rt::test]
async fn a_job_refused_for_room_or_for_quota_costs_only_its_arrival_and_leaves_no_job() {
    let mut settings = roomy();
    settings.jobs.max_pending = 1;
    settings.limits.rate_limit.limit = 10;
    settings.limits.rate_limit.burst = 10;
    let app = spawn_app_with(
        settings,
        Arc::new(SlowModel(Vader::new(), Duration::from_millis(800))),
    )
    .await;
    let job = |texts: Vec<String>| json!({ "texts": texts });
    let first = app
        .post_json("/analyze_batch", &job(vec![slow_text()]), Some(TEST_KEY))
        .await;
    assert_eq!((first.status().as_u16(), remaining(&first)), (202, 9));
    // No room for a second job: 503, and of its 5 texts only the arrival unit is paid.
    let second = app
        .post_json("/analyze_batch", &job(vec!["a".into(); 5]), Some(TEST_KEY))
        .await;
    assert_eq!((second.status().as_u16(), remaining(&second)), (503, 8));
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    wait_for_job(&app, &location, TEST_KEY).await;
    // Room again, but 9 texts do not fit in the quota: 429, and no job is left pending...
    let third = app
        .post_json("/analyze_batch", &job(vec!["a".into(); 9]), Some(TEST_KEY))
        .await;
    assert_eq!((third.status().as_u16(), remaining(&third)), (429, 7));
    // ...so the one pending place is free for the next job.
    let fourth = app
        .post_json("/analyze_batch", &job(vec!["a".into()]), Some(TEST_KEY))
        .await;
    assert_eq!((fourth.status().as_u16(), remaining(&fourth)), (202, 6));
}

#[actix_rt::test]
async fn a_job_over_the_stores_byte_budget_answers_503() {
    let mut settings = roomy();
    settings.jobs.max_bytes = 4096;
    let app = app(settings).await;
    let big = "word ".repeat(1000);
    let res = app
        .post_json("/analyze_batch", &json!({"texts": [big]}), Some(TEST_KEY))
        .await;
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        status_and_json(res).await,
        error_json(503, "Too many stored jobs")
    );
    start_job(&app, &["a small one still fits"], TEST_KEY).await;
}

#[actix_rt::test]
async fn finished_jobs_disappear_after_their_ttl() {
    let mut settings = roomy();
    settings.jobs.ttl = Duration::from_millis(500);
    let app = app(settings).await;
    let started = Instant::now();
    let location = start_job(&app, &["hello"], TEST_KEY).await;
    wait_for_job(&app, &location, TEST_KEY).await;
    eventually(
        "the finished job expiring",
        Duration::from_secs(10),
        || async { (app.get(&location, Some(TEST_KEY)).await.status() == 404).then_some(()) },
    )
    .await;
    // The job finished after it started, so it cannot have expired sooner than its TTL.
    assert!(started.elapsed() >= Duration::from_millis(500));
}

#[actix_rt::test]
async fn an_inference_timeout_answers_503_json_and_the_server_keeps_serving() {
    let mut settings = roomy();
    settings.jobs.inference_timeout = Duration::from_millis(50);
    let app = spawn_app_with(
        settings,
        Arc::new(SlowModel(Vader::new(), Duration::from_millis(400))),
    )
    .await;
    let started = Instant::now();
    let res = app
        .post_json("/predict", &json!({"text": slow_text()}), Some(TEST_KEY))
        .await;
    assert!(
        started.elapsed() < Duration::from_millis(390),
        "answered before the model finished"
    );
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(
        status_and_json(res).await,
        error_json(503, "Inference timed out")
    );
    // A job that times out is reported as failed, not left processing.
    let location = start_job(&app, &[&slow_text()], TEST_KEY).await;
    let job = wait_for_job(&app, &location, TEST_KEY).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(
        app.predict_query("still here", Some(TEST_KEY))
            .await
            .status(),
        200
    );
}

/// `limits::POLL_POLICY`: reads of finished jobs by one key, 20 at once and 10 a second after.
/// Past it, a 429 `Rate limit exceeded` with `Retry-After` and the key's own `RateLimit` headers
/// (its rate limit untouched), as docs/api.md says.
#[actix_rt::test]
async fn reading_finished_jobs_past_the_poll_limit_is_a_429_that_spends_no_unit() {
    let app = spawn_app_with(settings_with_limit(10), Arc::new(Vader::new())).await;
    let location = start_job(&app, &["hello"], TEST_KEY).await;
    wait_for_job(&app, &location, TEST_KEY).await;
    // 100 reads at once: the burst is 20, and the refill (10 a second) cannot serve 80 more
    // unless the reads take 8 seconds to arrive.
    let answers =
        futures_util::future::join_all((0..100).map(|_| app.get(&location, Some(TEST_KEY)))).await;
    let refused: Vec<_> = answers.into_iter().filter(|r| r.status() == 429).collect();
    assert!(!refused.is_empty(), "no poll was refused");
    for res in refused {
        assert!(retry_after(&res) >= 1);
        assert_eq!(res.headers()["ratelimit-policy"], "\"default\";q=10;w=60");
        assert_eq!(remaining(&res), 9, "a refused poll spends no unit");
        assert_eq!(
            status_and_json(res).await,
            error_json(429, "Rate limit exceeded")
        );
    }
}
