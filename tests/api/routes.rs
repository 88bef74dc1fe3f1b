//! The route table as a whole: which routes need a key, and routing errors.

use sentiment_api::paths::{Access, ROUTES};
use serde_json::json;

use crate::helpers::{error_json, spawn_app, status_and_json, TEST_KEY};

fn concrete(path: &str) -> String {
    // Fill any `{param}` with a value that matches no real resource.
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "00000000"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[actix_rt::test]
async fn every_protected_route_rejects_a_request_without_a_key() {
    let app = spawn_app().await;
    let protected: Vec<_> = ROUTES
        .iter()
        .filter(|r| r.access == Access::Protected)
        .map(|r| (r.method, r.path))
        .collect();
    assert!(protected.len() >= 5);
    for (method, path) in protected {
        let res = app.request(method, &concrete(path), None).await;
        assert_eq!(
            res.headers()["www-authenticate"],
            "APIKey",
            "{method} {path}"
        );
        assert_eq!(
            status_and_json(res).await,
            error_json(401, "Not authenticated"),
            "{method} {path}"
        );
    }
}

#[actix_rt::test]
async fn every_public_route_answers_without_a_key() {
    let app = spawn_app().await;
    // Routes with a path parameter are left out: any value of it may rightly be a 404.
    for r in ROUTES
        .iter()
        .filter(|r| r.access == Access::Public && !r.path.contains('{'))
    {
        let (method, path) = (r.method, r.path);
        let res = app.request(method, path, None).await;
        assert!(
            res.status().is_success(),
            "{method} {path}: {}",
            res.status()
        );
    }
}

#[actix_rt::test]
async fn a_wrong_method_gets_405_json_with_allow_and_needs_no_key() {
    let app = spawn_app().await;
    for r in ROUTES {
        let (method, path) = (r.method, r.path);
        let other = if method == "GET" { "DELETE" } else { "GET" };
        let res = app.request(other, &concrete(path), None).await;
        assert_eq!(res.headers()["allow"], method, "{other} {path}");
        assert_eq!(
            status_and_json(res).await,
            error_json(405, "Method Not Allowed")
        );
    }
}

#[actix_rt::test]
async fn an_unknown_path_gets_404_json_with_or_without_a_key() {
    let app = spawn_app().await;
    for key in [None, Some(TEST_KEY), Some("wrong")] {
        let res = app.get("/no/such/route", key).await;
        assert_eq!(status_and_json(res).await, error_json(404, "Not Found"));
    }
}

#[actix_rt::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let res = app.get("/health", None).await;
    assert_eq!(status_and_json(res).await, (200, json!({"status": "ok"})));
}
