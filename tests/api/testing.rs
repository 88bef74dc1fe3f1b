//! `sentiment_api::testing::TestServer`, the harness every other module here starts servers with:
//! what its builder promises, seen over HTTP.

use std::time::{Duration, SystemTime};

use sentiment_api::paths::Scope;
use sentiment_api::testing::{TestKey, TestServer};
use serde_json::json;

use crate::helpers::{error_json, eventually, remaining, status_and_json, TestApp};

#[actix_rt::test]
async fn a_test_server_serves_its_own_fresh_key_and_no_other() {
    let one = TestApp::of(TestServer::start().await.unwrap());
    let two = TestApp::of(TestServer::start().await.unwrap());
    let (key_one, key_two) = (
        one.server.as_ref().unwrap().key(),
        two.server.as_ref().unwrap().key(),
    );
    assert_ne!(key_one, key_two, "every server generates its own key");
    assert_ne!(one.address, two.address);

    let res = one.predict_query("I love it", Some(key_one)).await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, 200);
    assert_eq!(body["sentiment"], "positive");
    let res = one.predict_query("I love it", Some(key_two)).await;
    assert_eq!(
        status_and_json(res).await,
        error_json(403, "Invalid API key")
    );
    let res = one.predict_query("I love it", None).await;
    assert_eq!(
        status_and_json(res).await,
        error_json(401, "Not authenticated")
    );
}

#[actix_rt::test]
async fn named_keys_carry_their_scopes_expiry_owner_and_limits() {
    let server = TestServer::builder()
        .key(
            TestKey::new("reader")
                .scopes([Scope::Predict])
                .owner("team-a"),
        )
        .key(TestKey::new("old").expires_at(SystemTime::now() - Duration::from_secs(60)))
        .key(TestKey::new("off").disabled())
        .key(TestKey::new("slow").rate_limit(1, 1))
        .key(TestKey::new("fixed").secret("a-fixed-secret-0123456789"))
        .start()
        .await
        .unwrap();
    assert_eq!(server.key_of("fixed"), Some("a-fixed-secret-0123456789"));
    assert_eq!(server.key_of("nobody"), None);
    let app = TestApp::of(server);
    let key = |id| app.server.as_ref().unwrap().key_of(id).unwrap().to_owned();

    let (status, me) = status_and_json(app.get("/me", Some(&key("reader"))).await).await;
    assert_eq!(status, 200);
    assert_eq!(me["key_id"], "reader");
    assert_eq!(me["owner"], "team-a");
    assert_eq!(me["scopes"], json!(["predict"]));
    let res = app.predict_query("fine", Some(&key("reader"))).await;
    assert_eq!(res.status(), 200);
    let job = json!({"texts": ["fine"]});
    let res = app
        .post_json("/analyze_batch", &job, Some(&key("reader")))
        .await;
    assert_eq!(
        status_and_json(res).await,
        error_json(403, "Not enough permissions")
    );

    for refused in ["old", "off"] {
        let res = app.predict_query("fine", Some(&key(refused))).await;
        assert_eq!(
            status_and_json(res).await,
            error_json(403, "Invalid API key"),
            "{refused}"
        );
    }

    assert_eq!(
        app.predict_query("fine", Some(&key("slow"))).await.status(),
        200
    );
    assert_eq!(
        app.predict_query("fine", Some(&key("slow"))).await.status(),
        429
    );
    // The server's own limit (60) still applies to the other keys.
    let res = app.predict_query("fine", Some(&key("fixed"))).await;
    assert_eq!((res.status().as_u16(), remaining(&res)), (200, 59));
}

