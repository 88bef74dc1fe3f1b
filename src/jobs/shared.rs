use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use redis::Script;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{JobState, JobsError, JobsFull};
use crate::inference::Scored;
use crate::model::Scores;
use crate::redis_backend::RedisConn;

static CREATE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/create.lua")));
static FINISH: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/finish.lua")));
static ABANDON: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/abandon.lua")));
static GET: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/get.lua")));

/// Bound on one try to store a job's outcome: the results of a large job take a while to send,
/// and nothing waits on them.
const FINISH_TRY_TIMEOUT: Duration = Duration::from_secs(2);

/// The caps and times of a job store, the same on every replica.
#[derive(Debug, Clone)]
pub struct JobLimits {
    /// `MAX_PENDING_JOBS`.
    pub max_pending: usize,
    /// `MAX_STORED_JOBS`.
    pub max_stored: usize,
    /// `MAX_JOB_STORE_BYTES`.
    pub max_bytes: usize,
    /// `JOB_TTL_SECONDS`.
    pub ttl: Duration,
    /// Longest a job can run (its inference is bounded by `INFERENCE_TIMEOUT_MS`); a job still
    /// pending later was left by a replica that stopped, and reads `failed`.
    pub run_deadline: Duration,
}

/// Jobs in Redis, shared by every replica: a hash per job with a TTL, the pending jobs in a sorted
/// set by deadline (a semaphore that heals itself when a replica dies mid-job), the kept jobs in
/// another by expiry, and their bytes; each change one atomic script. One per worker.
pub struct SharedJobs {
    conn: RedisConn,
    limits: JobLimits,
    /// The models' names, to give decoded results their `&'static str` back.
    models: Arc<[&'static str]>,
}

impl SharedJobs {
    /// Jobs kept through `conn` under `limits`; results name one of `models`.
    pub fn new(conn: RedisConn, limits: JobLimits, models: Vec<&'static str>) -> Self {
        SharedJobs {
            conn,
            limits,
            models: models.into(),
        }
    }

    pub(super) async fn create(&self, owner: &str, bytes: usize) -> Result<Uuid, JobsError> {
        let id = Uuid::new_v4();
        let mut invocation = CREATE.prepare_invoke();
        invocation
            .key(self.key("pending"))
            .key(self.key("kept"))
            .key(self.key("bytes"))
            .key(self.key("bytes_total"))
            .key(self.job_key(&id))
            .arg(id.to_string())
            .arg(owner)
            .arg(bytes)
            .arg(self.limits.max_pending)
            .arg(self.limits.max_stored)
            .arg(self.limits.max_bytes)
            .arg(self.limits.run_deadline.as_millis() as u64)
            .arg(self.ttl_ms())
            .arg(self.key("job:"));
        let created = self
            .conn
            .call(|mut conn| async move { invocation.invoke_async::<u8>(&mut conn).await })
            .await?;
        match created {
            0 => Ok(id),
            1 => Err(JobsFull::TooManyPending.into()),
            _ => Err(JobsFull::StoreFull.into()),
        }
    }

