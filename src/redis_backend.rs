//! The Redis that replicas share (`REDIS_URL`): its settings, one connection per worker, and the
//! guard every call goes through (a timeout, a short circuit breaker, the metrics). No HTTP here,
//! and nothing about limits: `limits::SharedLimits` runs its scripts through [`RedisConn::call`].

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisResult, Script};

use crate::metrics::RedisMetrics;

/// What happens to limit decisions while Redis cannot be asked (`REDIS_FAILURE_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// Fall back to this process's own limiter and throttle (each replica then enforces the
    /// full limit on its own).
    Open,
    /// Refuse: 503 with `Retry-After`.
    Closed,
}

impl FailureMode {
    /// `open` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureMode::Open => "open",
            FailureMode::Closed => "closed",
        }
    }
}

/// The Redis settings (`REDIS_URL`, `REDIS_KEY_PREFIX`, `REDIS_TIMEOUT_MS`, `REDIS_FAILURE_MODE`).
#[derive(Clone)]
pub struct RedisSettings {
    /// The server, `redis://[user:password@]host:port[/db]`; parsed, not yet connected.
    pub client: Client,
    /// The URL as given, kept for [`RedisSettings::redacted_url`] only.
    url: String,
    /// Put before every key this service writes.
    pub key_prefix: String,
    /// Bound on every call, connecting included.
    pub timeout: Duration,
    /// What to do while Redis cannot be asked.
    pub failure_mode: FailureMode,
}

impl RedisSettings {
    /// Parses `url` (no connection is made); the error says what is wrong, never echoing the
    /// URL, which may hold a password.
    pub fn new(
        url: &str,
        key_prefix: String,
        timeout: Duration,
        failure_mode: FailureMode,
    ) -> Result<Self, String> {
        let url = url.trim();
        if !(url.starts_with("redis://") || url.starts_with("redis+unix://")) {
            return Err(
                "must be redis://[user:password@]host:port[/db] or redis+unix:///path \
                 (rediss:// is not built in: end TLS in a local proxy)"
                    .into(),
            );
        }
        let client = Client::open(url)
            .map_err(|_| "cannot be parsed as a Redis URL: redis://host:port[/db]".to_owned())?;
        Ok(RedisSettings {
            client,
            url: url.to_owned(),
            key_prefix,
            timeout,
            failure_mode,
        })
    }

    /// The URL with any credential replaced, fit for `sentiment-api config` and logs: the
    /// `user:password@` part, and every query parameter but `db` and `protocol` (redis-rs also
    /// takes `user` and `pass` from the query, as in `redis+unix:///sock?pass=secret`).
    pub fn redacted_url(&self) -> String {
        let (base, query) = match self.url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (self.url.as_str(), None),
        };
        let mut shown = match (base.find("://"), base.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}[REDACTED]{}", &base[..scheme + 3], &base[at..])
            }
            _ => base.to_owned(),
        };
        if let Some(query) = query {
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((name @ ("db" | "protocol"), value)) => format!("{name}={value}"),
                    Some((name, _)) => format!("{name}=[REDACTED]"),
                    None => "[REDACTED]".to_owned(),
                })
                .collect();
            shown.push('?');
            shown.push_str(&params.join("&"));
        }
        shown
    }
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &self.redacted_url())
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .field("failure_mode", &self.failure_mode)
            .finish()
    }
}

/// Readiness's probe: a write, as every limit decision makes, in a script, as they are.
static PROBE: LazyLock<Script> = LazyLock::new(|| {
    Script::new("redis.call('SET', KEYS[1], '1', 'PX', 10000) return redis.status_reply('OK')")
});

