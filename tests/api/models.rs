//! Choosing a model per request: `?model=` or a `"model"` field, the default, `GET /models`, and
//! the 422 of a model that is not loaded.

use std::sync::Arc;

use serde_json::{json, Value};

use sentiment_api::model::{ModelCard, Models, Scores, SentimentModel, Vader};

use crate::helpers::{
    remaining, run_binary_to_exit, spawn_app, spawn_app_with_models, status_and_json, temp_dir,
    test_settings, RunningBinary, TestApp, TEST_KEY,
};

/// A second model for the tests: every text is mildly positive, whatever VADER says.
struct Cheerful;

impl SentimentModel for Cheerful {
    fn name(&self) -> &'static str {
        "cheerful"
    }

    fn card(&self) -> ModelCard {
        ModelCard {
            kind: "constant",
            licence: "MIT",
            description: "Always a little happy",
        }
    }

    fn score(&self, _: &str) -> Scores {
        Scores {
            compound: 0.25,
            positive: 0.625,
            neutral: 0.0,
            negative: 0.375,
        }
    }
}

/// VADER (the default) and Cheerful.
async fn two_models() -> TestApp {
    let models = Models::new(vec![Arc::new(Vader::new()), Arc::new(Cheerful)], "vader").unwrap();
    spawn_app_with_models(test_settings(), models).await
}

const SAD: &str = "This is a terrible, awful day.";

#[actix_rt::test]
async fn without_a_model_the_default_answers_and_names_itself() {
    let app = two_models().await;
    let (status, body) = status_and_json(
        app.post_json("/predict", &json!({"text": SAD}), Some(TEST_KEY))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["model"], "vader");
    assert_eq!(body["sentiment"], "negative");
}

