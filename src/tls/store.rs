//! The certificate in force, as rustls asks for it on every handshake, and its reload.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use super::certificate::{remaining, ServingCertificate, TlsError, TlsFiles};
use crate::reload;

/// Below this much validity left, every load logs a warning.
const EXPIRY_WARNING: Duration = Duration::from_secs(14 * 24 * 3600);

/// The certificate new handshakes get. A reload swaps it whole: a handshake takes the one in
/// force when it starts, and a connection already made never looks again, so none is cut.
#[derive(Debug)]
pub struct CertificateStore {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<ServingCertificate>,
}

impl CertificateStore {
    /// Loads the files for a start; an error names the variable at fault.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        // ring: pure Rust and assembly shipped with the crate, nothing to build with cmake.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let first = checked(&files, &provider)?;
        Ok(CertificateStore {
            files,
            provider,
            current: ArcSwap::from_pointee(first),
        })
    }

    /// The certificate in force.
    pub fn current(&self) -> Arc<ServingCertificate> {
        self.current.load_full()
    }

    /// Loads the files again; on success the new certificate is in force for new handshakes, on
    /// failure the one in force stays.
    pub fn reload(&self) -> Result<Arc<ServingCertificate>, TlsError> {
        let loaded = Arc::new(checked(&self.files, &self.provider)?);
        self.current.store(Arc::clone(&loaded));
        Ok(loaded)
    }

    /// The rustls configuration of a server using this store: TLS 1.3 and 1.2 only, rustls'
    /// default cipher suites, no client certificates. (actix-web adds the ALPN protocols.)
    pub fn server_config(self: &Arc<Self>) -> Result<ServerConfig, rustls::Error> {
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        // The server's order of cipher suites, not the client's: rustls lists its strongest first.
        config.ignore_client_order = true;
        Ok(config)
    }
}

impl ResolvesServerCert for CertificateStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(self.current.load().certified_key()))
    }
}

fn checked(files: &TlsFiles, provider: &CryptoProvider) -> Result<ServingCertificate, TlsError> {
    let now = SystemTime::now();
    let loaded = ServingCertificate::load(files, provider, now)?;
    if remaining(loaded.not_after(), now) < EXPIRY_WARNING {
        log::warn!(
            "the TLS certificate of {} expires soon, on {}",
            files.cert.display(),
            loaded.not_after_text()
        );
    }
    Ok(loaded)
}

/// Reloads the certificate and key on `SIGHUP` (on Unix) and whenever either file's content
/// changes (checked every `poll`). A pair that fails a check is refused and logged, and the
/// certificate in force stays. Must be called from within an actix system.
pub fn spawn_reloader(store: Arc<CertificateStore>, poll: Duration) {
    let files = store.files.paths();
    let loaded = store.current().fingerprint();
    reload::spawn_reloader(
        "the TLS certificate files",
        files,
        loaded,
        poll,
        move |trigger| {
            match store.reload() {
            Ok(new) => log::info!(
                "TLS certificate reloaded from {} ({trigger}): valid until {}",
                store.files.cert.display(),
                new.not_after_text()
            ),
            Err(e) => log::error!(
                "TLS certificate rejected ({trigger}), keeping the one in force (valid until {}): {e}",
                store.current().not_after_text()
            ),
        }
        },
    );
}
