//! `Settings::from_env()`: the only code that reads the environment, and where every setting is validated.

use std::fmt;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::auth::{validate_key, Secret};
use crate::clock::SharedWallClock;
use crate::cors::CorsOrigins;
use crate::limits::{Policy, TrustedProxies};
use crate::logging::LogFormat;
use crate::redis_backend::{FailureMode, RedisSettings};
use crate::tls::{TlsFiles, CERT_FILE, KEY_FILE};

/// Everything the service can be told, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Interface to listen on (`HOST`).
    pub host: String,
    /// Port to listen on (`PORT`); 0 lets the OS choose.
    pub port: u16,
    /// Number of actix workers (`WORKERS`).
    pub workers: usize,
    /// The key of `API_SECRET_KEY` (served as id `default`), validated.
    pub api_secret_key: Option<Secret>,
    /// The keys file (`API_KEYS_FILE`); read by `auth`, not here.
    pub api_keys_file: Option<PathBuf>,
    /// How often the keys file is checked for changes (`API_KEYS_POLL_SECONDS`).
    pub keys_poll: Duration,
    /// The models to load (`MODELS`); `None`, every model compiled in.
    pub models: Option<Vec<String>>,
    /// The model a request that names none gets (`DEFAULT_MODEL`).
    pub default_model: String,
    /// Where an encoder model's files are (`MODEL_DIR`; the cargo feature `encoder`).
    pub model_dir: Option<PathBuf>,
    /// How log lines are written (`LOG_FORMAT`).
    pub log_format: LogFormat,
    /// The log filter (`RUST_LOG`), validated; the logger reads it itself.
    pub rust_log: Option<String>,
    /// Input limits.
    pub limits: InputLimits,
    /// Default per-key rate limit (`RATE_LIMIT_PER_MINUTE`, `RATE_LIMIT_BURST`; a 60 s window).
    pub rate_limit: Policy,
    /// Failed authentications one address may have per window (`AUTH_FAILURES_PER_MINUTE`).
    pub auth_failures_per_window: u32,
    /// The window for `auth_failures_per_window` (60 s; shorter only in tests).
    pub auth_failure_window: Duration,
    /// Peers whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
    /// Browser origins that may read answers (`CORS_ALLOWED_ORIGINS`); `None`, no CORS.
    pub cors: Option<CorsOrigins>,
    /// Requests in flight before new ones get 503 (`MAX_CONCURRENT_REQUESTS`).
    pub max_concurrent_requests: usize,
    /// Longest a request may wait for the model (`INFERENCE_TIMEOUT_MS`).
    pub inference_timeout: Duration,
    /// Threads of the blocking pool that may run the model at once (the number of cores).
    pub inference_threads: usize,
    /// Background jobs queued or running at once (`MAX_PENDING_JOBS`).
    pub max_pending_jobs: usize,
    /// Jobs kept in all, finished ones included (`MAX_STORED_JOBS`).
    pub max_stored_jobs: usize,
    /// Bytes of texts and results that jobs may hold in all (`MAX_JOB_STORE_BYTES`).
    pub max_job_store_bytes: usize,
    /// How long a finished job is kept (`JOB_TTL_SECONDS`).
    pub job_ttl: Duration,
    /// How long a shutdown waits for requests in flight (`SHUTDOWN_TIMEOUT_SECONDS`).
    pub shutdown_timeout: Duration,
    /// How long readiness answers 503 after SIGTERM before the listener closes
    /// (`SHUTDOWN_DELAY_SECONDS`).
    pub shutdown_delay: Duration,
    /// The certificate chain and key to serve HTTPS with (`TLS_CERT_FILE`, `TLS_KEY_FILE`, both or
    /// neither); plain HTTP without. Read by `tls`, not here.
    pub tls: Option<TlsFiles>,
    /// How often the TLS files are checked for changes (2 s; shorter only in tests).
    pub tls_poll: Duration,
    /// `Strict-Transport-Security: max-age=N`, sent over HTTPS only (`HSTS_MAX_AGE`, seconds).
    pub hsts_max_age: Option<u64>,
    /// The Redis that replicas share limits through (`REDIS_URL` and the other `REDIS_*`);
    /// `None`, every limit is this process's own.
    pub redis: Option<RedisSettings>,
    /// The wall clock quotas count days and months by (the system's; a manual one in tests).
    pub wall_clock: SharedWallClock,
    /// Owners whose quota spending gets a labelled series in `/metrics`
    /// (`QUOTA_OWNER_METRICS`; 0, the default: none; never per key).
    pub quota_owner_metrics: usize,
}

