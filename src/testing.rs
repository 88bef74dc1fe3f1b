//! An in-process test server for integration test suites (cargo feature `testing`).
//!
//! [`TestServer::start`] runs the real server — the one the binary runs, started by
//! [`Application::build_with`](crate::application::Application::build_with) — on `127.0.0.1` and a port the OS chooses, and hands
//! back its base URL and a key generated for it. Nothing is read from the environment or a
//! `.env` file: two servers in one test binary never share settings, so tests can run in
//! parallel and in any order. The server runs on a thread of its own (its own actix system), so
//! any async runtime can talk to it, and it stops gracefully when the [`TestServer`] is dropped.
//!
//! ```
//! # #[actix_rt::main] async fn main() -> std::io::Result<()> {
//! use sentiment_api::testing::TestServer;
//!
//! let server = TestServer::start().await?;
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! assert!(server.key().starts_with("sk_"));
//! # Ok(()) }
//! ```
//!
//! What tests vary is set on a [`TestServerBuilder`]: named keys (with expiry and scopes), the
//! rate limit (or none), input limits, the model and the job TTL; anything else through
//! [`TestServerBuilder::configure`].
//!
//! ```
//! # #[actix_rt::main] async fn main() -> std::io::Result<()> {
//! use std::time::Duration;
//! use sentiment_api::paths::Scope;
//! use sentiment_api::testing::{TestKey, TestServer};
//!
//! let server = TestServer::builder()
//!     .key(TestKey::new("reader").scopes([Scope::Predict]))
//!     .rate_limit(2, 2)
//!     .max_batch_size(8)
//!     .job_ttl(Duration::from_secs(5))
//!     .start()
//!     .await?;
//! let reader_key = server.key_of("reader").expect("a key named reader");
//! assert_ne!(reader_key, server.key());
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use actix_web::dev::ServerHandle;
use time::OffsetDateTime;

use crate::application::{Application, Parts};
use crate::auth::{generate_key, KeyEntry, KeySource, Secret};
use crate::clock::{SharedWallClock, WallClock};
use crate::config::{InputLimits, Settings};
use crate::model::{Models, SentimentModel};
use crate::paths::Scope;
use crate::quota::Quota;

/// The real server, running in this process on `127.0.0.1`; stops gracefully when dropped.
pub struct TestServer {
    url: String,
    key: Secret,
    named: BTreeMap<String, Secret>,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

/// A key a [`TestServer`] serves besides its own: an id, and optionally a fixed secret, an
/// expiry, scopes, a rate limit of its own, an owner.
#[derive(Debug, Clone)]
pub struct TestKey {
    id: String,
    secret: Option<Secret>,
    expires_at: Option<OffsetDateTime>,
    scopes: Option<Vec<Scope>>,
    rate_limit: Option<(u32, u32)>,
    owner: Option<String>,
    enabled: bool,
    quota: Option<Quota>,
}

/// Sets up a [`TestServer`]; from [`TestServer::builder`].
pub struct TestServerBuilder {
    settings: Settings,
    key: Option<Secret>,
    keys: Vec<TestKey>,
    models: Option<Models>,
    owner_quotas: Vec<(String, Quota)>,
}

impl TestServer {
    /// Starts a server with the defaults: one generated key (id `default`, [`TestServer::key`]),
    /// the binary's default settings and models, two workers.
    pub async fn start() -> std::io::Result<TestServer> {
        Self::builder().start().await
    }

    /// A builder, to set keys, limits, the model and anything else before starting.
    pub fn builder() -> TestServerBuilder {
        let mut settings = Settings::from_lookup(|_| Ok(None))
            .expect("the default settings are valid: no variable is read");
        settings.listen.host = "127.0.0.1".into();
        settings.listen.port = 0;
        settings.listen.workers = 2;
        TestServerBuilder {
            settings,
            key: None,
            keys: Vec::new(),
            models: None,
            owner_quotas: Vec::new(),
        }
    }

