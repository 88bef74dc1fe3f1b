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
