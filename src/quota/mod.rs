//! Quotas, with no HTTP in them: units a key, or all the keys of one owner together, may spend
//! per calendar day and month (UTC). Kept in this process ([`LocalQuotas`]) or, shared by
//! replicas, in Redis ([`SharedQuotas`], with `LocalQuotas` as its `REDIS_FAILURE_MODE=open`
//! fallback). A key with no quota, whose owner has none either, never reaches a store.

mod local;
mod period;
mod shared;

pub use local::LocalQuotas;
pub use period::Period;
pub use shared::SharedQuotas;

use futures_util::future::LocalBoxFuture;
use time::OffsetDateTime;

use crate::clock::SharedWallClock;
use crate::redis_backend::Unavailable;

/// A quota as the keys file gives it (`quota = { per_day = N, per_month = N }`); either may be absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    /// Units per calendar day (UTC).
    pub per_day: Option<u64>,
    /// Units per calendar month (UTC).
    pub per_month: Option<u64>,
}

impl Quota {
    /// The limit for `period`, if any.
    pub fn limit(&self, period: Period) -> Option<u64> {
        match period {
            Period::Day => self.per_day,
            Period::Month => self.per_month,
        }
    }

    /// Whether it limits anything.
    pub fn is_empty(&self) -> bool {
        self.per_day.is_none() && self.per_month.is_none()
    }
}

/// Whose units a counter counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Holder {
    /// One key, by id.
    Key(String),
    /// Every key of one owner.
    Owner(String),
}

impl Holder {
    /// `key` or `owner`.
    pub fn kind(&self) -> &'static str {
        match self {
            Holder::Key(_) => "key",
            Holder::Owner(_) => "owner",
        }
    }

    /// The key's id or the owner's name.
    pub fn name(&self) -> &str {
        match self {
            Holder::Key(name) | Holder::Owner(name) => name,
        }
    }
}

/// One limit a request is held to: a holder's quota over one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Whose.
    pub holder: Holder,
    /// Over which period.
    pub period: Period,
    /// Units allowed in the period.
    pub limit: u64,
}

impl Limit {
    /// Every limit a key with `own` quota, held by `owner` with `owners` quota, is held to: the
    /// key's first, day before month. Empty for a key with no quota and no owner's quota.
    pub fn all_for(key_id: &str, own: Option<Quota>, owner: Option<(&str, Quota)>) -> Vec<Limit> {
        let mut limits = Vec::new();
        let holders = [
            own.map(|q| (Holder::Key(key_id.to_owned()), q)),
            owner.map(|(name, q)| (Holder::Owner(name.to_owned()), q)),
        ];
        for (holder, quota) in holders.into_iter().flatten() {
            for period in Period::ALL {
                if let Some(limit) = quota.limit(period) {
                    limits.push(Limit {
                        holder: holder.clone(),
                        period,
                        limit,
                    });
                }
            }
        }
        limits
    }
}

/// A limit and the units spent under it in the current period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// The limit.
    pub limit: Limit,
    /// Units spent in the period it is counted over (may exceed the limit after a reload
    /// lowered it).
    pub used: u64,
}

impl Count {
    /// Units left in the period.
    pub fn remaining(&self) -> u64 {
        self.limit.limit.saturating_sub(self.used)
    }
}

/// Which store counted: Redis, shared by every replica, or this process (no `REDIS_URL`, or
/// `REDIS_FAILURE_MODE=open` while Redis could not be asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountedIn {
    /// Redis.
    Redis,
    /// This process's [`LocalQuotas`].
    Process,
}

/// What a store answered: whether the units were spent, and every count after (or, refused,
/// as it stood).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// The units were spent under every limit (always, for zero units).
    pub granted: bool,
    /// One count per limit asked about, in the same order.
    pub counts: Vec<Count>,
    /// The instant the decision was taken at.
    pub at: OffsetDateTime,
    /// The store that took it.
    pub counted_in: CountedIn,
}

/// The counters a granted spend took its units from (each limit's holder and the period `at`
/// fell in) and the store that keeps them: a refund gives the units back there and nowhere else,
/// neither to the next day's or month's counters nor to Redis for units counted in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    limits: Vec<Limit>,
    units: u64,
    at: OffsetDateTime,
    counted_in: CountedIn,
}

