//! Starting the real server (in process on port 0, or the real binary) and talking HTTP to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, Response};
use sentiment_api::auth::{KeyEntry, KeySource, Secret};
use sentiment_api::config::Settings;
use sentiment_api::model::{SentimentModel, Vader};
use sentiment_api::startup::{run, Listener};
use sentiment_api::tls::CertificateStore;
use serde_json::Value;

/// The key every in-process test server accepts.
pub const TEST_KEY: &str = "test-key-0123456789abcdef";

/// A server started in this process on 127.0.0.1:0.
pub struct TestApp {
    pub address: String,
    pub client: Client,
}

/// Settings for an in-process test server, and the keys it serves.
pub struct TestSettings {
    settings: Settings,
    keys: Vec<KeyEntry>,
}

impl Deref for TestSettings {
    type Target = Settings;

    fn deref(&self) -> &Settings {
        &self.settings
    }
}

impl DerefMut for TestSettings {
    fn deref_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }
}

/// Settings for tests: the test key (id `default`), two workers, defaults elsewhere, and nothing
/// read from the environment.
pub fn test_settings() -> TestSettings {
    let mut settings = Settings::from_lookup(|_| Ok(None)).expect("test settings");
    settings.host = "127.0.0.1".into();
    settings.port = 0;
    settings.workers = 2;
    TestSettings {
        settings,
        keys: vec![KeyEntry::from_secret("default", &Secret::new(TEST_KEY))],
    }
}

/// Test settings serving the given `(id, key)` pairs instead of the test key.
pub fn settings_with_keys(keys: &[(&str, &str)]) -> TestSettings {
    let mut settings = test_settings();
    settings.keys = keys
        .iter()
        .map(|(id, key)| KeyEntry::from_secret(*id, &Secret::new(*key)))
        .collect();
    settings
}

/// Test settings whose key gets `limit` units a minute, all of them available at once.
pub fn settings_with_limit(limit: u32) -> TestSettings {
    let mut settings = test_settings();
    settings.rate_limit.limit = limit;
    settings.rate_limit.burst = limit;
    settings
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

/// Starts a server in this process: HTTPS when `settings.tls` names certificate files (the
/// address is then `https://`, and the caller brings a client that trusts them).
pub async fn spawn_app_with(settings: TestSettings, model: Arc<dyn SentimentModel>) -> TestApp {
    install_crypto_provider();
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let local = tcp.local_addr().unwrap();
    let (address, listener) = match settings.tls.clone() {
        Some(files) => {
            let certificates = CertificateStore::load(files).expect("test certificate loads");
            (
                format!("https://{local}"),
                Listener::https(tcp, certificates),
            )
        }
        None => (format!("http://{local}"), Listener::from(tcp)),
    };
    let keys = KeySource::fixed(settings.keys)
        .into_keys()
        .expect("test keys load");
    let server = run(listener, settings.settings, keys, model).expect("server starts");
    actix_rt::spawn(server);
    TestApp {
        address,
        client: Client::new(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// `GET path` with a key.
    pub async fn get_with_key(&self, path: &str, key: &str) -> Response {
        self.client
            .get(self.url(path))
            .header("X-API-Key", key)
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /predict?text=...` with an optional key.
    pub async fn predict_query(&self, text: &str, key: Option<&str>) -> Response {
        let mut req = self
            .client
            .post(self.url("/predict"))
            .query(&[("text", text)]);
        if let Some(key) = key {
            req = req.header("X-API-Key", key);
        }
        req.send().await.expect("request sent")
    }

    /// `POST /predict` with a JSON body and an optional key.
    pub async fn predict_json(&self, body: &Value, key: Option<&str>) -> Response {
        let mut req = self.client.post(self.url("/predict")).json(body);
        if let Some(key) = key {
            req = req.header("X-API-Key", key);
        }
        req.send().await.expect("request sent")
    }
}

/// The status and JSON body of a response.
pub async fn status_and_json(res: Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("body read");
    let json =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text:?}"));
    (status, json)
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

fn raw_request_blocking(host: &str, request: &[u8]) -> String {
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

fn binary(dir: &PathBuf, envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sentiment-api"));
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

/// Starts the binary with stdout and stderr piped to the test.
fn spawn_piped(dir: &PathBuf, envs: &[(&str, &str)]) -> Child {
    binary(dir, envs)
        .stdin(Stdio::null())
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
}

fn drain(stream: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            into.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
}

impl RunningBinary {
    /// Starts the binary in `dir` with `envs` and waits for its "listening on" log line.
    pub fn start_in(dir: &PathBuf, envs: &[(&str, &str)]) -> RunningBinary {
        install_crypto_provider();
        let mut child = spawn_piped(dir, envs);
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        drain(child.stdout.take().unwrap(), stdout.clone());
        drain(child.stderr.take().unwrap(), stderr.clone());
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
        let ok = Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -HUP failed");
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// What the binary has written to stderr (its log) so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Stops the binary and returns everything it wrote to stderr (its log).
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Give the drain threads a moment to take in the last lines.
        std::thread::sleep(Duration::from_millis(100));
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
    install_crypto_provider();
    let mut child = spawn_piped(dir, envs);
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
