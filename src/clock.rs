//! Time as the limiter, the auth throttle and the job store see it: the real monotonic clock, or,
//! in tests, one that moves only when told, so no test has to sleep to see a window pass. Quotas
//! count calendar days and months, so they read a wall clock ([`WallClock`]), injectable the same way.

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// A source of monotonic time.
pub trait Clock: Send + Sync + 'static {
    /// The time now.
    fn now(&self) -> Instant;
}

/// The process's monotonic clock (`Instant::now`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that stands still until [`ManualClock::advance`] moves it; for tests.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    elapsed_ns: AtomicU64,
}

impl ManualClock {
    /// A clock standing at the moment it was made.
    pub fn new() -> Arc<Self> {
        Arc::new(ManualClock {
            start: Instant::now(),
            elapsed_ns: AtomicU64::new(0),
        })
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.elapsed_ns.fetch_add(ns, Ordering::SeqCst);
    }
}

impl Clock for Arc<ManualClock> {
    fn now(&self) -> Instant {
        self.start + Duration::from_nanos(self.elapsed_ns.load(Ordering::SeqCst))
    }
}

/// A source of UTC wall-clock time (quotas' calendar days and months).
pub trait WallClock: Send + Sync + 'static {
    /// The time now, in UTC.
    fn now_utc(&self) -> OffsetDateTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemWallClock;

impl WallClock for SystemWallClock {
    fn now_utc(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A wall clock that stands still until set or advanced; for tests of calendar boundaries.
#[derive(Debug)]
pub struct ManualWallClock {
    unix_ms: AtomicI64,
}

impl ManualWallClock {
    /// A clock standing at `at` (to the millisecond).
    pub fn at(at: OffsetDateTime) -> Arc<Self> {
        let clock = Arc::new(ManualWallClock {
            unix_ms: AtomicI64::new(0),
        });
        clock.set(at);
        clock
    }

    /// Puts the clock at `at` (to the millisecond).
    pub fn set(&self, at: OffsetDateTime) {
        let ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
        self.unix_ms.store(ms, Ordering::SeqCst);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.unix_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl WallClock for ManualWallClock {
    fn now_utc(&self) -> OffsetDateTime {
        let ms = self.unix_ms.load(Ordering::SeqCst);
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// The wall clock a server reads, shared by its workers (the system's unless a test sets one).
#[derive(Clone)]
pub struct SharedWallClock(pub Arc<dyn WallClock>);

impl Default for SharedWallClock {
    fn default() -> Self {
        SharedWallClock(Arc::new(SystemWallClock))
    }
}

impl fmt::Debug for SharedWallClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedWallClock({})", self.0.now_utc())
    }
}

impl SharedWallClock {
    /// The time now, in UTC.
    pub fn now_utc(&self) -> OffsetDateTime {
        self.0.now_utc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::new();
        let t0 = clock.now();
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now() - t0, Duration::from_millis(1500));
    }
}