impl Usage {
    /// The receipt of the `units` this spend took, if it took any.
    pub fn receipt(&self, units: u64) -> Option<Receipt> {
        (self.granted && units > 0).then(|| Receipt {
            limits: self.counts.iter().map(|c| c.limit.clone()).collect(),
            units,
            at: self.at,
            counted_in: self.counted_in,
        })
    }

    /// These counts once `receipt` was given back: a count kept in the counter the receipt's
    /// units came from (same store, holder and period) shrinks by them; any other is untouched.
    pub fn refunded(&mut self, receipt: &Receipt) {
        if receipt.counted_in != self.counted_in {
            return;
        }
        for count in &mut self.counts {
            let period = count.limit.period;
            let same_counter = receipt.limits.iter().any(|l| {
                l.holder == count.limit.holder
                    && l.period == period
                    && period.index(receipt.at) == period.index(self.at)
            });
            if same_counter {
                count.used = count.used.saturating_sub(receipt.units);
            }
        }
    }

    /// Seconds until every limit that refused these `units` has room again: the next period
    /// start of the longest full one (a month's quota spent waits for the month, whatever the
    /// day's). `None` when granted.
    pub fn retry_after_secs(&self, units: u64) -> Option<u64> {
        if self.granted {
            return None;
        }
        self.counts
            .iter()
            .filter(|c| c.used.saturating_add(units) > c.limit.limit)
            .map(|c| c.limit.period.secs_until_reset(self.at))
            .max()
            .or(Some(1))
    }
}

/// The decision every store takes on the counts as they stand: `units` fit under every limit.
pub fn fits(used: &[u64], limits: &[Limit], units: u64) -> bool {
    used.iter()
        .zip(limits)
        .all(|(used, l)| used.saturating_add(units) <= l.limit)
}

/// Where quota counters are kept. One call checks and spends under every limit at once: either
/// all of them have room and every counter grows by `units`, or nothing changes.
pub trait QuotaStore {
    /// Spends `units` under every one of `limits` at `now`, or none if any lacks room; zero
    /// units only reads the counts.
    fn spend<'a>(
        &'a self,
        limits: &'a [Limit],
        units: u64,
        now: OffsetDateTime,
    ) -> LocalBoxFuture<'a, Result<Usage, Unavailable>>;

    /// Gives back the units of `receipt` to the counters they were taken from (never below
    /// zero): a batch refused after its arrival unit was spent.
    fn refund<'a>(&'a self, receipt: &'a Receipt) -> LocalBoxFuture<'a, Result<(), Unavailable>>;

    /// The counts under `limits` at `now`, for an operator reading every quota (`keys usage`),
    /// not for a request: a store may take longer over it than a request could wait.
    fn read<'a>(
        &'a self,
        limits: &'a [Limit],
        now: OffsetDateTime,
    ) -> LocalBoxFuture<'a, Result<Usage, Unavailable>> {
        self.spend(limits, 0, now)
    }
}

impl QuotaStore for std::sync::Arc<LocalQuotas> {
    fn spend<'a>(
        &'a self,
        limits: &'a [Limit],
        units: u64,
        now: OffsetDateTime,
    ) -> LocalBoxFuture<'a, Result<Usage, Unavailable>> {
        (**self).spend(limits, units, now)
    }

    fn refund<'a>(&'a self, receipt: &'a Receipt) -> LocalBoxFuture<'a, Result<(), Unavailable>> {
        (**self).refund(receipt)
    }
}

/// A worker's quota store and the wall clock its periods are read from, chosen once at start.
pub struct Quotas {
    store: Box<dyn QuotaStore>,
    clock: SharedWallClock,
}

impl Quotas {
    /// Quotas kept in `store`, counted in the days and months of `clock`.
    pub fn new(store: Box<dyn QuotaStore>, clock: SharedWallClock) -> Self {
        Quotas { store, clock }
    }

    /// Spends `units` under every one of `limits` now, or none; zero units only reads.
    pub async fn spend(&self, limits: &[Limit], units: u64) -> Result<Usage, Unavailable> {
        self.store.spend(limits, units, self.clock.now_utc()).await
    }

    /// Every quota's counts under `limits` now, for an operator (see [`QuotaStore::read`]).
    pub async fn read(&self, limits: &[Limit]) -> Result<Usage, Unavailable> {
        self.store.read(limits, self.clock.now_utc()).await
    }

    /// Gives back the units of `receipt` where they were spent, whatever the period is now.
    pub async fn refund(&self, receipt: &Receipt) -> Result<(), Unavailable> {
        self.store.refund(receipt).await
    }
}
