//! Background jobs (`POST /analyze_batch`): a small `JobStore` trait, so a shared store can replace
//! the in-memory one without touching the handlers.

mod memory;

pub use memory::InMemoryJobStore;

use std::sync::Arc;

use serde::Serialize;

use crate::inference::Prediction;

/// A job's state.
#[derive(Debug, Clone)]
pub enum JobState {
    /// Queued or running.
    Processing,
    /// Finished: one prediction per text, in input order.
    Done(Arc<Vec<Prediction>>),
    /// Gave up; the reason is safe to show to the job's owner.
    Failed(String),
}

/// Why a job could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobsFull {
    /// `MAX_PENDING_JOBS` are queued or running.
    TooManyPending,
    /// The store holds as many jobs, or as many bytes of them (finished ones included), as it may.
    StoreFull,
}

/// Where jobs live. Every method is quick and never blocks on I/O in the in-memory store.
pub trait JobStore: Send + Sync + 'static {
    /// Registers a new job owned by `owner`, whose texts and results take about `bytes`
    /// (see [`footprint`]); returns its unguessable id.
    fn create(&self, owner: &str, bytes: usize) -> Result<String, JobsFull>;
    /// Records a job's outcome (`Done` or `Failed`).
    fn finish(&self, id: &str, state: JobState);
    /// Forgets a job that never started (its request was refused after [`JobStore::create`]).
    fn abandon(&self, id: &str);
    /// The job's state, if it exists *and* belongs to `owner`; another key learns nothing.
    fn get(&self, id: &str, owner: &str) -> Option<JobState>;
    /// Jobs queued or running now.
    fn pending(&self) -> usize;
}

/// The JSON of `GET /jobs/{id}` and of the 202 answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobView<'a> {
    /// The job's id.
    pub job_id: &'a str,
    /// `processing`, `done` or `failed`.
    pub status: &'static str,
    /// The predictions, once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Prediction>>)]
    pub results: Option<&'a [Prediction]>,
    /// Why it failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
}

impl<'a> JobView<'a> {
    /// The view of a job in `state`.
    pub fn new(job_id: &'a str, state: &'a JobState) -> Self {
        let (status, results, detail) = match state {
            JobState::Processing => ("processing", None, None),
            JobState::Done(results) => ("done", Some(results.as_slice()), None),
            JobState::Failed(reason) => ("failed", None, Some(reason.as_str())),
        };
        JobView {
            job_id,
            status,
            results,
            detail,
        }
    }
}

/// About how much memory a job of `texts` holds once done: the texts, moved into the results,
/// and one `Prediction` per text.
pub fn footprint(texts: &[String]) -> usize {
    texts.iter().map(String::len).sum::<usize>() + texts.len() * std::mem::size_of::<Prediction>()
}

/// A new job id: a random (version 4) UUID, 122 random bits from the OS.
pub fn new_job_id() -> std::io::Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(std::io::Error::other)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}
