//! Starting the real server (in process on port 0, or the real binary) and talking HTTP to it.

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reqwest::{Client, Response};
use sentiment_api::config::Settings;
use sentiment_api::model::{Models, SentimentModel, Vader};
use sentiment_api::testing::{TestKey, TestServer, TestServerBuilder};
use serde_json::Value;

/// The key every in-process test server accepts.
pub const TEST_KEY: &str = "test-key-0123456789abcdef";

/// A server and a client to talk to it: a [`TestServer`] started in this process (stopped when
/// this is dropped), or the real binary ([`RunningBinary::app`]).
pub struct TestApp {
    pub address: String,
    pub client: Client,
    /// The in-process server, if this is one.
    pub server: Option<TestServer>,
}

/// How an in-process test server is to be started: a [`TestServerBuilder`] whose settings read
/// and write as `Settings`.
pub struct TestSettings(TestServerBuilder);

impl Deref for TestSettings {
    type Target = Settings;

    fn deref(&self) -> &Settings {
        self.0.settings()
    }
}

impl DerefMut for TestSettings {
    fn deref_mut(&mut self) -> &mut Settings {
        self.0.settings_mut()
    }
}

impl TestSettings {
    /// A quota shared by every key of `owner` (`[owners.<owner>] quota = {...}`).
    pub fn owner_quota(&mut self, owner: &str, per_day: Option<u64>, per_month: Option<u64>) {
        self.0.add_owner_quota(owner, per_day, per_month);
    }
}

/// Settings for tests: the test key (id `default`), two workers, defaults elsewhere, and nothing
/// read from the environment.
pub fn test_settings() -> TestSettings {
    TestSettings(TestServer::builder().default_key(TEST_KEY))
}

/// Test settings serving the given `(id, key)` pairs instead of the test key (the server's own
/// key, id `default`, is then one nobody knows).
pub fn settings_with_keys(keys: &[(&str, &str)]) -> TestSettings {
    settings_with_test_keys(
        keys.iter()
            .map(|(id, key)| TestKey::new(*id).secret(*key))
            .collect(),
    )
}

/// Test settings serving exactly `keys` (with their own limits, scopes or expiry).
pub fn settings_with_test_keys(keys: Vec<TestKey>) -> TestSettings {
    TestSettings(
        keys.into_iter()
            .fold(TestServer::builder(), TestServerBuilder::key),
    )
}

/// Test settings whose key gets `limit` units a minute, all of them available at once.
pub fn settings_with_limit(limit: u32) -> TestSettings {
    TestSettings(test_settings().0.rate_limit(limit, limit))
}

/// A response's `Retry-After`, in seconds.
pub fn retry_after(res: &Response) -> u64 {
    let value = res.headers()["retry-after"].to_str().expect("ASCII header");
    value
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After is not whole seconds: {value:?}"))
}

/// The `r` (units remaining) of a response's `RateLimit` header.
pub fn remaining(res: &Response) -> u32 {
    let value = res.headers()["ratelimit"].to_str().expect("ASCII header");
    value
        .split(';')
        .find_map(|part| part.strip_prefix("r="))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no r= in {value:?}"))
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_settings(), Arc::new(Vader::new())).await
}

/// Makes rustls' `ring` provider the process default, once: the test client (reqwest without a
/// provider of its own, so that only `ring` is built) needs one before any `Client` is built.
/// Every helper that starts a server calls it.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Starts a server in this process: HTTPS when `settings.tls.files` names certificate files (the
/// address is then `https://`, and the caller brings a client that trusts them).
pub async fn spawn_app_with(settings: TestSettings, model: Arc<dyn SentimentModel>) -> TestApp {
    spawn_app_with_models(settings, Models::single(model)).await
}

/// A server offering several models; HTTPS when `settings.tls.files` names certificate files.
pub async fn spawn_app_with_models(settings: TestSettings, models: Models) -> TestApp {
    let server = settings
        .0
        .models(models)
        .start()
        .await
        .expect("test server starts");
    TestApp::of(server)
}

