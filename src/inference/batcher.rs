//! Coalescing for models that score many texts in one call faster than one at a time (the
//! encoder: one padded forward pass over 8 texts gave ~1.4x the texts/s of 8 passes,
//! docs/internals/encoder.md). Concurrent requests for such a model queue here; one thread takes whatever is
//! waiting, up to the model's batch size, scores it in one [`SentimentModel::score_batch`] call and
//! hands each request its own results, as text-embeddings-inference does. Nothing waits for a batch
//! to fill: a request that finds the thread idle runs at once, alone.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::Scored;
use crate::model::{ModelId, Models, SentimentModel};

/// Requests that may wait in one model's queue; beyond, senders wait (within their timeout).
const QUEUE: usize = 1024;

/// One request's texts and where its results go.
struct Job {
    texts: Vec<String>,
    reply: oneshot::Sender<Vec<Scored>>,
}

/// The queue of one model's coalescing thread; clones share it. The thread ends when the last
/// clone is dropped.
#[derive(Clone)]
pub(super) struct Batcher {
    queue: mpsc::Sender<Job>,
}

/// Why a batch could not be scored: its model panicked, or the thread is gone.
#[derive(Debug)]
pub(super) struct Lost;

impl Batcher {
    /// Starts the thread that coalesces requests for `model` of `models`, at most `max_texts`
    /// texts a call (a larger request is still scored whole, alone).
    pub(super) fn start(models: Arc<Models>, model: ModelId, max_texts: usize) -> Batcher {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let name = models.get(model).name();
        std::thread::Builder::new()
            .name(format!("batch-{name}"))
            .spawn(move || run(models.get(model), jobs, max_texts.max(1)))
            .unwrap_or_else(|e| panic!("cannot start the batching thread of model {name}: {e}"));
        Batcher { queue }
    }

    /// Scores `texts` in the next batch. A caller that stops waiting (a timeout) before its batch
    /// starts is skipped.
    pub(super) async fn score(&self, texts: Vec<String>) -> Result<Vec<Scored>, Lost> {
        let (reply, result) = oneshot::channel();
        self.queue
            .send(Job { texts, reply })
            .await
            .map_err(|_| Lost)?;
        result.await.map_err(|_| Lost)
    }
}

/// The coalescing loop: wait for a request, take what else is waiting, score it all at once.
fn run(model: &dyn SentimentModel, mut jobs: mpsc::Receiver<Job>, max_texts: usize) {
    while let Some(first) = jobs.blocking_recv() {
        let mut batch = vec![first];
        let mut count = batch[0].texts.len();
        while count < max_texts {
            match jobs.try_recv() {
                Ok(job) => {
                    count += job.texts.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        // Callers that timed out while queued need no answer.
        batch.retain(|job| !job.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let texts: Vec<&str> = batch
            .iter()
            .flat_map(|job| job.texts.iter().map(String::as_str))
            .collect();
        let scored = catch_unwind(AssertUnwindSafe(|| model.score_batch(&texts)));
        let scores = match scored {
            Ok(scores) if scores.len() == texts.len() => scores,
            Ok(scores) => {
                log::error!(
                    "model {} returned {} scores for {} texts",
                    model.name(),
                    scores.len(),
                    texts.len()
                );
                continue; // dropping the batch answers every request in it with an error
            }
            Err(_) => {
                log::error!(
                    "model {} panicked on a batch of {} texts",
                    model.name(),
                    texts.len()
                );
                continue;
            }
        };
        let mut scores = scores.into_iter();
        for job in batch {
            let results = job
                .texts
                .into_iter()
                .zip(scores.by_ref())
                .map(|(text, scores)| Scored {
                    text,
                    scores,
                    model: model.name(),
                })
                .collect();
            let _ = job.reply.send(results); // the caller may have gone meanwhile
        }
    }
}
