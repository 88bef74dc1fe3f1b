//! The `ApiKey` extractor, as FastAPI clients see it.

use crate::helpers::{error_json, raw_request, spawn_app, status_and_json, TEST_KEY};

#[actix_rt::test]
async fn a_wrong_key_gets_403_invalid_api_key_as_in_the_fastapi_lesson() {
    let app = spawn_app().await;
    let res = app.predict_query("I love it", Some("wrong-key")).await;
    assert_eq!(
        status_and_json(res).await,
        error_json(403, "Invalid API key")
    );
}

#[actix_rt::test]
async fn the_right_key_gets_the_sentiment_as_in_the_fastapi_lesson() {
    let app = spawn_app().await;
    let res = app.predict_query("I love it", Some(TEST_KEY)).await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, 200);
    assert_eq!(body["sentiment"], "positive");
    assert_eq!(body["status"], "success");
}

#[actix_rt::test]
async fn a_missing_key_gets_401_with_www_authenticate() {
    let app = spawn_app().await;
    let res = app.predict_query("I love it", None).await;
    assert_eq!(res.headers()["www-authenticate"], "APIKey");
    assert_eq!(
        status_and_json(res).await,
        error_json(401, "Not authenticated")
    );
}

#[actix_rt::test]
async fn an_empty_or_blank_key_counts_as_missing() {
    let app = spawn_app().await;
    for blank in ["", "   ", "\t"] {
        let res = app.predict_query("I love it", Some(blank)).await;
        assert_eq!(res.headers()["www-authenticate"], "APIKey", "{blank:?}");
        assert_eq!(
            status_and_json(res).await,
            error_json(401, "Not authenticated")
        );
    }
}

#[actix_rt::test]
async fn whitespace_around_the_key_is_ignored() {
    let app = spawn_app().await;
    let padded = format!("  {TEST_KEY}\t");
    let res = app.predict_query("I love it", Some(&padded)).await;
    assert_eq!(res.status(), 200);
}

#[actix_rt::test]
async fn the_header_name_is_case_insensitive() {
    let app = spawn_app().await;
    for name in ["x-api-key", "X-API-KEY", "X-Api-Key"] {
        let raw = format!(
            "POST /predict?text=good HTTP/1.1\r\nHost: x\r\n{name}: {TEST_KEY}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let answer = raw_request(&app.address, raw.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{name}: {answer}");
    }
}

#[actix_rt::test]
async fn a_key_that_differs_in_letter_case_or_one_character_gets_403() {
    let app = spawn_app().await;
    let mut one_off = TEST_KEY.to_owned();
    one_off.pop();
    one_off.push('g');
    for wrong in [
        TEST_KEY.to_uppercase(),
        one_off,
        TEST_KEY[..TEST_KEY.len() - 1].to_owned(),
        format!("{TEST_KEY}0"),
    ] {
        let res = app.predict_query("I love it", Some(&wrong)).await;
        assert_eq!(
            status_and_json(res).await,
            error_json(403, "Invalid API key")
        );
    }
}

#[actix_rt::test]
async fn a_duplicate_key_header_gets_400_even_when_both_are_valid() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/predict?text=hi"))
        .header("X-API-Key", TEST_KEY)
        .header("x-api-key", TEST_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_json(res).await,
        error_json(400, "Duplicate X-API-Key header")
    );
}

#[actix_rt::test]
async fn a_key_in_the_query_string_is_not_accepted() {
    let app = spawn_app().await;
    for param in ["api_key", "X-API-Key", "x-api-key"] {
        let path = format!("/predict?text=hi&{param}={TEST_KEY}");
        let res = app.request("POST", &path, None).await;
        assert_eq!(res.status(), 401, "{param}");
    }
}

#[actix_rt::test]
async fn authentication_comes_before_input_validation() {
    let app = spawn_app().await;
    // No key and no text: 401, not 422.
    let res = app.request("POST", "/predict", None).await;
    assert_eq!(res.status(), 401);
    let json = Some("application/json");
    // A wrong key and invalid JSON: 403, not 422.
    let res = app
        .post_bytes("/predict", json, "{not json", Some("wrong"))
        .await;
    assert_eq!(res.status(), 403);
    // A wrong key and an oversized body: 403, not 413.
    let oversized = vec![b' '; 2 * 1024 * 1024];
    let res = app
        .post_bytes("/predict", json, oversized, Some("wrong"))
        .await;
    assert_eq!(res.status(), 403);
}
