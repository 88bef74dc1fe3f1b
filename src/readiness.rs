//! Whether the service should be sent traffic: ready from start until it is told to stop, then
//! draining while the load balancer notices (`SHUTDOWN_DELAY_SECONDS`) and requests finish.

use std::sync::atomic::{AtomicBool, Ordering};

/// Ready or draining; shared by every worker and the signal handler.
#[derive(Debug, Default)]
pub struct Readiness {
    draining: AtomicBool,
}

impl Readiness {
    /// A service that is ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on, not ready: the service is stopping.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether the service should be sent new traffic.
    pub fn is_ready(&self) -> bool {
        !self.draining.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_until_drained() {
        let r = Readiness::new();
        assert!(r.is_ready());
        r.drain();
        assert!(!r.is_ready());
    }
}
