//! What the real binary writes to its log: useful lines, and never a key.

use reqwest::Client;

use sentiment_api::paths::ROUTES;

use crate::helpers::RunningBinary;

const KEY: &str = "sk_log-test-key-THAT-MUST-NEVER-APPEAR-42";

/// Sends one request of every kind the service answers, with the key in every place a careless
/// client might put it.
async fn exercise_every_path(client: &Client, base: &str) {
    let url = |p: &str| format!("{base}{p}");
    let sends = vec![
        client
            .post(url("/predict?text=I%20love%20it"))
            .header("X-API-Key", KEY),
        client
            .post(url("/predict"))
            .header("X-API-Key", KEY)
            .json(&serde_json::json!({"text": "bad"})),
        client.post(url("/predict")).header("X-API-Key", KEY),
        client
            .post(url("/predict"))
            .header("X-API-Key", KEY)
            .header("Content-Type", "application/json")
            .body("{oops"),
        client
            .post(url("/predict"))
            .header("X-API-Key", KEY)
            .header("Content-Type", "text/plain")
            .body("hi"),
        client
            .post(url("/predict?text=hi"))
            .header("X-API-Key", format!("{KEY}x")),
        client
            .post(url("/predict?text=hi"))
            .header("X-API-Key", KEY)
            .header("X-API-Key", KEY),
        client.post(url("/predict?text=hi")),
        // As `Authorization: Bearer` (issue 28): right, wrong, beside a different X-API-Key, twice.
        client.post(url("/predict?text=hi")).bearer_auth(KEY),
        client
            .post(url("/predict?text=hi"))
            .bearer_auth(format!("{KEY}x")),
        client
            .post(url("/predict?text=hi"))
            .header("X-API-Key", format!("{KEY}x"))
            .bearer_auth(KEY),
        client
            .post(url("/predict?text=hi"))
            .header("Authorization", format!("Bearer {KEY}"))
            .header("Authorization", format!("bearer {KEY}")),
        client.post(url(&format!("/predict?text=hi&api_key={KEY}"))),
        client.get(url("/predict")).header("X-API-Key", KEY),
        client.get(url("/health")).header("X-API-Key", KEY),
        client.get(url("/nowhere")).header("X-API-Key", KEY),
        // The key in the path, by mistake: on a route with a parameter and on no route.
        client
            .get(url(&format!("/jobs/{KEY}")))
            .header("X-API-Key", KEY),
        client.get(url(&format!("/jobs/{KEY}"))),
        client.get(url(&format!("/{KEY}"))),
        // A key that contains `/`, in the path: no piece of it may be logged either.
        client.get(url("/jobs/sk_log-test/key-THAT/MUST-NEVER")),
    ];
    for req in sends {
        req.send().await.expect("request sent");
    }
    // Every route of the table, with the key and with a batch body where one is expected.
    for route in ROUTES {
        let path = route
            .path
            .replace("{job_id}", "0000")
            .replace("{file:.*}", "index.css");
        client
            .request(route.method.parse().unwrap(), url(&path))
            .header("X-API-Key", KEY)
            .json(&serde_json::json!({"texts": ["fine", "awful"], "text": "x"}))
            .send()
            .await
            .expect("request sent");
    }
    let job = client
        .post(url("/analyze_batch"))
        .header("X-API-Key", KEY)
        .json(&serde_json::json!({"texts": ["a good day"]}))
        .send()
        .await
        .expect("job started");
    let location = job.headers()["location"].to_str().unwrap().to_owned();
    client
        .get(url(&location))
        .header("X-API-Key", KEY)
        .send()
        .await
        .expect("job polled");
}

#[actix_rt::test]
async fn the_key_never_appears_in_the_log_even_at_trace_level() {
    let server = RunningBinary::start(&[("API_SECRET_KEY", KEY), ("RUST_LOG", "trace")]);
    let base = format!("http://{}", server.address);
    exercise_every_path(&Client::new(), &base).await;
    let log = server.stop();
    // The run really logged at trace level and covered the paths above.
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "{log}");
    assert!(log.contains("\"POST /predict\" 200"), "{log}");
    assert!(log.contains("\"GET /<redacted>\" 404"), "{log}");
    assert!(log.contains("\"GET /jobs/<redacted>\" 404"), "{log}");
    assert!(
        log.contains("\"GET /jobs/<redacted>/<redacted>/<redacted>\" 404"),
        "{log}"
    );
    for line in [
        "\"POST /predict/batch\" 200",
        "\"POST /analyze_batch\" 202",
        "\"GET /me\" 200",
    ] {
        assert!(log.contains(line), "{line} missing from the log");
    }
    for fragment in [KEY, &KEY[3..], &KEY[10..30], "key-THAT", "MUST-NEVER"] {
        let leaks: Vec<&str> = log.lines().filter(|l| l.contains(fragment)).collect();
        assert!(leaks.is_empty(), "the key leaked into the log: {leaks:#?}");
    }
}

#[actix_rt::test]
async fn the_access_log_names_the_key_id_and_leaves_out_the_query_string() {
    let server = RunningBinary::start(&[("API_SECRET_KEY", KEY)]);
    server.app().predict_query("secret diary", Some(KEY)).await;
    let log = server.stop();
    let line = log
        .lines()
        .find(|l| l.contains("\"POST /predict\" 200"))
        .unwrap_or_else(|| panic!("no access line in {log}"));
    assert!(line.contains("key=default"), "{line}");
    assert!(line.contains("ms"), "{line}");
    assert!(!line.contains("secret"), "{line}");
}

