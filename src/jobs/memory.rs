use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::{JobState, JobsFull};
use crate::clock::{Clock, SystemClock};

/// Jobs in this process's memory: bounded in pending jobs, in jobs kept and in the bytes their
/// texts and results hold; finished jobs are removed `ttl` after they finish.
pub struct InMemoryJobStore<C: Clock = SystemClock> {
    clock: C,
    max_pending: usize,
    max_stored: usize,
    max_bytes: usize,
    ttl: Duration,
    jobs: Mutex<Jobs>,
}

struct Jobs {
    by_id: HashMap<Uuid, Job>,
    pending: usize,
    bytes: usize,
    last_sweep: Instant,
}

struct Job {
    owner: String,
    state: JobState,
    finished_at: Option<Instant>,
    bytes: usize,
}

impl InMemoryJobStore {
    /// A store allowing `max_pending` queued or running jobs, `max_stored` jobs in all, and
    /// `max_bytes` of texts and results in all.
    pub fn new(max_pending: usize, max_stored: usize, max_bytes: usize, ttl: Duration) -> Self {
        Self::with_clock(max_pending, max_stored, max_bytes, ttl, SystemClock)
    }
}

impl<C: Clock> InMemoryJobStore<C> {
    /// The same, reading time from `clock`.
    pub fn with_clock(
        max_pending: usize,
        max_stored: usize,
        max_bytes: usize,
        ttl: Duration,
        clock: C,
    ) -> Self {
        let last_sweep = clock.now();
        InMemoryJobStore {
            clock,
            max_pending,
            max_stored,
            max_bytes,
            ttl,
            jobs: Mutex::new(Jobs {
                by_id: HashMap::new(),
                pending: 0,
                bytes: 0,
                last_sweep,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Jobs> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        // Sweep at most a few times a second, so a flood of polls costs no repeated scans.
        let now = self.clock.now();
        if now.saturating_duration_since(jobs.last_sweep)
            >= self.ttl.min(Duration::from_millis(250))
        {
            let ttl = self.ttl;
            let mut freed = 0;
            jobs.by_id.retain(|_, j| {
                let keep = j
                    .finished_at
                    .is_none_or(|t| now.saturating_duration_since(t) < ttl);
                if !keep {
                    freed += j.bytes;
                }
                keep
            });
            jobs.bytes -= freed;
            jobs.last_sweep = now;
        }
        jobs
    }
}

impl<C: Clock> InMemoryJobStore<C> {
    /// See [`JobStore::create`](super::JobStore::create).
    pub fn create(&self, owner: &str, bytes: usize) -> Result<Uuid, JobsFull> {
        let mut jobs = self.lock();
        if jobs.pending >= self.max_pending {
            return Err(JobsFull::TooManyPending);
        }
        if jobs.by_id.len() >= self.max_stored || jobs.bytes + bytes > self.max_bytes {
            return Err(JobsFull::StoreFull);
        }
        let id = Uuid::new_v4();
        jobs.by_id.insert(
            id,
            Job {
                owner: owner.to_owned(),
                state: JobState::Processing,
                finished_at: None,
                bytes,
            },
        );
        jobs.pending += 1;
        jobs.bytes += bytes;
        Ok(id)
    }

    /// Records a job's outcome.
    pub fn finish(&self, id: &Uuid, state: JobState) {
        let mut jobs = self.lock();
        let Some(job) = jobs.by_id.get_mut(id) else {
            return;
        };
        if job.finished_at.is_none() {
            job.state = state;
            job.finished_at = Some(self.clock.now());
            jobs.pending -= 1;
        }
    }

    /// Forgets a job that never started.
    pub fn abandon(&self, id: &Uuid) {
        let mut jobs = self.lock();
        if let Some(job) = jobs.by_id.remove(id) {
            jobs.bytes -= job.bytes;
            if job.finished_at.is_none() {
                jobs.pending -= 1;
            }
        }
    }

    /// The job's state, if it exists and belongs to `owner`.
    pub fn get(&self, id: &Uuid, owner: &str) -> Option<JobState> {
        let jobs = self.lock();
        let job = jobs.by_id.get(id)?;
        (job.owner == owner).then(|| job.state.clone())
    }

    /// Jobs queued or running now.
    pub fn pending(&self) -> usize {
        self.lock().pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    #[test]
    fn an_abandoned_job_is_gone_and_gives_its_room_back() {
        let store = InMemoryJobStore::new(1, 100, 100, Duration::from_secs(60));
        let id = store.create("alice", 100).unwrap();
        assert_eq!(store.create("alice", 1), Err(JobsFull::TooManyPending));
        store.abandon(&id);
        assert!(store.get(&id, "alice").is_none());
        assert_eq!(store.pending(), 0);
        // Both the pending place and the bytes are free again.
        assert!(store.create("alice", 100).is_ok());
    }

    #[test]
    fn a_job_is_visible_to_its_owner_only() {
        let store = InMemoryJobStore::new(10, 100, 1 << 20, Duration::from_secs(60));
        let id = store.create("alice", 10).unwrap();
        assert!(matches!(
            store.get(&id, "alice"),
            Some(JobState::Processing)
        ));
        assert!(store.get(&id, "bob").is_none());
        assert!(store.get(&Uuid::new_v4(), "alice").is_none());
        store.finish(&id, JobState::Done(Arc::new(vec![])));
        assert!(matches!(store.get(&id, "alice"), Some(JobState::Done(_))));
        assert_eq!(store.pending(), 0);
    }

    #[test]
    fn pending_and_stored_caps_refuse_new_jobs() {
        let store = InMemoryJobStore::new(2, 3, 1 << 20, Duration::from_secs(60));
        let a = store.create("k", 10).unwrap();
        store.create("k", 10).unwrap();
        assert_eq!(store.create("k", 10), Err(JobsFull::TooManyPending));
        store.finish(&a, JobState::Failed("x".into()));
        let c = store.create("k", 10).unwrap();
        assert_eq!(store.create("k", 10), Err(JobsFull::TooManyPending));
        store.finish(&c, JobState::Failed("x".into()));
        // One pending of two, but three jobs kept of three.
        assert_eq!(store.create("k", 10), Err(JobsFull::StoreFull));
    }

    #[test]
    fn the_byte_budget_refuses_a_job_until_older_ones_expire() {
        let clock = ManualClock::new();
        let ttl = Duration::from_secs(60);
        let store = InMemoryJobStore::with_clock(10, 100, 1000, ttl, Arc::clone(&clock));
        let a = store.create("k", 600).unwrap();
        assert_eq!(store.create("k", 600), Err(JobsFull::StoreFull));
        store.finish(&a, JobState::Done(Arc::new(vec![])));
        clock.advance(ttl - Duration::from_secs(1));
        assert_eq!(store.create("k", 600), Err(JobsFull::StoreFull));
        clock.advance(Duration::from_secs(1));
        assert!(
            store.create("k", 600).is_ok(),
            "the expired job's bytes were freed"
        );
    }

    #[test]
    fn finished_jobs_disappear_after_the_ttl() {
        let clock = ManualClock::new();
        let ttl = Duration::from_secs(60);
        let store = InMemoryJobStore::with_clock(10, 100, 1 << 20, ttl, Arc::clone(&clock));
        let id = store.create("k", 10).unwrap();
        store.finish(&id, JobState::Done(Arc::new(vec![])));
        clock.advance(ttl - Duration::from_secs(1));
        assert!(
            store.get(&id, "k").is_some(),
            "kept until the TTL has passed"
        );
        clock.advance(Duration::from_secs(1));
        assert!(store.get(&id, "k").is_none());
    }

    #[test]
    fn job_ids_are_random_version_4_uuids() {
        let store = InMemoryJobStore::new(10, 100, 1 << 20, Duration::from_secs(60));
        let a = store.create("k", 1).unwrap();
        let b = store.create("k", 1).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.get_version_num(), 4);
    }
}
