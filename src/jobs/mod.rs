//! Background jobs (`POST /analyze_batch`): where they live, a [`JobStore`]: this process's
//! memory ([`InMemoryJobStore`]), or Redis shared by every replica ([`SharedJobs`], with
//! `REDIS_URL`).

mod memory;
mod shared;

pub use memory::InMemoryJobStore;
pub use shared::{JobLimits, RedisJobStore, SharedJobs};

use std::future::{ready, Ready};
use std::sync::Arc;

use futures_util::future::{Either, LocalBoxFuture};
use uuid::Uuid;

use crate::clock::Clock;

use crate::inference::Scored;
use crate::redis_backend::Unavailable;

/// Large results read (from Redis) and written (as JSON) at once in one server, each (see
/// `AppState::job_reads`). A done job's results can be a megabyte: reading, decoding and writing
/// one takes a core for milliseconds, and polls from many keys at once would otherwise fill every
/// core (and, in Redis, hold the limits' calls past `REDIS_TIMEOUT_MS`). More wait their turn.
pub const READS_AT_ONCE: usize = 1;

/// Results up to this size are read and written without a turn: a poll of a small job, or of one
/// still processing, never waits behind another key's megabyte.
pub const SMALL_RESULTS_BYTES: usize = 64 * 1024;

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

/// A store's answer: ready at once in this process, after a round trip to Redis otherwise.
pub type JobAnswer<'a, T> =
    Either<Ready<Result<T, JobsError>>, LocalBoxFuture<'a, Result<T, JobsError>>>;

/// Where this server's jobs live, chosen once at start-up: this process's memory
/// ([`InMemoryJobStore`], shared by its workers) or Redis ([`RedisJobStore`], shared by every
/// replica).
pub trait JobStore {
    /// Registers a new job owned by `owner`, whose texts and results take about `bytes`
    /// (see [`footprint`]); returns its unguessable id (a random UUID).
    fn create<'a>(&'a self, owner: &'a str, bytes: usize) -> JobAnswer<'a, Uuid>;
    /// Records a job's outcome (`Done` or `Failed`). In Redis, tries again until the job's run
    /// deadline; with Redis unreachable all that time, the outcome is lost and the job reads
    /// `failed`.
    fn finish<'a>(&'a self, id: &'a Uuid, state: JobState) -> LocalBoxFuture<'a, ()>;
    /// Forgets a job that never started (its request was refused after [`JobStore::create`]).
    fn abandon<'a>(&'a self, id: &'a Uuid) -> LocalBoxFuture<'a, ()>;
    /// The job's state, if it exists *and* belongs to `owner`; another key learns nothing.
    fn get<'a>(&'a self, id: &'a Uuid, owner: &'a str) -> JobAnswer<'a, Option<JobState>>;
    /// Jobs queued or running now (across every replica for the shared store).
    fn pending(&self) -> JobAnswer<'_, usize>;
}

fn now<'a, T>(value: Result<T, JobsError>) -> JobAnswer<'a, T> {
    Either::Left(ready(value))
}

impl<C: Clock> JobStore for InMemoryJobStore<C> {
    fn create<'a>(&'a self, owner: &'a str, bytes: usize) -> JobAnswer<'a, Uuid> {
        now(InMemoryJobStore::create(self, owner, bytes).map_err(JobsError::from))
    }

    fn finish<'a>(&'a self, id: &'a Uuid, state: JobState) -> LocalBoxFuture<'a, ()> {
        InMemoryJobStore::finish(self, id, state);
        Box::pin(ready(()))
    }

    fn abandon<'a>(&'a self, id: &'a Uuid) -> LocalBoxFuture<'a, ()> {
        InMemoryJobStore::abandon(self, id);
        Box::pin(ready(()))
    }

    fn get<'a>(&'a self, id: &'a Uuid, owner: &'a str) -> JobAnswer<'a, Option<JobState>> {
        now(Ok(InMemoryJobStore::get(self, id, owner)))
    }

    fn pending(&self) -> JobAnswer<'_, usize> {
        now(Ok(InMemoryJobStore::pending(self)))
    }
}

impl JobStore for RedisJobStore {
    fn create<'a>(&'a self, owner: &'a str, bytes: usize) -> JobAnswer<'a, Uuid> {
        let owner = owner.to_owned();
        Either::Right(self.run(move |jobs| async move { jobs.create(&owner, bytes).await }))
    }

    fn finish<'a>(&'a self, id: &'a Uuid, state: JobState) -> LocalBoxFuture<'a, ()> {
        let id = *id;
        let done = self.run(move |jobs| async move { jobs.finish(&id, &state).await });
        Box::pin(async move {
            if let Err(e) = done.await {
                log::error!("job {id}: its outcome could not be stored ({e})");
            }
        })
    }

    fn abandon<'a>(&'a self, id: &'a Uuid) -> LocalBoxFuture<'a, ()> {
        let id = *id;
        let done = self.run(move |jobs| async move { jobs.abandon(&id).await });
        Box::pin(async move {
            if let Err(e) = done.await {
                log::warn!("job {id}: could not be forgotten ({e}); it will read failed");
            }
        })
    }

    fn get<'a>(&'a self, id: &'a Uuid, owner: &'a str) -> JobAnswer<'a, Option<JobState>> {
        let (id, owner) = (*id, owner.to_owned());
        Either::Right(self.run(move |jobs| async move { jobs.get(&id, &owner).await }))
    }

    fn pending(&self) -> JobAnswer<'_, usize> {
        Either::Right(self.run(|jobs| async move { jobs.pending().await }))
    }
}

/// About how much memory a done job's results hold: [`footprint`] of its texts.
pub fn results_bytes(results: &[Scored]) -> usize {
    held(results.iter().map(|s| s.text.len()), results.len())
}

/// About how much memory a job of `texts` holds once done: the texts, moved into the results,
/// and one result per text.
pub fn footprint(texts: &[String]) -> usize {
    held(texts.iter().map(String::len), texts.len())
}

/// Texts of these lengths and one result for each of `n` texts.
fn held(text_lengths: impl Iterator<Item = usize>, n: usize) -> usize {
    text_lengths.sum::<usize>() + n * std::mem::size_of::<Scored>()
}
