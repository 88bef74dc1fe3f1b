use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use constant_time_eq::constant_time_eq_32;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::Secret;
use crate::paths::Scope;
use crate::quota::{Limit, Quota};
use crate::reload::Fingerprint;

/// The SHA-256 digest of a key: the only form in which a key is kept.
pub type KeyHash = [u8; 32];

/// Hashes a presented or configured key.
pub fn hash_key(key: &[u8]) -> KeyHash {
    Sha256::digest(key).into()
}

/// One accepted key: its public id, its hash and metadata, never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The id that logs, `/me` and rate limits use in place of the key.
    pub id: String,
    /// SHA-256 of the key.
    pub hash: KeyHash,
    /// A disabled key is refused (as `Invalid API key`) but kept on file.
    pub enabled: bool,
    /// The key is refused from this time on.
    pub expires_at: Option<OffsetDateTime>,
    /// Who holds the key.
    pub owner: Option<String>,
    /// Free-text note.
    pub note: Option<String>,
    /// Per-key override of `RATE_LIMIT_PER_MINUTE`.
    pub rate_limit_per_minute: Option<u32>,
    /// Per-key override of `RATE_LIMIT_BURST`.
    pub rate_limit_burst: Option<u32>,
    /// The route groups the key may use; `None`, every one.
    pub scopes: Option<Vec<Scope>>,
    /// Units the key may spend per day and month; `None`, no bound but the rate limit.
    pub quota: Option<Quota>,
    /// Its owner's quota (`[owners.<name>]`), shared by all the owner's keys.
    pub owner_quota: Option<Quota>,
}

impl KeyEntry {
    /// An entry for a key given in plain text (such as `API_SECRET_KEY`); only its hash is kept.
    pub fn from_secret(id: impl Into<String>, key: &Secret) -> Self {
        KeyEntry {
            id: id.into(),
            hash: hash_key(key.expose().as_bytes()),
            enabled: true,
            expires_at: None,
            owner: None,
            note: None,
            rate_limit_per_minute: None,
            rate_limit_burst: None,
            scopes: None,
            quota: None,
            owner_quota: None,
        }
    }

    /// Whether any quota bounds the key (its own or its owner's); most keys have none, and their
    /// requests never ask a quota store.
    pub fn has_quota(&self) -> bool {
        self.quota.is_some() || (self.owner.is_some() && self.owner_quota.is_some())
    }

    /// Every quota limit the key is held to: its own, then its owner's.
    pub fn quota_limits(&self) -> Vec<Limit> {
        let owner = self.owner.as_deref().zip(self.owner_quota);
        Limit::all_for(&self.id, self.quota, owner)
    }

    /// Whether the key may use routes of `scope`.
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.as_ref().is_none_or(|s| s.contains(&scope))
    }

    /// The scopes the key has, every one when it names none.
    pub fn scopes(&self) -> Vec<Scope> {
        self.scopes.clone().unwrap_or_else(|| Scope::ALL.to_vec())
    }

    /// Whether the key has expired at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|t| now >= t)
    }
}

/// What checking a presented key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A key in force.
    Valid(Arc<KeyEntry>),
    /// No stored key has this hash.
    Unknown,
    /// A stored key, past its `expires_at`.
    Expired(Arc<KeyEntry>),
    /// A stored key with `enabled = false`.
    Disabled(Arc<KeyEntry>),
}

/// Why a presented key was refused; for the log and metrics only, never the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// No stored key has this hash.
    Unknown,
    /// The key is past its `expires_at`.
    Expired,
    /// The key has `enabled = false`.
    Disabled,
}

impl KeyRefusal {
    /// A short label: `unknown`, `expired`, `disabled`.
    pub fn label(self) -> &'static str {
        match self {
            KeyRefusal::Unknown => "unknown",
            KeyRefusal::Expired => "expired",
            KeyRefusal::Disabled => "disabled",
        }
    }
}

/// Every quota limit of `entries`: each key's own (by key id), then each owner's once (by name),
/// day before month. What `keys usage` lists, from a keys file or a running server's keys.
pub fn every_quota_limit<'a>(entries: impl IntoIterator<Item = &'a KeyEntry>) -> Vec<Limit> {
    let mut keys: Vec<&KeyEntry> = entries.into_iter().collect();
    keys.sort_by(|a, b| a.id.cmp(&b.id));
    let mut limits: Vec<Limit> = keys
        .iter()
        .flat_map(|e| Limit::all_for(&e.id, e.quota, None))
        .collect();
    let owners: std::collections::BTreeMap<&str, Quota> = keys
        .iter()
        .filter_map(|e| Some((e.owner.as_deref()?, e.owner_quota?)))
        .collect();
    for (owner, quota) in owners {
        limits.extend(Limit::all_for("", None, Some((owner, quota))));
    }
    limits
}

/// An immutable set of keys, indexed so a lookup costs the same however many keys there are.
#[derive(Debug, Default)]
pub struct KeySet {
    // Indexed by the first 8 bytes of the digest; the full digest is then compared in constant
    // time. An attacker cannot steer a SHA-256 prefix, so the index leaks nothing usable.
    by_prefix: HashMap<u64, Vec<Arc<KeyEntry>>, BuildHasherDefault<DigestPrefix>>,
    len: usize,
    fingerprint: Option<Fingerprint>,
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

