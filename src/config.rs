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

/// The concern a setting belongs to: the sections of `docs/configuration.md` and `.env.example`,
/// and the groups of [`Settings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// Where and how to listen.
    Listen,
    /// API keys.
    Keys,
    /// HTTPS.
    Tls,
    /// The models.
    Models,
    /// Per-key limits, the failed-key throttle, proxies, browsers and overload.
    Limits,
    /// Input limits.
    Input,
    /// Inference and background jobs.
    Jobs,
    /// Replicas sharing one Redis.
    Redis,
    /// Stopping.
    Shutdown,
    /// Logs.
    Logs,
    /// Traces (the cargo feature `otel`).
    Traces,
}

impl Section {
    /// The section's title in the docs.
    pub fn title(self) -> &'static str {
        match self {
            Section::Listen => "Listening",
            Section::Keys => "Keys",
            Section::Tls => "HTTPS",
            Section::Models => "Models",
            Section::Limits => "Rate limits, proxies, CORS, overload",
            Section::Input => "Input limits",
            Section::Jobs => "Inference and jobs",
            Section::Redis => "Replicas (Redis)",
            Section::Shutdown => "Shutdown",
            Section::Logs => "Logs",
            Section::Traces => "Traces (a build with `--features otel`)",
        }
    }
}

