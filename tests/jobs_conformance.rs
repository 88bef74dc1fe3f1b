//! The job store's rules are written twice: in Rust for one process (`jobs/memory.rs`) and in Lua
//! for Redis (`jobs/lua/*.lua`). This runs random sequences of creations, outcomes, abandonments,
//! reads and counts through both stores, under random caps, and asserts the same answers: a job
//! refused for the same reason (`MAX_PENDING_JOBS`, `MAX_STORED_JOBS`, `MAX_JOB_STORE_BYTES`), the
//! same state read back by its owner, nothing for anyone else, the same number pending.
//!
//! Time is left out (a TTL long past the run, a run deadline never reached): the Redis side keeps
//! time with Redis's clock, which a test cannot move.
//!
//! `#[ignore]`d in a bare `cargo test` (a fresh clone has no redis-server); `.ci/run` installs it
//! and runs `cargo test --test jobs_conformance -- --ignored`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use redis_server::redis_server;
use sentiment_api::inference::Scored;
use sentiment_api::jobs::{InMemoryJobStore, JobLimits, JobState, JobStore, RedisJobStore};
use sentiment_api::metrics::Metrics;
use sentiment_api::model::Scores;
use sentiment_api::redis_backend::{FailureMode, Redis, RedisSettings};
use uuid::Uuid;

#[path = "common/redis_server.rs"]
mod redis_server;

/// A key prefix no other case has used (the server is shared by every case).
fn fresh_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("jobs-conformance-{}:", NEXT.fetch_add(1, Ordering::Relaxed))
}

const OWNERS: [&str; 2] = ["alice", "bob"];

/// One step, naming jobs by the order they were created in (modulo how many there are).
#[derive(Debug, Clone)]
enum Step {
    Create { owner: usize, bytes: usize },
    Done { job: usize, texts: usize },
    Fail { job: usize },
    Abandon { job: usize },
    Get { job: usize, owner: usize },
    Pending,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        // Bytes in hundreds, as the cap is: the sums often meet the cap exactly (the boundary).
        3 => (0..OWNERS.len(), 1usize..4).prop_map(|(owner, n)| Step::Create { owner, bytes: n * 100 }),
        2 => (0usize..16, 0usize..4).prop_map(|(job, texts)| Step::Done { job, texts }),
        1 => (0usize..16).prop_map(|job| Step::Fail { job }),
        1 => (0usize..16).prop_map(|job| Step::Abandon { job }),
        3 => (0usize..16, 0..OWNERS.len()).prop_map(|(job, owner)| Step::Get { job, owner }),
        1 => Just(Step::Pending),
    ]
}

/// A state as both stores should give it back: which state, and what it holds.
fn shape(state: Option<JobState>) -> String {
    match state {
        None => "none".into(),
        Some(JobState::Processing) => "processing".into(),
        Some(JobState::Failed(reason)) => format!("failed: {reason}"),
        Some(JobState::Done(results)) => {
            let texts: Vec<&str> = results.iter().map(|s| s.text.as_str()).collect();
            format!("done: {texts:?}")
        }
    }
}

fn results(texts: usize) -> Vec<Scored> {
    (0..texts)
        .map(|i| Scored {
            text: format!("text {i}"),
            scores: Scores {
                compound: 0.5,
                positive: 0.5,
                neutral: 0.5,
                negative: 0.0,
            },
            model: "vader",
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    #[ignore = "needs redis-server (scripts/redis/install.sh); .ci/run runs it"]
    fn the_redis_scripts_keep_jobs_as_the_in_process_store(
        max_pending in 1usize..4,
        max_stored in 1usize..6,
        max_bytes in (1usize..15).prop_map(|n| n * 100),
        steps in proptest::collection::vec(step(), 1..40),
    ) {
        let port = redis_server().port;
        actix_rt::System::new().block_on(async move {
            let limits = JobLimits {
                max_pending,
                max_stored,
                max_bytes,
                ttl: Duration::from_secs(3600),
                run_deadline: Duration::from_secs(3600),
            };
            let local = InMemoryJobStore::new(max_pending, max_stored, max_bytes, limits.ttl);
            let settings = RedisSettings::new(
                &format!("redis://127.0.0.1:{port}"),
                fresh_prefix(),
                Duration::from_secs(5),
                FailureMode::Closed,
            )
            .unwrap();
            let redis = Redis::new(settings, Metrics::new().redis());
            let shared = RedisJobStore::new(&redis, limits, vec!["vader"]);
            // The jobs each store made, in the same order: (in process, in Redis).
            let mut jobs: Vec<(Uuid, Uuid)> = Vec::new();
            for (i, step) in steps.into_iter().enumerate() {
                let pick = |job: usize| (!jobs.is_empty()).then(|| jobs[job % jobs.len()]);
                match step {
                    Step::Create { owner, bytes } => {
                        let here = JobStore::create(&local, OWNERS[owner], bytes).await;
                        let there = JobStore::create(&shared, OWNERS[owner], bytes).await;
                        prop_assert_eq!(here.is_ok(), there.is_ok(), "step {}: {:?} / {:?}", i, here, there);
                        match (here, there) {
                            (Ok(a), Ok(b)) => jobs.push((a, b)),
                            (Err(a), Err(b)) => prop_assert_eq!(a, b, "step {}", i),
                            _ => unreachable!(),
                        }
                    }
                    Step::Done { job, texts } => {
                        if let Some((a, b)) = pick(job) {
                            let done = JobState::Done(Arc::new(results(texts)));
                            JobStore::finish(&local, &a, done.clone()).await;
                            JobStore::finish(&shared, &b, done).await;
                        }
                    }
                    Step::Fail { job } => {
                        if let Some((a, b)) = pick(job) {
                            let failed = JobState::Failed("Inference failed".into());
                            JobStore::finish(&local, &a, failed.clone()).await;
                            JobStore::finish(&shared, &b, failed).await;
                        }
                    }
                    Step::Abandon { job } => {
                        if let Some((a, b)) = pick(job) {
                            JobStore::abandon(&local, &a).await;
                            JobStore::abandon(&shared, &b).await;
                        }
                    }
                    Step::Get { job, owner } => {
                        if let Some((a, b)) = pick(job) {
                            let here = shape(JobStore::get(&local, &a, OWNERS[owner]).await.unwrap());
                            let there = shape(JobStore::get(&shared, &b, OWNERS[owner]).await.unwrap());
                            prop_assert_eq!(here, there, "step {}: job {} read by {}", i, job, OWNERS[owner]);
                        }
                    }
                    Step::Pending => {
                        let here = JobStore::pending(&local).await.unwrap();
                        let there = JobStore::pending(&shared).await.unwrap();
                        prop_assert_eq!(here, there, "step {}: pending", i);
                    }
                }
            }
            Ok(())
        })?;
    }
}