/// Input limits applied before the model sees anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Longest accepted text, in Unicode characters (`MAX_TEXT_CHARS`).
    pub max_text_chars: usize,
    /// Most texts in one batch (`MAX_BATCH_SIZE`).
    pub max_batch_size: usize,
    /// Largest accepted request body in bytes (`MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Longest a client may take to send its body (`BODY_TIMEOUT_SECONDS`).
    pub body_timeout: Duration,
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            max_text_chars: 10_000,
            max_batch_size: 256,
            max_body_bytes: 1_048_576,
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// A setting that cannot be used; its `Display` is the one line printed before exiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable at fault.
    pub variable: &'static str,
    /// What is wrong with it (never its value when it is a secret).
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

impl Settings {
    /// Reads and validates the process environment (after `.env` has been loaded into it).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| match std::env::var(name) {
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError {
                variable: name,
                problem: "is not valid UTF-8".into(),
            }),
        })
    }

    /// Reads settings through `lookup`, so tests can supply their own environment.
    pub fn from_lookup<F>(lookup: F) -> Result<Self, ConfigError>
    where
        F: Fn(&'static str) -> Result<Option<String>, ConfigError>,
    {
        let env = Env(lookup);
        let rust_log = env.raw("RUST_LOG")?;
        if let Some(spec) = &rust_log {
            env_filter::Builder::new()
                .try_parse(spec)
                .map_err(|e| ConfigError {
                    variable: "RUST_LOG",
                    problem: format!("cannot use {spec:?}: {e}"),
                })?;
        }
        let api_secret_key = env
            .raw("API_SECRET_KEY")?
            .map(|key| {
                validate_key(key.trim()).map_err(|problem| ConfigError {
                    variable: "API_SECRET_KEY",
                    problem,
                })
            })
            .transpose()?;
        let api_keys_file = env.path("API_KEYS_FILE")?;
        let tls = match (env.path(CERT_FILE)?, env.path(KEY_FILE)?) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (Some(_), None) => return Err(only_one(KEY_FILE, CERT_FILE)),
            (None, Some(_)) => return Err(only_one(CERT_FILE, KEY_FILE)),
        };
        let hsts_max_age = match env.raw("HSTS_MAX_AGE")? {
            None => None,
            Some(raw) => Some(raw.trim().parse::<u64>().map_err(|_| ConfigError {
                variable: "HSTS_MAX_AGE",
                problem: format!("cannot use {raw:?}: must be a whole number of seconds"),
            })?),
        };
        let defaults = InputLimits::default();
        let rate_limit = Policy {
            limit: env
                .positive("RATE_LIMIT_PER_MINUTE", 60)?
                .try_into()
                .map_err(|_| too_big("RATE_LIMIT_PER_MINUTE"))?,
            burst: env
                .positive("RATE_LIMIT_BURST", 60)?
                .try_into()
                .map_err(|_| too_big("RATE_LIMIT_BURST"))?,
            window: Duration::from_secs(60),
        };
        if rate_limit.burst > rate_limit.limit {
            // Otherwise a key could spend more at once than RateLimit-Policy advertises per minute.
            return Err(ConfigError {
                variable: "RATE_LIMIT_BURST",
                problem: format!(
                    "is {} but must not exceed RATE_LIMIT_PER_MINUTE ({})",
                    rate_limit.burst, rate_limit.limit
                ),
            });
        }
        let redis = redis_settings(&env)?;
        Ok(Settings {
            redis,
            wall_clock: SharedWallClock::default(),
            host: env.raw("HOST")?.unwrap_or_else(|| "127.0.0.1".into()),
            port: env.parse("PORT", 8000)?,
            workers: env.positive("WORKERS", default_workers().get())?,
            api_secret_key,
            api_keys_file,
            keys_poll: Duration::from_secs(env.positive("API_KEYS_POLL_SECONDS", 2)? as u64),
            rust_log,
            log_format: match env.raw("LOG_FORMAT")?.as_deref().map(str::trim) {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => {
                    return Err(ConfigError {
                        variable: "LOG_FORMAT",
                        problem: format!("cannot use {other:?}: give text or json"),
                    })
                }
            },
            models: match env.raw("MODELS")? {
                None => None,
                Some(list) => Some(names("MODELS", &list)?),
            },
            default_model: match env.raw("DEFAULT_MODEL")? {
                None => "vader".to_owned(),
                Some(name) => names("DEFAULT_MODEL", &name)?
                    .into_iter()
                    .next()
                    .filter(|_| !name.contains(','))
                    .ok_or_else(|| ConfigError {
                        variable: "DEFAULT_MODEL",
                        problem: format!("cannot use {name:?}: name one model"),
                    })?,
            },
            model_dir: env
                .raw("MODEL_DIR")?
                .filter(|dir| !dir.trim().is_empty())
                .map(PathBuf::from),
            limits: InputLimits {
                max_text_chars: env.positive("MAX_TEXT_CHARS", defaults.max_text_chars)?,
                max_batch_size: env.positive("MAX_BATCH_SIZE", defaults.max_batch_size)?,
                max_body_bytes: env.positive("MAX_BODY_BYTES", defaults.max_body_bytes)?,
                body_timeout: Duration::from_secs(env.positive("BODY_TIMEOUT_SECONDS", 10)? as u64),
            },
            rate_limit,
            auth_failures_per_window: env
                .positive("AUTH_FAILURES_PER_MINUTE", 30)?
                .try_into()
                .map_err(|_| too_big("AUTH_FAILURES_PER_MINUTE"))?,
            auth_failure_window: Duration::from_secs(60),
            trusted_proxies: match env.raw("TRUSTED_PROXIES")? {
                None => TrustedProxies::default(),
                Some(list) => TrustedProxies::parse(&list).map_err(|problem| ConfigError {
                    variable: "TRUSTED_PROXIES",
                    problem,
                })?,
            },
            cors: env
                .raw("CORS_ALLOWED_ORIGINS")?
                .map(|list| {
                    CorsOrigins::parse(&list).map_err(|problem| ConfigError {
                        variable: "CORS_ALLOWED_ORIGINS",
                        problem,
                    })
                })
                .transpose()?,
            max_concurrent_requests: env.positive("MAX_CONCURRENT_REQUESTS", 1024)?,
            quota_owner_metrics: env.parse("QUOTA_OWNER_METRICS", 0)?,
            inference_timeout: Duration::from_millis(
                env.positive("INFERENCE_TIMEOUT_MS", 5000)? as u64
            ),
            inference_threads: default_workers().get(),
            max_pending_jobs: env.positive("MAX_PENDING_JOBS", 64)?,
            max_stored_jobs: env.positive("MAX_STORED_JOBS", 10_000)?,
            max_job_store_bytes: env.positive("MAX_JOB_STORE_BYTES", 256 * 1024 * 1024)?,
            job_ttl: Duration::from_secs(env.positive("JOB_TTL_SECONDS", 3600)? as u64),
            shutdown_timeout: Duration::from_secs(env.parse("SHUTDOWN_TIMEOUT_SECONDS", 30)?),
            shutdown_delay: Duration::from_secs(env.parse("SHUTDOWN_DELAY_SECONDS", 0)?),
            tls,
            tls_poll: Duration::from_secs(2),
            hsts_max_age,
        })
    }

    /// The effective value of every setting, by variable, defaults included and secrets redacted,
    /// as `sentiment-api config` prints them.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let secs = |d: Duration| d.as_secs().to_string();
        let or_none = |v: Option<String>, none: &str| v.unwrap_or_else(|| none.to_owned());
        vec![
            ("HOST", self.host.clone()),
            ("PORT", self.port.to_string()),
            ("WORKERS", self.workers.to_string()),
            (
                "API_SECRET_KEY",
                match &self.api_secret_key {
                    Some(key) => key.to_string(),
                    None => "(not set)".to_owned(),
                },
            ),
            (
                "API_KEYS_FILE",
                or_none(
                    self.api_keys_file.as_ref().map(|p| p.display().to_string()),
                    "(not set)",
                ),
            ),
            ("API_KEYS_POLL_SECONDS", secs(self.keys_poll)),
            (
                "MODELS",
                or_none(
                    self.models.as_ref().map(|m| m.join(",")),
                    "(every model compiled in)",
                ),
            ),
            ("DEFAULT_MODEL", self.default_model.clone()),
            (
                "MODEL_DIR",
                or_none(
                    self.model_dir.as_ref().map(|d| d.display().to_string()),
                    "(not set)",
                ),
            ),
            (
                "LOG_FORMAT",
                match self.log_format {
                    LogFormat::Text => "text",
                    LogFormat::Json => "json",
                }
                .to_owned(),
            ),
            ("RATE_LIMIT_PER_MINUTE", self.rate_limit.limit.to_string()),
            ("RATE_LIMIT_BURST", self.rate_limit.burst.to_string()),
            (
                "AUTH_FAILURES_PER_MINUTE",
                self.auth_failures_per_window.to_string(),
            ),
            ("TRUSTED_PROXIES", {
                let list = self.trusted_proxies.to_string();
                if list.is_empty() {
                    "(none)".to_owned()
                } else {
                    list
                }
            }),
            (
                "CORS_ALLOWED_ORIGINS",
                or_none(self.cors.as_ref().map(|c| c.to_string()), "(none: no CORS)"),
            ),
            (
                "MAX_CONCURRENT_REQUESTS",
                self.max_concurrent_requests.to_string(),
            ),
            ("QUOTA_OWNER_METRICS", self.quota_owner_metrics.to_string()),
            (
                "INFERENCE_TIMEOUT_MS",
                self.inference_timeout.as_millis().to_string(),
            ),
            ("MAX_PENDING_JOBS", self.max_pending_jobs.to_string()),
            ("MAX_STORED_JOBS", self.max_stored_jobs.to_string()),
            ("MAX_JOB_STORE_BYTES", self.max_job_store_bytes.to_string()),
            ("JOB_TTL_SECONDS", secs(self.job_ttl)),
            ("MAX_TEXT_CHARS", self.limits.max_text_chars.to_string()),
            ("MAX_BATCH_SIZE", self.limits.max_batch_size.to_string()),
            ("MAX_BODY_BYTES", self.limits.max_body_bytes.to_string()),
            ("BODY_TIMEOUT_SECONDS", secs(self.limits.body_timeout)),
            (
                "TLS_CERT_FILE",
                or_none(
                    self.tls.as_ref().map(|t| t.cert.display().to_string()),
                    "(not set: plain HTTP)",
                ),
            ),
            (
                "TLS_KEY_FILE",
                or_none(
                    self.tls.as_ref().map(|t| t.key.display().to_string()),
                    "(not set: plain HTTP)",
                ),
            ),
            (
                "HSTS_MAX_AGE",
                or_none(self.hsts_max_age.map(|a| a.to_string()), "(not set)"),
            ),
            ("SHUTDOWN_DELAY_SECONDS", secs(self.shutdown_delay)),
            ("SHUTDOWN_TIMEOUT_SECONDS", secs(self.shutdown_timeout)),
            (
                "REDIS_URL",
                or_none(
                    self.redis.as_ref().map(RedisSettings::redacted_url),
                    "(not set: limits, throttle and jobs are this process's own)",
                ),
            ),
            (
                "REDIS_KEY_PREFIX",
                self.redis
                    .as_ref()
                    .map_or(DEFAULT_REDIS_PREFIX, |r| r.key_prefix.as_str())
                    .to_owned(),
            ),
            (
                "REDIS_TIMEOUT_MS",
                self.redis
                    .as_ref()
                    .map_or(DEFAULT_REDIS_TIMEOUT_MS as u128, |r| r.timeout.as_millis())
                    .to_string(),
            ),
            (
                "REDIS_FAILURE_MODE",
                self.redis
                    .as_ref()
                    .map_or(FailureMode::Closed, |r| r.failure_mode)
                    .as_str()
                    .to_owned(),
            ),
            ("RUST_LOG", or_none(self.rust_log.clone(), "info")),
        ]
    }

    /// `host:port`, as given to bind.
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Loads `.env` from the working directory (only there: never a parent's), if there is one.
/// A line that cannot be parsed is named by number, never shown: it may hold a secret.
pub fn load_dotenv() -> Result<(), String> {
    let path = std::path::Path::new(".env");
    match dotenvy::from_path(path) {
        Ok(()) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(dotenvy::Error::LineParse(..)) => {
            // Find the line by parsing the file one line at a time; never show its text.
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let line = text
                .lines()
                .enumerate()
                .find(|(_, l)| dotenvy::from_read_iter(l.as_bytes()).any(|item| item.is_err()))
                .map_or_else(String::new, |(n, l)| {
                    // The variable's name is shown only when it is plainly one.
                    let name = l.split_once('=').map_or("", |(name, _)| name.trim());
                    let plain = !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if plain {
                        format!(" line {} ({name})", n + 1)
                    } else {
                        format!(" line {}", n + 1)
                    }
                });
            Err(format!(
                ".env:{line} cannot be parsed; it is not shown, as it may hold a secret"
            ))
        }
        Err(e) => Err(format!(".env: cannot be read: {e}")),
    }
}

/// A comma-separated list of model names: at least one, each plain (letters, digits, `-`, `_`, `.`).
fn names(variable: &'static str, list: &str) -> Result<Vec<String>, ConfigError> {
    let names: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    let plain = |n: &String| {
        n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if names.is_empty() || !names.iter().all(plain) {
        return Err(ConfigError {
            variable,
            problem: format!("cannot use {list:?}: give model names separated by commas"),
        });
    }
    Ok(names)
}

/// One of the two TLS variables without the other: `missing` names the one to set.
fn only_one(missing: &'static str, set: &'static str) -> ConfigError {
    ConfigError {
        variable: missing,
        problem: format!(
            "is not set, but {set} is: set both (certificate chain and key) or neither"
        ),
    }
}

fn too_big(variable: &'static str) -> ConfigError {
    ConfigError {
        variable,
        problem: format!("must be at most {}", u32::MAX),
    }
}

const DEFAULT_REDIS_PREFIX: &str = "sentiment-api:";
const DEFAULT_REDIS_TIMEOUT_MS: usize = 50;

/// The `REDIS_*` settings, each validated even while `REDIS_URL` is unset (a typo should not wait
/// for the day Redis is turned on to be found).
fn redis_settings<F>(env: &Env<F>) -> Result<Option<RedisSettings>, ConfigError>
where
    F: Fn(&'static str) -> Result<Option<String>, ConfigError>,
{
    let key_prefix = match env.raw("REDIS_KEY_PREFIX")? {
        None => DEFAULT_REDIS_PREFIX.to_owned(),
        Some(prefix) => {
            let bad = |c: char| c.is_whitespace() || c.is_control() || c == '{' || c == '}';
            if prefix.is_empty() || prefix.contains(bad) {
                return Err(ConfigError {
                    variable: "REDIS_KEY_PREFIX",
                    problem: format!(
                        "cannot use {prefix:?}: give a non-empty prefix without spaces or braces \
                         (braces would change the keys' hash tags)"
                    ),
                });
            }
            prefix
        }
    };
    let timeout =
        Duration::from_millis(env.positive("REDIS_TIMEOUT_MS", DEFAULT_REDIS_TIMEOUT_MS)? as u64);
    let failure_mode = match env.raw("REDIS_FAILURE_MODE")?.as_deref().map(str::trim) {
        None | Some("closed") => FailureMode::Closed,
        Some("open") => FailureMode::Open,
        Some(other) => {
            return Err(ConfigError {
                variable: "REDIS_FAILURE_MODE",
                problem: format!("cannot use {other:?}: give open or closed"),
            })
        }
    };
    let Some(url) = env.raw("REDIS_URL")?.filter(|url| !url.trim().is_empty()) else {
        return Ok(None);
    };
    RedisSettings::new(&url, key_prefix, timeout, failure_mode)
        .map(Some)
        .map_err(|problem| ConfigError {
            variable: "REDIS_URL",
            problem,
        })
}

fn default_workers() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

struct Env<F>(F);

impl<F> Env<F>
where
    F: Fn(&'static str) -> Result<Option<String>, ConfigError>,
{
    fn raw(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        (self.0)(name)
    }

    /// A file's path; set but empty is an error, as it is more likely a mistake than a choice.
    fn path(&self, name: &'static str) -> Result<Option<PathBuf>, ConfigError> {
        match self.raw(name)? {
            Some(path) if path.trim().is_empty() => Err(ConfigError {
                variable: name,
                problem: "is set but empty; give the path of a file or unset it".into(),
            }),
            path => Ok(path.map(PathBuf::from)),
        }
    }

    fn parse<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.raw(name)? {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|e| ConfigError {
                variable: name,
                problem: format!("cannot use {raw:?}: {e}"),
            }),
        }
    }

    fn positive(&self, name: &'static str, default: usize) -> Result<usize, ConfigError> {
        match self.raw(name)? {
            None => Ok(default),
            Some(raw) => match raw.trim().parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(ConfigError {
                    variable: name,
                    problem: format!("cannot use {raw:?}: must be a whole number of at least 1"),
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&'static str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<&str, String> = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
        Settings::from_lookup(|name| Ok(vars.get(name).cloned()))
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.address(), "127.0.0.1:8000");
        assert!(s.api_secret_key.is_none() && s.api_keys_file.is_none());
        assert_eq!(s.limits, InputLimits::default());
        assert!(s.workers >= 1);
    }

    #[test]
    fn a_configured_key_is_trimmed_and_used() {
        let s = settings(&[("API_SECRET_KEY", "  0123456789abcdef  ")]).unwrap();
        assert_eq!(s.api_secret_key.unwrap().expose(), "0123456789abcdef");
    }

    #[test]
    fn bad_settings_name_their_variable() {
        for (var, value) in [
            ("API_SECRET_KEY", "short"),
            ("API_SECRET_KEY", ""),
            ("API_SECRET_KEY", crate::auth::PLACEHOLDER_KEY),
            ("PORT", "eighty"),
            ("PORT", "70000"),
            ("WORKERS", "0"),
            ("MAX_TEXT_CHARS", "-1"),
            ("MAX_BATCH_SIZE", "0"),
            ("MAX_BODY_BYTES", "1MB"),
            ("API_KEYS_FILE", ""),
            ("API_KEYS_POLL_SECONDS", "0"),
            ("RATE_LIMIT_PER_MINUTE", "0"),
            ("RATE_LIMIT_BURST", "99999999999"),
            ("RATE_LIMIT_BURST", "61"),
            ("AUTH_FAILURES_PER_MINUTE", "x"),
            ("TRUSTED_PROXIES", "10.0.0.0/40"),
            ("CORS_ALLOWED_ORIGINS", "https://example.com/app"),
            ("MAX_CONCURRENT_REQUESTS", "0"),
            ("INFERENCE_TIMEOUT_MS", "soon"),
            ("MAX_PENDING_JOBS", "0"),
            ("MAX_JOB_STORE_BYTES", "lots"),
            ("JOB_TTL_SECONDS", "-1"),
            ("SHUTDOWN_TIMEOUT_SECONDS", "1m"),
            ("SHUTDOWN_DELAY_SECONDS", "-3"),
            ("RUST_LOG", "info,foo=bar=baz"),
            ("LOG_FORMAT", "yaml"),
            ("MODELS", ""),
            ("MODELS", " , "),
            ("MODELS", "vader;tfidf"),
            ("DEFAULT_MODEL", ""),
            ("DEFAULT_MODEL", "vader,tfidf"),
            ("API_SECRET_KEY", "ééééééééééééééé€"),
            ("API_SECRET_KEY", "a key with spaces in it"),
            ("HSTS_MAX_AGE", "1y"),
            ("HSTS_MAX_AGE", "-1"),
        ] {
            let err = settings(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var, "{var}={value}");
            assert!(err.to_string().starts_with(var));
        }
    }

    #[test]
    fn a_short_key_is_not_echoed_in_the_error() {
        let err = settings(&[("API_SECRET_KEY", "hunter2")]).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn models_are_a_list_and_the_default_is_vader() {
        let s = settings(&[]).unwrap();
        assert_eq!((s.models, s.default_model.as_str()), (None, "vader"));
        let s = settings(&[("MODELS", " vader, tfidf "), ("DEFAULT_MODEL", "tfidf")]).unwrap();
        assert_eq!(s.models.unwrap(), ["vader", "tfidf"]);
        assert_eq!(s.default_model, "tfidf");
    }

    #[test]
    fn describe_shows_every_setting_with_secrets_redacted() {
        let s = settings(&[
            ("API_SECRET_KEY", "0123456789abcdef-secret"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
        ])
        .unwrap();
        let described = s.describe();
        let value = |var: &str| {
            described
                .iter()
                .find(|(v, _)| *v == var)
                .map(|(_, value)| value.clone())
                .unwrap()
        };
        assert_eq!(value("API_SECRET_KEY"), "[REDACTED]");
        assert_eq!(value("TRUSTED_PROXIES"), "10.0.0.0/8, ::1/128");
        assert_eq!(value("PORT"), "8000");
        assert_eq!(value("DEFAULT_MODEL"), "vader");
        assert!(!format!("{described:?}").contains("secret"));
    }

    #[test]
    fn tls_needs_both_files_and_names_the_missing_one() {
        assert!(settings(&[]).unwrap().tls.is_none());
        let both = settings(&[("TLS_CERT_FILE", "c.pem"), ("TLS_KEY_FILE", "k.pem")]).unwrap();
        assert_eq!(
            both.tls,
            Some(TlsFiles {
                cert: "c.pem".into(),
                key: "k.pem".into()
            })
        );
        for (vars, missing) in [
            (&[("TLS_CERT_FILE", "c.pem")][..], "TLS_KEY_FILE"),
            (&[("TLS_KEY_FILE", "k.pem")][..], "TLS_CERT_FILE"),
            (
                &[("TLS_CERT_FILE", " "), ("TLS_KEY_FILE", "k.pem")][..],
                "TLS_CERT_FILE",
            ),
            (
                &[("TLS_CERT_FILE", "c.pem"), ("TLS_KEY_FILE", "")][..],
                "TLS_KEY_FILE",
            ),
        ] {
            let err = settings(vars).unwrap_err();
            assert_eq!(err.variable, missing, "{vars:?}");
            assert!(err.to_string().starts_with(missing), "{err}");
        }
    }

    #[test]
    fn hsts_is_off_unless_a_max_age_is_given() {
        assert_eq!(settings(&[]).unwrap().hsts_max_age, None);
        let on = settings(&[("HSTS_MAX_AGE", "31536000")]).unwrap();
        assert_eq!(on.hsts_max_age, Some(31_536_000));
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        let s = settings(&[("HOST", "::1"), ("PORT", "0")]).unwrap();
        assert_eq!(s.address(), "[::1]:0");
    }

    #[test]
    fn redis_is_off_by_default_and_its_settings_are_checked_even_then() {
        let s = settings(&[]).unwrap();
        assert!(s.redis.is_none());
        let described: HashMap<_, _> = s.describe().into_iter().collect();
        assert_eq!(described["REDIS_KEY_PREFIX"], "sentiment-api:");
        assert_eq!(described["REDIS_TIMEOUT_MS"], "50");
        assert_eq!(described["REDIS_FAILURE_MODE"], "closed");
        for (variable, value) in [
            ("REDIS_FAILURE_MODE", "sometimes"),
            ("REDIS_TIMEOUT_MS", "0"),
            ("REDIS_KEY_PREFIX", "a {b}"),
            ("REDIS_URL", "http://example.com"),
        ] {
            let err = settings(&[(variable, value)]).unwrap_err();
            assert_eq!(err.variable, variable, "{err}");
        }
    }

    #[test]
    fn redis_settings_are_read_and_a_password_is_never_shown() {
        let s = settings(&[
            ("REDIS_URL", "redis://:s3cret-pass@10.1.2.3:6380/1"),
            ("REDIS_KEY_PREFIX", "blue:"),
            ("REDIS_TIMEOUT_MS", "20"),
            ("REDIS_FAILURE_MODE", "open"),
        ])
        .unwrap();
        let redis = s.redis.as_ref().unwrap();
        assert_eq!(redis.key_prefix, "blue:");
        assert_eq!(redis.timeout, Duration::from_millis(20));
        assert_eq!(redis.failure_mode, FailureMode::Open);
        let described = format!("{:?} {:?}", s.describe(), s);
        assert!(!described.contains("s3cret"), "{described}");
        assert!(described.contains("10.1.2.3:6380"));
    }
}