    /// Records the fingerprint (`reload::fingerprint_of`) of the keys-file content this set was
    /// loaded from.
    pub fn with_fingerprint(mut self, fingerprint: Option<Fingerprint>) -> Self {
        self.fingerprint = fingerprint;
        self
    }

    /// The fingerprint of the keys-file content this set was loaded from, if any.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        self.fingerprint
    }

    /// Every key of the set, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = &KeyEntry> {
        self.by_prefix.values().flatten().map(|e| &**e)
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Checks a presented key: hashed once, then compared in constant time. The clock is read
    /// (`now()`) only for a key that has an expiry.
    pub fn verify(&self, presented: &[u8], now: impl FnOnce() -> OffsetDateTime) -> Verdict {
        // Names the check only: never the key, its hash or the verdict's entry.
        #[cfg(feature = "otel")]
        let _span = crate::telemetry::span("auth.key_check");
        let digest = hash_key(presented);
        let mut found = None;
        for candidate in self.by_prefix.get(&prefix(&digest)).into_iter().flatten() {
            // No early exit: every candidate sharing the prefix is compared.
            if constant_time_eq_32(&candidate.hash, &digest) {
                found = Some(Arc::clone(candidate));
            }
        }
        match found {
            None => Verdict::Unknown,
            Some(entry) if !entry.enabled => Verdict::Disabled(entry),
            Some(entry) if entry.expires_at.is_some() && entry.is_expired(now()) => {
                Verdict::Expired(entry)
            }
            Some(entry) => Verdict::Valid(entry),
        }
    }
}

/// Hashes a digest prefix to itself: SHA-256 output is already uniform, so hashing it again
/// (SipHash, the map's default) would only cost time on every request.
#[derive(Default)]
struct DigestPrefix(u64);

impl Hasher for DigestPrefix {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed (`write_u64`); fold anything else in, to stay correct.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn prefix(hash: &KeyHash) -> u64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&hash[..8]);
    u64::from_le_bytes(head)
}

/// The keys in force, shared by every worker; a new set can replace the old one while serving.
///
/// Every request reads it and a reload writes it perhaps once a day: `ArcSwap` reads without a
/// lock and without touching the set's shared reference count, which with a lock and an `Arc`
/// clone cost four atomic writes to one cache line per request, bouncing between the workers.
#[derive(Debug)]
pub struct KeyStore {
    current: ArcSwap<KeySet>,
}

impl KeyStore {
    /// A store serving `keys`.
    pub fn new(keys: KeySet) -> Self {
        Self::from_shared(Arc::new(keys))
    }

    /// A store serving a set that is already shared.
    pub fn from_shared(keys: Arc<KeySet>) -> Self {
        KeyStore {
            current: ArcSwap::new(keys),
        }
    }

    /// The set in force now (hold it briefly: a reload waits for no reader, but a long-held
    /// snapshot keeps the old set alive).
    pub fn snapshot(&self) -> Guard<Arc<KeySet>> {
        self.current.load()
    }

    /// Puts a new set in force at once; requests already past verification are unaffected.
    pub fn replace(&self, keys: KeySet) {
        self.current.store(Arc::new(keys));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

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
        match keys.verify(b"bob-key-0123456789ab", now) {
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
            assert_eq!(keys.verify(wrong, now), Verdict::Unknown);
        }
    }

    #[test]
    fn a_replaced_set_takes_effect_at_once() {
        let store = KeyStore::new(set(&[("old", "old-key-0123456789ab")]));
        store.replace(set(&[("new", "new-key-0123456789ab")]));
        assert_eq!(
            store.snapshot().verify(b"old-key-0123456789ab", now),
            Verdict::Unknown
        );
        assert!(matches!(
            store.snapshot().verify(b"new-key-0123456789ab", now),
            Verdict::Valid(_)
        ));
    }

    #[test]
    fn disabled_and_expired_keys_are_told_apart_from_unknown_ones() {
        let mut disabled = KeyEntry::from_secret("off", &Secret::new("off-key-0123456789ab"));
        disabled.enabled = false;
        let mut expired = KeyEntry::from_secret("old", &Secret::new("old-key-0123456789ab"));
        expired.expires_at = Some(now() - time::Duration::seconds(1));
        let mut later = KeyEntry::from_secret("new", &Secret::new("new-key-0123456789ab"));
        later.expires_at = Some(now() + time::Duration::hours(1));
        let keys = KeySet::new([disabled, expired, later]);
        assert!(
            matches!(keys.verify(b"off-key-0123456789ab", now), Verdict::Disabled(e) if e.id == "off")
        );
        assert!(
            matches!(keys.verify(b"old-key-0123456789ab", now), Verdict::Expired(e) if e.id == "old")
        );
        assert!(
            matches!(keys.verify(b"new-key-0123456789ab", now), Verdict::Valid(e) if e.id == "new")
        );
    }
}