/// What a setting is when it is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// This value, read as a given one would be.
    Value(&'static str),
    /// Nothing; the text says what that means.
    Unset(&'static str),
    /// Worked out at start; the text says how.
    Computed(&'static str),
}

/// One setting, declared once: its variable, section, default, whether it is a secret, one line of
/// help, and how `sentiment-api config` shows its value. `from_lookup` reads every variable through
/// its declaration; `--help`, `config`, `.env.example` and `docs/configuration.md`'s table come from
/// [`SETTINGS`] (a test holds the last two to it).
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The environment variable.
    pub name: &'static str,
    /// The concern it belongs to.
    pub section: Section,
    /// Its value when unset.
    pub default: Fallback,
    /// One line: what it does.
    pub help: &'static str,
    /// Its value is a secret (shown redacted; `.env.example` gives a placeholder).
    pub secret: bool,
    /// A value to show in `.env.example` where the default says nothing.
    pub example: Option<&'static str>,
    /// How `config` shows the effective value; `None` for a variable read outside [`Settings`].
    show: Option<fn(&Settings) -> String>,
}

impl Setting {
    const fn new(
        name: &'static str,
        section: Section,
        default: Fallback,
        help: &'static str,
        show: fn(&Settings) -> String,
    ) -> Self {
        Setting {
            name,
            section,
            default,
            help,
            secret: false,
            example: None,
            show: Some(show),
        }
    }

    /// A variable that a library reads itself (candle, an exporter): documented with the others,
    /// but not held in [`Settings`] nor shown by `config`.
    const fn read_elsewhere(
        name: &'static str,
        section: Section,
        default: Fallback,
        help: &'static str,
    ) -> Self {
        Setting {
            name,
            section,
            default,
            help,
            secret: false,
            example: None,
            show: None,
        }
    }

    const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    const fn example(mut self, example: &'static str) -> Self {
        self.example = Some(example);
        self
    }

    /// The default as the docs write it: a value in backticks, or what being unset means.
    pub fn default_text(&self) -> String {
        match self.default {
            Fallback::Value(v) => format!("`{v}`"),
            Fallback::Unset(meaning) => format!("not set: {meaning}"),
            Fallback::Computed(how) => how.to_owned(),
        }
    }

    /// Whether [`Settings`] holds this setting (and `config` shows it).
    pub fn in_settings(&self) -> bool {
        self.show.is_some()
    }

    /// The declared default, parsed. A declaration whose default does not parse is a bug that the
    /// unit tests (every default is read once with nothing set) find.
    fn default_as<T: FromStr>(&self) -> T {
        match self.default {
            Fallback::Value(v) => v.parse().ok(),
            _ => None,
        }
        .unwrap_or_else(|| panic!("{}: the declared default does not parse", self.name))
    }
}

use Fallback::{Computed, Unset, Value};
use Section as S;

const DEFAULT_REDIS_PREFIX: &str = "sentiment-api:";
const DEFAULT_REDIS_TIMEOUT_MS: &str = "50";

fn secs(d: Duration) -> String {
    d.as_secs().to_string()
}

fn or_none(v: Option<String>, none: &str) -> String {
    v.unwrap_or_else(|| none.to_owned())
}

/// `HOST`
pub const HOST: Setting = Setting::new(
    "HOST",
    S::Listen,
    Value("127.0.0.1"),
    "interface to listen on; beyond loopback, serve HTTPS or set TRUSTED_PROXIES (a warning says so)",
    |s| s.listen.host.clone(),
);
/// `PORT`
pub const PORT: Setting = Setting::new(
    "PORT",
    S::Listen,
    Value("8000"),
    "port to listen on; 0 lets the system choose",
    |s| s.listen.port.to_string(),
);
/// `WORKERS`
pub const WORKERS: Setting = Setting::new(
    "WORKERS",
    S::Listen,
    Computed("the number of cores"),
    "actix worker threads",
    |s| s.listen.workers.to_string(),
)
.example("2");
/// `API_SECRET_KEY`
pub const API_SECRET_KEY: Setting = Setting::new(
    "API_SECRET_KEY",
    S::Keys,
    Unset("with no API_KEYS_FILE either, a key is generated for the run and printed once"),
    "one key, id `default`: at least 16 printable ASCII characters, no spaces (`sentiment-api keys new` makes one); the .env.example placeholder is refused",
    |s| match &s.keys.secret_key {
        Some(key) => key.to_string(),
        None => "(not set)".to_owned(),
    },
)
.secret()
.example(crate::auth::PLACEHOLDER_KEY);
/// `API_KEYS_FILE`
pub const API_KEYS_FILE: Setting = Setting::new(
    "API_KEYS_FILE",
    S::Keys,
    Unset("no named keys"),
    "a TOML file of named keys stored as SHA-256 hashes (docs/deploy.md#keys-and-rotation); reloaded on change and SIGHUP",
    |s| or_none(s.keys.file.as_ref().map(|p| p.display().to_string()), "(not set)"),
)
.example("keys.toml");
/// `API_KEYS_POLL_SECONDS`
pub const API_KEYS_POLL_SECONDS: Setting = Setting::new(
    "API_KEYS_POLL_SECONDS",
    S::Keys,
    Value("2"),
    "how often the keys file is checked for changes, in seconds",
    |s| secs(s.keys.poll),
);
/// `ADMIN_SOCKET`
pub const ADMIN_SOCKET: Setting = Setting::new(
    "ADMIN_SOCKET",
    S::Keys,
    Unset("no admin socket"),
    "a Unix socket (mode 0600) where `keys usage`, run as this server's user, reads its quota counts; in a directory only that user may write",
    |s| {
        or_none(
            s.keys
                .admin_socket
                .as_ref()
                .map(|p| p.display().to_string()),
            "(not set)",
        )
    },
)
.example("/run/sentiment-api/admin.sock");
/// `MODELS`
pub const MODELS: Setting = Setting::new(
    "MODELS",
    S::Models,
    Unset("every model compiled in (minilm only with MODEL_DIR)"),
    "the models to load, comma-separated (`vader`, `tfidf`, `minilm`)",
    |s| {
        or_none(
            s.models.names.as_ref().map(|m| m.join(",")),
            "(every model compiled in)",
        )
    },
)
.example("vader,tfidf");
/// `DEFAULT_MODEL`
pub const DEFAULT_MODEL: Setting = Setting::new(
    "DEFAULT_MODEL",
    S::Models,
    Value("vader"),
    "the model a request that names none gets",
    |s| s.models.default.clone(),
);
/// `MODEL_DIR`
pub const MODEL_DIR: Setting = Setting::new(
    "MODEL_DIR",
    S::Models,
    Unset("no minilm"),
    "the minilm encoder's files (a build with `--features encoder`; `scripts/encoder/fetch_model.py` writes them)",
    |s| or_none(s.models.dir.as_ref().map(|d| d.display().to_string()), "(not set)"),
)
.example("target/minilm");
/// `LOG_FORMAT`
pub const LOG_FORMAT: Setting = Setting::new(
    "LOG_FORMAT",
    S::Logs,
    Value("text"),
    "`text`, or `json`: one object a line (time, level, target, message, request id, access fields)",
    |s| {
        match s.logging.format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
        .to_owned()
    },
);
/// `RATE_LIMIT_PER_MINUTE`
pub const RATE_LIMIT_PER_MINUTE: Setting = Setting::new(
    "RATE_LIMIT_PER_MINUTE",
    S::Limits,
    Value("60"),
    "units a key may spend a minute (a text is a unit); a key's own limit in the keys file wins",
    |s| s.limits.rate_limit.limit.to_string(),
);
/// `RATE_LIMIT_BURST`
pub const RATE_LIMIT_BURST: Setting = Setting::new(
    "RATE_LIMIT_BURST",
    S::Limits,
    Value("60"),
    "units a key may spend at once; at most RATE_LIMIT_PER_MINUTE",
    |s| s.limits.rate_limit.burst.to_string(),
);
/// `AUTH_FAILURES_PER_MINUTE`
pub const AUTH_FAILURES_PER_MINUTE: Setting = Setting::new(
    "AUTH_FAILURES_PER_MINUTE",
    S::Limits,
    Value("30"),
    "wrong keys one address may send a minute before it gets 429",
    |s| s.limits.auth_failures_per_window.to_string(),
);
/// `TRUSTED_PROXIES`
pub const TRUSTED_PROXIES: Setting = Setting::new(
    "TRUSTED_PROXIES",
    S::Limits,
    Unset("X-Forwarded-For is ignored"),
    "comma-separated addresses or CIDR blocks whose X-Forwarded-For is believed",
    |s| {
        let list = s.limits.trusted_proxies.to_string();
        if list.is_empty() {
            "(none)".to_owned()
        } else {
            list
        }
    },
)
.example("127.0.0.1");
/// `CORS_ALLOWED_ORIGINS`
pub const CORS_ALLOWED_ORIGINS: Setting = Setting::new(
    "CORS_ALLOWED_ORIGINS",
    S::Limits,
    Unset("no CORS headers"),
    "comma-separated browser origins, or `*`, that may read answers; credentials are never allowed",
    |s| {
        or_none(
            s.limits.cors.as_ref().map(|c| c.to_string()),
            "(none: no CORS)",
        )
    },
)
.example("https://app.example.com");
/// `MAX_CONCURRENT_REQUESTS`
pub const MAX_CONCURRENT_REQUESTS: Setting = Setting::new(
    "MAX_CONCURRENT_REQUESTS",
    S::Limits,
    Value("1024"),
    "requests in flight before new ones get 503 `Server overloaded`",
    |s| s.limits.max_concurrent_requests.to_string(),
);
/// `QUOTA_OWNER_METRICS`
pub const QUOTA_OWNER_METRICS: Setting = Setting::new(
    "QUOTA_OWNER_METRICS",
    S::Limits,
    Value("0"),
    "owners whose spending gets its own `quota_owner_units_total` series (others: `_other`; never \
     per key)",
    |s| s.limits.quota_owner_metrics.to_string(),
);
/// `INFERENCE_TIMEOUT_MS`
pub const INFERENCE_TIMEOUT_MS: Setting = Setting::new(
    "INFERENCE_TIMEOUT_MS",
    S::Jobs,
    Value("5000"),
    "longest a request waits for the model before 503 `Inference timed out`, in milliseconds",
    |s| s.jobs.inference_timeout.as_millis().to_string(),
);
/// `MAX_PENDING_JOBS`
pub const MAX_PENDING_JOBS: Setting = Setting::new(
    "MAX_PENDING_JOBS",
    S::Jobs,
    Value("64"),
    "background jobs queued or running at once",
    |s| s.jobs.max_pending.to_string(),
);
/// `MAX_STORED_JOBS`
pub const MAX_STORED_JOBS: Setting = Setting::new(
    "MAX_STORED_JOBS",
    S::Jobs,
    Value("10000"),
    "jobs kept in all, finished ones included",
    |s| s.jobs.max_stored.to_string(),
);
/// `MAX_JOB_STORE_BYTES`
pub const MAX_JOB_STORE_BYTES: Setting = Setting::new(
    "MAX_JOB_STORE_BYTES",
    S::Jobs,
    Value("268435456"),
    "bytes of texts and results all kept jobs may hold (256 MiB)",
    |s| s.jobs.max_bytes.to_string(),
);
/// `JOB_TTL_SECONDS`
pub const JOB_TTL_SECONDS: Setting = Setting::new(
    "JOB_TTL_SECONDS",
    S::Jobs,
    Value("3600"),
    "how long a finished job is kept, in seconds",
    |s| secs(s.jobs.ttl),
);
/// `MAX_TEXT_CHARS`
pub const MAX_TEXT_CHARS: Setting = Setting::new(
    "MAX_TEXT_CHARS",
    S::Input,
    Value("10000"),
    "longest text, in Unicode characters (written into /openapi.json)",
    |s| s.input.max_text_chars.to_string(),
);
/// `MAX_BATCH_SIZE`
pub const MAX_BATCH_SIZE: Setting = Setting::new(
    "MAX_BATCH_SIZE",
    S::Input,
    Value("256"),
    "most texts in one batch (written into /openapi.json)",
    |s| s.input.max_batch_size.to_string(),
);
/// `MAX_BODY_BYTES`
pub const MAX_BODY_BYTES: Setting = Setting::new(
    "MAX_BODY_BYTES",
    S::Input,
    Value("1048576"),
    "largest request body in bytes; 413 beyond",
    |s| s.input.max_body_bytes.to_string(),
);
/// `BODY_TIMEOUT_SECONDS`
pub const BODY_TIMEOUT_SECONDS: Setting = Setting::new(
    "BODY_TIMEOUT_SECONDS",
    S::Input,
    Value("10"),
    "longest a client may take to send its body; 408 beyond",
    |s| secs(s.input.body_timeout),
);
/// `TLS_CERT_FILE`
pub const TLS_CERT_FILE: Setting = Setting::new(
    CERT_FILE,
    S::Tls,
    Unset("plain HTTP"),
    "a PEM certificate chain: serve HTTPS (with TLS_KEY_FILE; both or neither); re-read on change and SIGHUP",
    |s| or_none(s.tls.files.as_ref().map(|t| t.cert.display().to_string()), "(not set: plain HTTP)"),
)
.example("/etc/letsencrypt/live/api.example.com/fullchain.pem");
/// `TLS_KEY_FILE`
pub const TLS_KEY_FILE: Setting = Setting::new(
    KEY_FILE,
    S::Tls,
    Unset("plain HTTP"),
    "the certificate's PEM private key (PKCS#8, RSA or EC)",
    |s| {
        or_none(
            s.tls.files.as_ref().map(|t| t.key.display().to_string()),
            "(not set: plain HTTP)",
        )
    },
)
.example("/etc/letsencrypt/live/api.example.com/privkey.pem");
/// `HSTS_MAX_AGE`
pub const HSTS_MAX_AGE: Setting = Setting::new(
    "HSTS_MAX_AGE",
    S::Tls,
    Unset("no Strict-Transport-Security header"),
    "seconds; over HTTPS, `Strict-Transport-Security: max-age=<seconds>` on every answer",
    |s| or_none(s.tls.hsts_max_age.map(|a| a.to_string()), "(not set)"),
)
.example("31536000");
/// `SHUTDOWN_DELAY_SECONDS`
pub const SHUTDOWN_DELAY_SECONDS: Setting = Setting::new(
    "SHUTDOWN_DELAY_SECONDS",
    S::Shutdown,
    Value("0"),
    "after SIGTERM, how long /health/ready answers 503 before the listener closes (rolling restarts)",
    |s| secs(s.shutdown.delay),
);
/// `SHUTDOWN_TIMEOUT_SECONDS`
pub const SHUTDOWN_TIMEOUT_SECONDS: Setting = Setting::new(
    "SHUTDOWN_TIMEOUT_SECONDS",
    S::Shutdown,
    Value("30"),
    "then, how long requests in flight have to finish",
    |s| secs(s.shutdown.timeout),
);
/// `REDIS_URL`
pub const REDIS_URL: Setting = Setting::new(
    "REDIS_URL",
    S::Redis,
    Unset("limits, throttle and jobs are this process's own"),
    "`redis://host:port[/db]` or `redis+unix:///path` of the Redis through which replicas share limits, the throttle and jobs",
    |s| {
        or_none(
            s.redis.as_ref().map(RedisSettings::redacted_url),
            "(not set: limits, throttle and jobs are this process's own)",
        )
    },
)
.secret()
.example("redis://127.0.0.1:6379/0");
/// `REDIS_KEY_PREFIX`
pub const REDIS_KEY_PREFIX: Setting = Setting::new(
    "REDIS_KEY_PREFIX",
    S::Redis,
    Value(DEFAULT_REDIS_PREFIX),
    "prefix of every Redis key; replicas that share limits share it",
    |s| {
        s.redis
            .as_ref()
            .map_or(DEFAULT_REDIS_PREFIX, |r| r.key_prefix.as_str())
            .to_owned()
    },
);
/// `REDIS_TIMEOUT_MS`
pub const REDIS_TIMEOUT_MS: Setting = Setting::new(
    "REDIS_TIMEOUT_MS",
    S::Redis,
    Value(DEFAULT_REDIS_TIMEOUT_MS),
    "bound on every Redis call, in milliseconds",
    |s| {
        s.redis.as_ref().map_or_else(
            || DEFAULT_REDIS_TIMEOUT_MS.to_owned(),
            |r| r.timeout.as_millis().to_string(),
        )
    },
);
/// `REDIS_FAILURE_MODE`
pub const REDIS_FAILURE_MODE: Setting = Setting::new(
    "REDIS_FAILURE_MODE",
    S::Redis,
    Value("closed"),
    "while Redis cannot be asked: `closed` answers 503, `open` falls back to this process's own limits (jobs answer 503 either way)",
    |s| {
        s.redis
            .as_ref()
            .map_or(FailureMode::Closed, |r| r.failure_mode)
            .as_str()
            .to_owned()
    },
);
/// `RUST_LOG`
pub const RUST_LOG: Setting = Setting::new(
    "RUST_LOG",
    S::Logs,
    Value("info"),
    "log filter (env_logger syntax); a malformed filter stops the start; keys are never logged, at any level",
    |s| or_none(s.logging.filter.clone(), "info"),
);
/// `CANDLE_NUM_THREADS`, read by candle itself (the binary sets it when unset).
pub const CANDLE_NUM_THREADS: Setting = Setting::read_elsewhere(
    "CANDLE_NUM_THREADS",
    S::Models,
    Computed("`1` (set by the server when unset)"),
    "threads candle uses inside one minilm forward pass (a build with `--features encoder`)",
)
.example("1");

/// Every setting, in the order `sentiment-api config` prints them.
// The standard OpenTelemetry variables, read by `telemetry` in a build with `--features otel`.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: Setting = Setting::read_elsewhere(
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    S::Traces,
    Unset("no traces"),
    "the collector's OTLP/HTTP base URL; spans go to `<it>/v1/traces`",
)
.example("http://127.0.0.1:4318");
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Setting = Setting::read_elsewhere(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    S::Traces,
    Unset("from `OTEL_EXPORTER_OTLP_ENDPOINT`"),
    "the full URL spans are posted to, used as given (wins over `OTEL_EXPORTER_OTLP_ENDPOINT`)",
);
pub const OTEL_EXPORTER_OTLP_PROTOCOL: Setting = Setting::read_elsewhere(
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    S::Traces,
    Value("http/json"),
    "only `http/json` is supported (also `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`); others stop the start",
);
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Setting = Setting::read_elsewhere(
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    S::Traces,
    Unset("`OTEL_EXPORTER_OTLP_PROTOCOL`"),
    "the protocol for traces alone; only `http/json`",
);
pub const OTEL_EXPORTER_OTLP_HEADERS: Setting = Setting::read_elsewhere(
    "OTEL_EXPORTER_OTLP_HEADERS",
    S::Traces,
    Unset("none"),
    "request headers for the collector, `name=value,name=value`",
)
.secret();
pub const OTEL_EXPORTER_OTLP_TIMEOUT: Setting = Setting::read_elsewhere(
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    S::Traces,
    Value("10000"),
    "milliseconds one export may take",
);
pub const OTEL_SERVICE_NAME: Setting = Setting::read_elsewhere(
    "OTEL_SERVICE_NAME",
    S::Traces,
    Value("sentiment-api"),
    "the spans' `service.name`",
);
pub const OTEL_SDK_DISABLED: Setting = Setting::read_elsewhere(
    "OTEL_SDK_DISABLED",
    S::Traces,
    Value("false"),
    "`true` turns traces off even with an endpoint set",
);
pub const OTEL_BSP_MAX_QUEUE_SIZE: Setting = Setting::read_elsewhere(
    "OTEL_BSP_MAX_QUEUE_SIZE",
    S::Traces,
    Value("2048"),
    "finished spans waiting for export; past it new ones are dropped and counted",
);
pub const OTEL_BSP_SCHEDULE_DELAY: Setting = Setting::read_elsewhere(
    "OTEL_BSP_SCHEDULE_DELAY",
    S::Traces,
    Value("5000"),
    "milliseconds a span may wait before its batch is sent",
);
pub const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: Setting = Setting::read_elsewhere(
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    S::Traces,
    Value("512"),
    "most spans in one export",
);

