//! A certificate chain and its private key, read from PEM files and checked before they are used.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::InconsistentKeys;
use x509_cert::der::Decode;

use crate::reload::{self, Fingerprint};

/// The variable naming the certificate chain's file.
pub const CERT_FILE: &str = "TLS_CERT_FILE";
/// The variable naming the private key's file.
pub const KEY_FILE: &str = "TLS_KEY_FILE";

/// Where the certificate chain (PEM, the server's certificate first) and its private key (PEM:
/// PKCS#8, or PKCS#1 RSA, or SEC1 EC) are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `TLS_CERT_FILE`.
    pub cert: PathBuf,
    /// `TLS_KEY_FILE`.
    pub key: PathBuf,
}

impl TlsFiles {
    /// Both files, in the order their fingerprint is taken.
    pub fn paths(&self) -> Vec<PathBuf> {
        vec![self.cert.clone(), self.key.clone()]
    }
}

/// A chain or key that cannot be served. Its `Display` is one line naming the variable and the
/// file; it never quotes a file's content, so no key material reaches a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError {
    /// `TLS_CERT_FILE` or `TLS_KEY_FILE`: the one at fault.
    pub variable: &'static str,
    /// The file it names.
    pub path: PathBuf,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.variable,
            self.path.display(),
            self.problem
        )
    }
}

impl std::error::Error for TlsError {}

/// A chain and its key that passed every check: both parse, the key is the certificate's, and
/// the certificate has not expired.
#[derive(Debug)]
pub struct ServingCertificate {
    certified: Arc<CertifiedKey>,
    not_after: SystemTime,
    fingerprint: Fingerprint,
}

impl ServingCertificate {
    /// Reads and checks the files as they are now; `now` decides what has expired.
    pub fn load(
        files: &TlsFiles,
        provider: &CryptoProvider,
        now: SystemTime,
    ) -> Result<Self, TlsError> {
        let cert_pem = read(CERT_FILE, &files.cert)?;
        let key_pem = read(KEY_FILE, &files.key)?;
        let fault = |variable: &'static str| {
            let path = if variable == CERT_FILE {
                &files.cert
            } else {
                &files.key
            };
            move |problem: String| TlsError {
                variable,
                path: path.clone(),
                problem,
            }
        };
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_problem(&e, CERTIFICATE))
            .and_then(|chain| match chain.is_empty() {
                true => Err(format!("holds no {CERTIFICATE}")),
                false => Ok(chain),
            })
            .map_err(fault(CERT_FILE))?;
        let not_after = not_after(&chain[0]).map_err(fault(CERT_FILE))?;
        if not_after < now {
            return Err(fault(CERT_FILE)(format!(
                "the certificate expired on {}",
                rfc3339(not_after)
            )));
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| pem_problem(&e, PRIVATE_KEY))
            .map_err(fault(KEY_FILE))?;
        let signing_key = provider.key_provider.load_private_key(key).map_err(|_| {
            fault(KEY_FILE)(
                "is not a usable private key (RSA, ECDSA P-256/P-384 or Ed25519)".into(),
            )
        })?;
        let certified = CertifiedKey::new(chain, signing_key);
        // `Unknown`: a key whose public half rustls cannot derive, so there is nothing to compare
        // (never so with ring's RSA, ECDSA and Ed25519 keys); rustls' own `from_der` accepts it too.
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => {}
            Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
                return Err(fault(KEY_FILE)(format!(
                    "the key does not match the certificate of {CERT_FILE}"
                )))
            }
            Err(_) => {
                return Err(fault(CERT_FILE)(
                    "the first certificate cannot be parsed".into(),
                ))
            }
        }
        Ok(ServingCertificate {
            certified: Arc::new(certified),
            not_after,
            fingerprint: reload::fingerprint_of([&cert_pem[..], &key_pem[..]]),
        })
    }

    /// The chain and signing key, as rustls serves them.
    pub fn certified_key(&self) -> &Arc<CertifiedKey> {
        &self.certified
    }

    /// When the server's certificate expires (its `notAfter`).
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// `not_after` in seconds since the Unix epoch.
    pub fn not_after_unix(&self) -> i64 {
        time::OffsetDateTime::from(self.not_after).unix_timestamp()
    }

    /// `not_after` in RFC 3339, for the log.
    pub fn not_after_text(&self) -> String {
        rfc3339(self.not_after)
    }

    /// The fingerprint of the two files' content this was loaded from.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }
}

fn read(variable: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError {
        variable,
        path: path.to_owned(),
        problem: format!("cannot be read: {e}"),
    })
}

const CERTIFICATE: &str = "PEM certificate (-----BEGIN CERTIFICATE-----)";
const PRIVATE_KEY: &str = "PEM private key (PKCS#8, RSA or EC: -----BEGIN PRIVATE KEY-----)";

