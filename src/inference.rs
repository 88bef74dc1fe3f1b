//! Running the model for requests: short texts inline, long texts and batches on a bounded
//! blocking pool with a timeout, so a worker's event loop never stalls behind a big input.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::error::{ApiError, Overload};
use crate::metrics::Metrics;
use crate::model::{Scores, Sentiment, SentimentModel};

/// Work up to this many bytes of text is scored inline on the worker. Measured with
/// `cargo bench --bench inference` (README, "Where inference runs"): VADER needs ~12 µs for 64
/// bytes and ~0.3 ms for 2 KiB, and a hand-off to the blocking pool adds ~30–100 µs. Below
/// 2 KiB the hand-off costs a large share of the work; above it, scoring would hold the worker's
/// event loop (and every connection on it) for longer than the hand-off costs.
pub const INLINE_MAX_BYTES: usize = 2048;

/// The answer for one text.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
    #[schema(value_type = Option<String>)]
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
    metrics: Option<Arc<Metrics>>,
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
            metrics: None,
            pool_permits: Arc::new(Semaphore::new(pool_threads.max(1))),
            timeout,
            inline_max_bytes: INLINE_MAX_BYTES,
        }
    }

    /// Records inference times in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Sends everything to the pool, however small (for tests of the pool path).
    pub fn always_offload(mut self) -> Self {
        self.inline_max_bytes = 0;
        self
    }

    /// Scores one text.
    pub async fn predict(&self, text: String) -> Result<Prediction, ApiError> {
        let mut out = self.predict_all(vec![text]).await?;
        out.pop().ok_or(ApiError::Internal)
    }

    /// Scores texts, answers in input order.
    pub async fn predict_all(&self, texts: Vec<String>) -> Result<Vec<Prediction>, ApiError> {
        let started = Instant::now();
        let bytes: usize = texts.iter().map(String::len).sum();
        let pooled = bytes > self.inline_max_bytes;
        let result = if pooled {
            self.on_pool(texts, bytes).await
        } else {
            Ok(score_all(&*self.model, texts))
        };
        if let Some(metrics) = &self.metrics {
            metrics.observe_inference(pooled, started.elapsed());
        }
        result
    }

    async fn on_pool(&self, texts: Vec<String>, bytes: usize) -> Result<Vec<Prediction>, ApiError> {
        let model = Arc::clone(&self.model);
        let permits = Arc::clone(&self.pool_permits);
        let work = async move {
            // Waiting for a pool thread counts against the timeout too.
            let permit = permits
                .acquire_owned()
                .await
                .map_err(|_| ApiError::Internal)?;
            // The permit travels with the work: a request that times out stops waiting, but
            // its thread keeps the place until it has really finished.
            web::block(move || {
                let _permit = permit;
                score_all(&*model, texts)
            })
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
                    cause: Overload::InferenceTimeout,
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