    /// Stores a job's outcome. Off the request path and the only copy of a finished job's
    /// results: each try is bounded by [`FINISH_TRY_TIMEOUT`], not `REDIS_TIMEOUT_MS`, ignores
    /// the circuit breaker, and tries are repeated with backoff until the job's run deadline
    /// (past it, the job reads `failed` and the script keeps that).
    pub(super) async fn finish(&self, id: &Uuid, state: &JobState) -> Result<(), JobsError> {
        let (name, payload) = match state {
            JobState::Processing => return Ok(()),
            JobState::Done(results) => ("done", encode(results)),
            JobState::Failed(reason) => ("failed", reason.clone()),
        };
        let mut invocation = FINISH.prepare_invoke();
        invocation
            .key(self.job_key(id))
            .key(self.key("pending"))
            .key(self.key("kept"))
            .arg(id.to_string())
            .arg(name)
            .arg(payload)
            .arg(self.ttl_ms());
        let give_up = Instant::now() + self.limits.run_deadline;
        let mut backoff = Duration::from_millis(50);
        loop {
            let invocation = &invocation;
            let stored = self
                .conn
                .call_patiently(FINISH_TRY_TIMEOUT, |mut conn| async move {
                    invocation.invoke_async::<()>(&mut conn).await
                })
                .await;
            match stored {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() + backoff >= give_up => return Err(e.into()),
                Err(e) => log::warn!("job {id}: storing its outcome failed ({e}); trying again"),
            }
            actix_rt::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    pub(super) async fn abandon(&self, id: &Uuid) -> Result<(), JobsError> {
        let mut invocation = ABANDON.prepare_invoke();
        invocation
            .key(self.job_key(id))
            .key(self.key("pending"))
            .key(self.key("kept"))
            .key(self.key("bytes"))
            .key(self.key("bytes_total"))
            .arg(id.to_string());
        self.conn
            .call(|mut conn| async move { invocation.invoke_async::<()>(&mut conn).await })
            .await?;
        Ok(())
    }

    pub(super) async fn get(&self, id: &Uuid, owner: &str) -> Result<Option<JobState>, JobsError> {
        let mut invocation = GET.prepare_invoke();
        invocation
            .key(self.job_key(id))
            .key(self.key("pending"))
            .key(self.key("kept"))
            .arg(id.to_string())
            .arg(owner)
            .arg(self.ttl_ms());
        let answer = self
            .conn
            .call(|mut conn| async move {
                invocation
                    .invoke_async::<Option<Vec<String>>>(&mut conn)
                    .await
            })
            .await?;
        let Some(answer) = answer else {
            return Ok(None);
        };
        Ok(Some(match answer.as_slice() {
            [state, results] if state == "done" => match self.decode(results) {
                Some(results) => JobState::Done(Arc::new(results)),
                None => {
                    log::error!("job {id}: its results in Redis cannot be read");
                    JobState::Failed("The results could not be read".into())
                }
            },
            [state, reason] if state == "failed" => JobState::Failed(reason.clone()),
            _ => JobState::Processing,
        }))
    }

    pub(super) async fn pending(&self) -> Result<usize, JobsError> {
        let key = self.key("pending");
        Ok(self
            .conn
            .call(|mut conn| async move {
                redis::cmd("ZCARD")
                    .arg(key)
                    .query_async::<usize>(&mut conn)
                    .await
            })
            .await?)
    }

    fn ttl_ms(&self) -> u64 {
        self.limits.ttl.as_millis().max(1) as u64
    }

    /// A key of the job store. All carry the hash tag `{jobs}`: every script touches several.
    fn key(&self, name: &str) -> String {
        self.conn.key(format_args!("{{jobs}}:{name}"))
    }

    fn job_key(&self, id: &Uuid) -> String {
        self.conn.key(format_args!("{{jobs}}:job:{id}"))
    }

    /// Results as stored: one `[text, model, compound, positive, neutral, negative]` a text.
    fn decode(&self, stored: &str) -> Option<Vec<Scored>> {
        let items: Vec<(String, String, f64, f64, f64, f64)> = serde_json::from_str(stored).ok()?;
        items
            .into_iter()
            .map(|(text, model, compound, positive, neutral, negative)| {
                let model = *self.models.iter().find(|name| **name == model)?;
                Some(Scored {
                    text,
                    model,
                    scores: Scores {
                        compound,
                        positive,
                        neutral,
                        negative,
                    },
                })
            })
            .collect()
    }
}

fn encode(results: &[Scored]) -> String {
    let items: Vec<Value> = results
        .iter()
        .map(|s| {
            json!([
                s.text,
                s.model,
                s.scores.compound,
                s.scores.positive,
                s.scores.neutral,
                s.scores.negative
            ])
        })
        .collect();
    Value::Array(items).to_string()
}
