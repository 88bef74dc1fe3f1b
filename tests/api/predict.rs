//! `POST /predict`: both input forms, the response shape, validation and body errors.

use std::sync::Arc;

use sentiment_api::model::{Scores, SentimentModel, Vader};
use serde_json::{json, Value};

use crate::helpers::{
    error_json, raw_request, spawn_app, spawn_app_with, status_and_json, test_settings, TEST_KEY,
};

/// The content type of a JSON body sent as bytes.
const JSON: Option<&str> = Some("application/json");

#[actix_rt::test]
async fn the_query_form_answers_exactly_as_the_contract_shows() {
    let app = spawn_app().await;
    let res = app.predict_query("I love it", Some(TEST_KEY)).await;
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(
        res.text().await.unwrap(),
        r#"{"text":"I love it","sentiment":"positive","score":0.6369,"scores":{"positive":0.677,"neutral":0.323,"negative":0.0},"model":"vader","status":"success"}"#
    );
}

#[actix_rt::test]
async fn the_json_form_gives_the_same_answer_as_the_query_form() {
    let app = spawn_app().await;
    let text = "The service was terrible and I hate the cold food.";
    let by_query = status_and_json(app.predict_query(text, Some(TEST_KEY)).await).await;
    let by_json = status_and_json(
        app.post_json("/predict", &json!({"text": text}), Some(TEST_KEY))
            .await,
    )
    .await;
    assert_eq!(by_query, by_json);
    assert_eq!(by_json.0, 200);
    assert_eq!(by_json.1["sentiment"], "negative");
    assert!(by_json.1["score"].as_f64().unwrap() <= -0.05);
}

#[actix_rt::test]
async fn neutral_text_and_empty_text_are_neutral() {
    let app = spawn_app().await;
    for text in ["The meeting is at noon.", ""] {
        let (status, body) = status_and_json(app.predict_query(text, Some(TEST_KEY)).await).await;
        assert_eq!(status, 200);
        assert_eq!(body["sentiment"], "neutral", "{text:?}");
        assert_eq!(body["text"], text);
    }
}

#[actix_rt::test]
async fn non_ascii_text_round_trips_unchanged() {
    let app = spawn_app().await;
    let text = "Café déjà vu 😀 — 日本語 «ok» 👍";
    let (status, body) = status_and_json(
        app.post_json("/predict", &json!({"text": text}), Some(TEST_KEY))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["text"], text);
    assert_eq!(body["sentiment"], "positive");
}

#[actix_rt::test]
async fn no_text_at_all_gets_422_missing_query_text() {
    let app = spawn_app().await;
    let res = app.request("POST", "/predict", Some(TEST_KEY)).await;
    assert_eq!(
        res.text().await.unwrap(),
        r#"{"detail":[{"type":"missing","loc":["query","text"],"msg":"Field required","input":null}]}"#
    );
}

#[actix_rt::test]
async fn a_body_without_text_gets_422_missing_body_text() {
    let app = spawn_app().await;
    let res = app
        .post_json("/predict", &json!({"txt": "hi"}), Some(TEST_KEY))
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["detail"][0],
        json!({"type":"missing","loc":["body","text"],"msg":"Field required","input":{"txt":"hi"}})
    );
}

#[actix_rt::test]
async fn text_that_is_not_a_string_gets_422_string_type() {
    let app = spawn_app().await;
    for bad in [
        json!(5),
        json!(null),
        json!(["a"]),
        json!({"a": 1}),
        json!(true),
    ] {
        let res = app
            .post_json("/predict", &json!({"text": bad}), Some(TEST_KEY))
            .await;
        let (status, body) = status_and_json(res).await;
        assert_eq!(status, 422);
        assert_eq!(
            body["detail"][0],
            json!({"type":"string_type","loc":["body","text"],"msg":"Input should be a valid string","input":bad})
        );
    }
}

#[actix_rt::test]
async fn text_over_the_limit_gets_422_string_too_long_in_either_form() {
    let mut settings = test_settings();
    settings.input.max_text_chars = 10;
    let app = spawn_app_with(settings, Arc::new(Vader::new())).await;
    // Ten characters of two bytes each are within the limit: characters count, not bytes.
    let ok = "é".repeat(10);
    assert_eq!(app.predict_query(&ok, Some(TEST_KEY)).await.status(), 200);
    let long = "é".repeat(11);
    for (res, loc) in [
        (
            app.predict_query(&long, Some(TEST_KEY)).await,
            json!(["query", "text"]),
        ),
        (
            app.post_json("/predict", &json!({"text": long}), Some(TEST_KEY))
                .await,
            json!(["body", "text"]),
        ),
    ] {
        let (status, body) = status_and_json(res).await;
        assert_eq!(status, 422);
        let item = &body["detail"][0];
        assert_eq!(item["type"], "string_too_long");
        assert_eq!(item["loc"], loc);
        assert_eq!(item["msg"], "String should have at most 10 characters");
        assert_eq!(item["input"], long.as_str());
    }
}

