//! docs/testing.md's first example (section "Rust: a first test") as written: the first test is
//! its code, and the second holds docs/testing.md to it.

use sentiment_api::client::{Client, Error};
use sentiment_api::{model::Sentiment, testing::TestServer};

#[tokio::test]
async fn classifies_and_refuses_bad_keys() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new(server.url(), server.key()).unwrap();
    assert_eq!(client.predict("I love it").await.unwrap().sentiment, Sentiment::Positive);
    let stranger = Client::new(server.url(), "sk_wrong").unwrap();
    assert!(matches!(stranger.predict("hi").await, Err(Error::InvalidKey)));
}

#[test]
fn the_testing_doc_shows_the_test_above_as_it_is() {
    let doc = include_str!("../../../docs/testing.md");
    let section = &doc[doc
        .find("## Rust: a first test")
        .expect("docs/testing.md's section \"Rust: a first test\"")..];
    let shown = section
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a rust block in the section");
    let this = include_str!("readme.rs");
    let test = &this[this.find("use sentiment_api").unwrap()..this.find("\n#[test]").unwrap()];
    assert_eq!(shown.trim(), test.trim());
}
