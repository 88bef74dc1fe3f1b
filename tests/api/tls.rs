//! HTTPS: `/predict` over HTTP/1.1 and HTTP/2, the same refusals as plain HTTP, HSTS, a certificate
//! reload that reaches new connections only, a broken reload that changes nothing, and a refused
//! start for every bad file. Certificates come from a throwaway CA made with rcgen.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use reqwest::{Client, Response, Version};
use rustls::pki_types::CertificateDer;
use sentiment_api::model::Vader;
use sentiment_api::tls::TlsFiles;

use crate::helpers::{
    assert_refuses, spawn_app, spawn_app_with, temp_dir, test_settings, write_atomically,
    RunningBinary, TestApp, TEST_KEY,
};
use crate::keys::{entry, keys_file};

/// A throwaway certificate authority.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert: CertificateDer<'static>,
}

/// A server certificate for 127.0.0.1 and localhost, and its key.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
    not_after: i64,
}

impl Ca {
    fn new() -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sentiment-api test CA");
        let cert = params.self_signed(&key).unwrap().der().clone();
        Ca {
            issuer: Issuer::new(params, key),
            cert,
        }
    }

    /// A leaf valid from `from` to `until` days from now.
    fn issue_for_days(&self, from: i64, until: i64) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(from);
        params.not_after = now + time::Duration::days(until);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
            not_after: params.not_after.unix_timestamp(),
        }
    }

    fn issue(&self) -> Leaf {
        self.issue_for_days(-1, 90)
    }

    /// A client that trusts this CA only and offers `alpn` (in order) over TLS `versions`.
    fn client_with(
        &self,
        alpn: &[&str],
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Client::builder()
            .tls_backend_preconfigured(config)
            .tls_info(true)
            .build()
            .unwrap()
    }

    fn client(&self, alpn: &[&str]) -> Client {
        self.client_with(alpn, rustls::DEFAULT_VERSIONS)
    }
}

impl Leaf {
    /// The base64 lines of the key: what must never be shown.
    fn secret_lines(&self) -> Vec<&str> {
        self.key_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect()
    }
}

fn install(dir: &Path, cert_pem: &str, key_pem: &str) -> TlsFiles {
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    write_atomically(&files.cert, cert_pem);
    write_atomically(&files.key, key_pem);
    files
}

async fn spawn_https(files: TlsFiles, hsts_max_age: Option<u64>) -> TestApp {
    let mut settings = test_settings();
    settings.tls.files = Some(files);
    settings.tls.poll = Duration::from_millis(50);
    settings.tls.hsts_max_age = hsts_max_age;
    spawn_app_with(settings, Arc::new(Vader::new())).await
}

/// A fresh CA, and a server serving HTTPS with a certificate it issued.
async fn https_app(name: &str, hsts_max_age: Option<u64>) -> (Ca, TestApp) {
    let ca = Ca::new();
    let leaf = ca.issue();
    let files = install(&temp_dir(name), &leaf.cert_pem, &leaf.key_pem);
    (ca, spawn_https(files, hsts_max_age).await)
}

/// The DER of the certificate the server presented on the connection that carried `res`.
fn served_certificate(res: &Response) -> Vec<u8> {
    res.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("a TLS response carries the server's certificate")
        .to_vec()
}

async fn predict(client: &Client, base: &str, key: Option<&str>) -> Response {
    let mut req = client
        .post(format!("{base}/predict"))
        .query(&[("text", "I love it")]);
    if let Some(key) = key {
        req = req.header("X-API-Key", key);
    }
    req.send().await.expect("request sent")
}

