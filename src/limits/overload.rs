use std::sync::atomic::{AtomicUsize, Ordering};

/// Caps requests in flight across all workers; past the cap, a request is refused at once (503)
/// rather than queued without bound.
#[derive(Debug)]
pub struct InFlight {
    max: usize,
    current: AtomicUsize,
}

/// One admitted request; dropping it frees its place.
#[derive(Debug)]
pub struct Admission<'a>(&'a InFlight);

impl InFlight {
    /// A cap of `max` requests in flight.
    pub fn new(max: usize) -> Self {
        InFlight {
            max,
            current: AtomicUsize::new(0),
        }
    }

    /// Takes a place, or `None` when all `max` are taken.
    pub fn try_admit(&self) -> Option<Admission<'_>> {
        let mut now = self.current.load(Ordering::Relaxed);
        loop {
            if now >= self.max {
                return None;
            }
            match self.current.compare_exchange_weak(
                now,
                now + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(Admission(self)),
                Err(actual) => now = actual,
            }
        }
    }

    /// Requests in flight now.
    pub fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.current.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admissions_stop_at_the_cap_and_return_when_dropped() {
        let cap = InFlight::new(2);
        let a = cap.try_admit().unwrap();
        let _b = cap.try_admit().unwrap();
        assert!(cap.try_admit().is_none());
        drop(a);
        assert_eq!(cap.current(), 1);
        assert!(cap.try_admit().is_some());
    }
}
