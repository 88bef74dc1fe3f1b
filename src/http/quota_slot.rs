//! Where a request leaves the quota it spent or looked at, for the `RateLimit` headers of its
//! answer.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use actix_web::{HttpMessage, HttpRequest};

use crate::limits::QuotaState;
use crate::quota::Usage;

/// Where a request leaves the quota it spent or looked at, for the `RateLimit` headers of its
/// answer. The middleware puts one in the request's extensions and keeps a handle on it, so the
/// headers reach every answer to an authenticated request, even the 500 of a handler that
/// panicked after paying.
/// A key with a day or month quota (issue 28) also leaves its usage there.
/// Both halves share one allocation: the slot is made for every request.
#[derive(Debug, Clone, Default)]
pub struct QuotaSlot(Rc<Slots>);

#[derive(Debug, Default)]
struct Slots {
    quota: Cell<Option<QuotaState>>,
    usage: RefCell<Option<Usage>>,
}

impl QuotaSlot {
    /// The quota left here, if any.
    pub fn get(&self) -> Option<QuotaState> {
        self.0.quota.get()
    }

    /// The day and month quotas left here, if the key has any.
    pub fn usage(&self) -> Option<Usage> {
        self.0.usage.borrow().clone()
    }

    pub(super) fn set_usage(&self, usage: Usage) {
        *self.0.usage.borrow_mut() = Some(usage);
    }
}

/// Leaves `state` for the `RateLimit` headers of the answer to `req`.
pub(super) fn leave_quota(req: &HttpRequest, state: QuotaState) {
    if let Some(slot) = req.extensions().get::<QuotaSlot>() {
        slot.0.quota.set(Some(state));
    }
}
