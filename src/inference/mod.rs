//! Running the model for requests: short texts inline, long texts and batches on a bounded
//! blocking pool with a timeout, so a worker's event loop never stalls behind a big input; and for
//! a model that scores batches faster than single texts, concurrent requests coalesced into one
//! call ([`batcher`]).

mod batcher;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use self::batcher::Batcher;
use crate::metrics::MetricShard;
use crate::model::{Cost, ModelId, Models, Scores, SentimentModel};

/// Work up to this many bytes of text is scored inline on the worker. Measured with
/// `cargo bench --bench inference` (docs/internals/performance-history.md, "Where inference runs"): VADER needs
/// ~0.6 µs for 64 bytes and ~15 µs for 2 KiB, and a hand-off to the blocking pool adds ~15–20 µs.
/// Below 2 KiB the hand-off is most of the work; above it, scoring would hold the worker's event
/// loop (and every connection on it) for longer than ~15 µs.
pub const INLINE_MAX_BYTES: usize = 2048;

/// One text and its scores: what the model made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The text as received.
    pub text: String,
    /// The model's scores.
    pub scores: Scores,
    /// Which model scored it.
    pub model: &'static str,
}

impl Scored {
    /// Scores `text` with `model`.
    pub fn of(model: &dyn SentimentModel, text: String) -> Self {
        Scored {
            scores: model.score(&text),
            model: model.name(),
            text,
        }
    }
}

/// Why texts could not be scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InferenceError {
    /// The model did not answer within `INFERENCE_TIMEOUT_MS` (waiting for a pool thread included).
    #[error("Inference timed out")]
    TimedOut,
    /// The model panicked, or the pool could not run it.
    #[error("Internal Server Error")]
    Failed,
}

/// The models, shared once by every worker, with the policy for where and how long they may run.
/// A clone shares the models and the pool's permits; each worker's copy records its inference times
/// in that worker's metrics shard (see [`Inference::with_metrics`]).
#[derive(Clone)]
pub struct Inference {
    models: Arc<Models>,
    metrics: Option<Arc<MetricShard>>,
    pool_permits: Arc<Semaphore>,
    /// A coalescing queue for each model whose [`SentimentModel::batch_size`] is above 1.
    batchers: Arc<[(ModelId, Batcher)]>,
    timeout: Duration,
    inline_max_bytes: usize,
}