pub const SETTINGS: &[&Setting] = &[
    &HOST,
    &PORT,
    &WORKERS,
    &API_SECRET_KEY,
    &API_KEYS_FILE,
    &API_KEYS_POLL_SECONDS,
    &ADMIN_SOCKET,
    &MODELS,
    &DEFAULT_MODEL,
    &MODEL_DIR,
    &CANDLE_NUM_THREADS,
    &LOG_FORMAT,
    &RATE_LIMIT_PER_MINUTE,
    &RATE_LIMIT_BURST,
    &AUTH_FAILURES_PER_MINUTE,
    &TRUSTED_PROXIES,
    &CORS_ALLOWED_ORIGINS,
    &MAX_CONCURRENT_REQUESTS,
    &QUOTA_OWNER_METRICS,
    &INFERENCE_TIMEOUT_MS,
    &MAX_PENDING_JOBS,
    &MAX_STORED_JOBS,
    &MAX_JOB_STORE_BYTES,
    &JOB_TTL_SECONDS,
    &MAX_TEXT_CHARS,
    &MAX_BATCH_SIZE,
    &MAX_BODY_BYTES,
    &BODY_TIMEOUT_SECONDS,
    &TLS_CERT_FILE,
    &TLS_KEY_FILE,
    &HSTS_MAX_AGE,
    &SHUTDOWN_DELAY_SECONDS,
    &SHUTDOWN_TIMEOUT_SECONDS,
    &REDIS_URL,
    &REDIS_KEY_PREFIX,
    &REDIS_TIMEOUT_MS,
    &REDIS_FAILURE_MODE,
    &RUST_LOG,
    &OTEL_EXPORTER_OTLP_ENDPOINT,
    &OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    &OTEL_EXPORTER_OTLP_PROTOCOL,
    &OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    &OTEL_EXPORTER_OTLP_HEADERS,
    &OTEL_EXPORTER_OTLP_TIMEOUT,
    &OTEL_SERVICE_NAME,
    &OTEL_SDK_DISABLED,
    &OTEL_BSP_MAX_QUEUE_SIZE,
    &OTEL_BSP_SCHEDULE_DELAY,
    &OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
];

