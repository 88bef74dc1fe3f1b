use std::sync::{Arc, LazyLock};

use futures_util::future::LocalBoxFuture;
use redis::Script;
use time::OffsetDateTime;

use super::{Count, CountedIn, Holder, Limit, LocalQuotas, QuotaStore, Receipt, Usage};
use crate::redis_backend::{FailureMode, RedisConn, Unavailable};

static SPEND: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("spend.lua")));
static REFUND: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("refund.lua")));

/// How long a counter outlives its period: long enough for `keys usage` to read yesterday's.
const KEEP_AFTER_PERIOD_MS: i64 = 86_400_000;
/// Counters read by one script when every quota is read (`keys usage`): Redis runs one script
/// at a time, so a read of thousands of counters is cut into short ones.
const READ_CHUNK: usize = 256;
/// Longest one chunk of such a read may take. It is off the request path: it neither waits for
/// nor trips the circuit breaker, so a slow read of many counters cannot turn requests away.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Quota counters in Redis, shared by every replica: each decision is one script that checks
/// every limit of the request and spends under all of them, or none. Periods are worked out from
/// this server's wall clock and named in the counters' keys (replicas' clocks are assumed in
/// step, as NTP keeps them, to well under a second). One per worker.
///
/// While Redis cannot be asked, `REDIS_FAILURE_MODE=open` decides with this process's
/// [`LocalQuotas`] (counted in `rate_limit_fallback_total{limit="quota"}`); `closed` returns
/// [`Unavailable`].
pub struct SharedQuotas {
    conn: RedisConn,
    local: Arc<LocalQuotas>,
}

impl SharedQuotas {
    /// Quotas kept through `conn`, with `local` as the fallback.
    pub fn new(conn: RedisConn, local: Arc<LocalQuotas>) -> Self {
        SharedQuotas { conn, local }
    }

    /// The Redis key of `limit`'s counter for the period `now` falls in. The hash tag `{rl}`
    /// keeps a request's counters on one node under Redis Cluster, with the rate limits'.
    pub fn counter_key(conn: &RedisConn, limit: &Limit, now: OffsetDateTime) -> String {
        let kind = match limit.holder {
            Holder::Key(_) => "k",
            Holder::Owner(_) => "o",
        };
        conn.key(format_args!(
            "{{rl}}:usage:{kind}:{}:{}:{}",
            limit.period.as_str(),
            limit.period.index(now),
            limit.holder.name()
        ))
    }

    async fn spend_in_redis(
        &self,
        limits: &[Limit],
        units: u64,
        now: OffsetDateTime,
    ) -> Result<Usage, Unavailable> {
        self.run_spend(limits, units, now, false).await
    }

    /// One spend script over `limits`: on the request path (bounded by `REDIS_TIMEOUT_MS`,
    /// through the circuit breaker), or, `patient`, for a read of every quota.
    async fn run_spend(
        &self,
        limits: &[Limit],
        units: u64,
        now: OffsetDateTime,
        patient: bool,
    ) -> Result<Usage, Unavailable> {
        let mut invocation = SPEND.prepare_invoke();
        for limit in limits {
            invocation.key(Self::counter_key(&self.conn, limit, now));
        }
        invocation.arg(units);
        for limit in limits {
            invocation.arg(limit.limit);
        }
        for limit in limits {
            let until_reset = (limit.period.next_reset(now) - now).whole_milliseconds() as i64;
            invocation.arg(until_reset.max(1) + KEEP_AFTER_PERIOD_MS);
        }
        let run = |mut conn: redis::aio::ConnectionManager| async move {
            invocation.invoke_async::<Vec<i64>>(&mut conn).await
        };
        let answer = if patient {
            self.conn.call_patiently(READ_TIMEOUT, run).await?
        } else {
            self.conn.call(run).await?
        };
        let granted = answer.first() == Some(&1);
        let counts = limits
            .iter()
            .zip(answer.iter().skip(1))
            .map(|(limit, &used)| Count {
                limit: limit.clone(),
                used: used.max(0) as u64,
            })
            .collect();
        Ok(Usage {
            granted,
            counts,
            at: now,
            counted_in: CountedIn::Redis,
        })
    }

    async fn refund_in_redis(&self, receipt: &Receipt) -> Result<(), Unavailable> {
        let mut invocation = REFUND.prepare_invoke();
        for limit in &receipt.limits {
            invocation.key(Self::counter_key(&self.conn, limit, receipt.at));
        }
        invocation.arg(receipt.units);
        self.conn
            .call(|mut conn| async move { invocation.invoke_async::<()>(&mut conn).await })
            .await
    }
}

impl QuotaStore for SharedQuotas {
    /// Read from Redis whatever `REDIS_FAILURE_MODE` says (this process's own counts would be
    /// no one's), in chunks of `READ_CHUNK` counters off the request path.
    fn read<'a>(
        &'a self,
        limits: &'a [Limit],
        now: OffsetDateTime,
    ) -> LocalBoxFuture<'a, Result<Usage, Unavailable>> {
        Box::pin(async move {
            let mut counts = Vec::with_capacity(limits.len());
            for chunk in limits.chunks(READ_CHUNK) {
                counts.extend(self.run_spend(chunk, 0, now, true).await?.counts);
            }
            Ok(Usage {
                granted: true,
                counts,
                at: now,
                counted_in: CountedIn::Redis,
            })
        })
    }

    fn spend<'a>(
        &'a self,
        limits: &'a [Limit],
        units: u64,
        now: OffsetDateTime,
    ) -> LocalBoxFuture<'a, Result<Usage, Unavailable>> {
        Box::pin(async move {
            match self.spend_in_redis(limits, units, now).await {
                Ok(usage) => Ok(usage),
                Err(e) => {
                    let redis = self.conn.redis();
                    if redis.settings().failure_mode == FailureMode::Closed {
                        return Err(e);
                    }
                    redis.metrics().fallback.with_label_values(&["quota"]).inc();
                    log::debug!("{e}: quota decided by this process alone");
                    Ok(self.local.spend_now(limits, units, now))
                }
            }
        })
    }

    fn refund<'a>(&'a self, receipt: &'a Receipt) -> LocalBoxFuture<'a, Result<(), Unavailable>> {
        Box::pin(async move {
            match receipt.counted_in {
                CountedIn::Redis => self.refund_in_redis(receipt).await,
                // Spent here while Redis was away: Redis never had these units.
                CountedIn::Process => {
                    self.local.refund_now(receipt);
                    Ok(())
                }
            }
        })
    }
}
