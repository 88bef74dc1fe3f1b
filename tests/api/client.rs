//! `sentiment_api::client` against the real server (a `TestServer`): every answer the client's
//! calls can get, as its typed value or `Error` variant.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use sentiment_api::client::{Client, Error, RetryPolicy};
use sentiment_api::model::{Cost, Models, Scores, Sentiment, SentimentModel, Vader};
use sentiment_api::paths::Scope;
use sentiment_api::testing::{TestKey, TestServer};
use uuid::Uuid;

/// A client of `server` with its own key.
fn client_of(server: &TestServer) -> Client {
    Client::new(server.url(), server.key()).unwrap()
}

#[actix_rt::test]
async fn predictions_come_back_as_the_servers_own_types() {
    let server = TestServer::start().await.unwrap();
    let client = client_of(&server);

    let one = client.predict("I love it").await.unwrap();
    assert_eq!(one.text, "I love it");
    assert_eq!(one.sentiment, Sentiment::Positive);
    assert_eq!(one.score, 0.6369);
    assert_eq!(
        one.scores.compound, one.score,
        "the compound is filled in from score"
    );
    assert_eq!(one.scores.positive, 0.677);
    assert_eq!(one.model, "vader");
    assert_eq!(one.status.as_deref(), Some("success"));

    let tfidf = client.predict_with("I love it", "tfidf").await.unwrap();
    assert_eq!(tfidf.model, "tfidf");

    let batch = client
        .predict_batch(["good", "bad", "a \"quoted\" text\n"])
        .await
        .unwrap();
    let labels: Vec<_> = batch.iter().map(|p| p.sentiment).collect();
    assert_eq!(
        labels,
        [Sentiment::Positive, Sentiment::Negative, Sentiment::Neutral]
    );
    assert_eq!(batch[2].text, "a \"quoted\" text\n");
    assert!(batch.iter().all(|p| p.status.is_none()));
}

#[actix_rt::test]
async fn a_job_round_trip_returns_the_results_in_order() {
    let server = TestServer::start().await.unwrap();
    let client = client_of(&server);
    let job = client
        .submit_job(["great", "awful", "a table"])
        .await
        .unwrap();
    let results = job.wait().await.unwrap();
    let labels: Vec<_> = results.iter().map(|p| p.sentiment).collect();
    assert_eq!(
        labels,
        [Sentiment::Positive, Sentiment::Negative, Sentiment::Neutral]
    );
    assert_eq!(results[0].scores.compound, results[0].score);
    let view = job.status().await.unwrap();
    assert_eq!((view.job_id, view.status.as_ref()), (job.id(), "done"));
}

#[actix_rt::test]
async fn me_models_and_health_are_typed() {
    let server = TestServer::builder()
        .key(
            TestKey::new("reader")
                .scopes([Scope::Predict])
                .owner("team-a"),
        )
        .rate_limit(30, 10)
        .start()
        .await
        .unwrap();
    let reader = Client::new(server.url(), server.key_of("reader").unwrap()).unwrap();
    let me = reader.me().await.unwrap();
    assert_eq!(me.key_id, "reader");
    assert_eq!(me.owner.as_deref(), Some("team-a"));
    assert_eq!(me.scopes, ["predict"]);
    assert_eq!((me.rate_limit.limit, me.rate_limit.burst), (30, 10));
    assert_eq!(me.rate_limit.remaining, 10);

    let models = reader.models().await.unwrap();
    let names: Vec<_> = models
        .models
        .iter()
        .map(|m| (m.name.as_ref(), m.default))
        .collect();
    assert_eq!(names, [("vader", true), ("tfidf", false)]);

    assert_eq!(reader.health().await.unwrap().status, "ok");
}

#[actix_rt::test]
async fn every_key_refusal_is_its_own_variant() {
    let server = TestServer::builder()
        .key(TestKey::new("reader").scopes([Scope::Predict]))
        .key(TestKey::new("old").expires_at(SystemTime::UNIX_EPOCH))
        .start()
        .await
        .unwrap();
    let without = Client::new(server.url(), "").unwrap();
    assert!(matches!(
        without.predict("hi").await,
        Err(Error::MissingKey)
    ));
    let wrong = Client::new(server.url(), "not-a-key-of-this-server").unwrap();
    assert!(matches!(wrong.predict("hi").await, Err(Error::InvalidKey)));
    let old = Client::new(server.url(), server.key_of("old").unwrap()).unwrap();
    assert!(matches!(old.me().await, Err(Error::InvalidKey)));
    let reader = Client::new(server.url(), server.key_of("reader").unwrap()).unwrap();
    assert!(matches!(
        reader.submit_job(["hi"]).await,
        Err(Error::NotEnoughPermissions)
    ));
    // /health needs no key: even a client without one gets it.
    assert_eq!(without.health().await.unwrap().status, "ok");
}

