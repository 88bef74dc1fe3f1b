//! Where the keys come from (`API_SECRET_KEY`, `API_KEYS_FILE`, or a key generated for the run),
//! and reloading them without a restart.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::key_file::{self, KeyFileError};
use super::{generate_key, KeyEntry, KeySet, KeyStore, Secret};
use crate::reload;

/// The configured sources of keys; loading them again gives the keys now in force.
#[derive(Debug, Clone, Default)]
pub struct KeySource {
    /// Keys given whole, not in a file: `API_SECRET_KEY` (id `default`), a generated key, or a
    /// test's keys; hashed.
    pub fixed: Vec<KeyEntry>,
    /// The keys file, when `API_KEYS_FILE` is set.
    pub file: Option<PathBuf>,
}

/// The keys a server starts with: where they come from, and the set loaded from there.
#[derive(Debug)]
pub struct Keys {
    /// Where they come from (read again on reload).
    pub source: KeySource,
    /// The set in force at start.
    pub set: KeySet,
}

impl KeySource {
    /// The sources the settings name: `API_SECRET_KEY` (as id `default`) and the keys file. With
    /// neither, the server must still never serve open: a key is generated for this run, and
    /// returned to be shown once.
    pub fn configured(
        secret: Option<&Secret>,
        file: Option<PathBuf>,
    ) -> std::io::Result<(KeySource, Option<Secret>)> {
        let generated = match (secret, &file) {
            (None, None) => Some(generate_key()?),
            _ => None,
        };
        let fixed = secret
            .or(generated.as_ref())
            .map(|key| KeyEntry::from_secret("default", key));
        Ok((
            KeySource {
                fixed: fixed.into_iter().collect(),
                file,
            },
            generated,
        ))
    }

    /// Keys given whole, with no file (tests, embedders).
    pub fn fixed(entries: impl IntoIterator<Item = KeyEntry>) -> Self {
        KeySource {
            fixed: entries.into_iter().collect(),
            file: None,
        }
    }

    /// Reads every source into a key set; refuses duplicates and an empty result.
    pub fn load(&self) -> Result<KeySet, KeyFileError> {
        let mut entries = self.fixed.clone();
        let mut fingerprint = None;
        if let Some(path) = &self.file {
            let text = key_file::read(path)?;
            fingerprint = Some(reload::fingerprint_of([text.as_bytes()]));
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

    /// Loads the keys for a start.
    pub fn into_keys(self) -> Result<Keys, KeyFileError> {
        let set = self.load()?;
        Ok(Keys { source: self, set })
    }
}

/// Reloads the keys file on `SIGHUP` (on Unix) and whenever its content changes (checked every
/// `poll`).
///
/// A file that fails to load is refused whole: the keys in force stay, and the error is logged
/// once per distinct content. Must be called from within an actix system.
pub fn spawn_reloader(store: Arc<KeyStore>, source: KeySource, poll: Duration) {
    let Some(path) = source.file.clone() else {
        return;
    };
    let files = vec![path.clone()];
    // Start from what was actually loaded, so a change made meanwhile is still noticed.
    let loaded = store
        .snapshot()
        .fingerprint()
        .unwrap_or_else(|| reload::fingerprint(&files));
    reload::spawn_reloader("the keys file", files, loaded, poll, move |trigger| {
        let before = store.snapshot().len();
        match source.load() {
            Ok(keys) => {
                log::info!(
                    "keys reloaded from {} ({trigger}): {} keys in force, {before} before",
                    path.display(),
                    keys.len()
                );
                store.replace(keys);
            }
            Err(e) => log::error!("keys file rejected, keeping the {before} keys in force: {e}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_no_key_configured_one_is_generated_and_served_as_default() {
        let (source, generated) = KeySource::configured(None, None).unwrap();
        let key = generated.expect("a key is generated");
        assert!(key.expose().len() >= crate::auth::MIN_KEY_CHARS);
        let keys = source.into_keys().unwrap();
        assert_eq!(keys.set.len(), 1);
        assert!(matches!(
            keys.set.verify(key.expose().as_bytes(), time::OffsetDateTime::now_utc),
            crate::auth::Verdict::Valid(e) if e.id == "default"
        ));
    }

    #[test]
    fn a_configured_key_is_served_as_default_and_nothing_is_generated() {
        let secret = Secret::new("0123456789abcdef");
        let (source, generated) = KeySource::configured(Some(&secret), None).unwrap();
        assert!(generated.is_none());
        assert_eq!(source.fixed.len(), 1);
        assert_eq!(source.fixed[0].id, "default");
        assert_eq!(
            source.fixed[0].hash,
            crate::auth::hash_key(b"0123456789abcdef")
        );
    }

    #[test]
    fn a_missing_keys_file_is_refused_naming_the_file() {
        let (source, generated) =
            KeySource::configured(None, Some(PathBuf::from("/no/such/keys.toml"))).unwrap();
        assert!(
            generated.is_none(),
            "a keys file was named: no key is generated"
        );
        let err = source.load().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/no/such/keys.toml: cannot read"),
            "{err}"
        );
    }
}
