//! Running the model for requests: short texts inline, long texts and batches on a bounded
//! blocking pool with a timeout, so a worker's event loop never stalls behind a big input.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::error::{ApiError, Overload};
use crate::metrics::MetricShard;
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

impl Prediction {
    /// This prediction as JSON: byte for byte what `serde_json::to_vec` writes (a test holds it to
    /// that), but quicker on `/predict`'s path. The keys are written as the constants they are,
    /// the numbers by serde_json, and the text, the one long field, is checked for characters to
    /// escape eight bytes at a time and then copied (serde_json escapes every string, keys
    /// included, byte by byte). Text that needs escaping goes to serde_json.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(self.text.len() + 160);
        out.extend_from_slice(b"{\"text\":");
        if needs_json_escape(self.text.as_bytes()) {
            serde_json::to_writer(&mut out, &self.text)?;
        } else {
            out.push(b'"');
            out.extend_from_slice(self.text.as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(b",\"sentiment\":");
        serde_json::to_writer(&mut out, &self.sentiment)?;
        out.extend_from_slice(b",\"score\":");
        serde_json::to_writer(&mut out, &self.score)?;
        out.extend_from_slice(b",\"scores\":{\"positive\":");
        serde_json::to_writer(&mut out, &self.scores.positive)?;
        out.extend_from_slice(b",\"neutral\":");
        serde_json::to_writer(&mut out, &self.scores.neutral)?;
        out.extend_from_slice(b",\"negative\":");
        serde_json::to_writer(&mut out, &self.scores.negative)?;
        out.push(b'}');
        if let Some(status) = self.status {
            out.extend_from_slice(b",\"status\":");
            serde_json::to_writer(&mut out, status)?;
        }
        out.push(b'}');
        Ok(out)
    }
}

/// Whether serde_json would escape anything in `bytes`: a control character (below 0x20), `"` or
/// `\\`. Everything else, UTF-8 sequences included, it writes as it is.
fn needs_json_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The top bit of a byte of `(w - n) & !w` is set for some byte below `n` (n <= 0x80) when
    // there is one: exact as an "any", which is all that is asked here.
    let any_below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH != 0;
    let any_equal = |w: u64, b: u8| any_below(w ^ (ONES * u64::from(b)), 1);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_le_bytes(w);
        if any_below(w, 0x20) || any_equal(w, b'"') || any_equal(w, b'\\') {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// The model, shared once by every worker, with the policy for where and how long it may run.
/// A clone shares the model and the pool's permits; each worker's copy records its inference times
/// in that worker's metrics shard (see [`Inference::with_metrics`]).
#[derive(Clone)]
pub struct Inference {
    model: Arc<dyn SentimentModel>,
    metrics: Option<Arc<MetricShard>>,
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

    /// Records inference times in `metrics` (the shard of the worker this copy serves).
    pub fn with_metrics(mut self, metrics: Arc<MetricShard>) -> Self {
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
        if text.len() <= self.inline_max_bytes {
            // The common case, without the batch path's two vectors.
            let started = Instant::now();
            let prediction = Prediction::of(&*self.model, text);
            self.observe(false, started);
            return Ok(prediction);
        }
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
        self.observe(pooled, started);
        result
    }

    /// Records the time since `started` in the inference metrics, if kept.
    fn observe(&self, pooled: bool, started: Instant) {
        if let Some(metrics) = &self.metrics {
            metrics.observe_inference(pooled, started.elapsed());
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(text: &str, status: Option<&'static str>) -> Prediction {
        Prediction {
            text: text.to_owned(),
            sentiment: Sentiment::Negative,
            score: -0.5423,
            scores: Scores {
                compound: -0.5423,
                positive: 0.0,
                neutral: 0.623,
                negative: 0.377,
            },
            status,
        }
    }

    #[test]
    fn to_json_writes_what_serde_json_writes() {
        // Every byte that matters to the escaping, at every position in and around a word.
        let mut texts: Vec<String> = vec![
            String::new(),
            "plain ascii text".into(),
            "caf\u{e9} \u{1f600} \u{7f}\u{80}".into(),
        ];
        for special in [
            '"', '\\', '\n', '\t', '\0', '\u{1f}', '\u{20}', '/', '\u{7f}', '\u{e9}',
        ] {
            for len in 0..20 {
                for at in 0..len {
                    let mut t: String = "abcdefghijklmnopqrst"[..len].into();
                    t.replace_range(at..at + 1, &special.to_string());
                    texts.push(t);
                }
            }
        }
        for text in &texts {
            for status in [None, Some("success"), Some("a \"quoted\" status")] {
                let p = prediction(text, status);
                assert_eq!(
                    String::from_utf8(p.to_json().unwrap()).unwrap(),
                    serde_json::to_string(&p).unwrap(),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn to_json_writes_every_label_and_number_as_serde_json_does() {
        let numbers = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.4404,
            1e-7,
            123456789.0,
            f64::NAN,
            f64::INFINITY,
        ];
        for sentiment in [Sentiment::Positive, Sentiment::Neutral, Sentiment::Negative] {
            for (k, &x) in numbers.iter().enumerate() {
                let y = numbers[(k + 3) % numbers.len()];
                let p = Prediction {
                    sentiment,
                    score: x,
                    scores: Scores {
                        compound: x,
                        positive: y,
                        neutral: x,
                        negative: -y,
                    },
                    ..prediction("some text", Some("success"))
                };
                assert_eq!(
                    String::from_utf8(p.to_json().unwrap()).unwrap(),
                    serde_json::to_string(&p).unwrap()
                );
            }
        }
    }

    #[test]
    fn the_escape_scan_finds_exactly_what_serde_json_escapes() {
        for b in 0..=255u8 {
            for len in 1..=17 {
                for at in 0..len {
                    let mut bytes = vec![b'x'; len];
                    bytes[at] = b;
                    let expected = b < 0x20 || b == b'"' || b == b'\\';
                    assert_eq!(
                        needs_json_escape(&bytes),
                        expected,
                        "byte {b:#x} at {at} of {len}"
                    );
                }
            }
        }
    }
}