#[actix_rt::test]
async fn a_429_carries_retry_after_the_limit_and_what_remains() {
    let server = TestServer::builder()
        .rate_limit(2, 2)
        .start()
        .await
        .unwrap();
    let client = client_of(&server);
    client.predict_batch(["a", "b"]).await.unwrap();
    match client.predict("one more").await {
        Err(Error::RateLimited {
            retry_after,
            limit,
            remaining,
        }) => {
            // 2 units a minute: the next one returns in 30 s.
            assert_eq!(retry_after, Duration::from_secs(30));
            assert_eq!((limit, remaining), (Some(2), Some(0)));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[actix_rt::test]
async fn the_retry_policy_waits_out_a_short_retry_after_and_gives_up_on_a_long_one() {
    // One unit every 2 s: a second request is told to come back in 2 s.
    let server = TestServer::builder()
        .rate_limit(1, 1)
        .configure(|s| s.limits.rate_limit.window = Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let patient = client_of(&server).with_retry(RetryPolicy {
        max_retries: 3,
        max_wait: Duration::from_secs(5),
    });
    patient.predict("first").await.unwrap();
    let second = patient.predict("second").await.unwrap();
    assert_eq!(second.text, "second");

    let hasty = client_of(&server).with_retry(RetryPolicy {
        max_retries: 3,
        max_wait: Duration::from_millis(500),
    });
    assert!(matches!(
        hasty.predict("third").await,
        Err(Error::RateLimited { .. })
    ));
    let none = client_of(&server).with_retry(RetryPolicy {
        max_retries: 0,
        max_wait: Duration::from_secs(5),
    });
    assert!(matches!(
        none.predict("fourth").await,
        Err(Error::RateLimited { .. })
    ));
}

#[actix_rt::test]
async fn input_refusals_are_validation_items_or_too_large() {
    let server = TestServer::builder()
        .max_text_chars(10)
        .max_body_bytes(200)
        .start()
        .await
        .unwrap();
    let client = client_of(&server);
    match client.predict("far longer than ten").await {
        Err(Error::Validation(items)) => {
            assert_eq!(items.len(), 1);
            assert_eq!(items[0].kind, "string_too_long");
            assert_eq!(
                items[0].loc,
                [serde_json::json!("body"), serde_json::json!("text")]
            );
        }
        other => panic!("expected Validation, got {other:?}"),
    }
    let empty: [&str; 0] = [];
    assert!(matches!(
        client.predict_batch(empty).await,
        Err(Error::Validation(items)) if items[0].kind == "too_short"
    ));
    assert!(matches!(
        client.predict_with("fine", "no-such-model").await,
        Err(Error::Validation(items)) if items[0].kind == "literal_error"
    ));
    assert!(matches!(
        client.predict(&"x".repeat(300)).await,
        Err(Error::TooLarge(detail)) if detail.contains("200 bytes")
    ));
}

#[actix_rt::test]
async fn another_keys_job_or_an_unknown_one_is_not_found() {
    let server = TestServer::builder()
        .key(TestKey::new("other"))
        .start()
        .await
        .unwrap();
    let client = client_of(&server);
    let job = client.submit_job(["good"]).await.unwrap();
    let other = Client::new(server.url(), server.key_of("other").unwrap()).unwrap();
    assert!(matches!(
        other.job(job.id()).status().await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        client.job(Uuid::new_v4()).wait().await,
        Err(Error::NotFound)
    ));
    job.wait().await.unwrap();
}

/// A model that holds texts starting with `wait` until the gate opens, and panics on `panic`.
struct GatedModel {
    vader: Vader,
    open: Mutex<bool>,
    opened: Condvar,
}

impl GatedModel {
    fn new() -> Arc<Self> {
        Arc::new(GatedModel {
            vader: Vader::new(),
            open: Mutex::new(false),
            opened: Condvar::new(),
        })
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

impl SentimentModel for GatedModel {
    fn name(&self) -> &'static str {
        "gated"
    }

    fn score(&self, text: &str) -> Scores {
        if text.starts_with("wait") {
            let open = self.open.lock().unwrap();
            drop(self.opened.wait_while(open, |open| !*open).unwrap());
        }
        assert_ne!(text, "panic", "deliberate test panic");
        self.vader.score(text)
    }

    fn cost(&self) -> Cost {
        // On the blocking pool, where waiting stalls no worker.
        Cost::Heavy
    }
}

#[actix_rt::test]
async fn overload_a_failed_job_and_a_server_error_are_told_apart() {
    let model = GatedModel::new();
    let server = TestServer::builder()
        .models(Models::single(model.clone()))
        .configure(|s| s.jobs.max_pending = 1)
        .start()
        .await
        .unwrap();
    let client = client_of(&server);

    let held = client.submit_job(["wait for the gate"]).await.unwrap();
    match client.submit_job(["good"]).await {
        Err(Error::Overloaded { retry_after }) => assert_eq!(retry_after, Duration::from_secs(1)),
        other => panic!("expected Overloaded, got {other:?}"),
    }
    model.open();
    assert_eq!(held.wait().await.unwrap().len(), 1);

    let failed = client.submit_job(["panic"]).await.unwrap();
    assert!(matches!(failed.wait().await, Err(Error::JobFailed(_))));
    assert!(matches!(
        client.predict("panic").await,
        Err(Error::Server { status: 500, detail }) if detail == "Internal Server Error"
    ));
}

#[actix_rt::test]
async fn no_server_is_a_transport_error() {
    let server = TestServer::start().await.unwrap();
    let client = client_of(&server);
    server.stop().await;
    assert!(matches!(client.health().await, Err(Error::Transport(_))));
}

#[actix_rt::test]
async fn a_redirect_is_not_followed_so_the_key_never_reaches_another_origin() {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    // Another origin, recording whether anything reaches it.
    let elsewhere = TcpListener::bind("127.0.0.1:0").unwrap();
    let elsewhere_port = elsewhere.local_addr().unwrap().port();
    elsewhere.set_nonblocking(true).unwrap();
    // The "server": answers every request with a redirect to the other origin.
    let redirecting = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = redirecting.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in redirecting.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{elsewhere_port}/predict\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    let client = Client::new(format!("http://127.0.0.1:{port}"), "secret-key-0123456789").unwrap();
    let outcome = client.predict("hello").await;
    assert!(outcome.is_err(), "a 307 is no prediction: {outcome:?}");
    actix_rt::time::sleep(Duration::from_millis(100)).await;
    match elsewhere.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the client followed the redirect to another origin: {other:?}"),
    }
}