/// The settings grouped by section, in declaration order within each.
fn by_section() -> Vec<&'static Setting> {
    let mut sorted = SETTINGS.to_vec();
    sorted.sort_by_key(|s| s.section);
    sorted
}

/// `docs/configuration.md`'s variable table, from the declarations.
pub fn markdown_table() -> String {
    let mut out = String::new();
    let mut section = None;
    for s in by_section() {
        if section != Some(s.section) {
            section = Some(s.section);
            let gap = if out.is_empty() { "" } else { "\n" };
            out.push_str(&format!(
                "{gap}### {}\n\n| variable | default | what |\n|---|---|---|\n",
                s.section.title()
            ));
        }
        let secret = if s.secret { " (a secret)" } else { "" };
        out.push_str(&format!(
            "| `{}` | {} | {}{secret} |\n",
            s.name,
            s.default_text(),
            s.help.replace('|', "\\|")
        ));
    }
    out
}

/// `.env.example`, from the declarations: every setting commented out at its default (or an
/// example), except `API_SECRET_KEY`'s placeholder, which the server refuses until it is changed.
pub fn env_example() -> String {
    let mut out = String::from(
        "# Copy to .env (git-ignored) and edit; every variable is optional. Generated from the declarations\n\
         # in src/config.rs (`UPDATE_DOCS=1 cargo test --test api settings_docs` rewrites it); the\n\
         # table with defaults is docs/configuration.md. Real secrets belong in .env, never here.\n",
    );
    let mut section = None;
    for s in by_section() {
        if section != Some(s.section) {
            section = Some(s.section);
            out.push_str(&format!("\n# -- {} --\n", s.section.title()));
        }
        out.push_str(&format!("# {}\n", s.help));
        let value = match (s.default, s.example) {
            (_, Some(example)) => example,
            (Value(v), None) => v,
            (_, None) => "",
        };
        let comment = if s.name == API_SECRET_KEY.name {
            ""
        } else {
            "# "
        };
        out.push_str(&format!("{comment}{}={value}\n", s.name));
    }
    out
}

