//! `Authorization: Bearer <key>` beside `X-API-Key` (issue 28): the same checks on every
//! protected route, different keys in the two refused, the 401 still `WWW-Authenticate: APIKey`,
//! and a browser page allowed by CORS may send it.

use std::sync::Arc;

use sentiment_api::cors::CorsOrigins;
use sentiment_api::model::Vader;
use sentiment_api::paths::{Access, ROUTES};

use crate::helpers::{
    error_json, spawn_app, spawn_app_with, status_and_json, test_settings, TEST_KEY,
};

fn concrete(path: &str) -> String {
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
async fn every_protected_route_answers_a_bearer_key_as_it_answers_the_same_x_api_key() {
    let app = spawn_app().await;
    let protected: Vec<_> = ROUTES
        .iter()
        .filter(|r| r.access == Access::Protected)
        .collect();
    assert!(protected.len() >= 5);
    for r in protected {
        let url = app.url(&concrete(r.path));
        let method: reqwest::Method = r.method.parse().unwrap();
        let with_header = app
            .client
            .request(method.clone(), &url)
            .header("X-API-Key", TEST_KEY)
            .send()
            .await
            .unwrap();
        let with_bearer = app
            .client
            .request(method.clone(), &url)
            .bearer_auth(TEST_KEY)
            .send()
            .await
            .unwrap();
        let (a, b) = (
            status_and_json(with_header).await,
            status_and_json(with_bearer).await,
        );
        assert_eq!(a, b, "{} {}", r.method, r.path);
        assert!(![401, 403].contains(&b.0), "{} {}: {b:?}", r.method, r.path);
        let wrong = app
            .client
            .request(method, &url)
            .header("Authorization", "bearer not-the-key-0123456789")
            .send()
            .await
            .unwrap();
        assert_eq!(
            status_and_json(wrong).await,
            error_json(403, "Invalid API key"),
            "{} {}",
            r.method,
            r.path
        );
    }
}

#[actix_rt::test]
async fn a_bearer_key_predicts_and_its_scheme_is_read_in_any_case() {
    let app = spawn_app().await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let res = app
            .client
            .post(app.url("/predict?text=I%20love%20it"))
            .header("Authorization", format!("{scheme}  {TEST_KEY} "))
            .send()
            .await
            .unwrap();
        let (status, body) = status_and_json(res).await;
        assert_eq!(
            (status, &body["sentiment"]),
            (200, &"positive".into()),
            "{scheme}"
        );
    }
}

#[actix_rt::test]
async fn two_different_keys_are_refused_and_the_same_key_twice_is_one() {
    let app = spawn_app().await;
    let send = |bearer: &str| {
        app.client
            .post(app.url("/predict?text=good"))
            .header("X-API-Key", TEST_KEY)
            .bearer_auth(bearer)
            .send()
    };
    assert_eq!(
        status_and_json(send("another-key-0123456789abc").await.unwrap()).await,
        error_json(400, "Conflicting API key headers")
    );
    assert_eq!(send(TEST_KEY).await.unwrap().status(), 200);
    // Another scheme is not a key of ours: a proxy's Basic credentials leave X-API-Key in force.
    let res = app
        .client
        .post(app.url("/predict?text=good"))
        .header("X-API-Key", TEST_KEY)
        .basic_auth("user", Some("password"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[actix_rt::test]
async fn a_missing_key_gets_exactly_one_www_authenticate_api_key() {
    let app = spawn_app().await;
    for authorization in [None, Some("Bearer "), Some("Basic dXNlcjpwdw==")] {
        let mut req = app.client.post(app.url("/predict?text=good"));
        if let Some(value) = authorization {
            req = req.header("Authorization", value);
        }
        let res = req.send().await.unwrap();
        let challenges: Vec<_> = res
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        // One field: a client that joins repeated fields (Python `requests`) must read `APIKey`.
        assert_eq!(challenges, ["APIKey"], "{authorization:?}");
        assert_eq!(
            status_and_json(res).await,
            error_json(401, "Not authenticated")
        );
    }
}

#[actix_rt::test]
async fn a_cors_preflight_lets_a_page_send_its_key_as_a_bearer_authorization() {
    const PAGE: &str = "http://127.0.0.1:5173";
    let mut settings = test_settings();
    settings.limits.cors = Some(CorsOrigins::parse(PAGE).unwrap());
    let app = spawn_app_with(settings, Arc::new(Vader::new())).await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/predict"))
        .header("Origin", PAGE)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    // A browser sends `Authorization` only when the preflight names it (`*` would not cover it).
    let allowed: Vec<String> = res.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    assert!(allowed.iter().any(|h| h == "authorization"), "{allowed:?}");
    assert!(allowed.iter().any(|h| h == "x-api-key"), "{allowed:?}");
    let res = app
        .client
        .post(app.url("/predict?text=good"))
        .header("Origin", PAGE)
        .header("Authorization", format!("Bearer {TEST_KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], PAGE);
}

#[actix_rt::test]
async fn a_request_id_holding_the_bearer_key_is_replaced_as_one_holding_the_x_api_key_is() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/predict?text=good"))
        .header("Authorization", format!("Bearer {TEST_KEY}"))
        .header("X-Request-Id", format!("retry1-{TEST_KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert!(
        !id.contains(TEST_KEY),
        "the key echoed in X-Request-Id: {id}"
    );
}