#[actix_rt::test]
async fn the_rate_limit_is_what_the_builder_says_or_none() {
    let limited = TestServer::builder()
        .rate_limit(2, 2)
        .start()
        .await
        .unwrap();
    let key = limited.key().to_owned();
    let app = TestApp::of(limited);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(app.predict_query("ok", Some(&key)).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);

    let unlimited = TestServer::builder().no_rate_limit().start().await.unwrap();
    let key = unlimited.key().to_owned();
    let app = TestApp::of(unlimited);
    let texts = vec!["ok"; 200];
    for _ in 0..5 {
        let res = app
            .post_json("/predict/batch", &json!({ "texts": texts }), Some(&key))
            .await;
        assert_eq!(res.status(), 200);
    }
    let (_, me) = status_and_json(app.get("/me", Some(&key)).await).await;
    assert_eq!(me["rate_limit"]["limit"], u32::MAX);
}

#[actix_rt::test]
async fn input_limits_and_the_model_are_the_builders() {
    let server = TestServer::builder()
        .max_text_chars(5)
        .max_batch_size(2)
        .model("tfidf")
        .start()
        .await
        .unwrap();
    let key = server.key().to_owned();
    let app = TestApp::of(server);
    let (status, body) = status_and_json(app.predict_query("too long", Some(&key)).await).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "string_too_long");
    let res = app
        .post_json(
            "/predict/batch",
            &json!({"texts": ["a", "b", "c"]}),
            Some(&key),
        )
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "too_long");

    let (_, models) = status_and_json(app.get("/models", Some(&key)).await).await;
    let names: Vec<_> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].clone())
        .collect();
    assert_eq!(names, [json!("tfidf")]);
    let (_, body) = status_and_json(app.predict_query("great", Some(&key)).await).await;
    assert_eq!(body["model"], "tfidf");
}

#[actix_rt::test]
async fn by_default_the_binarys_models_are_served_with_vader_the_default() {
    let server = TestServer::start().await.unwrap();
    let key = server.key().to_owned();
    let app = TestApp::of(server);
    let (_, models) = status_and_json(app.get("/models", Some(&key)).await).await;
    let names: Vec<_> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].clone(), m["default"].clone()))
        .collect();
    assert_eq!(
        names,
        [
            (json!("vader"), json!(true)),
            (json!("tfidf"), json!(false))
        ]
    );
}

#[actix_rt::test]
async fn what_cannot_be_served_is_refused_at_start_saying_why() {
    let err = TestServer::builder()
        .model("no-such-model")
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("no-such-model"), "{err}");

    let twice = TestServer::builder()
        .key(TestKey::new("a"))
        .key(TestKey::new("a"))
        .start()
        .await
        .unwrap_err();
    assert!(twice.to_string().contains("\"a\""), "{twice}");
}

#[actix_rt::test]
async fn a_finished_job_is_gone_after_the_builders_ttl() {
    let server = TestServer::builder()
        .job_ttl(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let key = server.key().to_owned();
    let app = TestApp::of(server);
    let res = app
        .post_json("/analyze_batch", &json!({"texts": ["good"]}), Some(&key))
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, 202);
    let path = format!("/jobs/{}", body["job_id"].as_str().unwrap());
    eventually("the job is done", Duration::from_secs(10), || async {
        let (_, job) = status_and_json(app.get(&path, Some(&key)).await).await;
        (job["status"] == "done").then_some(())
    })
    .await;
    eventually("the job expires", Duration::from_secs(10), || async {
        (app.get(&path, Some(&key)).await.status() == 404).then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn stop_waits_until_the_server_is_stopped_and_drop_stops_it_too() {
    let mut app = TestApp::of(TestServer::start().await.unwrap());
    assert_eq!(app.get("/health", None).await.status(), 200);
    app.server.take().unwrap().stop().await;
    assert!(
        app.client.get(app.url("/health")).send().await.is_err(),
        "still answering after stop"
    );

    let mut app = TestApp::of(TestServer::start().await.unwrap());
    assert_eq!(app.get("/health", None).await.status(), 200);
    drop(app.server.take());
    let fresh = reqwest::Client::new();
    eventually(
        "the dropped server stops",
        Duration::from_secs(10),
        || async {
            fresh
                .get(app.url("/health"))
                .send()
                .await
                .is_err()
                .then_some(())
        },
    )
    .await;
}
