use std::collections::HashMap;
use std::sync::Mutex;

use futures_util::future::LocalBoxFuture;
use time::OffsetDateTime;

use super::{fits, Count, CountedIn, Holder, Limit, Period, QuotaStore, Receipt, Usage};
use crate::redis_backend::Unavailable;

/// Quota counters in this process, shared by its workers: exact, since one lock covers the
/// check and the spending under every limit of a request (a key's and its owner's together).
///
/// Only keys and owners with a quota are counted, one small entry per holder and period: the map
/// is bounded by the keys file.
#[derive(Debug, Default)]
pub struct LocalQuotas {
    counters: Mutex<HashMap<(Holder, Period), Counter>>,
}

/// The period a counter counts (its index) and the units spent in it.
#[derive(Debug, Clone, Copy)]
struct Counter {
    index: i64,
    used: u64,
}

impl LocalQuotas {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// [`QuotaStore::spend`], answered at once.
    pub fn spend_now(&self, limits: &[Limit], units: u64, now: OffsetDateTime) -> Usage {
        // A poisoned lock only means another thread panicked between two integer writes:
        // the counts are still whole.
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let used: Vec<u64> = limits
            .iter()
            .map(|l| {
                let index = l.period.index(now);
                counters
                    .get(&(l.holder.clone(), l.period))
                    .filter(|c| c.index == index)
                    .map_or(0, |c| c.used)
            })
            .collect();
        let granted = fits(&used, limits, units);
        let counts = if granted && units > 0 {
            limits
                .iter()
                .zip(&used)
                .map(|(l, &before)| {
                    let used = before.saturating_add(units);
                    let counter = Counter {
                        index: l.period.index(now),
                        used,
                    };
                    counters.insert((l.holder.clone(), l.period), counter);
                    Count {
                        limit: l.clone(),
                        used,
                    }
                })
                .collect()
        } else {
            limits
                .iter()
                .zip(used)
                .map(|(l, used)| Count {
                    limit: l.clone(),
                    used,
                })
                .collect()
        };
        Usage {
            granted,
            counts,
            at: now,
            counted_in: CountedIn::Process,
        }
    }

    /// [`QuotaStore::refund`], at once. A counter that moved on to a new period since the
    /// receipt's no longer holds its units: nothing is given back there.
    pub fn refund_now(&self, receipt: &Receipt) {
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for l in &receipt.limits {
            let index = l.period.index(receipt.at);
            if let Some(c) = counters.get_mut(&(l.holder.clone(), l.period)) {
                if c.index == index {
                    c.used = c.used.saturating_sub(receipt.units);
                }
            }
        }
    }
}