/// The settings as `--help` lists them, one line each with its default.
pub fn help_text() -> String {
    let mut out = String::from(
        "Settings (environment variables, or a .env file in the working directory; \
         docs/configuration.md):\n",
    );
    for s in by_section() {
        out.push_str(&format!(
            "  {:<26} {} [default: {}]\n",
            s.name,
            s.help,
            s.default_text().replace('`', "")
        ));
    }
    out
}

/// Everything the service can be told, validated: one group per [`Section`] of the declarations
/// (`listen`, `keys`, `tls`, `models`, `limits`, `input`, `jobs`, `redis`, `shutdown`, `logging`,
/// `otel`), each field naming its variable.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where and how to listen ([`Section::Listen`]).
    pub listen: ListenSettings,
    /// API keys ([`Section::Keys`]).
    pub keys: KeySettings,
    /// HTTPS ([`Section::Tls`]).
    pub tls: TlsSettings,
    /// The models ([`Section::Models`]).
    pub models: ModelSettings,
    /// Per-key limits, the failed-key throttle, proxies, browsers and overload ([`Section::Limits`]).
    pub limits: LimitSettings,
    /// Input limits ([`Section::Input`]).
    pub input: InputLimits,
    /// Inference and background jobs ([`Section::Jobs`]).
    pub jobs: JobSettings,
    /// The Redis that replicas share limits through (`REDIS_URL` and the other `REDIS_*`,
    /// [`Section::Redis`]); `None`, every limit is this process's own.
    pub redis: Option<RedisSettings>,
    /// Stopping ([`Section::Shutdown`]).
    pub shutdown: ShutdownSettings,
    /// Logs ([`Section::Logs`]).
    pub logging: LogSettings,
    /// Where traces go (`OTEL_EXPORTER_OTLP_ENDPOINT` and the other standard `OTEL_*`; the cargo
    /// feature `otel`, [`Section::Traces`]); `None`, none are recorded.
    #[cfg(feature = "otel")]
    pub otel: Option<crate::telemetry::OtelSettings>,
    /// The wall clock quotas count days and months by (the system's; a manual one in tests).
    pub wall_clock: SharedWallClock,
}

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct ListenSettings {
    /// Interface to listen on (`HOST`).
    pub host: String,
    /// Port to listen on (`PORT`); 0 lets the OS choose.
    pub port: u16,
    /// Number of actix workers (`WORKERS`).
    pub workers: usize,
}

impl ListenSettings {
    /// `host:port`, as given to bind.
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// API keys.
#[derive(Debug, Clone)]
pub struct KeySettings {
    /// The key of `API_SECRET_KEY` (served as id `default`), validated.
    pub secret_key: Option<Secret>,
    /// The keys file (`API_KEYS_FILE`); read by `auth`, not here.
    pub file: Option<PathBuf>,
    /// How often the keys file is checked for changes (`API_KEYS_POLL_SECONDS`).
    pub poll: Duration,
    /// Where `keys usage` asks this server for every quota's use (`ADMIN_SOCKET`); none by default.
    pub admin_socket: Option<PathBuf>,
}

/// HTTPS.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// The certificate chain and key to serve HTTPS with (`TLS_CERT_FILE`, `TLS_KEY_FILE`, both or
    /// neither); plain HTTP without. Read by `tls`, not here.
    pub files: Option<TlsFiles>,
    /// How often the TLS files are checked for changes (2 s; shorter only in tests).
    pub poll: Duration,
    /// `Strict-Transport-Security: max-age=N`, sent over HTTPS only (`HSTS_MAX_AGE`, seconds).
    pub hsts_max_age: Option<u64>,
}