    /// The base URL, such as `http://127.0.0.1:40123` (`https://` when TLS files are configured),
    /// with no trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of `path` (which starts with `/`) on this server.
    pub fn url_for(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The server's own key (id `default`), to send as `X-API-Key`.
    pub fn key(&self) -> &str {
        self.key.expose()
    }

    /// The key added as `id` with [`TestServerBuilder::key`], if there is one.
    pub fn key_of(&self, id: &str) -> Option<&str> {
        self.named.get(id).map(Secret::expose)
    }

    /// Stops the server gracefully (no new connections; requests in flight finish) and waits
    /// until it has stopped. Dropping the server stops it too, without waiting.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(thread) = self.thread.take() {
            // The server has stopped: the thread is only returning from its actix system.
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            // The command is sent at once; the future only waits for its completion.
            drop(self.handle.stop(true));
        }
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("url", &self.url)
            .field("keys", &self.named.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl TestKey {
    /// A key with id `id` and a secret generated for it (read it with [`TestServer::key_of`]);
    /// every scope, no expiry, the server's rate limit.
    pub fn new(id: impl Into<String>) -> Self {
        TestKey {
            id: id.into(),
            secret: None,
            expires_at: None,
            scopes: None,
            rate_limit: None,
            owner: None,
            enabled: true,
            quota: None,
        }
    }

    /// A day and month quota of the key's own (as `quota = { per_day, per_month }` in the keys
    /// file); `None` leaves that period unbounded.
    pub fn quota(mut self, per_day: Option<u64>, per_month: Option<u64>) -> Self {
        self.quota = Some(Quota { per_day, per_month });
        self
    }

    /// Serves this exact secret instead of a generated one.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(Secret::new(secret));
        self
    }

    /// The key is refused (403) from `at` on; a time in the past gives an expired key.
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(OffsetDateTime::from(at));
        self
    }

    /// The route groups the key may use; others answer 403 `Not enough permissions`.
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.scopes = Some(scopes.into_iter().collect());
        self
    }

    /// A rate limit of the key's own: `limit` units a minute, `burst` of them at once.
    pub fn rate_limit(mut self, limit: u32, burst: u32) -> Self {
        self.rate_limit = Some((limit, burst));
        self
    }

    /// Who holds the key (shown by `GET /me`).
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// The key is on file but disabled: refused as an invalid key.
    pub fn disabled(mut self) -> Self {
        self.enabled = false;
        self
    }

    /// The key's entry in the key store, and its secret (generated unless one was given).
    fn into_entry(self) -> std::io::Result<(KeyEntry, Secret)> {
        let secret = match self.secret {
            Some(secret) => secret,
            None => generate_key()?,
        };
        let entry = KeyEntry {
            enabled: self.enabled,
            expires_at: self.expires_at,
            owner: self.owner,
            rate_limit_per_minute: self.rate_limit.map(|(limit, _)| limit),
            rate_limit_burst: self.rate_limit.map(|(_, burst)| burst),
            scopes: self.scopes,
            quota: self.quota,
            ..KeyEntry::from_secret(self.id, &secret)
        };
        Ok((entry, secret))
    }
}