#[actix_rt::test]
async fn predict_answers_over_http1_and_http2_and_over_tls_1_2_and_1_3() {
    let (ca, app) = https_app("tls-h2", None).await;
    assert!(app.address.starts_with("https://"));
    let cases = [
        (ca.client(&["http/1.1"]), Version::HTTP_11),
        (ca.client(&["h2"]), Version::HTTP_2),
        // A client offering both gets HTTP/2: the server prefers it.
        (ca.client(&["h2", "http/1.1"]), Version::HTTP_2),
        (
            ca.client_with(&["h2"], &[&rustls::version::TLS12]),
            Version::HTTP_2,
        ),
        (
            ca.client_with(&["http/1.1"], &[&rustls::version::TLS13]),
            Version::HTTP_11,
        ),
    ];
    for (client, version) in cases {
        let res = predict(&client, &app.address, Some(TEST_KEY)).await;
        assert_eq!(res.version(), version);
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("strict-transport-security").is_none());
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["sentiment"], "positive", "{body}");
        assert_eq!(body["score"], 0.6369, "{body}");
        let res = client
            .post(app.url("/predict"))
            .header("X-API-Key", TEST_KEY)
            .json(&serde_json::json!({"text": "I hate it"}))
            .send()
            .await
            .unwrap();
        assert_eq!((res.version(), res.status().as_u16()), (version, 200));
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap()["sentiment"],
            "negative"
        );
    }
}

/// What a client can see of an answer: status, the headers the contract names, and the body.
async fn answer(res: Response) -> (u16, Vec<Option<String>>, String) {
    let status = res.status().as_u16();
    let headers = [
        "www-authenticate",
        "allow",
        "content-type",
        "ratelimit-policy",
    ]
    .iter()
    .map(|h| {
        res.headers()
            .get(*h)
            .map(|v| v.to_str().unwrap().to_owned())
    })
    .collect();
    (status, headers, res.text().await.unwrap())
}

/// Requests that are refused, each in its own way (401, 403, 400, 422, 404, 405).
fn refused_requests(client: &Client, base: &str) -> Vec<reqwest::RequestBuilder> {
    let predict = format!("{base}/predict");
    vec![
        client.post(&predict).query(&[("text", "hi")]),
        client
            .post(&predict)
            .query(&[("text", "hi")])
            .header("X-API-Key", "not-a-valid-key-0123456789"),
        client
            .post(&predict)
            .query(&[("text", "hi")])
            .header("X-API-Key", TEST_KEY)
            .header("X-API-Key", TEST_KEY),
        client.post(&predict).header("X-API-Key", TEST_KEY),
        client
            .post(&predict)
            .header("X-API-Key", TEST_KEY)
            .header("Content-Type", "application/json")
            .body("{oops"),
        client.get(format!("{base}/nowhere")),
        client.get(&predict).header("X-API-Key", TEST_KEY),
    ]
}

#[actix_rt::test]
async fn refusals_get_the_same_answers_over_https_as_over_plain_http() {
    let (ca, https) = https_app("tls-refusals", None).await;
    let plain = spawn_app().await;
    let mut expected = Vec::new();
    for req in refused_requests(&Client::new(), &plain.address) {
        expected.push(answer(req.send().await.unwrap()).await);
    }
    let statuses: Vec<u16> = expected.iter().map(|a| a.0).collect();
    assert_eq!(statuses, [401, 403, 400, 422, 422, 404, 405]);
    for client in [ca.client(&["http/1.1"]), ca.client(&["h2"])] {
        let requests = refused_requests(&client, &https.address);
        for (req, expected) in requests.into_iter().zip(&expected) {
            let res = req.send().await.unwrap();
            let version = res.version();
            assert_eq!(&answer(res).await, expected, "{version:?}");
        }
    }
}

#[actix_rt::test]
async fn hsts_is_sent_over_https_when_configured_and_never_over_plain_http() {
    let (ca, https) = https_app("tls-hsts", Some(31_536_000)).await;
    let client = ca.client(&["h2"]);
    for res in [
        predict(&client, &https.address, Some(TEST_KEY)).await,
        predict(&client, &https.address, None).await,
        client.get(https.url("/nowhere")).send().await.unwrap(),
    ] {
        let status = res.status();
        assert_eq!(
            res.headers()["strict-transport-security"],
            "max-age=31536000",
            "{status}"
        );
    }
    let mut settings = test_settings();
    settings.tls.hsts_max_age = Some(31_536_000);
    let plain = spawn_app_with(settings, Arc::new(Vader::new())).await;
    let res = predict(&Client::new(), &plain.address, Some(TEST_KEY)).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("strict-transport-security").is_none());
}

/// The certificate expiry the metrics show, if they show one.
async fn expiry_metric(client: &Client, base: &str) -> Option<i64> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix("tls_certificate_expiry_timestamp_seconds "))?;
    Some(value.parse().expect("a whole number of seconds"))
}