/// The models.
#[derive(Debug, Clone)]
pub struct ModelSettings {
    /// The models to load (`MODELS`); `None`, every model compiled in.
    pub names: Option<Vec<String>>,
    /// The model a request that names none gets (`DEFAULT_MODEL`).
    pub default: String,
    /// Where an encoder model's files are (`MODEL_DIR`; the cargo feature `encoder`).
    pub dir: Option<PathBuf>,
}

/// Per-key limits, the failed-key throttle, proxies, browsers and overload.
#[derive(Debug, Clone)]
pub struct LimitSettings {
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
    /// Owners whose quota spending gets a labelled series in `/metrics`
    /// (`QUOTA_OWNER_METRICS`; 0, the default: none; never per key).
    pub quota_owner_metrics: usize,
}

/// Inference and background jobs.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Longest a request may wait for the model (`INFERENCE_TIMEOUT_MS`).
    pub inference_timeout: Duration,
    /// Threads of the blocking pool that may run the model at once (the number of cores).
    pub inference_threads: usize,
    /// Background jobs queued or running at once (`MAX_PENDING_JOBS`).
    pub max_pending: usize,
    /// Jobs kept in all, finished ones included (`MAX_STORED_JOBS`).
    pub max_stored: usize,
    /// Bytes of texts and results that jobs may hold in all (`MAX_JOB_STORE_BYTES`).
    pub max_bytes: usize,
    /// How long a finished job is kept (`JOB_TTL_SECONDS`).
    pub ttl: Duration,
}

/// Stopping.
#[derive(Debug, Clone)]
pub struct ShutdownSettings {
    /// How long readiness answers 503 after SIGTERM before the listener closes
    /// (`SHUTDOWN_DELAY_SECONDS`).
    pub delay: Duration,
    /// How long a shutdown waits for requests in flight (`SHUTDOWN_TIMEOUT_SECONDS`).
    pub timeout: Duration,
}

