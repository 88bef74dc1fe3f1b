//! Where the keys come from (`API_SECRET_KEY`, `API_KEYS_FILE`), and reloading them without a restart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use actix_web::web;
use futures_util::future::{select, Either};
use sha2::{Digest, Sha256};

use super::key_file::{self, KeyFileError};
use super::{KeyEntry, KeySet, KeyStore};

/// The configured sources of keys; loading them again gives the keys now in force.
#[derive(Debug, Clone)]
pub struct KeySource {
    /// The entry of `API_SECRET_KEY` (id `default`), hashed.
    pub secret: Option<KeyEntry>,
    /// The keys file, when `API_KEYS_FILE` is set.
    pub file: Option<PathBuf>,
}

impl KeySource {
    /// Reads every source into a key set; refuses duplicates and an empty result.
    pub fn load(&self) -> Result<KeySet, KeyFileError> {
        let mut entries: Vec<KeyEntry> = self.secret.iter().cloned().collect();
        let mut fingerprint = None;
        if let Some(path) = &self.file {
            let text = key_file::read(path)?;
            fingerprint = Some(Sha256::digest(text.as_bytes()).into());
            entries.extend(key_file::parse(&text).map_err(|mut e| {
                e.path = Some(path.clone());
                e
            })?);
        }
        key_file::check_unique(&entries).map_err(|mut e| {
            e.path.clone_from(&self.file);
            e
        })?;
        if entries.is_empty() {
            // An empty file is what a half-written one often looks like; never serve with no key.
            return Err(KeyFileError {
                path: self.file.clone(),
                entry: None,
                problem: "holds no keys".into(),
            });
        }
        Ok(KeySet::new(entries).with_fingerprint(fingerprint))
    }
}

/// Reloads the keys file on `SIGHUP` and whenever its content changes (checked every `poll`).
///
/// A file that fails to load is refused whole: the keys in force stay, and the error is logged
/// once per distinct content. Must be called from within an actix system.
pub fn spawn_reloader(store: web::Data<KeyStore>, source: KeySource, poll: Duration) {
    let Some(path) = source.file.clone() else {
        return;
    };
    // Registered before returning, so a SIGHUP sent once the server is up is never missed.
    let mut hangup = hangup_signal();
    // Start from what was actually loaded, so a change made meanwhile is still noticed.
    let mut seen = store
        .snapshot()
        .fingerprint()
        .unwrap_or_else(|| fingerprint(&path));
    actix_rt::spawn(async move {
        loop {
            let forced = match hangup.as_mut() {
                Some(signal) => {
                    let sleep = std::pin::pin!(actix_rt::time::sleep(poll));
                    let signalled = std::pin::pin!(signal.recv());
                    matches!(select(signalled, sleep).await, Either::Left(_))
                }
                None => {
                    actix_rt::time::sleep(poll).await;
                    false
                }
            };
            let now = fingerprint(&path);
            if !forced && now == seen {
                continue;
            }
            seen = now;
            let before = store.snapshot().len();
            match source.load() {
                Ok(keys) => {
                    log::info!(
                        "keys reloaded from {} ({}): {} keys in force, {before} before",
                        path.display(),
                        if forced { "SIGHUP" } else { "file changed" },
                        keys.len()
                    );
                    store.replace(keys);
                }
                Err(e) => {
                    log::error!("keys file rejected, keeping the {before} keys in force: {e}")
                }
            }
        }
    });
}

fn hangup_signal() -> Option<actix_rt::signal::unix::Signal> {
    use actix_rt::signal::unix::{signal, SignalKind};
    signal(SignalKind::hangup())
        .map_err(|e| log::warn!("cannot listen for SIGHUP ({e}); the keys file is still polled"))
        .ok()
}

/// A digest of the file's content (or of the error reading it), to notice any change.
fn fingerprint(path: &Path) -> [u8; 32] {
    match std::fs::read(path) {
        Ok(bytes) => Sha256::digest(&bytes).into(),
        Err(e) => Sha256::digest(e.to_string().as_bytes()).into(),
    }
}
