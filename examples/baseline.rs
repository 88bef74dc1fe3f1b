//! A bare actix-web server to measure the service against: `POST /predict` parses the same JSON
//! body and returns a fixed answer of the same shape, with no key, no limiter, no model, no logging.
//!
//! ```text
//! PORT=8001 cargo run --release --example baseline
//! ```
//!
//! With `BASELINE_MODEL=vader` the handler also scores the text with the service's VADER model and
//! answers the real scores: the service measured against that shows the cost of the server's own
//! work (key check, limiter, validation, logging, metrics) apart from the model's.
//!
//! `PORT` defaults to 0 (the OS chooses); `WORKERS` defaults to the number of cores, as the
//! service's does. The address goes to stderr as `listening on http://127.0.0.1:PORT`.
//! `scripts/bench-load.sh` drives it side by side with the service.

use std::net::TcpListener;
use std::num::NonZeroUsize;

use actix_web::{web, App, HttpResponse, HttpServer};
use sentiment_api::model::{SentimentModel, Vader};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Request {
    text: String,
}

#[derive(Serialize)]
struct Scores {
    positive: f64,
    neutral: f64,
    negative: f64,
}

/// The service's `/predict` answer, with the scores of "I love it" for every text.
#[derive(Serialize)]
struct Prediction {
    text: String,
    sentiment: &'static str,
    score: f64,
    scores: Scores,
    status: &'static str,
}

async fn predict(body: web::Json<Request>, model: web::Data<Option<Vader>>) -> HttpResponse {
    let text = body.into_inner().text;
    let (score, scores) = match model.get_ref() {
        Some(vader) => {
            let s = vader.score(&text);
            let scores = Scores {
                positive: s.positive,
                neutral: s.neutral,
                negative: s.negative,
            };
            (s.compound, scores)
        }
        None => {
            let scores = Scores {
                positive: 0.677,
                neutral: 0.323,
                negative: 0.0,
            };
            (0.6369, scores)
        }
    };
    let sentiment = if score >= 0.05 {
        "positive"
    } else if score <= -0.05 {
        "negative"
    } else {
        "neutral"
    };
    HttpResponse::Ok().json(Prediction {
        text,
        sentiment,
        score,
        scores,
        status: "success",
    })
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value.trim().parse().unwrap_or_else(|_| {
            eprintln!("error: {name}: not a valid value: {value:?}");
            std::process::exit(2)
        }),
        Err(_) => default,
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = env_or("PORT", 0);
    let cores = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    let workers: NonZeroUsize = env_or("WORKERS", cores);

    let model = web::Data::new(match std::env::var("BASELINE_MODEL").as_deref() {
        Ok("vader") => Some(Vader::new()),
        _ => None,
    });

    let listener = TcpListener::bind(("127.0.0.1", port))?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    HttpServer::new(move || {
        App::new()
            .app_data(model.clone())
            .route("/predict", web::post().to(predict))
    })
    .workers(workers.get())
    .listen(listener)?
    .run()
    .await
}