#[actix_rt::test]
async fn text_in_both_query_and_body_gets_422() {
    let app = spawn_app().await;
    let res = app
        .post_json("/predict?text=a", &json!({"text": "b"}), Some(TEST_KEY))
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["query", "text"]));
}

#[actix_rt::test]
async fn invalid_json_gets_422_json_invalid() {
    let app = spawn_app().await;
    for bad in [
        "{\"text\": ",
        "{'text': 'hi'}",
        "not json",
        "{\"text\": \"a\"} trailing",
    ] {
        let res = app.post_bytes("/predict", JSON, bad, Some(TEST_KEY)).await;
        let (status, body) = status_and_json(res).await;
        assert_eq!(status, 422, "{bad}");
        assert_eq!(body["detail"][0]["type"], "json_invalid", "{bad}");
        assert_eq!(body["detail"][0]["loc"][0], "body");
        assert!(body["detail"][0]["loc"][1].is_u64());
    }
}

#[actix_rt::test]
async fn a_body_with_a_utf8_byte_order_mark_reads_as_python_json_reads_it() {
    let app = spawn_app().await;
    let send = |body: &'static [u8]| app.post_bytes("/predict", JSON, body, Some(TEST_KEY));
    let res = send(b"\xEF\xBB\xBF{\"text\": \"I love it\"}").await;
    let (status, body) = status_and_json(res).await;
    assert_eq!((status, &body["score"]), (200, &json!(0.6369)), "{body}");
    // A body that is not the expected shape takes the path that builds a JSON value: the mark
    // is skipped there too, and an error after it counts its position from the text after it,
    // as Python does.
    let res = send(b"\xEF\xBB\xBF{\"text\": 3}").await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(
        (status, &body["detail"][0]["type"]),
        (422, &json!("string_type"))
    );
    let res = send(b"\xEF\xBB\xBF{oops").await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", 1]), "{body}");
}

#[actix_rt::test]
async fn a_body_that_is_not_utf8_gets_400_as_in_fastapi() {
    let app = spawn_app().await;
    let body = b"{\"text\": \"\xff\xfe\"}".to_vec();
    let res = app.post_bytes("/predict", JSON, body, Some(TEST_KEY)).await;
    assert_eq!(
        status_and_json(res).await,
        error_json(400, "There was an error parsing the body")
    );
}

#[actix_rt::test]
async fn a_json_body_that_is_not_an_object_gets_422() {
    let app = spawn_app().await;
    for bad in [json!("I love it"), json!(["I love it"]), json!(3)] {
        let (status, body) =
            status_and_json(app.post_json("/predict", &bad, Some(TEST_KEY)).await).await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["type"], "model_attributes_type");
        assert_eq!(body["detail"][0]["loc"], json!(["body"]));
    }
}

#[actix_rt::test]
async fn a_body_with_extra_fields_or_a_repeated_text_reads_as_python_json_does() {
    let app = spawn_app().await;
    let plain = status_and_json(
        app.post_json("/predict", &json!({"text": "I love it"}), Some(TEST_KEY))
            .await,
    )
    .await;
    assert_eq!(plain.0, 200);
    // Extra fields are ignored, as Pydantic ignores them.
    let extra = json!({"lang": "en", "text": "I love it", "n": [1, 2]});
    assert_eq!(
        status_and_json(app.post_json("/predict", &extra, Some(TEST_KEY)).await).await,
        plain
    );
    // A repeated key counts its last value, as Python's json does.
    let repeated = r#"{"text": "I hate it", "text": "I love it"}"#;
    let res = app
        .post_bytes("/predict", JSON, repeated, Some(TEST_KEY))
        .await;
    assert_eq!(status_and_json(res).await, plain);
}

#[actix_rt::test]
async fn a_field_beside_text_is_checked_as_strictly_as_on_every_other_route() {
    // Bytes that are not UTF-8, a number out of range, nesting too deep: each in a field the
    // handler does not read. /predict must answer as /predict/batch does for the same field.
    let deep = format!("\"x\":{}1{}", "[".repeat(200), "]".repeat(200));
    let cases: [(&[u8], u16); 3] = [
        (b"\"x\":\"\xff\"", 400),
        (b"\"x\":1e400", 422),
        (deep.as_bytes(), 422),
    ];
    let routes: [(&str, &[u8]); 2] = [
        ("/predict", b"\"text\":\"I love it\""),
        ("/predict/batch", b"\"texts\":[\"I love it\"]"),
    ];
    let app = spawn_app().await;
    for (extra, expected) in cases {
        for (path, field) in routes {
            let body = [b"{", field, b",", extra, b"}"].concat();
            let res = app.post_bytes(path, JSON, body, Some(TEST_KEY)).await;
            let shown = String::from_utf8_lossy(&extra[..extra.len().min(20)]).into_owned();
            assert_eq!(res.status().as_u16(), expected, "{path} with {shown}");
        }
    }
}