impl TestApp {
    /// The request helpers, for a server started with [`TestServer`]'s own builder.
    pub fn of(server: TestServer) -> TestApp {
        install_crypto_provider();
        TestApp {
            address: server.url().to_owned(),
            client: Client::new(),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// `method path` with no body, and the key if there is one.
    pub async fn request(&self, method: &str, path: &str, key: Option<&str>) -> Response {
        let method = method.parse().expect("an HTTP method");
        send(self.client.request(method, self.url(path)), key).await
    }

    /// `GET path`, with the key if there is one.
    pub async fn get(&self, path: &str, key: Option<&str>) -> Response {
        self.request("GET", path, key).await
    }

    /// `POST path` with `body` as JSON, and the key if there is one.
    pub async fn post_json(&self, path: &str, body: &Value, key: Option<&str>) -> Response {
        send(self.client.post(self.url(path)).json(body), key).await
    }

    /// `POST path` with `body` as it is, under `content_type` if there is one, and the key if
    /// there is one: for bodies that are not JSON, or not what a JSON encoder would write.
    pub async fn post_bytes(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
        key: Option<&str>,
    ) -> Response {
        let mut req = self.client.post(self.url(path)).body(body);
        if let Some(content_type) = content_type {
            req = req.header("Content-Type", content_type);
        }
        send(req, key).await
    }

    /// `POST /predict?text=...` (the text URL-encoded), with the key if there is one.
    pub async fn predict_query(&self, text: &str, key: Option<&str>) -> Response {
        let req = self
            .client
            .post(self.url("/predict"))
            .query(&[("text", text)]);
        send(req, key).await
    }
}

/// Sends `req` with the key in `X-API-Key` if there is one.
async fn send(mut req: reqwest::RequestBuilder, key: Option<&str>) -> Response {
    if let Some(key) = key {
        req = req.header("X-API-Key", key);
    }
    req.send().await.expect("request sent")
}

/// Calls `attempt` every 20 ms until it gives a value; panics, saying what never happened, once
/// `timeout` has passed without one.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen in {timeout:?}"
        );
        actix_rt::time::sleep(POLL_INTERVAL).await;
    }
}

/// [`eventually`] for code that blocks (a test with no runtime, or waiting on another process).
pub fn wait_until<T>(what: &str, timeout: Duration, mut attempt: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen in {timeout:?}"
        );
        std::thread::sleep(POLL_INTERVAL);
    }
}

const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The status and JSON body of a response.
pub async fn status_and_json(res: Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("body read");
    let json =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text:?}"));
    (status, json)
}

/// The status and body of an error answer as FastAPI writes it: `{"detail": "..."}`, nothing more.
pub fn error_json(status: u16, detail: &str) -> (u16, Value) {
    (status, serde_json::json!({ "detail": detail }))
}

/// Sends raw bytes and returns the raw response (for what a client library will not send).
///
/// Blocking I/O runs off the test's runtime, which must stay free to drive the server.
pub async fn raw_request(address: &str, request: &[u8]) -> String {
    let host = address.trim_start_matches("http://").to_owned();
    let request = request.to_vec();
    actix_rt::task::spawn_blocking(move || raw_request_blocking(&host, &request))
        .await
        .expect("raw request thread")
}

/// [`raw_request`] for code that blocks; `host` is `address:port`, with no scheme.
pub fn raw_request_blocking(host: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).expect("write");
    let mut out = Vec::new();
    // The server may close once it has answered; what was read until then is the answer.
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The configuration variables the binary reads; removed from a child's environment so that
/// the developer's own settings never leak into a test.
const CONFIG_VARS: &[&str] = &[
    "QUOTA_OWNER_METRICS",
    "API_SECRET_KEY",
    "API_KEYS_FILE",
    "API_KEYS_POLL_SECONDS",
    "HOST",
    "PORT",
    "WORKERS",
    "RATE_LIMIT_PER_MINUTE",
    "RATE_LIMIT_BURST",
    "AUTH_FAILURES_PER_MINUTE",
    "TRUSTED_PROXIES",
    "MAX_CONCURRENT_REQUESTS",
    "INFERENCE_TIMEOUT_MS",
    "MAX_PENDING_JOBS",
    "MAX_STORED_JOBS",
    "MAX_JOB_STORE_BYTES",
    "JOB_TTL_SECONDS",
    "SHUTDOWN_TIMEOUT_SECONDS",
    "MAX_TEXT_CHARS",
    "MAX_BATCH_SIZE",
    "MAX_BODY_BYTES",
    "RUST_LOG",
    "MODELS",
    "DEFAULT_MODEL",
    "MODEL_DIR",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "HSTS_MAX_AGE",
];

/// Writes the way an operator's tooling should: a new file renamed over the old, so that a
/// reader never sees half a file.
pub fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// In the output of `keys usage`, the line of one quota (`<kind> <name> <period> <used> of
/// <limit> ...`) as `"<used> of <limit>"`; `None` without one.
pub fn usage_line(text: &str, kind: &str, name: &str, period: &str) -> Option<String> {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().take(3).eq([kind, name, period]))?;
    Some(
        line.split_whitespace()
            .skip(3)
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// A fresh empty directory, so a child never reads a developer's `.env`.
pub fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "sentiment-api-test-{name}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn binary(dir: &PathBuf, envs: &[(&str, &str)]) -> Command {
    binary_at(Path::new(env!("CARGO_BIN_EXE_sentiment-api")), dir, envs)
}

/// As `binary`, from a copy of it at `program`.
pub fn binary_at(program: &Path, dir: &PathBuf, envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir);
    for var in CONFIG_VARS {
        cmd.env_remove(var);
    }
    cmd.env("PORT", "0").env("WORKERS", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

/// Starts `cmd` with stdout and stderr piped to the test.
fn spawn_piped(mut cmd: Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts")
}

/// The real binary, running; killed on drop.
pub struct RunningBinary {
    child: Child,
    pub address: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// The threads copying stdout and stderr; they end when the binary does.
    drains: Vec<JoinHandle<()>>,
}

fn drain(stream: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            into.lock().unwrap().push_str(&line);
            line.clear();
        }
    })
}

