//! The rate-limit rule, written once: one GCRA decision as a pure function of integer ticks
//! (microseconds, the resolution of Redis `TIME`). The in-process limiter calls it; `gcra.lua`
//! is its transcription for Redis, held to it by `tests/limits_conformance.rs`.

/// What one decision leaves: granted with the new theoretical arrival time, or refused (nothing
/// changes) with the ticks until the same request could pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gcra {
    /// Granted: the key's new theoretical arrival time.
    Granted {
        /// The new theoretical arrival time.
        tat: u64,
    },
    /// Refused: the state is unchanged.
    Refused {
        /// Ticks until a retry of the same request (paying its arrival unit again) fits.
        retry: u64,
    },
}

/// Decides a request costing `units` in all, of which `paid` were spent already (a batch's
/// arrival unit), on a key whose theoretical arrival time is `tat` at `now`, one unit returning
/// every `interval` ticks, at most `burst` at once. A request larger than the burst passes only on
/// a full quota (counting what it paid) and leaves a debt. A refused one changes nothing, and its
/// retry is told when all it will pay on arrival again fits.
pub fn decide(tat: u64, now: u64, interval: u64, burst: u32, units: u32, paid: u32) -> Gcra {
    let capacity = interval.saturating_mul(u64::from(burst));
    let cost = interval.saturating_mul(u64::from(units));
    let owed = tat.saturating_sub(interval.saturating_mul(u64::from(paid)));
    let new_tat = owed.max(now).saturating_add(cost);
    let wait = if units > burst {
        owed.saturating_sub(now)
    } else {
        (new_tat - now).saturating_sub(capacity)
    };
    if wait == 0 {
        return Gcra::Granted { tat: new_tat };
    }
    let retry = if units > burst {
        tat.saturating_sub(now)
    } else {
        (tat.max(now).saturating_add(cost) - now).saturating_sub(capacity)
    };
    Gcra::Refused {
        retry: retry.max(wait),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_a_refusal_that_names_the_next_unit() {
        // One unit per 10 ticks, 3 at once.
        let mut tat = 0;
        for _ in 0..3 {
            let Gcra::Granted { tat: next } = decide(tat, 100, 10, 3, 1, 0) else {
                panic!("within the burst");
            };
            tat = next;
        }
        assert_eq!(tat, 130);
        assert_eq!(decide(tat, 100, 10, 3, 1, 0), Gcra::Refused { retry: 10 });
        assert_eq!(decide(tat, 110, 10, 3, 1, 0), Gcra::Granted { tat: 140 });
    }

    #[test]
    fn a_batch_larger_than_the_burst_needs_a_full_quota_counting_what_it_paid() {
        assert_eq!(decide(0, 100, 10, 3, 5, 0), Gcra::Granted { tat: 150 });
        // It paid one unit on arrival (tat 110): counted as its own, the quota is full.
        assert_eq!(decide(110, 100, 10, 3, 5, 1), Gcra::Granted { tat: 150 });
        assert_eq!(decide(120, 100, 10, 3, 5, 1), Gcra::Refused { retry: 20 });
    }
}
