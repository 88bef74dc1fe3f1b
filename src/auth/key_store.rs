use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use constant_time_eq::constant_time_eq_32;
use sha2::{Digest, Sha256};

use super::Secret;

/// The SHA-256 digest of a key: the only form in which a key is kept.
pub type KeyHash = [u8; 32];

/// Hashes a presented or configured key.
pub fn hash_key(key: &[u8]) -> KeyHash {
    Sha256::digest(key).into()
}

/// One accepted key: its public id and its hash, never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The id that logs, `/me` and rate limits use in place of the key.
    pub id: String,
    /// SHA-256 of the key.
    pub hash: KeyHash,
}

impl KeyEntry {
    /// An entry for a key given in plain text (such as `API_SECRET_KEY`); only its hash is kept.
    pub fn from_secret(id: impl Into<String>, key: &Secret) -> Self {
        KeyEntry {
            id: id.into(),
            hash: hash_key(key.expose().as_bytes()),
        }
    }
}

/// What checking a presented key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A key in force.
    Valid(Arc<KeyEntry>),
    /// No stored key has this hash.
    Unknown,
}

/// An immutable set of keys, indexed so a lookup costs the same however many keys there are.
#[derive(Debug, Default)]
pub struct KeySet {
    // Indexed by the first 8 bytes of the digest; the full digest is then compared in constant
    // time. An attacker cannot steer a SHA-256 prefix, so the index leaks nothing usable.
    by_prefix: HashMap<u64, Vec<Arc<KeyEntry>>>,
    len: usize,
}

impl KeySet {
    /// Builds a set from entries whose ids and hashes the caller has checked for uniqueness.
    pub fn new(entries: impl IntoIterator<Item = KeyEntry>) -> Self {
        let mut set = KeySet::default();
        for entry in entries {
            set.by_prefix
                .entry(prefix(&entry.hash))
                .or_default()
                .push(Arc::new(entry));
            set.len += 1;
        }
        set
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Checks a presented key: hashed once, then compared in constant time.
    pub fn verify(&self, presented: &[u8]) -> Verdict {
        let digest = hash_key(presented);
        let mut found = None;
        for candidate in self.by_prefix.get(&prefix(&digest)).into_iter().flatten() {
            // No early exit: every candidate sharing the prefix is compared.
            if constant_time_eq_32(&candidate.hash, &digest) {
                found = Some(Arc::clone(candidate));
            }
        }
        match found {
            Some(entry) => Verdict::Valid(entry),
            None => Verdict::Unknown,
        }
    }
}

fn prefix(hash: &KeyHash) -> u64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&hash[..8]);
    u64::from_le_bytes(head)
}

/// The keys in force, shared by every worker; a new set can replace the old one while serving.
#[derive(Debug)]
pub struct KeyStore {
    current: RwLock<Arc<KeySet>>,
}

impl KeyStore {
    /// A store serving `keys`.
    pub fn new(keys: KeySet) -> Self {
        KeyStore {
            current: RwLock::new(Arc::new(keys)),
        }
    }

    /// The set in force now; the lock is held only to clone an `Arc`.
    pub fn snapshot(&self) -> Arc<KeySet> {
        let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&guard)
    }

    /// Puts a new set in force at once; requests already past verification are unaffected.
    pub fn replace(&self, keys: KeySet) {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        *guard = Arc::new(keys);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(keys: &[(&str, &str)]) -> KeySet {
        KeySet::new(
            keys.iter()
                .map(|(id, k)| KeyEntry::from_secret(*id, &Secret::new(*k))),
        )
    }

    #[test]
    fn sha256_of_a_known_vector() {
        let h = hash_key(b"abc");
        assert_eq!(h[0], 0xba);
        assert_eq!(h[31], 0xad);
    }

    #[test]
    fn the_right_key_is_valid_and_names_its_id() {
        let keys = set(&[
            ("alice", "alice-key-0123456789"),
            ("bob", "bob-key-0123456789ab"),
        ]);
        match keys.verify(b"bob-key-0123456789ab") {
            Verdict::Valid(e) => assert_eq!(e.id, "bob"),
            other => panic!("expected bob, got {other:?}"),
        }
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn near_misses_are_unknown() {
        let keys = set(&[("alice", "alice-key-0123456789")]);
        for wrong in [
            &b"alice-key-012345678"[..],
            b"alice-key-01234567890",
            b"ALICE-KEY-0123456789",
            b"alice-key-0123456788",
            b"",
        ] {
            assert_eq!(keys.verify(wrong), Verdict::Unknown);
        }
    }

    #[test]
    fn a_replaced_set_takes_effect_at_once() {
        let store = KeyStore::new(set(&[("old", "old-key-0123456789ab")]));
        store.replace(set(&[("new", "new-key-0123456789ab")]));
        assert_eq!(
            store.snapshot().verify(b"old-key-0123456789ab"),
            Verdict::Unknown
        );
        assert!(matches!(
            store.snapshot().verify(b"new-key-0123456789ab"),
            Verdict::Valid(_)
        ));
    }
}
