//! The route table as a whole: which routes need a key, and routing errors.

use sentiment_api::paths::{Access, ROUTES};
use serde_json::json;

use crate::helpers::{spawn_app, status_and_json, TEST_KEY};

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
        let res = app
            .client
            .request(method.parse().unwrap(), app.url(&concrete(path)))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.headers()["www-authenticate"],
            "APIKey",
            "{method} {path}"
        );
        assert_eq!(
            status_and_json(res).await,
            (401, json!({"detail": "Not authenticated"})),
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
        let res = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
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
        let res = app
            .client
            .request(other.parse().unwrap(), app.url(&concrete(path)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["allow"], method, "{other} {path}");
        assert_eq!(
            status_and_json(res).await,
            (405, json!({"detail": "Method Not Allowed"}))
        );
    }
}

#[actix_rt::test]
async fn an_unknown_path_gets_404_json_with_or_without_a_key() {
    let app = spawn_app().await;
    for key in [None, Some(TEST_KEY), Some("wrong")] {
        let mut req = app.client.get(app.url("/no/such/route"));
        if let Some(key) = key {
            req = req.header("X-API-Key", key);
        }
        let res = req.send().await.unwrap();
        assert_eq!(
            status_and_json(res).await,
            (404, json!({"detail": "Not Found"}))
        );
    }
}

#[actix_rt::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(status_and_json(res).await, (200, json!({"status": "ok"})));
}