/// Logs.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// How log lines are written (`LOG_FORMAT`).
    pub format: LogFormat,
    /// The log filter (`RUST_LOG`), validated; the logger reads it itself.
    pub filter: Option<String>,
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
            max_text_chars: MAX_TEXT_CHARS.default_as(),
            max_batch_size: MAX_BATCH_SIZE.default_as(),
            max_body_bytes: MAX_BODY_BYTES.default_as(),
            body_timeout: Duration::from_secs(BODY_TIMEOUT_SECONDS.default_as()),
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
        let rust_log = env.raw(&RUST_LOG)?;
        if let Some(spec) = &rust_log {
            env_filter::Builder::new()
                .try_parse(spec)
                .map_err(|e| ConfigError {
                    variable: RUST_LOG.name,
                    problem: format!("cannot use {spec:?}: {e}"),
                })?;
        }
        let api_secret_key = env
            .raw(&API_SECRET_KEY)?
            .map(|key| {
                validate_key(key.trim()).map_err(|problem| ConfigError {
                    variable: API_SECRET_KEY.name,
                    problem,
                })
            })
            .transpose()?;
        let api_keys_file = env.path(&API_KEYS_FILE)?;
        let tls = match (env.path(&TLS_CERT_FILE)?, env.path(&TLS_KEY_FILE)?) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (Some(_), None) => return Err(only_one(KEY_FILE, CERT_FILE)),
            (None, Some(_)) => return Err(only_one(CERT_FILE, KEY_FILE)),
        };
        let hsts_max_age = match env.raw(&HSTS_MAX_AGE)? {
            None => None,
            Some(raw) => Some(raw.trim().parse::<u64>().map_err(|_| ConfigError {
                variable: HSTS_MAX_AGE.name,
                problem: format!("cannot use {raw:?}: must be a whole number of seconds"),
            })?),
        };
        let rate_limit = Policy {
            limit: env
                .positive(&RATE_LIMIT_PER_MINUTE)?
                .try_into()
                .map_err(|_| too_big(RATE_LIMIT_PER_MINUTE.name))?,
            burst: env
                .positive(&RATE_LIMIT_BURST)?
                .try_into()
                .map_err(|_| too_big(RATE_LIMIT_BURST.name))?,
            window: Duration::from_secs(60),
        };
        if rate_limit.burst > rate_limit.limit {
            // Otherwise a key could spend more at once than RateLimit-Policy advertises per minute.
            return Err(ConfigError {
                variable: RATE_LIMIT_BURST.name,
                problem: format!(
                    "is {} but must not exceed RATE_LIMIT_PER_MINUTE ({})",
                    rate_limit.burst, rate_limit.limit
                ),
            });
        }
        let redis = redis_settings(&env)?;
        #[cfg(feature = "otel")]
        let otel = crate::telemetry::OtelSettings::from_lookup(|name| {
            (env.0)(name).map_err(|e| (e.variable, e.problem))
        })
        .map_err(|(variable, problem)| ConfigError { variable, problem })?;
        // Written in the order the variables are read, and so checked: of several wrong ones, the
        // first read is the one a start reports.
        Ok(Settings {
            #[cfg(feature = "otel")]
            otel,
            redis,
            wall_clock: SharedWallClock::default(),
            listen: ListenSettings {
                host: env.raw(&HOST)?.unwrap_or_else(|| HOST.default_as()),
                port: env.parse(&PORT)?,
                workers: env.positive_or(&WORKERS, || default_workers().get())?,
            },
            keys: KeySettings {
                secret_key: api_secret_key,
                file: api_keys_file,
                poll: Duration::from_secs(env.positive(&API_KEYS_POLL_SECONDS)? as u64),
                admin_socket: env.path(&ADMIN_SOCKET)?,
            },
            logging: LogSettings {
                filter: rust_log,
                format: match env.raw(&LOG_FORMAT)?.as_deref().map(str::trim) {
                    None | Some("text") => LogFormat::Text,
                    Some("json") => LogFormat::Json,
                    Some(other) => {
                        return Err(ConfigError {
                            variable: LOG_FORMAT.name,
                            problem: format!("cannot use {other:?}: give text or json"),
                        })
                    }
                },
            },
            models: ModelSettings {
                names: match env.raw(&MODELS)? {
                    None => None,
                    Some(list) => Some(names(MODELS.name, &list)?),
                },
                default: match env.raw(&DEFAULT_MODEL)? {
                    None => DEFAULT_MODEL.default_as(),
                    Some(name) => names(DEFAULT_MODEL.name, &name)?
                        .into_iter()
                        .next()
                        .filter(|_| !name.contains(','))
                        .ok_or_else(|| ConfigError {
                            variable: DEFAULT_MODEL.name,
                            problem: format!("cannot use {name:?}: name one model"),
                        })?,
                },
                dir: env
                    .raw(&MODEL_DIR)?
                    .filter(|dir| !dir.trim().is_empty())
                    .map(PathBuf::from),
            },
            input: InputLimits {
                max_text_chars: env.positive(&MAX_TEXT_CHARS)?,
                max_batch_size: env.positive(&MAX_BATCH_SIZE)?,
                max_body_bytes: env.positive(&MAX_BODY_BYTES)?,
                body_timeout: Duration::from_secs(env.positive(&BODY_TIMEOUT_SECONDS)? as u64),
            },
            limits: LimitSettings {
                rate_limit,
                auth_failures_per_window: env
                    .positive(&AUTH_FAILURES_PER_MINUTE)?
                    .try_into()
                    .map_err(|_| too_big(AUTH_FAILURES_PER_MINUTE.name))?,
                auth_failure_window: Duration::from_secs(60),
                trusted_proxies: match env.raw(&TRUSTED_PROXIES)? {
                    None => TrustedProxies::default(),
                    Some(list) => TrustedProxies::parse(&list).map_err(|problem| ConfigError {
                        variable: TRUSTED_PROXIES.name,
                        problem,
                    })?,
                },
                cors: env
                    .raw(&CORS_ALLOWED_ORIGINS)?
                    .map(|list| {
                        CorsOrigins::parse(&list).map_err(|problem| ConfigError {
                            variable: CORS_ALLOWED_ORIGINS.name,
                            problem,
                        })
                    })
                    .transpose()?,
                max_concurrent_requests: env.positive(&MAX_CONCURRENT_REQUESTS)?,
                quota_owner_metrics: env.parse(&QUOTA_OWNER_METRICS)?,
            },
            jobs: JobSettings {
                inference_timeout: Duration::from_millis(
                    env.positive(&INFERENCE_TIMEOUT_MS)? as u64
                ),
                inference_threads: default_workers().get(),
                max_pending: env.positive(&MAX_PENDING_JOBS)?,
                max_stored: env.positive(&MAX_STORED_JOBS)?,
                max_bytes: env.positive(&MAX_JOB_STORE_BYTES)?,
                ttl: Duration::from_secs(env.positive(&JOB_TTL_SECONDS)? as u64),
            },
            shutdown: ShutdownSettings {
                timeout: Duration::from_secs(env.parse(&SHUTDOWN_TIMEOUT_SECONDS)?),
                delay: Duration::from_secs(env.parse(&SHUTDOWN_DELAY_SECONDS)?),
            },
            tls: TlsSettings {
                files: tls,
                poll: Duration::from_secs(2),
                hsts_max_age,
            },
        })
    }

    /// The effective value of every setting, by variable, defaults included and secrets redacted,
    /// as `sentiment-api config` prints them.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        SETTINGS
            .iter()
            .filter_map(|s| s.show.map(|show| (s.name, show(self))))
            .collect()
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