#[actix_rt::test]
async fn failed_authentication_is_logged_at_warn_with_the_peer_and_the_reason() {
    let server = RunningBinary::start(&[("API_SECRET_KEY", KEY)]);
    let app = server.app();
    app.predict_query("hi", None).await;
    app.predict_query("hi", Some("nope-nope-nope-nope")).await;
    app.client
        .post(app.url("/predict?text=hi"))
        .header("X-API-Key", "a")
        .header("X-API-Key", "b")
        .send()
        .await
        .unwrap();
    let log = server.stop();
    for reason in ["missing key", "unknown key", "duplicate X-API-Key header"] {
        let line = log
            .lines()
            .find(|l| l.contains(reason))
            .unwrap_or_else(|| panic!("no line for {reason} in {log}"));
        assert!(line.contains("WARN"), "{line}");
        assert!(line.contains("127.0.0.1"), "{line}");
    }
    assert!(!log.contains("nope-nope"));
    // A refused key is an ordinary event, not an error: nothing may page anyone.
    assert!(!log.contains("ERROR"), "{log}");
}

#[actix_rt::test]
async fn with_log_format_json_every_line_is_a_json_object_and_no_key_appears() {
    let server = RunningBinary::start(&[
        ("API_SECRET_KEY", KEY),
        ("RUST_LOG", "debug"),
        ("LOG_FORMAT", "json"),
    ]);
    let base = format!("http://{}", server.address);
    exercise_every_path(&Client::new(), &base).await;
    let log = server.stop();
    let mut access = 0;
    for line in log.lines() {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        for field in ["time", "level", "target", "message"] {
            assert!(object[field].is_string(), "no {field} in {line}");
        }
        assert!(
            !line.contains(&KEY[3..]),
            "the key leaked into the log: {line}"
        );
        if object["target"] == "sentiment_api::access" {
            access += 1;
            assert!(object["request_id"].is_string(), "{line}");
            assert!(object["status"].is_u64(), "{line}");
            assert!(object["latency_ms"].is_number(), "{line}");
            for field in ["method", "route", "key_id"] {
                assert!(object[field].is_string(), "no {field} in {line}");
            }
        }
    }
    assert!(access >= 10, "only {access} access lines in {log}");
    assert!(
        log.contains(r#""route":"/predict","path":"/predict","status":200"#),
        "{log}"
    );
}

#[actix_rt::test]
async fn a_clients_request_id_is_echoed_and_on_every_log_line_of_its_request() {
    let server = RunningBinary::start(&[("API_SECRET_KEY", KEY)]);
    let client = Client::new();
    let url = format!("http://{}/predict?text=hi", server.address);
    let res = client
        .post(&url)
        .header("X-API-Key", "a-wrong-key-0123456789")
        .header("X-Request-Id", "req-42.abc_DEF")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.headers()["x-request-id"], "req-42.abc_DEF");
    server.wait_for_log(
        "key=- error=Invalid API key request_id=req-42.abc_DEF",
        std::time::Duration::from_secs(5),
    );
    let log = server.stderr();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("request_id=req-42.abc_DEF"))
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("authentication failed")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("sentiment_api::access")),
        "{lines:#?}"
    );
}

#[actix_rt::test]
async fn a_bad_request_id_is_replaced_by_a_uuid_and_never_logged() {
    let server = RunningBinary::start(&[("API_SECRET_KEY", KEY)]);
    let client = Client::new();
    let url = format!("http://{}/health", server.address);
    let long = "x".repeat(129);
    for bad in [long.as_str(), "has spaces", "caf\u{e9}", ""] {
        let res = client
            .get(&url)
            .header("X-Request-Id", bad)
            .send()
            .await
            .unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let parsed = uuid::Uuid::parse_str(&id).unwrap_or_else(|_| panic!("{id:?} for {bad:?}"));
        assert_eq!(parsed.get_version_num(), 4);
    }
    // A missing id is made up too, without a complaint.
    let res = client.get(&url).send().await.unwrap();
    assert!(uuid::Uuid::parse_str(res.headers()["x-request-id"].to_str().unwrap()).is_ok());
    let log = server.stop();
    assert_eq!(
        log.matches("X-Request-Id was not 1 to 128 visible ASCII characters")
            .count(),
        4,
        "each of the four bad values is reported, the missing one is not: {log}"
    );
    assert!(!log.contains("has spaces") && !log.contains(&long), "{log}");
}

#[actix_rt::test]
async fn a_request_id_that_is_the_key_itself_is_replaced_and_never_logged() {
    request_id_holding_the_key_is_replaced(KEY.to_owned()).await;
}

#[actix_rt::test]
async fn a_request_id_that_contains_the_key_is_replaced_and_never_logged() {
    request_id_holding_the_key_is_replaced(format!("retry1-{KEY}")).await;
}

async fn request_id_holding_the_key_is_replaced(request_id: String) {
    let server = RunningBinary::start(&[("API_SECRET_KEY", KEY)]);
    let res = Client::new()
        .post(format!("http://{}/predict?text=hi", server.address))
        .header("X-API-Key", KEY)
        .header("X-Request-Id", &request_id)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    server.wait_for_log(
        &format!("request_id={id}"),
        std::time::Duration::from_secs(5),
    );
    let log = server.stop();
    assert!(
        !log.contains(&KEY[3..]),
        "the key leaked into the log: {log}"
    );
}