impl Inference {
    /// Runs `models` with at most `pool_threads` texts-in-progress on the blocking pool, each
    /// request bounded by `timeout`.
    /// A model whose batch size is above 1 gets a thread of its own that coalesces concurrent
    /// requests instead ([`batcher`]).
    pub fn new(models: Models, pool_threads: usize, timeout: Duration) -> Self {
        let models = Arc::new(models);
        let batchers = models
            .names()
            .into_iter()
            .filter_map(|name| models.find(name))
            .filter_map(|id| {
                let size = models.get(id).batch_size();
                (size > 1).then(|| (id, Batcher::start(Arc::clone(&models), id, size)))
            })
            .collect();
        Inference {
            models,
            metrics: None,
            pool_permits: Arc::new(Semaphore::new(pool_threads.max(1))),
            batchers,
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

    /// The models this runs.
    pub fn models(&self) -> &Models {
        &self.models
    }

    /// Scores one text with `model`.
    pub async fn predict(&self, model: ModelId, text: String) -> Result<Scored, InferenceError> {
        if self.runs_inline(model, text.len()) {
            #[cfg(feature = "otel")]
            let _span = self.span(model);
            // The common case, without the batch path's two vectors.
            let started = Instant::now();
            let scored = Scored::of(self.models.get(model), text);
            self.observe(false, started);
            return Ok(scored);
        }
        let mut out = self.predict_all(model, vec![text]).await?;
        out.pop().ok_or(InferenceError::Failed)
    }

    /// Scores texts with `model`, answers in input order.
    pub async fn predict_all(
        &self,
        model: ModelId,
        texts: Vec<String>,
    ) -> Result<Vec<Scored>, InferenceError> {
        #[cfg(feature = "otel")]
        let _span = self.span(model);
        let started = Instant::now();
        let bytes: usize = texts.iter().map(String::len).sum();
        let pooled = !self.runs_inline(model, bytes);
        let result = if pooled {
            self.on_pool(model, texts, bytes).await
        } else {
            Ok(score_all(self.models.get(model), texts))
        };
        self.observe(pooled, started);
        result
    }

    /// The trace span of scoring with `model`, which also names the model on the request's span.
    #[cfg(feature = "otel")]
    fn span(&self, model: ModelId) -> crate::telemetry::Span {
        let name = self.models.get(model).name();
        crate::telemetry::record_model(name);
        let mut span = crate::telemetry::span("inference");
        span.set("sentiment.model", name);
        span
    }

    /// Whether `bytes` of text for `model` are scored on the worker: short texts of a light
    /// model only (a heavy one, or one still to be built, never holds the event loop).
    fn runs_inline(&self, model: ModelId, bytes: usize) -> bool {
        bytes <= self.inline_max_bytes && self.models.get(model).cost() == Cost::Light
    }

    /// Records the time since `started` in the inference metrics, if kept.
    fn observe(&self, pooled: bool, started: Instant) {
        if let Some(metrics) = &self.metrics {
            metrics.observe_inference(pooled, started.elapsed());
        }
    }

    /// Scores `texts` off the event loop: in the model's coalescing queue if it has one, else on
    /// the blocking pool; either way within the timeout.
    async fn on_pool(
        &self,
        model: ModelId,
        texts: Vec<String>,
        bytes: usize,
    ) -> Result<Vec<Scored>, InferenceError> {
        let batcher = self.batchers.iter().find(|(id, _)| *id == model);
        let work = async move {
            if let Some((_, batcher)) = batcher {
                return batcher
                    .score(texts)
                    .await
                    .map_err(|_| InferenceError::Failed);
            }
            self.on_blocking_pool(model, texts).await
        };
        match actix_rt::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => {
                log::warn!(
                    "inference timed out after {} ms ({bytes} bytes of text)",
                    self.timeout.as_millis()
                );
                Err(InferenceError::TimedOut)
            }
        }
    }

    /// Scores `texts` on a thread of the blocking pool, once one of its permits is free.
    async fn on_blocking_pool(
        &self,
        model: ModelId,
        texts: Vec<String>,
    ) -> Result<Vec<Scored>, InferenceError> {
        let models = Arc::clone(&self.models);
        // Waiting for a pool thread counts against the timeout too.
        let permit = Arc::clone(&self.pool_permits)
            .acquire_owned()
            .await
            .map_err(|_| InferenceError::Failed)?;
        // The permit travels with the work: a request that times out stops waiting, but its
        // thread keeps the place until it has really finished.
        actix_rt::task::spawn_blocking(move || {
            let _permit = permit;
            score_all(models.get(model), texts)
        })
        .await
        .map_err(|_| {
            log::error!("inference panicked on the blocking pool");
            InferenceError::Failed
        })
    }
}

fn score_all(model: &dyn SentimentModel, texts: Vec<String>) -> Vec<Scored> {
    texts.into_iter().map(|t| Scored::of(model, t)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::thread::ThreadId;

    /// Records the thread each text was scored on.
    struct Recording {
        cost: Cost,
        threads: Mutex<Vec<ThreadId>>,
    }

    impl SentimentModel for Recording {
        fn name(&self) -> &'static str {
            "recording"
        }

        fn score(&self, _: &str) -> Scores {
            self.threads
                .lock()
                .unwrap()
                .push(std::thread::current().id());
            Scores {
                compound: 0.0,
                positive: 0.0,
                neutral: 1.0,
                negative: 0.0,
            }
        }

        fn cost(&self) -> Cost {
            self.cost
        }
    }

    async fn scored_on_this_thread(cost: Cost) -> bool {
        let model = Arc::new(Recording {
            cost,
            threads: Mutex::new(Vec::new()),
        });
        let models = Models::single(Arc::clone(&model) as Arc<dyn SentimentModel>);
        let id = models.default_id();
        let inference = Inference::new(models, 2, Duration::from_secs(10));
        inference.predict(id, "short".into()).await.unwrap();
        let threads = model.threads.lock().unwrap();
        threads.as_slice() == [std::thread::current().id()]
    }

    #[actix_rt::test]
    async fn a_short_text_runs_inline_for_a_light_model_and_on_the_pool_for_a_heavy_one() {
        assert!(scored_on_this_thread(Cost::Light).await);
        assert!(!scored_on_this_thread(Cost::Heavy).await);
    }

    /// A heavy model that scores in batches of up to 8: records each call's size, holds its first
    /// call until the test opens the gate, and panics on the text "boom". A text's compound is its
    /// length / 100, so each answer shows whose text it was.
    struct Gated {
        sizes: Mutex<Vec<usize>>,
        entered: std::sync::atomic::AtomicBool,
        gate: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    }

    impl Gated {
        fn new() -> (Arc<Gated>, std::sync::mpsc::Sender<()>) {
            let (open, gate) = std::sync::mpsc::channel();
            let model = Gated {
                sizes: Mutex::new(Vec::new()),
                entered: Default::default(),
                gate: Mutex::new(Some(gate)),
            };
            (Arc::new(model), open)
        }

        fn sizes(&self) -> Vec<usize> {
            self.sizes.lock().unwrap().clone()
        }
    }

    impl SentimentModel for Gated {
        fn name(&self) -> &'static str {
            "gated"
        }

        fn score(&self, text: &str) -> Scores {
            self.score_batch(&[text]).pop().unwrap()
        }

        fn score_batch(&self, texts: &[&str]) -> Vec<Scores> {
            self.sizes.lock().unwrap().push(texts.len());
            self.entered
                .store(true, std::sync::atomic::Ordering::SeqCst);
            let gate = self.gate.lock().unwrap().take();
            if let Some(gate) = gate {
                let _ = gate.recv();
            }
            assert!(!texts.contains(&"boom"), "boom");
            texts
                .iter()
                .map(|t| Scores {
                    compound: t.len() as f64 / 100.0,
                    positive: 0.0,
                    neutral: 1.0,
                    negative: 0.0,
                })
                .collect()
        }

        fn batch_size(&self) -> usize {
            8
        }

        fn cost(&self) -> Cost {
            Cost::Heavy
        }
    }