/// The `REDIS_*` settings, each validated even while `REDIS_URL` is unset (a typo should not wait
/// for the day Redis is turned on to be found).
fn redis_settings<F>(env: &Env<F>) -> Result<Option<RedisSettings>, ConfigError>
where
    F: Fn(&'static str) -> Result<Option<String>, ConfigError>,
{
    let key_prefix = match env.raw(&REDIS_KEY_PREFIX)? {
        None => REDIS_KEY_PREFIX.default_as(),
        Some(prefix) => {
            let bad = |c: char| c.is_whitespace() || c.is_control() || c == '{' || c == '}';
            if prefix.is_empty() || prefix.contains(bad) {
                return Err(ConfigError {
                    variable: REDIS_KEY_PREFIX.name,
                    problem: format!(
                        "cannot use {prefix:?}: give a non-empty prefix without spaces or braces \
                         (braces would change the keys' hash tags)"
                    ),
                });
            }
            prefix
        }
    };
    let timeout = Duration::from_millis(env.positive(&REDIS_TIMEOUT_MS)? as u64);
    let failure_mode = match env.raw(&REDIS_FAILURE_MODE)?.as_deref().map(str::trim) {
        None | Some("closed") => FailureMode::Closed,
        Some("open") => FailureMode::Open,
        Some(other) => {
            return Err(ConfigError {
                variable: REDIS_FAILURE_MODE.name,
                problem: format!("cannot use {other:?}: give open or closed"),
            })
        }
    };
    let Some(url) = env.raw(&REDIS_URL)?.filter(|url| !url.trim().is_empty()) else {
        return Ok(None);
    };
    RedisSettings::new(&url, key_prefix, timeout, failure_mode)
        .map(Some)
        .map_err(|problem| ConfigError {
            variable: REDIS_URL.name,
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
    fn raw(&self, setting: &Setting) -> Result<Option<String>, ConfigError> {
        (self.0)(setting.name)
    }

    /// A file's path; set but empty is an error, as it is more likely a mistake than a choice.
    fn path(&self, setting: &Setting) -> Result<Option<PathBuf>, ConfigError> {
        match self.raw(setting)? {
            Some(path) if path.trim().is_empty() => Err(ConfigError {
                variable: setting.name,
                problem: "is set but empty; give the path of a file or unset it".into(),
            }),
            path => Ok(path.map(PathBuf::from)),
        }
    }

    /// The value, or the declared default.
    fn parse<T>(&self, setting: &Setting) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.raw(setting)? {
            None => Ok(setting.default_as()),
            Some(raw) => raw.trim().parse().map_err(|e| ConfigError {
                variable: setting.name,
                problem: format!("cannot use {raw:?}: {e}"),
            }),
        }
    }

    /// A whole number of at least 1, or the declared default.
    fn positive(&self, setting: &Setting) -> Result<usize, ConfigError> {
        self.positive_or(setting, || setting.default_as())
    }

    /// A whole number of at least 1, or `default()` (for a default worked out at start).
    fn positive_or(
        &self,
        setting: &Setting,
        default: impl FnOnce() -> usize,
    ) -> Result<usize, ConfigError> {
        match self.raw(setting)? {
            None => Ok(default()),
            Some(raw) => match raw.trim().parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(ConfigError {
                    variable: setting.name,
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
        assert_eq!(s.listen.address(), "127.0.0.1:8000");
        assert!(s.keys.secret_key.is_none() && s.keys.file.is_none());
        assert_eq!(s.input, InputLimits::default());
        assert!(s.listen.workers >= 1);
    }

    #[test]
    fn every_variable_read_is_declared_and_every_declared_one_is_read() {
        let read = std::cell::RefCell::new(Vec::new());
        Settings::from_lookup(|name| {
            read.borrow_mut().push(name);
            Ok(None)
        })
        .unwrap();
        let read = read.into_inner();
        for name in &read {
            let declared = SETTINGS.iter().find(|s| s.name == *name);
            assert!(
                // `telemetry` reads its standard OTEL_* variables (declared `read_elsewhere`)
                // through the same lookup in a build with `--features otel`.
                declared.is_some_and(|s| s.in_settings() || cfg!(feature = "otel")),
                "{name} is read but not declared in SETTINGS (src/config.rs)"
            );
        }
        for s in SETTINGS.iter().filter(|s| s.in_settings()) {
            assert_eq!(
                read.iter().filter(|n| **n == s.name).count(),
                1,
                "{} is declared but read {} times",
                s.name,
                read.iter().filter(|n| **n == s.name).count()
            );
        }
        let described: Vec<_> = settings(&[]).unwrap().describe();
        let shown: Vec<_> = SETTINGS
            .iter()
            .filter(|s| s.in_settings())
            .map(|s| s.name)
            .collect();
        assert_eq!(described.iter().map(|(n, _)| *n).collect::<Vec<_>>(), shown);
    }

    #[test]
    fn declared_defaults_are_the_defaults_in_force() {
        let described: HashMap<_, _> = settings(&[]).unwrap().describe().into_iter().collect();
        for s in SETTINGS.iter().filter(|s| s.in_settings()) {
            match s.default {
                Value(v) => assert_eq!(described[s.name], v, "{}", s.name),
                Unset(_) => assert!(described[s.name].starts_with('('), "{}", s.name),
                Computed(_) => {}
            }
            // A declared default, given explicitly, is accepted and changes nothing.
            if let Value(v) = s.default {
                let explicit: HashMap<_, _> = settings(&[(s.name, v)])
                    .unwrap()
                    .describe()
                    .into_iter()
                    .collect();
                assert_eq!(explicit, described, "{}={v}", s.name);
            }
        }
    }

    #[test]
    fn names_are_unique_and_help_is_one_line() {
        let mut names: Vec<_> = SETTINGS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SETTINGS.len());
        for s in SETTINGS {
            assert!(!s.help.contains('\n') && !s.help.is_empty(), "{}", s.name);
        }
        let table = markdown_table();
        // One row per setting, under one heading per section.
        let rows = table.lines().filter(|l| l.starts_with("| `")).count();
        assert_eq!(rows, SETTINGS.len());
        let headings = table.lines().filter(|l| l.starts_with("### ")).count();
        assert_eq!(
            headings,
            by_section()
                .windows(2)
                .filter(|w| w[0].section != w[1].section)
                .count()
                + 1
        );
        assert!(env_example().contains(&format!(
            "\nAPI_SECRET_KEY={}\n",
            crate::auth::PLACEHOLDER_KEY
        )));
    }

    #[test]
    fn a_configured_key_is_trimmed_and_used() {
        let s = settings(&[("API_SECRET_KEY", "  0123456789abcdef  ")]).unwrap();
        assert_eq!(s.keys.secret_key.unwrap().expose(), "0123456789abcdef");
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
        assert_eq!((s.models.names, s.models.default.as_str()), (None, "vader"));
        let s = settings(&[("MODELS", " vader, tfidf "), ("DEFAULT_MODEL", "tfidf")]).unwrap();
        assert_eq!(s.models.names.unwrap(), ["vader", "tfidf"]);
        assert_eq!(s.models.default, "tfidf");
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
        assert!(settings(&[]).unwrap().tls.files.is_none());
        let both = settings(&[("TLS_CERT_FILE", "c.pem"), ("TLS_KEY_FILE", "k.pem")]).unwrap();
        assert_eq!(
            both.tls.files,
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
        assert_eq!(settings(&[]).unwrap().tls.hsts_max_age, None);
        let on = settings(&[("HSTS_MAX_AGE", "31536000")]).unwrap();
        assert_eq!(on.tls.hsts_max_age, Some(31_536_000));
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        let s = settings(&[("HOST", "::1"), ("PORT", "0")]).unwrap();
        assert_eq!(s.listen.address(), "[::1]:0");
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
