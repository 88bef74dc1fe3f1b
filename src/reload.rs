//! Reloading configuration files without a restart: on `SIGHUP` (on Unix), and whenever their
//! content changes, checked by polling (so a certbot renewal or a Kubernetes secret swap is picked
//! up with no signal). The keys file and the TLS certificate files share this one loop.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::future::{select, Either};
use sha2::{Digest, Sha256};

/// A digest of some files' contents, to notice any change.
pub type Fingerprint = [u8; 32];

/// What set a reload off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `SIGHUP` arrived.
    Hangup,
    /// A watched file's content changed.
    Changed,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Trigger::Hangup => "SIGHUP",
            Trigger::Changed => "file changed",
        })
    }
}

/// The fingerprint of `contents`, one item per file, in order.
pub fn fingerprint_of<'a>(contents: impl IntoIterator<Item = &'a [u8]>) -> Fingerprint {
    let mut all = Sha256::new();
    for content in contents {
        all.update(Sha256::digest(content));
    }
    all.finalize().into()
}

/// The fingerprint of the files' contents now; a file that cannot be read counts by its error,
/// so its disappearing and coming back are changes too.
pub fn fingerprint(files: &[PathBuf]) -> Fingerprint {
    let contents: Vec<Vec<u8>> = files
        .iter()
        .map(|path| std::fs::read(path).unwrap_or_else(|e| format!("\0{e}").into_bytes()))
        .collect();
    fingerprint_of(contents.iter().map(Vec::as_slice))
}

/// Calls `reload` on `SIGHUP` (on Unix) and whenever the content of `files` changes (checked
/// every `poll`), starting from `loaded`, the fingerprint of what is in force.
///
/// A content is reloaded once: when `reload` refuses it, the next attempt waits for the next
/// change or signal, so a bad file is reported once, not at every poll. `what` names the files in
/// the warning logged where `SIGHUP` cannot be listened for. Must be called from within an actix
/// system.
pub fn spawn_reloader<F>(
    what: &'static str,
    files: Vec<PathBuf>,
    loaded: Fingerprint,
    poll: Duration,
    mut reload: F,
) where
    F: FnMut(Trigger) + 'static,
{
    // Registered before returning, so a SIGHUP sent once the server is up is never missed.
    let mut hangup = Hangup::listen(what);
    let mut seen = loaded;
    actix_rt::spawn(async move {
        loop {
            let trigger = {
                let sleep = std::pin::pin!(actix_rt::time::sleep(poll));
                let signalled = std::pin::pin!(hangup.recv());
                match select(signalled, sleep).await {
                    Either::Left(_) => Trigger::Hangup,
                    Either::Right(_) => Trigger::Changed,
                }
            };
            let now = fingerprint(&files);
            if trigger == Trigger::Changed && now == seen {
                continue;
            }
            seen = now;
            reload(trigger);
        }
    });
}

/// `SIGHUP`, where the platform has it; elsewhere a signal that never comes (the files are still
/// polled).
struct Hangup {
    #[cfg(unix)]
    signal: Option<actix_rt::signal::unix::Signal>,
}

impl Hangup {
    #[cfg(unix)]
    fn listen(what: &str) -> Self {
        use actix_rt::signal::unix::{signal, SignalKind};
        let signal = signal(SignalKind::hangup())
            .map_err(|e| log::warn!("cannot listen for SIGHUP ({e}); {what} will still be polled"))
            .ok();
        Hangup { signal }
    }

    #[cfg(not(unix))]
    fn listen(_what: &str) -> Self {
        Hangup {}
    }

    /// Resolves when the signal arrives; never, where there is none.
    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = self.signal.as_mut() {
            signal.recv().await;
            return;
        }
        std::future::pending::<()>().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_changes_with_any_file_and_with_their_order() {
        let (a, b): (&[u8], &[u8]) = (b"cert", b"key");
        assert_eq!(fingerprint_of([a, b]), fingerprint_of([a, b]));
        assert_ne!(fingerprint_of([a, b]), fingerprint_of([b, a]));
        assert_ne!(fingerprint_of([a, b]), fingerprint_of([a, b"key2"]));
        // Not fooled by moving bytes from one file to the next.
        let (ab, c, a, bc): (&[u8], &[u8], &[u8], &[u8]) = (b"ab", b"c", b"a", b"bc");
        assert_ne!(fingerprint_of([ab, c]), fingerprint_of([a, bc]));
    }

    #[test]
    fn a_missing_file_has_a_fingerprint_of_its_own() {
        let missing = vec![PathBuf::from("/no/such/file")];
        assert_eq!(fingerprint(&missing), fingerprint(&missing));
        assert_ne!(fingerprint(&missing), fingerprint_of([&b""[..]]));
    }
}