/// Redis could not be asked: it did not answer in time, refused, failed, or the circuit
/// breaker is open after a recent failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Redis unavailable ({0})")]
pub struct Unavailable(pub &'static str);

/// How long calls are skipped after a failure before one is let through to try again. Short:
/// it only has to stop a dead Redis from holding every request for a timeout, and a Redis that
/// came back is used again within this long.
const BREAKER_COOLDOWN: Duration = Duration::from_millis(250);

/// How old readiness's cached probe may be before a new one runs in the background: `/health/ready`
/// costs Redis at most one small write per this long per process, however often it is called.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The Redis of this server, shared by its workers: settings, the circuit breaker, metrics.
pub struct Redis {
    settings: RedisSettings,
    metrics: RedisMetrics,
    /// Milliseconds since `epoch` until which calls are skipped (0: closed, calls go through).
    open_until_ms: AtomicU64,
    epoch: Instant,
    /// The last readiness probe: milliseconds since `epoch` it ended at (0: never), its outcome,
    /// and whether one is running now. Readiness reads these, never Redis itself.
    probed_at_ms: AtomicU64,
    probe_ok: AtomicBool,
    probing: AtomicBool,
}

impl Redis {
    /// The shared part; each worker then makes its own connection with [`Redis::connect`].
    pub fn new(settings: RedisSettings, metrics: RedisMetrics) -> Arc<Self> {
        Arc::new(Redis {
            settings,
            metrics,
            open_until_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            probed_at_ms: AtomicU64::new(0),
            probe_ok: AtomicBool::new(false),
            probing: AtomicBool::new(false),
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &RedisSettings {
        &self.settings
    }

    /// The metrics calls are counted in.
    pub fn metrics(&self) -> &RedisMetrics {
        &self.metrics
    }

    /// A connection for the calling worker: it must run on that worker's runtime (the
    /// connection's driver task lives there). It connects on first use and reconnects by itself.
    pub fn connect(self: &Arc<Self>) -> RedisConn {
        self.connect_with(self.settings.timeout)
    }

    /// A connection whose answers may take up to `response_timeout` (connecting is still bounded
    /// by `REDIS_TIMEOUT_MS`): for calls that move large values, such as job results.
    pub fn connect_with(self: &Arc<Self>, response_timeout: Duration) -> RedisConn {
        RedisConn {
            redis: Arc::clone(self),
            manager: Arc::new(ArcSwapOption::new(
                self.new_manager(response_timeout).map(Arc::new),
            )),
            response_timeout,
            timeouts_in_a_row: Arc::new(AtomicU32::new(0)),
        }
    }

    /// A connection that connects on first use and reconnects by itself after an error.
    fn new_manager(&self, response_timeout: Duration) -> Option<ConnectionManager> {
        let timeout = self.settings.timeout;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(response_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        // Only a misused configuration can fail here; should it, every call fails and the
        // failure mode decides, as for a Redis that is down.
        ConnectionManager::new_lazy_with_config(self.settings.client.clone(), config)
            .inspect_err(|e| log::error!("cannot set up the Redis connection: {e}"))
            .ok()
    }

    /// Whether the circuit breaker is open: calls are skipped but for one per cooldown, until
    /// one succeeds.
    pub fn circuit_open(&self) -> bool {
        self.open_until_ms.load(Ordering::Acquire) != 0
    }

    /// Sets `redis_circuit_open` from the breaker's state (before a scrape): the updates made
    /// as it opens and closes can land in the wrong order when a failure and a success race.
    pub fn publish_circuit_state(&self) {
        self.metrics
            .circuit_open
            .set(i64::from(self.circuit_open()));
    }

    /// Milliseconds since `epoch`, from 1: 0 is kept for "closed".
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Whether a call may go to Redis now. While the breaker is open, one call per cooldown is
    /// let through (the first to claim it) to see whether Redis is back.
    fn admit_call(&self) -> bool {
        let open_until = self.open_until_ms.load(Ordering::Acquire);
        if open_until == 0 {
            return true;
        }
        let now = self.now_ms();
        now >= open_until
            && self
                .open_until_ms
                .compare_exchange(
                    open_until,
                    now + BREAKER_COOLDOWN.as_millis() as u64,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    fn succeeded(&self, elapsed: Duration) {
        self.metrics.latency.observe(elapsed.as_secs_f64());
        if self.open_until_ms.swap(0, Ordering::AcqRel) != 0 {
            self.metrics.circuit_open.set(0);
            log::warn!("Redis answers again: shared limits are exact again");
        }
    }

    fn failed(&self, reason: &'static str, detail: &dyn fmt::Display) {
        self.metrics.errors.with_label_values(&[reason]).inc();
        let until = self.now_ms() + BREAKER_COOLDOWN.as_millis() as u64;
        if self.open_until_ms.swap(until, Ordering::AcqRel) == 0 {
            self.metrics.circuit_open.set(1);
            log::error!(
                "Redis call failed ({reason}: {detail}); skipping Redis for {} ms at a time \
                 until it answers (REDIS_FAILURE_MODE={})",
                BREAKER_COOLDOWN.as_millis(),
                self.settings.failure_mode.as_str()
            );
        } else {
            log::debug!("Redis call failed again ({reason}: {detail})");
        }
    }
}

/// Timeouts in a row after which a worker's connection is replaced: `ConnectionManager` only
/// reconnects after an error, and a connection whose answers were lost (a network that drops
/// packets, a Redis restarted behind a NAT) only ever times out.
const REPLACE_AFTER_TIMEOUTS: u32 = 3;

/// One worker's connection to the shared Redis (its clones share it).
#[derive(Clone)]
pub struct RedisConn {
    redis: Arc<Redis>,
    manager: Arc<ArcSwapOption<ConnectionManager>>,
    response_timeout: Duration,
    timeouts_in_a_row: Arc<AtomicU32>,
}

impl RedisConn {
    /// The shared part: settings, breaker, metrics.
    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    /// The key `parts` name, behind the configured prefix.
    pub fn key(&self, parts: fmt::Arguments<'_>) -> String {
        format!("{}{parts}", self.redis.settings.key_prefix)
    }

    /// Runs `call` on the connection, bounded by `REDIS_TIMEOUT_MS`; skipped at once while the
    /// circuit breaker is open.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if !self.redis.admit_call() {
            return Err(Unavailable("circuit open"));
        }
        self.timed(self.redis.settings.timeout, true, call).await
    }

    /// Runs `call` off the request path, where waiting is cheap and losing the outcome is not:
    /// bounded by `timeout` instead of `REDIS_TIMEOUT_MS`, and neither stopped by the circuit
    /// breaker nor tripping it (a slow write of a large job result is no sign of a dead Redis).
    pub async fn call_patiently<T, F, Fut>(
        &self,
        timeout: Duration,
        call: F,
    ) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.timed(timeout, false, call).await
    }

    /// Whether Redis runs a script that writes, now: a Redis that answers `PING` but refuses
    /// scripts or writes (out of memory) is not usable. Through the circuit breaker: while it is
    /// open, only the one call a cooldown lets through tries, and closes it if Redis is back.
    pub async fn probe(&self) -> Result<(), Unavailable> {
        let key = self.key(format_args!("ready"));
        let outcome = self
            .call(|mut conn| async move { PROBE.key(key).invoke_async::<()>(&mut conn).await })
            .await;
        let redis = &self.redis;
        redis.probe_ok.store(outcome.is_ok(), Ordering::Release);
        redis.probed_at_ms.store(redis.now_ms(), Ordering::Release);
        outcome
    }

    /// Whether Redis can be used (for readiness), from the circuit breaker and the last probe,
    /// without waiting on Redis: a probe older than [`PROBE_EVERY`] (or any while the breaker is
    /// open) is renewed in the background, on this worker. Only the very first call waits for
    /// one.
    pub async fn usable(&self) -> bool {
        let redis = &self.redis;
        let probed_at = redis.probed_at_ms.load(Ordering::Acquire);
        if probed_at == 0 {
            return self.probe().await.is_ok();
        }
        let stale = redis.now_ms().saturating_sub(probed_at) >= PROBE_EVERY.as_millis() as u64;
        if (stale || redis.circuit_open()) && !redis.probing.swap(true, Ordering::AcqRel) {
            let conn = self.clone();
            actix_rt::spawn(async move {
                let _ = conn.probe().await;
                conn.redis.probing.store(false, Ordering::Release);
            });
        }
        !redis.circuit_open() && redis.probe_ok.load(Ordering::Acquire)
    }

    /// Runs `call` within `timeout`; a failure opens the circuit breaker if `trips`, and is only
    /// counted otherwise.
    async fn timed<T, F, Fut>(
        &self,
        timeout: Duration,
        trips: bool,
        call: F,
    ) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let Some(manager) = self.manager.load_full() else {
            return Err(Unavailable("error"));
        };
        let manager = ConnectionManager::clone(&manager);
        let started = Instant::now();
        let outcome = actix_rt::time::timeout(timeout, call(manager)).await;
        let (reason, detail): (&'static str, &dyn fmt::Display) = match &outcome {
            Ok(Ok(_)) => ("", &""),
            Ok(Err(e)) if e.is_timeout() => ("timeout", e),
            Ok(Err(e)) => ("error", e),
            Err(_) => ("timeout", &"no answer in time"),
        };
        if reason == "timeout" {
            self.timed_out();
        } else {
            self.timeouts_in_a_row.store(0, Ordering::Relaxed);
        }
        match outcome {
            Ok(Ok(value)) => {
                self.redis.succeeded(started.elapsed());
                return Ok(value);
            }
            _ if trips => self.redis.failed(reason, detail),
            _ => {
                self.redis.metrics.errors.with_label_values(&[reason]).inc();
                log::debug!("Redis call off the request path failed ({reason}: {detail})");
            }
        }
        Err(Unavailable(reason))
    }
}

impl RedisConn {
    /// Counts a timeout; after [`REPLACE_AFTER_TIMEOUTS`] in a row, the next call goes through a
    /// new connection (the old one closes once its last call is done).
    fn timed_out(&self) {
        let in_a_row = self.timeouts_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
        if in_a_row >= REPLACE_AFTER_TIMEOUTS {
            self.timeouts_in_a_row.store(0, Ordering::Relaxed);
            self.manager
                .store(self.redis.new_manager(self.response_timeout).map(Arc::new));
            log::warn!("Redis: {in_a_row} timeouts in a row, replacing this worker's connection");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> Result<RedisSettings, String> {
        RedisSettings::new(
            url,
            "p:".into(),
            Duration::from_millis(50),
            FailureMode::Closed,
        )
    }

    #[test]
    fn after_a_failure_calls_are_skipped_then_one_tries_again_and_success_closes_the_breaker() {
        let metrics = crate::metrics::Metrics::new().redis();
        let redis = Redis::new(settings("redis://127.0.0.1:1").unwrap(), metrics.clone());
        assert!(
            redis.admit_call() && redis.admit_call(),
            "closed: every call goes"
        );
        redis.failed("timeout", &"test");
        assert_eq!(metrics.circuit_open.get(), 1);
        assert_eq!(metrics.errors.with_label_values(&["timeout"]).get(), 1);
        assert!(!redis.admit_call(), "open: skipped");
        // As if the cooldown had passed: exactly one call may try.
        redis.open_until_ms.store(1, Ordering::Release);
        assert!(redis.admit_call());
        assert!(!redis.admit_call(), "the others still wait");
        redis.succeeded(Duration::from_millis(1));
        assert_eq!(metrics.circuit_open.get(), 0);
        assert!(redis.admit_call() && redis.admit_call());
    }

    #[test]
    fn a_scrape_shows_the_breakers_state_whatever_order_the_updates_landed_in() {
        let metrics = crate::metrics::Metrics::new().redis();
        let redis = Redis::new(settings("redis://127.0.0.1:1").unwrap(), metrics.clone());
        // A failure and a success racing: the success closed the breaker, the failure's gauge
        // update landed last.
        metrics.circuit_open.set(1);
        redis.publish_circuit_state();
        assert_eq!(metrics.circuit_open.get(), 0);
        redis.failed("timeout", &"test");
        metrics.circuit_open.set(0);
        redis.publish_circuit_state();
        assert_eq!(metrics.circuit_open.get(), 1);
    }

    #[test]
    fn a_password_never_shows() {
        let s = settings("redis://user:hunter2-secret@10.0.0.5:6379/2").unwrap();
        assert_eq!(s.redacted_url(), "redis://[REDACTED]@10.0.0.5:6379/2");
        assert!(!format!("{s:?}").contains("hunter2"));
        let unix =
            settings("redis+unix:///run/redis.sock?db=3&user=svc&pass=hunter2-secret").unwrap();
        assert_eq!(
            unix.redacted_url(),
            "redis+unix:///run/redis.sock?db=3&user=[REDACTED]&pass=[REDACTED]"
        );
        assert!(!format!("{unix:?}").contains("hunter2"));
        let both = settings("redis://u:hunter2-a@h:1/0?pass=hunter2-b&hunter2-c").unwrap();
        assert!(
            !both.redacted_url().contains("hunter2"),
            "{}",
            both.redacted_url()
        );
        let plain = settings("redis://127.0.0.1:6379").unwrap();
        assert_eq!(plain.redacted_url(), "redis://127.0.0.1:6379");
    }

    #[test]
    fn only_redis_urls_are_taken_and_the_error_does_not_echo_them() {
        for bad in ["http://x", "rediss://:pw@host", "localhost:6379", ""] {
            let problem = settings(bad).unwrap_err();
            assert!(!problem.contains("pw@"), "{problem}");
        }
    }
}