impl RunningBinary {
    /// Starts the binary in `dir` with `envs` and waits for its "listening on" log line.
    pub fn start_in(dir: &PathBuf, envs: &[(&str, &str)]) -> RunningBinary {
        Self::spawn(binary(dir, envs))
    }

    /// Starts `cmd` (made by `binary` or `binary_at`) and waits for its "listening on" log line.
    pub fn spawn(cmd: Command) -> RunningBinary {
        install_crypto_provider();
        let mut child = spawn_piped(cmd);
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let drains = vec![
            drain(child.stdout.take().unwrap(), stdout.clone()),
            drain(child.stderr.take().unwrap(), stderr.clone()),
        ];
        let deadline = Instant::now() + Duration::from_secs(30);
        let address = loop {
            if let Some(addr) = stderr
                .lock()
                .unwrap()
                .lines()
                .find_map(|l| l.split("listening on ").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
            {
                break addr.split("://").last().unwrap_or(addr).to_owned();
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "binary exited early with {status}: {}",
                    stderr.lock().unwrap()
                );
            }
            assert!(Instant::now() < deadline, "binary did not start in time");
            std::thread::sleep(Duration::from_millis(20));
        };
        RunningBinary {
            child,
            address,
            stdout,
            stderr,
            drains,
        }
    }

    pub fn start(envs: &[(&str, &str)]) -> RunningBinary {
        Self::start_in(&temp_dir("bin"), envs)
    }

    /// The exit status, if the binary has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the binary `SIGHUP` (reload the keys file and the TLS files).
    pub fn hangup(&self) {
        self.signal("-HUP");
    }

    /// Sends the binary a signal, named as `kill` names it (`-TERM`).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([name, &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {name} failed");
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// What the binary has written to stderr (its log) so far; it keeps running.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until the log holds a line containing `needle`; returns that line.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for_nth_log(needle, 1, timeout)
    }

    /// Waits until the log holds `n` lines containing `needle`; returns the `n`th of them.
    ///
    /// It blocks: the binary runs in its own process, so nothing in the test needs driving.
    pub fn wait_for_nth_log(&self, needle: &str, n: usize, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.stderr();
            if let Some(line) = log.lines().filter(|l| l.contains(needle)).nth(n - 1) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no log line {n} with {needle:?} in {timeout:?}; the log:\n{log}"
            );
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// A client for the binary, with the same request helpers as an in-process server.
    pub fn app(&self) -> TestApp {
        TestApp {
            address: format!("http://{}", self.address),
            client: Client::new(),
            server: None,
        }
    }

    /// Stops the binary and returns everything it wrote to stderr (its log).
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The drain threads end at end of file: once they have, every last line is in.
        for drain in std::mem::take(&mut self.drains) {
            drain.join().expect("drain thread");
        }
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for RunningBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary expecting it to refuse to start; returns its exit status and stderr.
pub fn run_binary_to_exit(dir: &PathBuf, envs: &[(&str, &str)]) -> (ExitStatus, String) {
    run_to_exit(binary(dir, envs))
}

/// Runs `cmd` (made by `binary` or `binary_at`) expecting it to refuse to start; returns its exit
/// status and stderr.
pub fn run_to_exit(cmd: Command) -> (ExitStatus, String) {
    install_crypto_provider();
    let mut child = spawn_piped(cmd);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("binary did not exit: it was expected to refuse to start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the binary expecting it to refuse to start with one line naming `variable`; returns
/// that line.
pub fn assert_refuses(envs: &[(&str, &str)], variable: &str) -> String {
    let (status, stderr) = run_binary_to_exit(&temp_dir("refuse"), envs);
    assert!(!status.success(), "{envs:?} started");
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got {stderr:?}");
    assert!(
        lines[0].contains(variable),
        "{:?} does not name {variable}",
        lines[0]
    );
    lines[0].to_owned()
}

/// Settings for [`assert_key_before_input`]: two failed keys per window, bodies of 1 KiB at most.
pub fn key_before_input(settings: &mut TestSettings) {
    settings.limits.auth_failures_per_window = 2;
    settings.input.max_body_bytes = 1024;
}

/// The contract's order (routing → key → rate limit → input), on a server set up by
/// [`key_before_input`]: a wrong key is answered 403 whatever the body's type or size, and each is
/// counted as a failed key (the third is throttled).
pub async fn assert_key_before_input(app: &TestApp, wrong: &str) {
    let plain = app
        .post_bytes("/predict", Some("text/plain"), "good", Some(wrong))
        .await;
    assert_eq!(
        status_and_json(plain).await,
        error_json(403, "Invalid API key")
    );
    let oversized = app
        .post_bytes(
            "/predict/batch",
            Some("application/json"),
            vec![b' '; 4096],
            Some(wrong),
        )
        .await;
    assert_eq!(
        status_and_json(oversized).await,
        error_json(403, "Invalid API key")
    );
    let third = app.predict_query("good", Some(wrong)).await;
    assert_eq!(
        third.status(),
        429,
        "both refusals were counted as failed keys"
    );
}
