//! CORS: off by default; with CORS_ALLOWED_ORIGINS, preflights are answered before authentication,
//! and every answer to an allowed origin, errors included, is readable by the page.

use crate::helpers::{
    settings_with_limit, spawn_app, spawn_app_with, status_and_json, test_settings, TestApp,
    TEST_KEY,
};
use sentiment_api::cors::CorsOrigins;
use sentiment_api::model::Vader;
use std::sync::Arc;

const PAGE: &str = "http://127.0.0.1:5173";

async fn app_for(origins: &str, limit: Option<u32>) -> TestApp {
    let mut settings = match limit {
        Some(limit) => settings_with_limit(limit),
        None => test_settings(),
    };
    settings.limits.cors = Some(CorsOrigins::parse(origins).unwrap());
    spawn_app_with(settings, Arc::new(Vader::new())).await
}

async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "x-api-key, content-type")
        .send()
        .await
        .unwrap()
}

async fn from_page(app: &TestApp, origin: &str, key: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/predict"))
        .query(&[("text", "I love it")])
        .header("Origin", origin);
    if let Some(key) = key {
        req = req.header("X-API-Key", key);
    }
    req.send().await.unwrap()
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).map(|v| v.to_str().unwrap())
}

#[actix_rt::test]
async fn a_preflight_is_answered_before_authentication_and_allows_the_key_header() {
    let app = app_for(PAGE, None).await;
    let res = preflight(&app, "/predict", PAGE).await;
    assert_eq!(res.status(), 204);
    assert_eq!(header(&res, "access-control-allow-origin"), Some(PAGE));
    assert_eq!(header(&res, "access-control-allow-methods"), Some("POST"));
    let allowed = header(&res, "access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("x-api-key") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert!(header(&res, "access-control-allow-credentials").is_none());
    assert!(header(&res, "vary").unwrap().contains("Origin"));
}

#[actix_rt::test]
async fn every_answer_to_an_allowed_origin_is_readable_errors_included() {
    let app = app_for(PAGE, Some(1)).await;
    let ok = from_page(&app, PAGE, Some(TEST_KEY)).await;
    let limited = from_page(&app, PAGE, Some(TEST_KEY)).await;
    let wrong = from_page(&app, PAGE, Some("a-wrong-key-0123456789")).await;
    let missing = from_page(&app, PAGE, None).await;
    for (res, status) in [(ok, 200), (limited, 429), (wrong, 403), (missing, 401)] {
        assert_eq!(res.status(), status);
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            Some(PAGE),
            "{status}"
        );
        let exposed = header(&res, "access-control-expose-headers").unwrap();
        for name in [
            "RateLimit",
            "RateLimit-Policy",
            "Retry-After",
            "X-Request-Id",
        ] {
            assert!(exposed.contains(name), "{status}: {exposed}");
        }
        assert!(status_and_json(res).await.1.is_object());
    }
}

#[actix_rt::test]
async fn another_origin_gets_no_cors_headers_and_its_preflight_is_refused() {
    let app = app_for(PAGE, None).await;
    let res = preflight(&app, "/predict", "http://127.0.0.1:6666").await;
    assert_eq!(
        status_and_json(res).await,
        (
            403,
            serde_json::json!({"detail": "CORS origin not allowed"})
        )
    );
    let res = from_page(&app, "http://127.0.0.1:6666", Some(TEST_KEY)).await;
    assert_eq!(res.status(), 200);
    assert!(header(&res, "access-control-allow-origin").is_none());
    // The answer depends on the origin: a shared cache must not serve it to an allowed one.
    assert_eq!(header(&res, "vary"), Some("Origin"));
}

#[actix_rt::test]
async fn a_page_can_read_a_jobs_location_and_a_scope_refusal() {
    let app = app_for(PAGE, None).await;
    let res = app
        .client
        .post(app.url("/analyze_batch"))
        .header("Origin", PAGE)
        .header("X-API-Key", TEST_KEY)
        .json(&serde_json::json!({"texts": ["good"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert!(header(&res, "access-control-expose-headers")
        .unwrap()
        .contains("Location"));
}

#[actix_rt::test]
async fn any_origin_with_a_star() {
    let app = app_for("*", None).await;
    let res = from_page(&app, "https://anywhere.example", Some(TEST_KEY)).await;
    assert_eq!(header(&res, "access-control-allow-origin"), Some("*"));
    assert!(header(&res, "access-control-allow-credentials").is_none());
}

#[actix_rt::test]
async fn without_cors_allowed_origins_there_are_no_cors_headers_and_options_is_405() {
    let app = spawn_app().await;
    let res = from_page(&app, PAGE, Some(TEST_KEY)).await;
    assert!(header(&res, "access-control-allow-origin").is_none());
    let res = preflight(&app, "/predict", PAGE).await;
    assert_eq!(res.status(), 405);
    assert_eq!(header(&res, "allow"), Some("POST"));
}
