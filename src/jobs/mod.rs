//! Background jobs (`POST /analyze_batch`): a small `JobStore` trait, so a shared store can replace
//! the in-memory one without touching the handlers.

mod memory;

pub use memory::InMemoryJobStore;

use std::sync::Arc;

use uuid::Uuid;

use crate::inference::Scored;

/// A job's state.
#[derive(Debug, Clone)]
pub enum JobState {
    /// Queued or running.
    Processing,
    /// Finished: one prediction per text, in input order.
    Done(Arc<Vec<Scored>>),
    /// Gave up; the reason is safe to show to the job's owner.
    Failed(String),
}

/// Why a job could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JobsFull {
    /// `MAX_PENDING_JOBS` are queued or running.
    #[error("Too many pending jobs")]
    TooManyPending,
    /// The store holds as many jobs, or as many bytes of them (finished ones included), as it may.
    #[error("Too many stored jobs")]
    StoreFull,
}

/// Where jobs live. Every method is quick and never blocks on I/O in the in-memory store.
pub trait JobStore: Send + Sync + 'static {
    /// Registers a new job owned by `owner`, whose texts and results take about `bytes`
    /// (see [`footprint`]); returns its unguessable id (a random UUID).
    fn create(&self, owner: &str, bytes: usize) -> Result<Uuid, JobsFull>;
    /// Records a job's outcome (`Done` or `Failed`).
    fn finish(&self, id: &Uuid, state: JobState);
    /// Forgets a job that never started (its request was refused after [`JobStore::create`]).
    fn abandon(&self, id: &Uuid);
    /// The job's state, if it exists *and* belongs to `owner`; another key learns nothing.
    fn get(&self, id: &Uuid, owner: &str) -> Option<JobState>;
    /// Jobs queued or running now.
    fn pending(&self) -> usize;
}

/// About how much memory a job of `texts` holds once done: the texts, moved into the results,
/// and one result per text.
pub fn footprint(texts: &[String]) -> usize {
    texts.iter().map(String::len).sum::<usize>() + texts.len() * std::mem::size_of::<Scored>()
}