#[actix_rt::test]
async fn a_renewed_certificate_reaches_new_connections_while_open_ones_keep_theirs() {
    let ca = Ca::new();
    let (old, new) = (ca.issue_for_days(-1, 30), ca.issue_for_days(-1, 90));
    let dir = temp_dir("tls-reload");
    let app = spawn_https(install(&dir, &old.cert_pem, &old.key_pem), None).await;
    // Two connections kept alive across the reload, one of each protocol.
    let open = [ca.client(&["http/1.1"]), ca.client(&["h2"])];
    for client in &open {
        let res = predict(client, &app.address, Some(TEST_KEY)).await;
        assert_eq!(served_certificate(&res), old.der);
    }
    assert_eq!(
        expiry_metric(&open[1], &app.address).await,
        Some(old.not_after)
    );

    install(&dir, &new.cert_pem, &new.key_pem);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // A new client is a new connection, so a new handshake.
        let res = predict(&ca.client(&["h2"]), &app.address, Some(TEST_KEY)).await;
        assert_eq!(res.status(), 200);
        if served_certificate(&res) == new.der {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served"
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    for client in &open {
        let res = predict(client, &app.address, Some(TEST_KEY)).await;
        assert_eq!(res.status(), 200);
        // Still the old certificate: the same connection, not cut by the reload.
        assert_eq!(served_certificate(&res), old.der, "{:?}", res.version());
    }
    let fresh = ca.client(&["http/1.1"]);
    assert_eq!(
        expiry_metric(&fresh, &app.address).await,
        Some(new.not_after)
    );
}

#[actix_rt::test]
async fn the_expiry_metric_exists_only_with_tls() {
    let plain = spawn_app().await;
    assert_eq!(expiry_metric(&Client::new(), &plain.address).await, None);
}

/// Waits for a line of the binary's log, written after its first `from` bytes, that holds every
/// one of `words`; returns it.
async fn wait_for_line(server: &RunningBinary, from: usize, words: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let log = server.stderr();
        if let Some(line) = log[from..]
            .lines()
            .find(|l| words.iter().all(|w| l.contains(w)))
        {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no line with {words:?} in: {log}"
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_rt::test]
async fn a_broken_reload_keeps_the_certificate_in_force_and_logs_why() {
    let ca = Ca::new();
    let (good, other, expired) = (ca.issue(), ca.issue(), ca.issue_for_days(-30, -1));
    let dir = temp_dir("tls-broken-reload");
    let files = install(&dir, &good.cert_pem, &good.key_pem);
    let (cert, key) = (files.cert.to_str().unwrap(), files.key.to_str().unwrap());
    // A keys file too: one SIGHUP must reach both reloaders.
    let keys = keys_file(&dir, &[entry("default", TEST_KEY, "")]);
    let server = RunningBinary::start_in(
        &dir,
        &[
            ("API_KEYS_FILE", keys.to_str().unwrap()),
            ("TLS_CERT_FILE", cert),
            ("TLS_KEY_FILE", key),
        ],
    );
    assert!(
        server.stderr().contains("listening on https://"),
        "{}",
        server.stderr()
    );
    let base = format!("https://{}", server.address);
    let served = |client: Client| {
        let base = base.clone();
        async move {
            let res = predict(&client, &base, Some(TEST_KEY)).await;
            assert_eq!(res.status(), 200);
            served_certificate(&res)
        }
    };
    assert_eq!(served(ca.client(&["h2"])).await, good.der);

    // Each broken pair, installed and signalled: refused, logged, and the good one still served.
    let broken = [
        (&other.cert_pem, &good.key_pem, "does not match"),
        (&expired.cert_pem, &expired.key_pem, "expired"),
        (
            &"not a certificate".to_owned(),
            &good.key_pem,
            "no PEM certificate",
        ),
        (
            &good.cert_pem,
            &"not a key".to_owned(),
            "no PEM private key",
        ),
    ];
    let rejected = ["TLS certificate rejected", "keeping the one in force"];
    for (cert_pem, key_pem, why) in broken {
        let from = server.stderr().len();
        install(&dir, cert_pem, key_pem);
        server.hangup();
        wait_for_line(&server, from, &[&rejected[..], &[why]].concat()).await;
        assert_eq!(served(ca.client(&["h2"])).await, good.der, "after {why}");
    }

    // A good pair after all that is taken; and the one signal reached the keys file's reloader too.
    let from = server.stderr().len();
    install(&dir, &other.cert_pem, &other.key_pem);
    server.hangup();
    wait_for_line(&server, from, &["TLS certificate reloaded", "(SIGHUP)"]).await;
    wait_for_line(&server, from, &["keys reloaded", "(SIGHUP)"]).await;
    assert_eq!(served(ca.client(&["http/1.1"])).await, other.der);
    let log = server.stop();
    for leaf in [&good, &other, &expired] {
        for secret in leaf.secret_lines() {
            assert!(!log.contains(secret), "key material in the log: {log}");
        }
    }
}

#[test]
fn every_bad_file_stops_the_start_with_one_line_naming_the_variable() {
    let ca = Ca::new();
    let (good, other, expired) = (ca.issue(), ca.issue(), ca.issue_for_days(-30, -1));
    let dir = temp_dir("tls-refusals");
    let write = |name: &str, content: &str| {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let cert = write("cert.pem", &good.cert_pem);
    let key = write("key.pem", &good.key_pem);
    let other_key = write("other-key.pem", &other.key_pem);
    let expired_cert = write("expired.pem", &expired.cert_pem);
    let expired_key = write("expired-key.pem", &expired.key_pem);
    let garbage = write("garbage.pem", "-----BEGIN CERTIFICATE-----\n%%%%\n");
    let missing = dir.join("missing.pem").to_str().unwrap().to_owned();
    let (c, k) = ("TLS_CERT_FILE", "TLS_KEY_FILE");
    // TLS_CERT_FILE and TLS_KEY_FILE (empty: unset), the variable the refusal must name, and
    // words it must hold.
    let cases = [
        (&missing, &key, c, "cannot be read"),
        (&cert, &missing, k, "cannot be read"),
        (&garbage, &key, c, "PEM"),
        (&cert, &garbage, k, "PEM"),
        (&key, &key, c, "no PEM certificate"),
        (&cert, &cert, k, "no PEM private key"),
        (&cert, &other_key, k, "does not match"),
        (&expired_cert, &expired_key, c, "expired"),
        (&cert, &String::new(), k, "is not set"),
        (&String::new(), &key, c, "is not set"),
    ];
    for (cert, key, variable, why) in cases {
        let envs: Vec<_> = [(c, cert), (k, key)]
            .into_iter()
            .filter(|(_, path)| !path.is_empty())
            .map(|(var, path)| (var, path.as_str()))
            .collect();
        let line = assert_refuses(&envs, variable);
        assert!(line.contains(why), "{why:?} not in {line:?}");
        for secret in good.secret_lines().into_iter().chain(other.secret_lines()) {
            assert!(!line.contains(secret), "key material shown: {line}");
        }
    }
}

#[actix_rt::test]
async fn plain_http_beyond_loopback_is_warned_about_unless_only_a_proxy_can_reach_it() {
    let warned = |envs: &[(&str, &str)]| {
        let log = RunningBinary::start(envs).stop();
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("INSECURE"))
    };
    assert!(warned(&[("HOST", "0.0.0.0")]));
    // A trusted proxy does not make every interface private: keys still cross the network.
    assert!(warned(&[
        ("HOST", "0.0.0.0"),
        ("TRUSTED_PROXIES", "127.0.0.1")
    ]));
    assert!(!warned(&[
        ("HOST", "127.0.0.1"),
        ("TRUSTED_PROXIES", "127.0.0.1")
    ]));
    assert!(!warned(&[("HOST", "127.0.0.1")]));
    let ca = Ca::new();
    let leaf = ca.issue();
    let files = install(&temp_dir("tls-no-warning"), &leaf.cert_pem, &leaf.key_pem);
    assert!(!warned(&[
        ("HOST", "0.0.0.0"),
        ("TLS_CERT_FILE", files.cert.to_str().unwrap()),
        ("TLS_KEY_FILE", files.key.to_str().unwrap()),
    ]));
}
