//! API keys, with no HTTP in them: the key store (hashes, ids, expiry), the keys file, where keys
//! come from and their reload, the rules a key must meet, and key generation. The `ApiKey`
//! extractor (`crate::http`) asks this module whether a presented key is in force.

mod generate;
pub mod key_file;
mod key_store;
mod secret;
mod source;

pub use generate::{generate_key, KEY_PREFIX};
pub use key_store::{
    every_quota_limit, hash_key, KeyEntry, KeyHash, KeyRefusal, KeySet, KeyStore, Verdict,
};
pub use secret::{validate_key, Secret, MIN_KEY_CHARS, PLACEHOLDER_KEY};
pub use source::{spawn_reloader, KeySource, Keys};