/// What is wrong with a PEM file, in words of our own: the parser's messages may quote a line of
/// the file, and a key file's lines are secret.
fn pem_problem(error: &pem::Error, expected: &str) -> String {
    match error {
        pem::Error::NoItemsFound => format!("holds no {expected}"),
        pem::Error::MissingSectionEnd { .. } => "has a PEM section with no END line".into(),
        pem::Error::IllegalSectionStart { .. } => "has a malformed PEM BEGIN line".into(),
        pem::Error::Base64Decode(_) => "has a PEM section that is not valid base64".into(),
        _ => format!("cannot be read as a {expected}"),
    }
}

/// The `notAfter` of a DER certificate.
fn not_after(cert: &CertificateDer<'_>) -> Result<SystemTime, String> {
    let cert = x509_cert::Certificate::from_der(cert.as_ref())
        .map_err(|e| format!("the first certificate is not valid X.509 ({e})"))?;
    let since_epoch = cert.tbs_certificate.validity.not_after.to_unix_duration();
    Ok(UNIX_EPOCH + since_epoch)
}

fn rfc3339(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| format!("{} s after the epoch", at.unix_timestamp()))
}

/// How long a certificate has left at `now` (zero once expired).
pub(crate) fn remaining(not_after: SystemTime, now: SystemTime) -> Duration {
    not_after.duration_since(now).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    /// A self-signed certificate for `localhost` valid from `from` to `until` (days from now), and its key.
    fn pair(from: i64, until: i64) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".into()]).unwrap();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(from);
        params.not_after = now + time::Duration::days(until);
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    fn files(name: &str, cert: &str, key: &str) -> TlsFiles {
        let dir = std::env::temp_dir().join(format!(
            "sentiment-api-unit-tls-{name}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let files = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.cert, cert).unwrap();
        std::fs::write(&files.key, key).unwrap();
        files
    }

    fn load(files: &TlsFiles) -> Result<ServingCertificate, TlsError> {
        let provider = rustls::crypto::ring::default_provider();
        ServingCertificate::load(files, &provider, SystemTime::now())
    }

    /// The base64 lines of a PEM text (its secret part, for a key).
    fn body_lines(pem: &str) -> Vec<&str> {
        pem.lines().filter(|l| !l.starts_with("-----")).collect()
    }

    #[test]
    fn a_matching_pair_in_date_loads_with_its_expiry() {
        let (cert, key) = pair(-1, 30);
        let loaded = load(&files("good", &cert, &key)).unwrap();
        let left = remaining(loaded.not_after(), SystemTime::now());
        assert!(left > Duration::from_secs(29 * 86_400), "{left:?}");
        assert!(left < Duration::from_secs(31 * 86_400), "{left:?}");
        assert_eq!(loaded.certified_key().cert.len(), 1);
        assert_eq!(
            loaded.fingerprint(),
            reload::fingerprint(&files("good", &cert, &key).paths())
        );
    }

    #[test]
    fn every_bad_pair_is_refused_naming_its_variable_and_never_quoting_the_key() {
        let (cert, key) = pair(-1, 30);
        let (other_cert, other_key) = pair(-1, 30);
        let (expired, expired_key) = pair(-30, -1);
        let garbage =
            "-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE KEY-----\n";
        let cases = [
            ("garbage-cert", "hello".to_owned(), key.clone(), CERT_FILE),
            ("key-as-cert", key.clone(), key.clone(), CERT_FILE),
            ("garbage-key", cert.clone(), "hello".to_owned(), KEY_FILE),
            ("bad-base64-key", cert.clone(), garbage.to_owned(), KEY_FILE),
            ("cert-as-key", cert.clone(), cert.clone(), KEY_FILE),
            ("mismatch", cert.clone(), other_key.clone(), KEY_FILE),
            ("mismatch-2", other_cert.clone(), key.clone(), KEY_FILE),
            ("expired", expired.clone(), expired_key.clone(), CERT_FILE),
            ("empty-cert", String::new(), key.clone(), CERT_FILE),
            ("empty-key", cert.clone(), String::new(), KEY_FILE),
        ];
        for (name, cert_pem, key_pem, variable) in cases {
            let err = load(&files(name, &cert_pem, &key_pem)).unwrap_err();
            let line = err.to_string();
            assert_eq!(err.variable, variable, "{name}: {line}");
            assert!(line.starts_with(variable), "{name}: {line}");
            assert_eq!(line.lines().count(), 1, "{name}: {line}");
            for secret in body_lines(&key_pem)
                .into_iter()
                .chain(body_lines(&other_key))
            {
                assert!(!line.contains(secret), "{name} quotes the key: {line}");
            }
        }
    }

    #[test]
    fn missing_files_are_refused_naming_their_variable() {
        let (cert, key) = pair(-1, 30);
        let mut missing = files("missing", &cert, &key);
        missing.key = "/no/such/key.pem".into();
        assert_eq!(load(&missing).unwrap_err().variable, KEY_FILE);
        missing.cert = "/no/such/cert.pem".into();
        let err = load(&missing).unwrap_err();
        assert_eq!(err.variable, CERT_FILE);
        assert!(err.to_string().contains("/no/such/cert.pem"), "{err}");
    }
}