#[actix_rt::test]
async fn a_model_is_chosen_by_query_or_by_body_and_answers_with_the_same_fields() {
    let app = two_models().await;
    let by_body = status_and_json(
        app.post_json(
            "/predict",
            &json!({"text": SAD, "model": "cheerful"}),
            Some(TEST_KEY),
        )
        .await,
    )
    .await;
    let by_query = status_and_json(
        app.client
            .post(app.url("/predict"))
            .query(&[("text", SAD), ("model", "cheerful")])
            .header("X-API-Key", TEST_KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(by_body, by_query);
    assert_eq!(
        by_body,
        (
            200,
            json!({"text": SAD, "sentiment": "positive", "score": 0.25,
                   "scores": {"positive": 0.625, "neutral": 0.0, "negative": 0.375},
                   "model": "cheerful", "status": "success"})
        )
    );
}

#[actix_rt::test]
async fn a_batch_and_a_job_use_the_model_their_body_names() {
    let app = two_models().await;
    let body = json!({"texts": [SAD, "I love it"], "model": "cheerful"});
    let (status, batch) =
        status_and_json(app.post_json("/predict/batch", &body, Some(TEST_KEY)).await).await;
    assert_eq!(status, 200);
    for result in batch["results"].as_array().unwrap() {
        assert_eq!(result["model"], "cheerful");
        assert_eq!(result["score"], 0.25);
    }
    let (status, job) =
        status_and_json(app.post_json("/analyze_batch", &body, Some(TEST_KEY)).await).await;
    assert_eq!(status, 202);
    let path = format!("/jobs/{}", job["job_id"].as_str().unwrap());
    let done = crate::helpers::eventually(
        "the job to finish",
        std::time::Duration::from_secs(10),
        || {
            let app = &app;
            let path = path.clone();
            async move {
                let (_, view) = status_and_json(app.get(&path, Some(TEST_KEY)).await).await;
                (view["status"] == "done").then_some(view)
            }
        },
    )
    .await;
    let models: Vec<&Value> = done["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["model"])
        .collect();
    assert_eq!(models, [&json!("cheerful"), &json!("cheerful")]);
}

#[actix_rt::test]
async fn an_unknown_model_is_a_422_literal_error_listing_the_loaded_ones() {
    let app = two_models().await;
    let expected = |loc: Value, input: Value| {
        (
            422,
            json!({"detail": [{"type": "literal_error", "loc": loc,
                   "msg": "Input should be 'vader' or 'cheerful'", "input": input,
                   "ctx": {"expected": "'vader' or 'cheerful'"}}]}),
        )
    };
    let res = app
        .post_json(
            "/predict",
            &json!({"text": "hi", "model": "gpt-9"}),
            Some(TEST_KEY),
        )
        .await;
    assert_eq!(
        status_and_json(res).await,
        expected(json!(["body", "model"]), json!("gpt-9"))
    );
    let res = app
        .client
        .post(app.url("/predict"))
        .query(&[("text", "hi"), ("model", "VADER")])
        .header("X-API-Key", TEST_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_json(res).await,
        expected(json!(["query", "model"]), json!("VADER"))
    );
    // Not a string at all, in a batch.
    let res = app
        .post_json(
            "/predict/batch",
            &json!({"texts": ["hi"], "model": 7}),
            Some(TEST_KEY),
        )
        .await;
    assert_eq!(
        status_and_json(res).await,
        expected(json!(["body", "model"]), json!(7))
    );
}

#[actix_rt::test]
async fn every_error_of_a_request_is_reported_together() {
    let app = two_models().await;
    let (status, body) = status_and_json(
        app.post_json(
            "/predict/batch",
            &json!({"texts": [], "model": "nope"}),
            Some(TEST_KEY),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    let kinds: Vec<&Value> = body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| &item["type"])
        .collect();
    assert_eq!(kinds, [&json!("too_short"), &json!("literal_error")]);
    let (status, body) = status_and_json(
        app.post_json("/predict", &json!({"model": "nope"}), Some(TEST_KEY))
            .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "missing");
    assert_eq!(body["detail"][1]["type"], "literal_error");
}

#[actix_rt::test]
async fn a_model_given_both_in_the_query_and_the_body_is_refused() {
    let app = two_models().await;
    let res = app
        .client
        .post(app.url("/predict"))
        .query(&[("model", "vader")])
        .header("X-API-Key", TEST_KEY)
        .json(&json!({"text": "hi", "model": "cheerful"}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "value_error");
    assert_eq!(body["detail"][0]["loc"], json!(["query", "model"]));
}

#[actix_rt::test]
async fn models_lists_every_loaded_model_needs_a_key_and_spends_no_unit() {
    let app = two_models().await;
    let (status, body) = status_and_json(app.get("/models", None).await).await;
    assert_eq!(
        (status, &body["detail"]),
        (401, &json!("Not authenticated"))
    );
    let res = app.get("/models", Some(TEST_KEY)).await;
    let before = remaining(&res);
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, 200);
    let listed = &body["models"];
    assert_eq!(listed[0]["name"], "vader");
    assert_eq!(listed[0]["default"], true);
    assert_eq!(listed[0]["kind"], "lexicon");
    assert_eq!(listed[0]["licence"], "MIT");
    assert_eq!(
        listed[0]["labels"],
        json!(["positive", "neutral", "negative"])
    );
    assert!(listed[0]["description"].as_str().unwrap().contains("VADER"));
    assert_eq!(
        listed[1],
        json!({"name": "cheerful", "kind": "constant", "default": false,
               "labels": ["positive", "neutral", "negative"], "licence": "MIT",
               "description": "Always a little happy"})
    );
    let again = app.get("/models", Some(TEST_KEY)).await;
    assert_eq!(remaining(&again), before, "listing models spends no unit");
}

#[actix_rt::test]
async fn the_openapi_document_offers_the_loaded_models() {
    let app = two_models().await;
    let (_, doc) = status_and_json(app.get("/openapi.json", None).await).await;
    let enumerated = &doc["components"]["schemas"]["PredictRequest"]["properties"]["model"]["enum"];
    assert_eq!(enumerated, &json!(["vader", "cheerful"]));
    assert!(doc["paths"]["/models"]["get"].is_object());
}

#[actix_rt::test]
async fn the_default_server_answers_with_vader_as_before() {
    let app = spawn_app().await;
    let (_, body) = status_and_json(app.predict_query("I love it", Some(TEST_KEY)).await).await;
    assert_eq!(body["model"], "vader");
}

#[test]
fn an_unknown_model_or_a_default_not_loaded_stops_the_start_naming_the_variable() {
    for (envs, variable) in [
        (
            vec![("MODELS", "vader,gpt-9")],
            "MODELS: unknown model \"gpt-9\"",
        ),
        (vec![("DEFAULT_MODEL", "gpt-9")], "DEFAULT_MODEL: "),
        (vec![("MODELS", "vader;x")], "MODELS: "),
    ] {
        let (status, stderr) = run_binary_to_exit(&temp_dir("models"), &envs);
        assert!(!status.success(), "{envs:?} started");
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&format!("error: {variable}"))),
            "{envs:?}: {stderr}"
        );
    }
}

#[actix_rt::test]
async fn the_binary_names_its_models_at_start() {
    let server = RunningBinary::start(&[("API_SECRET_KEY", TEST_KEY), ("MODELS", "vader")]);
    let log = server.wait_for_log("listening on", std::time::Duration::from_secs(10));
    assert!(log.contains("models vader (default)"), "{log}");
}

#[actix_rt::test]
async fn the_compiled_in_learned_model_answers_with_the_same_fields() {
    let models = Models::load(None, "vader", None).unwrap();
    let app = spawn_app_with_models(test_settings(), models).await;
    let (_, listed) = status_and_json(app.get("/models", Some(TEST_KEY)).await).await;
    assert_eq!(listed["models"][1]["name"], "tfidf");
    assert_eq!(listed["models"][1]["kind"], "linear");
    for (text, label) in [
        (
            "An absolute delight from start to finish, I loved it.",
            "positive",
        ),
        ("A dull, lifeless and painfully boring film.", "negative"),
    ] {
        let (status, body) = status_and_json(
            app.post_json(
                "/predict",
                &json!({"text": text, "model": "tfidf"}),
                Some(TEST_KEY),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["model"], "tfidf");
        assert_eq!(body["sentiment"], label, "{text}: {body}");
        let score = body["score"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&score), "{body}");
        let scores = &body["scores"];
        let total: f64 = ["positive", "neutral", "negative"]
            .iter()
            .map(|k| scores[*k].as_f64().unwrap())
            .sum();
        assert!((total - 1.0).abs() < 1e-9, "{body}");
    }
}

#[actix_rt::test]
async fn tfidf_calls_plain_statements_neutral_through_the_query_parameter() {
    let models = Models::load(None, "vader", None).unwrap();
    let app = spawn_app_with_models(test_settings(), models).await;
    // A timetable, an address, plain statements: no opinion, so people rate them near 0.
    for text in [
        "The meeting is at 3 pm.",
        "Train 14 leaves platform 2 at 08:15 and arrives at 09:40.",
        "Monday to Friday: 9:00-17:30. Saturday: 10:00-14:00.",
    ] {
        let (status, body) = status_and_json(
            app.post_json(
                "/predict?model=tfidf",
                &json!({ "text": text }),
                Some(TEST_KEY),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{text}: {body}");
        assert_eq!(body["model"], "tfidf");
        assert_eq!(body["sentiment"], "neutral", "{text}: {body}");
        let score = body["score"].as_f64().unwrap();
        assert!(score.abs() < 0.05, "{text}: {body}");
        assert!(body["scores"]["neutral"].as_f64().unwrap() > 0.95, "{body}");
    }
    // An opinion is still one, with the score's sign.
    let (_, body) = status_and_json(
        app.post_json(
            "/predict?model=tfidf",
            &json!({"text": "Terrible service, I want my money back."}),
            Some(TEST_KEY),
        )
        .await,
    )
    .await;
    assert_eq!(body["sentiment"], "negative", "{body}");
    assert!(body["score"].as_f64().unwrap() <= -0.05, "{body}");
}