    fn gated_inference(
        timeout: Duration,
    ) -> (Inference, ModelId, Arc<Gated>, std::sync::mpsc::Sender<()>) {
        let (model, open) = Gated::new();
        let models = Models::single(Arc::clone(&model) as Arc<dyn SentimentModel>);
        let id = models.default_id();
        (Inference::new(models, 2, timeout), id, model, open)
    }

    /// Waits (yielding to the runtime) until the gated model has been entered.
    async fn until_entered(model: &Gated) {
        while !model.entered.load(std::sync::atomic::Ordering::SeqCst) {
            actix_rt::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[actix_rt::test]
    async fn requests_that_wait_for_a_batching_model_are_scored_together_each_getting_its_own() {
        let (inference, id, model, open) = gated_inference(Duration::from_secs(30));
        let first = {
            let inference = inference.clone();
            actix_rt::spawn(async move { inference.predict(id, "a".into()).await })
        };
        until_entered(&model).await;
        // Four more arrive while the model is busy with the first; a batch request among them.
        let waiting: Vec<_> = [vec!["bb"], vec!["ccc", "dddd"], vec!["eeeee"]]
            .into_iter()
            .map(|texts| {
                let inference = inference.clone();
                let texts: Vec<String> = texts.into_iter().map(String::from).collect();
                actix_rt::spawn(async move { inference.predict_all(id, texts).await })
            })
            .collect();
        for _ in 0..10 {
            actix_rt::task::yield_now().await; // each spawned request reaches the queue
        }
        open.send(()).unwrap();

        let first = first.await.unwrap().unwrap();
        assert_eq!((first.text.as_str(), first.scores.compound), ("a", 0.01));
        let mut answers = Vec::new();
        for request in waiting {
            let scored = request.await.unwrap().unwrap();
            answers.push(
                scored
                    .iter()
                    .map(|s| (s.text.clone(), s.scores.compound, s.model))
                    .collect::<Vec<_>>(),
            );
        }
        let expect = |text: &str| (text.to_owned(), text.len() as f64 / 100.0, "gated");
        assert_eq!(
            answers,
            vec![
                vec![expect("bb")],
                vec![expect("ccc"), expect("dddd")],
                vec![expect("eeeee")]
            ]
        );
        assert_eq!(
            model.sizes(),
            [1, 4],
            "the four waiting texts went in one call"
        );
    }

    #[actix_rt::test]
    async fn a_batch_that_panics_fails_its_requests_and_the_model_keeps_serving() {
        let (inference, id, model, open) = gated_inference(Duration::from_secs(30));
        drop(open); // no gate: the first call runs at once
        assert_eq!(
            inference.predict(id, "boom".into()).await,
            Err(InferenceError::Failed)
        );
        let ok = inference.predict(id, "fine".into()).await.unwrap();
        assert_eq!(ok.scores.compound, 0.04);
        assert_eq!(model.sizes(), [1, 1]);
    }

    #[actix_rt::test]
    async fn a_request_that_timed_out_in_the_queue_is_never_scored() {
        let (inference, id, model, open) = gated_inference(Duration::from_millis(50));
        let first = {
            let inference = inference.clone();
            actix_rt::spawn(async move { inference.predict(id, "held".into()).await })
        };
        until_entered(&model).await;
        let queued = inference.predict(id, "given up".into()).await;
        assert_eq!(queued, Err(InferenceError::TimedOut));
        assert_eq!(first.await.unwrap(), Err(InferenceError::TimedOut));
        open.send(()).unwrap();

        let later = inference.predict(id, "later".into()).await;
        assert_eq!(later.map(|s| s.text), Ok("later".to_owned()));
        assert_eq!(model.sizes(), [1, 1], "\"given up\" was skipped");
    }
}
