//! Running the model for requests: short texts inline, long texts and batches on a bounded
//! blocking pool with a timeout, so a worker's event loop never stalls behind a big input.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::model::{Scores, Sentiment, SentimentModel};

/// Work up to this many bytes of text is scored inline on the worker. Measured (README, "Where
/// inference runs"): VADER scores about 40 bytes/µs here, and a hand-off to the blocking pool
/// costs 15–30 µs, so below ~2 KiB the hand-off would cost more than the scoring.
pub const INLINE_MAX_BYTES: usize = 2048;

/// The answer for one text.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// The text as received.
    pub text: String,
    /// `positive`, `neutral` or `negative`.
    pub sentiment: Sentiment,
    /// The compound score in [-1, 1].
    pub score: f64,
    /// Positive, neutral and negative proportions.
    pub scores: Scores,
    /// `"success"` on `/predict`; absent inside a batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

impl Prediction {
    /// Scores `text` with `model`.
    pub fn of(model: &dyn SentimentModel, text: String) -> Self {
        let scores = model.score(&text);
        Prediction {
            sentiment: Sentiment::of(scores.compound),
            score: scores.compound,
            scores,
            text,
            status: None,
        }
    }
}

/// The model, shared once by every worker, with the policy for where and how long it may run.
pub struct Inference {
    model: Arc<dyn SentimentModel>,
    pool_permits: Arc<Semaphore>,
    timeout: Duration,
    inline_max_bytes: usize,
}

impl Inference {
    /// Runs `model` with at most `pool_threads` texts-in-progress on the blocking pool, each
    /// request bounded by `timeout`.
    pub fn new(model: Arc<dyn SentimentModel>, pool_threads: usize, timeout: Duration) -> Self {
        Inference {
            model,
            pool_permits: Arc::new(Semaphore::new(pool_threads.max(1))),
            timeout,
            inline_max_bytes: INLINE_MAX_BYTES,
        }
    }

    /// Sends everything to the pool, however small (for tests of the pool path).
    pub fn always_offload(mut self) -> Self {
        self.inline_max_bytes = 0;
        self
    }

    /// The model's name.
    pub fn model_name(&self) -> &'static str {
        self.model.name()
    }

    /// Scores one text.
    pub async fn predict(&self, text: String) -> Result<Prediction, ApiError> {
        let mut out = self.predict_all(vec![text]).await?;
        out.pop().ok_or(ApiError::Internal)
    }

    /// Scores texts, answers in input order.
    pub async fn predict_all(&self, texts: Vec<String>) -> Result<Vec<Prediction>, ApiError> {
        let bytes: usize = texts.iter().map(String::len).sum();
        if bytes <= self.inline_max_bytes {
            return Ok(score_all(&*self.model, texts));
        }
        let model = Arc::clone(&self.model);
        let permits = Arc::clone(&self.pool_permits);
        let work = async move {
            // Waiting for a pool thread counts against the timeout too.
            let _permit = permits
                .acquire_owned()
                .await
                .map_err(|_| ApiError::Internal)?;
            web::block(move || score_all(&*model, texts))
                .await
                .map_err(|_| {
                    log::error!("inference panicked on the blocking pool");
                    ApiError::Internal
                })
        };
        match actix_rt::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => {
                log::warn!(
                    "inference timed out after {} ms ({bytes} bytes of text)",
                    self.timeout.as_millis()
                );
                Err(ApiError::Overloaded {
                    reason: "Inference timed out",
                    retry_after: 1,
                })
            }
        }
    }
}

fn score_all(model: &dyn SentimentModel, texts: Vec<String>) -> Vec<Prediction> {
    texts
        .into_iter()
        .map(|t| Prediction::of(model, t))
        .collect()
}
