use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use futures_util::future::LocalBoxFuture;
use redis::Script;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{JobState, JobsError, JobsFull};
use crate::inference::Scored;
use crate::model::Scores;
use crate::redis_backend::{Redis, RedisConn, Unavailable};

static CREATE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/create.lua")));
static FINISH: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/finish.lua")));
static ABANDON: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/abandon.lua")));
static GET: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/get.lua")));

/// Bound on one try to store a job's outcome: the results of a large job take a while to send,
/// and nothing waits on them.
const FINISH_TRY_TIMEOUT: Duration = Duration::from_secs(2);

/// Bound on one read of a job: a finished job's results (up to `MAX_BATCH_SIZE` texts of
/// `MAX_TEXT_CHARS`, a megabyte or more) take longer than `REDIS_TIMEOUT_MS` to arrive, and such
/// a slow read says nothing about Redis's health. It neither trips the circuit breaker nor runs on
/// the limits' connection (the jobs have their own), so polls cannot starve other keys.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// Turns for reading large results ([`super::READS_AT_ONCE`]).
    reads: tokio::sync::Semaphore,
}

impl SharedJobs {
    /// Jobs kept through `conn` (a connection of their own, not the limits') under `limits`;
    /// results name one of `models`.
    pub fn new(conn: RedisConn, limits: JobLimits, models: Vec<&'static str>) -> Self {
        SharedJobs {
            conn,
            limits,
            models: models.into(),
            reads: tokio::sync::Semaphore::new(super::READS_AT_ONCE),
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
        self.call(|mut conn| async move { invocation.invoke_async::<()>(&mut conn).await })
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
        if self.conn.redis().circuit_open() {
            return Err(Unavailable("circuit open").into());
        }
        let answer = self
            .conn
            .call_patiently(READ_TIMEOUT, |mut conn| async move {
                invocation
                    .invoke_async::<Option<Vec<String>>>(&mut conn)
                    .await
            })
            .await?;
        let Some(answer) = answer else {
            return Ok(None);
        };
        Ok(Some(match answer.as_slice() {
            [state, size] if state == "done" => {
                // Large results wait their turn (a small job's never waits behind them).
                let large =
                    size.parse::<usize>().unwrap_or(usize::MAX) > super::SMALL_RESULTS_BYTES;
                let _turn = if large {
                    Some(
                        self.reads
                            .acquire()
                            .await
                            .map_err(|_| Unavailable("closed"))?,
                    )
                } else {
                    None
                };
                // The owner was checked by the script; the job may expire in between.
                let Some(stored) = self.results(id).await? else {
                    return Ok(None);
                };
                match self.decode_off_worker(stored).await {
                    Some(results) => JobState::Done(Arc::new(results)),
                    None => {
                        log::error!("job {id}: its results in Redis cannot be read");
                        JobState::Failed("The results could not be read".into())
                    }
                }
            }
            [state, reason] if state == "failed" => JobState::Failed(reason.clone()),
            _ => JobState::Processing,
        }))
    }

    /// A done job's results as stored, read with a plain `HGET` (see `get.lua`).
    async fn results(&self, id: &Uuid) -> Result<Option<String>, Unavailable> {
        let key = self.job_key(id);
        self.conn
            .call_patiently(READ_TIMEOUT, |mut conn| async move {
                redis::cmd("HGET")
                    .arg(key)
                    .arg("results")
                    .query_async::<Option<String>>(&mut conn)
                    .await
            })
            .await
    }

    /// Decodes a done job's results on the blocking pool: a megabyte of JSON would hold this
    /// worker (and every request and Redis answer it serves) for as long as it takes.
    async fn decode_off_worker(&self, stored: String) -> Option<Vec<Scored>> {
        let models = Arc::clone(&self.models);
        actix_rt::task::spawn_blocking(move || decode(&models, &stored))
            .await
            .ok()
            .flatten()
    }

    pub(super) async fn pending(&self) -> Result<usize, JobsError> {
        let key = self.key("pending");
        Ok(self
            .call(|mut conn| async move {
                redis::cmd("ZCARD")
                    .arg(key)
                    .query_async::<usize>(&mut conn)
                    .await
            })
            .await?)
    }

    /// Runs a small call of the job store, bounded by `REDIS_TIMEOUT_MS`. The jobs have their own
    /// connection and never trip the circuit breaker, which guards the limits: a slow job call
    /// must not make every key's request answer 503. While the breaker is open, Redis is taken
    /// for down and the call is not tried.
    async fn call<T, F, Fut>(&self, call: F) -> Result<T, Unavailable>
    where
        F: FnOnce(redis::aio::ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let redis = self.conn.redis();
        if redis.circuit_open() {
            return Err(Unavailable("circuit open"));
        }
        self.conn
            .call_patiently(redis.settings().timeout, call)
            .await
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
}

/// Results as stored: one `[text, model, compound, positive, neutral, negative]` a text; each
/// model named by one of `models`, to give it its `&'static str` back.
fn decode(models: &[&'static str], stored: &str) -> Option<Vec<Scored>> {
    {
        let items: Vec<(String, String, f64, f64, f64, f64)> = serde_json::from_str(stored).ok()?;
        items
            .into_iter()
            .map(|(text, model, compound, positive, neutral, negative)| {
                let model = *models.iter().find(|name| **name == model)?;
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

/// The job store in Redis as the workers use it: [`SharedJobs`] run on a thread of their own,
/// with their own connection. A job's results can be a megabyte or more; reading, parsing and
/// writing them on a worker would hold every request that worker serves (and the answers of the
/// limits' Redis calls, which time out after `REDIS_TIMEOUT_MS` and open the circuit breaker).
/// Shared by the workers of one server; its thread stops with the last of them.
pub struct RedisJobStore {
    jobs: Arc<SharedJobs>,
    io: IoThread,
}

/// A thread with its own event loop, stopped when dropped.
struct IoThread(actix_rt::Arbiter);

impl Drop for IoThread {
    fn drop(&mut self) {
        self.0.stop();
    }
}

impl RedisJobStore {
    /// Jobs kept in `redis` under `limits`, on a new thread; results name one of `models`.
    pub fn new(redis: &Arc<Redis>, limits: JobLimits, models: Vec<&'static str>) -> Self {
        let store = RedisJobStore {
            jobs: Arc::new(SharedJobs::new(
                redis.connect_with(READ_TIMEOUT.max(FINISH_TRY_TIMEOUT)),
                limits,
                models,
            )),
            io: IoThread(actix_rt::Arbiter::new()),
        };
        // Connect now rather than on the first job: a cold connection's handshake would be
        // counted against the first request's timeout.
        drop(store.run(|jobs| async move {
            let _ = jobs
                .conn
                .call_patiently(Duration::from_secs(5), |mut conn| async move {
                    redis::cmd("PING").query_async::<()>(&mut conn).await
                })
                .await;
            Ok(())
        }));
        store
    }

    /// Runs `call` on the store's thread; its outcome, once there.
    pub(super) fn run<T, F, Fut>(&self, call: F) -> LocalBoxFuture<'static, Result<T, JobsError>>
    where
        F: FnOnce(Arc<SharedJobs>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T, JobsError>> + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let jobs = Arc::clone(&self.jobs);
        let sent = self.io.0.spawn_fn(move || {
            actix_rt::spawn(async move {
                let _ = tx.send(call(jobs).await);
            });
        });
        Box::pin(async move {
            if !sent {
                return Err(Unavailable("job store stopped").into());
            }
            rx.await
                .map_err(|_| JobsError::from(Unavailable("job store stopped")))?
        })
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