impl QuotaStore for LocalQuotas {
    fn spend<'a>(
        &'a self,
        limits: &'a [Limit],
        units: u64,
        now: OffsetDateTime,
    ) -> LocalBoxFuture<'a, Result<Usage, Unavailable>> {
        let usage = self.spend_now(limits, units, now);
        Box::pin(async move { Ok(usage) })
    }

    fn refund<'a>(&'a self, receipt: &'a Receipt) -> LocalBoxFuture<'a, Result<(), Unavailable>> {
        self.refund_now(receipt);
        Box::pin(async move { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::quota::Quota;

    fn noon() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap()
    }

    fn limits(key_day: u64, owner_day: u64) -> Vec<Limit> {
        let own = Quota {
            per_day: Some(key_day),
            per_month: None,
        };
        let owners = Quota {
            per_day: Some(owner_day),
            per_month: Some(1000),
        };
        Limit::all_for("k", Some(own), Some(("acme", owners)))
    }

    #[test]
    fn a_refusal_spends_nothing_under_any_limit() {
        let store = LocalQuotas::new();
        let l = limits(5, 3);
        assert!(store.spend_now(&l, 2, noon()).granted);
        let refused = store.spend_now(&l, 2, noon());
        assert!(!refused.granted, "the owner has 1 left");
        assert_eq!(
            refused.counts.iter().map(|c| c.used).collect::<Vec<_>>(),
            [2, 2, 2]
        );
        assert!(store.spend_now(&l, 1, noon()).granted);
        let peek = store.spend_now(&l, 0, noon());
        assert!(peek.granted);
        assert_eq!(
            peek.counts.iter().map(Count::remaining).collect::<Vec<_>>(),
            [2, 0, 997]
        );
    }

    fn used(usage: &Usage) -> Vec<u64> {
        usage.counts.iter().map(|c| c.used).collect()
    }

    #[test]
    fn a_refund_gives_back_its_receipts_units_and_never_below_zero() {
        let store = LocalQuotas::new();
        let l = limits(5, 5);
        let two = store.spend_now(&l, 2, noon()).receipt(2).unwrap();
        let one = store.spend_now(&l, 1, noon()).receipt(1).unwrap();
        store.refund_now(&one);
        assert_eq!(used(&store.spend_now(&l, 0, noon())), [2, 2, 2]);
        store.refund_now(&two);
        store.refund_now(&two);
        assert_eq!(used(&store.spend_now(&l, 0, noon())), [0, 0, 0]);
        assert_eq!(
            store.spend_now(&l, 0, noon()).receipt(0),
            None,
            "a read takes nothing"
        );
    }

    #[test]
    fn a_unit_spent_before_midnight_goes_back_to_that_day_not_the_next() {
        let store = LocalQuotas::new();
        let l = limits(5, 5);
        let last = Period::Day.next_reset(noon()) - time::Duration::SECOND;
        let first = last + 2 * time::Duration::SECOND;
        assert_eq!(Period::Month.index(last), Period::Month.index(first));
        let arrival = store.spend_now(&l, 1, last).receipt(1).unwrap();
        assert!(store.spend_now(&l, 2, first).granted);
        let mut shown = store.spend_now(&l, 0, first);
        assert_eq!(used(&shown), [2, 2, 3]);
        store.refund_now(&arrival);
        // The new day's counts never had that unit; the month's did.
        assert_eq!(used(&store.spend_now(&l, 0, first)), [2, 2, 2]);
        shown.refunded(&arrival);
        assert_eq!(used(&shown), [2, 2, 2], "the headers show the same");
        let mut elsewhere = Usage {
            counted_in: CountedIn::Redis,
            ..store.spend_now(&l, 2, first)
        };
        assert_eq!(used(&elsewhere), [4, 4, 4]);
        elsewhere.refunded(&arrival);
        assert_eq!(
            used(&elsewhere),
            [4, 4, 4],
            "not the counts of another store"
        );
    }

    #[test]
    fn a_new_day_starts_from_zero_and_the_month_carries_on() {
        let store = LocalQuotas::new();
        let l = limits(2, 2);
        assert!(store.spend_now(&l, 2, noon()).granted);
        assert!(!store.spend_now(&l, 1, noon()).granted);
        let tomorrow = noon() + time::Duration::days(1);
        let usage = store.spend_now(&l, 1, tomorrow);
        assert!(usage.granted);
        assert_eq!(
            usage.counts.iter().map(|c| c.used).collect::<Vec<_>>(),
            [1, 1, 3]
        );
    }

    #[test]
    fn keys_of_one_owner_racing_get_exactly_the_owners_quota() {
        let store = Arc::new(LocalQuotas::new());
        let granted = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (store, granted) = (Arc::clone(&store), Arc::clone(&granted));
                std::thread::spawn(move || {
                    let owners = Quota {
                        per_day: Some(100),
                        per_month: None,
                    };
                    let l = Limit::all_for(&format!("k{t}"), None, Some(("acme", owners)));
                    for _ in 0..50 {
                        if store.spend_now(&l, 1, noon()).granted {
                            granted.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(granted.load(Ordering::SeqCst), 100);
    }
}
