//! The state handlers share, built once per worker at start-up with every backend already chosen
//! (in this process or in Redis): nothing downstream asks which one it got.

use std::rc::Rc;
use std::sync::Arc;

use crate::http::Gate;
use crate::jobs::JobStore;
use crate::limits::Limits;

/// One worker's state (`web::Data<AppState>`).
pub struct AppState {
    /// Where jobs live.
    pub jobs: Arc<dyn JobStore>,
    /// The authorization step of the protected routes, and the limits under it.
    pub gate: Rc<Gate>,
    /// Turns for reading a job and writing its answer, shared by the workers
    /// ([`READS_AT_ONCE`](crate::jobs::READS_AT_ONCE)).
    pub job_reads: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// The limits (for readiness and the metrics).
    pub fn limits(&self) -> &dyn Limits {
        self.gate.limits()
    }
}