#[actix_rt::test]
async fn a_body_that_is_not_json_gets_415() {
    let app = spawn_app().await;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        let res = app
            .post_bytes("/predict", Some(content_type), "text=hi", Some(TEST_KEY))
            .await;
        let (status, body) = status_and_json(res).await;
        assert_eq!(status, 415, "{content_type}");
        assert!(body["detail"]
            .as_str()
            .unwrap()
            .contains("application/json"));
    }
}

#[actix_rt::test]
async fn json_with_a_charset_or_a_json_suffix_is_accepted() {
    let app = spawn_app().await;
    for content_type in [
        "application/json; charset=utf-8",
        "application/vnd.api+json",
        "Application/JSON",
    ] {
        let body = r#"{"text":"great"}"#;
        let res = app
            .post_bytes("/predict", Some(content_type), body, Some(TEST_KEY))
            .await;
        assert_eq!(res.status(), 200, "{content_type}");
    }
}

#[actix_rt::test]
async fn a_body_over_the_limit_gets_413_whether_its_length_is_declared_or_not() {
    let mut settings = test_settings();
    settings.input.max_body_bytes = 1000;
    let app = spawn_app_with(settings, Arc::new(Vader::new())).await;
    let big = json!({"text": "a".repeat(2000)});
    let (status, body) =
        status_and_json(app.post_json("/predict", &big, Some(TEST_KEY)).await).await;
    assert_eq!(status, 413);
    assert!(body["detail"].as_str().unwrap().contains("1000"));
    // Chunked: no Content-Length, so the limit is enforced while reading.
    let chunk = "a".repeat(600);
    let raw = format!(
        "POST /predict HTTP/1.1\r\nHost: x\r\nX-API-Key: {TEST_KEY}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {len:x}\r\n{{\"text\":\"{chunk}\r\n{len:x}\r\n{chunk}\"}}\r\n0\r\n\r\n",
        len = chunk.len() + 9,
    );
    let answer = raw_request(&app.address, raw.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains(r#"{"detail":"Request body too large"#),
        "{answer}"
    );
}

#[actix_rt::test]
async fn a_repeated_text_parameter_counts_its_last_value_as_fastapi_does() {
    let app = spawn_app().await;
    let res = app
        .request("POST", "/predict?text=awful&text=wonderful", Some(TEST_KEY))
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, 200);
    assert_eq!(body["text"], "wonderful");
}

#[actix_rt::test]
async fn a_body_that_does_not_arrive_in_time_gets_408_json() {
    let mut settings = test_settings();
    settings.input.body_timeout = std::time::Duration::from_secs(1);
    let app = spawn_app_with(settings, Arc::new(Vader::new())).await;
    let raw = format!(
        "POST /predict HTTP/1.1\r\nHost: x\r\nX-API-Key: {TEST_KEY}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\nConnection: close\r\n\r\n{{\"text\":"
    );
    let started = std::time::Instant::now();
    let answer = raw_request(&app.address, raw.as_bytes()).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.ends_with(r#"{"detail":"Request body not received in time"}"#),
        "{answer}"
    );
}

#[actix_rt::test]
async fn a_json_null_body_counts_as_no_body_as_in_fastapi() {
    let app = spawn_app().await;
    let res = app
        .post_bytes("/predict?text=great", JSON, "null", Some(TEST_KEY))
        .await;
    assert_eq!(res.status(), 200);
}

/// A model that panics on one input, to prove a handler panic is contained.
struct PanickyModel(Vader);

impl SentimentModel for PanickyModel {
    fn name(&self) -> &'static str {
        "panicky"
    }

    fn score(&self, text: &str) -> Scores {
        if text == "panic please" {
            panic!("deliberate test panic");
        }
        self.0.score(text)
    }
}

#[actix_rt::test]
async fn a_panicking_handler_answers_500_json_and_the_server_keeps_serving() {
    let mut settings = test_settings();
    settings.listen.workers = 1;
    let app = spawn_app_with(settings, Arc::new(PanickyModel(Vader::new()))).await;
    for _ in 0..3 {
        let res = app.predict_query("panic please", Some(TEST_KEY)).await;
        // The request was authenticated and paid before the panic: its answer says so.
        assert_eq!(res.headers()["ratelimit-policy"], "\"default\";q=60;w=60");
        assert!(
            res.headers().contains_key("ratelimit"),
            "{:?}",
            res.headers()
        );
        assert_eq!(
            status_and_json(res).await,
            error_json(500, "Internal Server Error")
        );
        let (status, body): (u16, Value) =
            status_and_json(app.predict_query("fine", Some(TEST_KEY)).await).await;
        assert_eq!(status, 200);
        assert_eq!(body["text"], "fine");
    }
}
