//! Background jobs (`POST /analyze_batch`): where they live, [`Jobs`]: this process's memory (a
//! [`JobStore`]), or Redis shared by every replica ([`SharedJobs`], with `REDIS_URL`).

mod memory;
mod shared;

pub use memory::InMemoryJobStore;
pub use shared::{JobLimits, SharedJobs};

use std::sync::Arc;

use uuid::Uuid;

use crate::inference::Scored;
use crate::redis_backend::Unavailable;

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

/// Why a job could not be created or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JobsError {
    /// No room for it.
    #[error(transparent)]
    Full(#[from] JobsFull),
    /// The shared store (Redis) cannot be asked: jobs answer 503 whatever `REDIS_FAILURE_MODE`
    /// says, as there is no per-process store another replica could read.
    #[error("job store unavailable: {0}")]
    Unavailable(#[from] Unavailable),
}

/// Where this server's jobs live, as its handlers see them (one per worker).
pub enum Jobs {
    /// In this process, shared by its workers.
    Local(Arc<dyn JobStore>),
    /// In Redis, shared by every replica.
    Shared(SharedJobs),
}

impl Jobs {
    /// Registers a new job owned by `owner`, of about `bytes` (see [`footprint`]); its random id.
    pub async fn create(&self, owner: &str, bytes: usize) -> Result<Uuid, JobsError> {
        match self {
            Jobs::Local(store) => Ok(store.create(owner, bytes)?),
            Jobs::Shared(shared) => shared.create(owner, bytes).await,
        }
    }

    /// Records a job's outcome. In Redis, tries again until the job's run deadline; with Redis
    /// unreachable all that time, the outcome is lost and the job reads `failed`.
    pub async fn finish(&self, id: &Uuid, state: JobState) {
        match self {
            Jobs::Local(store) => store.finish(id, state),
            Jobs::Shared(shared) => {
                if let Err(e) = shared.finish(id, &state).await {
                    log::error!("job {id}: its outcome could not be stored ({e})");
                }
            }
        }
    }

    /// Forgets a job that never started.
    pub async fn abandon(&self, id: &Uuid) {
        match self {
            Jobs::Local(store) => store.abandon(id),
            Jobs::Shared(shared) => {
                if let Err(e) = shared.abandon(id).await {
                    log::warn!("job {id}: could not be forgotten ({e}); it will read failed");
                }
            }
        }
    }

    /// The job's state, if it exists and belongs to `owner`.
    pub async fn get(&self, id: &Uuid, owner: &str) -> Result<Option<JobState>, JobsError> {
        match self {
            Jobs::Local(store) => Ok(store.get(id, owner)),
            Jobs::Shared(shared) => shared.get(id, owner).await,
        }
    }

    /// Jobs queued or running now (across every replica for the shared store).
    pub async fn pending(&self) -> Result<usize, JobsError> {
        match self {
            Jobs::Local(store) => Ok(store.pending()),
            Jobs::Shared(shared) => shared.pending().await,
        }
    }
}

/// Where jobs live in one process. Every method is quick and never blocks on I/O.
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
