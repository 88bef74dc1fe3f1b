//! `/openapi.json`, `/docs` and `/metrics`.

use std::collections::BTreeSet;

use sentiment_api::paths::{Access, ROUTES};
use serde_json::Value;

use crate::helpers::{error_json, spawn_app, status_and_json, TEST_KEY};

async fn document() -> Value {
    let app = spawn_app().await;
    let res = app.get("/openapi.json", None).await;
    assert_eq!(res.headers()["content-type"], "application/json");
    status_and_json(res).await.1
}

#[actix_rt::test]
async fn the_document_is_openapi_3_1_with_fastapis_api_key_header_scheme() {
    let doc = document().await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        doc["components"]["securitySchemes"]["APIKeyHeader"],
        serde_json::json!({"type": "apiKey", "in": "header", "name": "X-API-Key"})
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["HTTPBearer"],
        serde_json::json!({
            "type": "http", "scheme": "bearer",
            "description": "The same API key, as `Authorization: Bearer <key>`."
        })
    );
    assert!(
        doc.get("security").is_none(),
        "no global security: public routes stay public"
    );
}

#[actix_rt::test]
async fn the_document_lists_exactly_the_routes_actix_serves_with_matching_security() {
    let doc = document().await;
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            // Either scheme satisfies a protected operation: the key in `X-API-Key`, or as
            // `Authorization: Bearer` (issue 28).
            let secured =
                op["security"] == serde_json::json!([{"APIKeyHeader": []}, {"HTTPBearer": []}]);
            documented.insert((method.to_uppercase(), path.clone(), secured));
        }
    }
    let served: BTreeSet<_> = ROUTES
        .iter()
        .filter(|r| r.documented)
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.access == Access::Protected,
            )
        })
        .collect();
    assert_eq!(documented, served);
}

#[actix_rt::test]
async fn every_protected_operation_documents_every_error_it_can_answer() {
    let doc = document().await;
    for r in ROUTES
        .iter()
        .filter(|r| r.documented && r.access == Access::Protected)
    {
        let op = &doc["paths"][r.path][r.method.to_lowercase()];
        for status in ["400", "401", "403", "422", "429", "500", "503"] {
            assert!(
                op["responses"].get(status).is_some(),
                "{} {} lacks {status}",
                r.method,
                r.path
            );
        }
    }
}

#[actix_rt::test]
async fn docs_serves_swagger_ui_from_the_binary_reading_the_local_document() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str| client.get(app.url(path)).send();
    // 200 at /docs itself, as FastAPI answers; its assets resolve under /docs/.
    let res = get("/docs").await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"<base href="/docs/">"#), "{page}");
    assert!(page.contains("swagger-ui-bundle.js"), "{page}");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external asset"
    );
    let init = get("/docs/swagger-initializer.js")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains(r#""url": "/openapi.json""#), "{init}");
    assert!(init.contains(r#""validatorUrl": "none""#), "{init}");
    // A key typed into "Authorize" is not kept in the browser's storage.
    assert!(!init.contains(r#""persistAuthorization": true"#), "{init}");
    let bundle = get("/docs/swagger-ui-bundle.js").await.unwrap();
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
    let missing = get("/docs/no-such-file.js").await.unwrap();
    assert_eq!(status_and_json(missing).await, error_json(404, "Not Found"));
}

#[actix_rt::test]
async fn the_document_carries_the_configured_input_limits() {
    let mut settings = crate::helpers::test_settings();
    settings.input.max_text_chars = 123;
    settings.input.max_batch_size = 7;
    let app = crate::helpers::spawn_app_with(
        settings,
        std::sync::Arc::new(sentiment_api::model::Vader::new()),
    )
    .await;
    let doc = status_and_json(app.get("/openapi.json", None).await)
        .await
        .1;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["PredictRequest"]["properties"]["text"]["maxLength"],
        123
    );
    let texts = &schemas["BatchRequest"]["properties"]["texts"];
    assert_eq!(
        (texts["minItems"].clone(), texts["maxItems"].clone()),
        (1.into(), 7.into())
    );
    assert_eq!(texts["items"]["maxLength"], 123);
    assert!(
        schemas.get("HTTPValidationError").is_some() && schemas.get("ValidationError").is_some()
    );
}

#[actix_rt::test]
async fn every_refusal_counter_series_is_zero_from_the_start_and_named_in_its_help() {
    use sentiment_api::metrics::{AUTH_FAILURE_REASONS, OVERLOAD_CAUSES, RATE_LIMITS};
    let app = spawn_app().await;
    let text = app.get("/metrics", None).await.text().await.unwrap();
    for (name, label, values) in [
        ("auth_failures_total", "reason", &AUTH_FAILURE_REASONS[..]),
        ("rate_limited_total", "limit", &RATE_LIMITS[..]),
        ("overloaded_total", "cause", &OVERLOAD_CAUSES[..]),
    ] {
        let help = text
            .lines()
            .find(|l| l.starts_with(&format!("# HELP {name} ")))
            .unwrap_or_else(|| panic!("no HELP for {name}: {text}"));
        for value in values {
            let series = format!("{name}{{{label}=\"{value}\"}} 0");
            assert!(
                text.lines().any(|l| l == series),
                "{series} missing: {text}"
            );
            assert!(help.contains(value), "{value} not in {help}");
        }
    }
}

#[actix_rt::test]
async fn metrics_count_requests_by_route_template_and_never_show_a_key() {
    let app = spawn_app().await;
    app.predict_query("I love it", Some(TEST_KEY)).await;
    app.predict_query("I love it", Some("sk_not-a-real-key-but-secret"))
        .await;
    app.predict_query("I love it", None).await;
    for i in 0..20 {
        app.get(&format!("/jobs/random-{i}"), Some(TEST_KEY)).await;
        app.get(&format!("/nowhere/{i}"), None).await;
    }
    let res = app.get("/metrics", None).await;
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = res.text().await.unwrap();
    for expected in [
        r#"http_requests_total{method="POST",route="/predict",status="200"} 1"#,
        r#"http_requests_total{method="GET",route="/jobs/{job_id}",status="404"} 20"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404"} 20"#,
        r#"auth_failures_total{reason="unknown"} 1"#,
        r#"auth_failures_total{reason="missing"} 1"#,
        "http_request_duration_seconds_bucket",
        "inference_duration_seconds_bucket{place=\"inline\"",
        // The one scored text, timed where it ran.
        r#"inference_duration_seconds_count{place="inline"} 1"#,
        r#"inference_duration_seconds_count{place="pool"} 0"#,
        "http_requests_in_flight 0", // /metrics itself is not counted: it is never shed
        "jobs_pending 0",
        "api_keys_loaded 1",
    ] {
        assert!(text.contains(expected), "{expected} missing from\n{text}");
    }
    assert!(
        !text.contains("random-") && !text.contains("nowhere"),
        "raw paths became labels"
    );
    assert!(!text.contains(TEST_KEY) && !text.contains("not-a-real-key"));
}