impl TestServerBuilder {
    /// Serves `key` as the server's own key (id `default`) instead of a generated one.
    pub fn default_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(Secret::new(key));
        self
    }

    /// Serves one more key.
    pub fn key(mut self, key: TestKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Every key gets `limit` units a minute, `burst` of them at once (unless the key has a
    /// limit of its own). `burst` above `limit` is lowered to `limit`, as the server requires.
    pub fn rate_limit(mut self, limit: u32, burst: u32) -> Self {
        self.settings.limits.rate_limit.limit = limit.max(1);
        self.settings.limits.rate_limit.burst = burst.clamp(1, limit.max(1));
        self
    }

    /// No practical rate limit: `u32::MAX` units a minute, for bulk tests. (The `RateLimit`
    /// headers still come, with that number.)
    pub fn no_rate_limit(self) -> Self {
        self.rate_limit(u32::MAX, u32::MAX)
    }

    /// All the input limits at once.
    pub fn input_limits(mut self, limits: InputLimits) -> Self {
        self.settings.input = limits;
        self
    }

    /// The longest text accepted, in characters (`MAX_TEXT_CHARS`).
    pub fn max_text_chars(mut self, chars: usize) -> Self {
        self.settings.input.max_text_chars = chars;
        self
    }

    /// The most texts in one batch (`MAX_BATCH_SIZE`).
    pub fn max_batch_size(mut self, texts: usize) -> Self {
        self.settings.input.max_batch_size = texts;
        self
    }

    /// The largest request body, in bytes (`MAX_BODY_BYTES`).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.settings.input.max_body_bytes = bytes;
        self
    }

    /// Serves only the compiled-in model called `name` (`vader`, `tfidf`), as the default.
    pub fn model(mut self, name: &str) -> Self {
        self.settings.models.names = Some(vec![name.to_owned()]);
        self.settings.models.default = name.to_owned();
        self.models = None;
        self
    }

    /// Serves one model of the caller's own, as the default.
    pub fn sentiment_model(self, model: Arc<dyn SentimentModel>) -> Self {
        self.models(Models::single(model))
    }

    /// Serves these models.
    pub fn models(mut self, models: Models) -> Self {
        self.models = Some(models);
        self
    }

    /// How long a finished job is kept (`JOB_TTL_SECONDS`).
    pub fn job_ttl(mut self, ttl: Duration) -> Self {
        self.settings.jobs.ttl = ttl;
        self
    }

    /// A quota shared by every key whose owner is `owner` (as `[owners.<owner>] quota = {...}`).
    pub fn owner_quota(
        mut self,
        owner: impl Into<String>,
        per_day: Option<u64>,
        per_month: Option<u64>,
    ) -> Self {
        self.add_owner_quota(owner, per_day, per_month);
        self
    }

    /// [`TestServerBuilder::owner_quota`], on a builder held by reference.
    pub fn add_owner_quota(
        &mut self,
        owner: impl Into<String>,
        per_day: Option<u64>,
        per_month: Option<u64>,
    ) -> &mut Self {
        self.owner_quotas
            .push((owner.into(), Quota { per_day, per_month }));
        self
    }

    /// Quotas count the days and months of `clock` instead of the system's (see
    /// [`ManualWallClock`](crate::clock::ManualWallClock)).
    pub fn wall_clock(mut self, clock: std::sync::Arc<dyn WallClock>) -> Self {
        self.settings.wall_clock = SharedWallClock(clock);
        self
    }

    /// Sets anything else on the settings, which start as the binary's defaults; they are grouped
    /// as the variables' sections are ([`Settings`]). `listen.host` and `listen.port` are ignored:
    /// the server always listens on `127.0.0.1`, on a free port.
    ///
    /// ```
    /// # #[actix_rt::main] async fn main() -> std::io::Result<()> {
    /// // Negative tests: many wrong keys from one address on purpose.
    /// let server = sentiment_api::testing::TestServer::builder()
    ///     .configure(|s| s.limits.auth_failures_per_window = 10_000)
    ///     .start()
    ///     .await?;
    /// # drop(server); Ok(()) }
    /// ```
    pub fn configure(mut self, edit: impl FnOnce(&mut Settings)) -> Self {
        edit(&mut self.settings);
        self
    }

    /// The settings as they stand.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The settings as they stand, to edit in place.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Starts the server and returns once it accepts connections. Fails, saying why, on a model
    /// that cannot be loaded, TLS files that cannot be used, two keys with the same id or secret,
    /// or no free port.
    pub async fn start(self) -> std::io::Result<TestServer> {
        let TestServerBuilder {
            settings,
            key,
            keys,
            models,
            owner_quotas,
        } = self;
        let invalid = |e: &dyn std::fmt::Display| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
        };
        let key = match key {
            Some(key) => key,
            None => generate_key()?,
        };
        let mut entries = vec![KeyEntry::from_secret("default", &key)];
        let mut named = BTreeMap::new();
        for test_key in keys {
            let (entry, secret) = test_key.into_entry()?;
            named.insert(entry.id.clone(), secret);
            entries.push(entry);
        }
        for (owner, quota) in owner_quotas {
            for entry in entries.iter_mut() {
                if entry.owner.as_deref() == Some(owner.as_str()) {
                    entry.owner_quota = Some(quota);
                }
            }
        }
        let keys = KeySource::fixed(entries)
            .into_keys()
            .map_err(|e| invalid(&e))?;
        // Whatever `configure` did, the test server listens on loopback, on a free port.
        let mut settings = settings;
        settings.listen.host = "127.0.0.1".into();
        settings.listen.port = 0;
        // The server gets an actix system of its own, on its own thread: the caller's runtime
        // (tokio's, actix's, single- or multi-threaded) need not be an actix one, nor be free.
        let (started, on_start) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("test-server".into())
            .spawn(move || {
                actix_rt::System::new().block_on(async move {
                    let parts = Parts {
                        keys: Some(keys),
                        models,
                    };
                    match Application::build_with(settings, parts) {
                        Ok(app) => {
                            let _ = started.send(Ok((app.url().to_owned(), app.handle())));
                            if let Err(e) = app.run_until_stopped().await {
                                log::error!("test server stopped with an error: {e}");
                            }
                        }
                        Err(e) => {
                            let _ = started.send(Err(std::io::Error::from(e)));
                        }
                    }
                });
            })?;
        let (url, handle) = on_start.await.map_err(|_| {
            std::io::Error::other("the test server's thread ended before starting")
        })??;
        Ok(TestServer {
            url,
            key,
            named,
            handle,
            thread: Some(thread),
        })
    }
}
