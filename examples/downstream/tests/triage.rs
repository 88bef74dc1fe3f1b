//! review-triage against the real sentiment-api, started in process for each test. Plain
//! `#[tokio::test]`: the test server runs on its own thread, so no actix runtime is needed.

use std::time::Duration;

use review_triage::Triage;
use sentiment_api::client::{Client, Error};
use sentiment_api::testing::TestServer;

const REVIEWS: [&str; 4] = [
    "Arrived quickly and works great.",
    "Broke after two days. Terrible.",
    "It is a kettle.",
    "I hate the noise it makes!",
];

#[tokio::test]
async fn the_negative_reviews_are_found() {
    let server = TestServer::start().await.unwrap();
    let triage = Triage::new(Client::new(server.url(), server.key()).unwrap());
    assert_eq!(triage.negative(&REVIEWS).await.unwrap(), [1, 3]);
}

#[tokio::test]
async fn a_wrong_key_is_a_403_invalid_key() {
    let server = TestServer::start().await.unwrap();
    let triage = Triage::new(Client::new(server.url(), "sk_not-the-servers-key").unwrap());
    assert!(matches!(triage.negative(&REVIEWS).await, Err(Error::InvalidKey)));
}

#[tokio::test]
async fn a_tiny_limit_is_a_429_saying_when_to_retry() {
    // Four units a minute: the first batch of four spends them all.
    let server = TestServer::builder().rate_limit(4, 4).start().await.unwrap();
    let triage = Triage::new(Client::new(server.url(), server.key()).unwrap());
    triage.negative(&REVIEWS).await.unwrap();
    match triage.negative(&REVIEWS).await {
        Err(Error::RateLimited { retry_after, limit, remaining }) => {
            // None is left, and one returns every 15 s: the request is refused on arrival.
            assert_eq!(retry_after, Duration::from_secs(15));
            assert_eq!((limit, remaining), (Some(4), Some(0)));
        }
        other => panic!("expected a 429, got {other:?}"),
    }
}

#[tokio::test]
async fn a_background_job_finds_the_same_reviews() {
    let server = TestServer::start().await.unwrap();
    let triage = Triage::new(Client::new(server.url(), server.key()).unwrap());
    assert_eq!(triage.negative_in_background(&REVIEWS).await.unwrap(), [1, 3]);
}
