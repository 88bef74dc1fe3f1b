//! The keys file (`API_KEYS_FILE`): named keys stored only as SHA-256 hashes, in TOML.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{KeyEntry, KeyHash};
use crate::paths::Scope;
use crate::quota::Quota;

/// What went wrong with a keys file: the file, the entry, the problem; its `Display` is one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFileError {
    /// The file at fault, when there is one.
    pub path: Option<PathBuf>,
    /// Which entry, as `entry 2 (id "bob")`, when the problem is one entry's.
    pub entry: Option<String>,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{}: ", path.display())?;
        }
        if let Some(entry) = &self.entry {
            write!(f, "{entry}: ")?;
        }
        f.write_str(&self.problem)
    }
}

impl std::error::Error for KeyFileError {}

/// The file as written: `[[keys]]` tables, and `[owners.<name>]` tables for what the keys of one
/// owner share.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// The entries, in file order.
    #[serde(default)]
    pub keys: Vec<FileEntry>,
    /// By owner name (a key's `owner`): what all that owner's keys share.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub owners: BTreeMap<String, OwnerEntry>,
}

/// One `[owners.<name>]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerEntry {
    /// Units all the owner's keys may spend together per day and month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaEntry>,
}

/// `quota = { per_day = N, per_month = N }` on a key or an owner.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaEntry {
    /// Units per calendar day (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u64>,
    /// Units per calendar month (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_month: Option<u64>,
}

/// One `[[keys]]` table. Unknown fields are refused, so a misspelt `expires_at` cannot pass unseen.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Unique id, shown in logs and `/me` in place of the key.
    pub id: String,
    /// SHA-256 of the key, 64 hex digits.
    pub sha256: String,
    /// RFC 3339 time after which the key is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// `false` refuses the key without deleting it.
    #[serde(default = "enabled_by_default", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// Who holds the key (free text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Anything worth remembering about the key (free text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Overrides `RATE_LIMIT_PER_MINUTE` for this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_minute: Option<u32>,
    /// Overrides `RATE_LIMIT_BURST` for this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_burst: Option<u32>,
    /// The route groups the key may use (`predict`, `jobs`); absent, every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Units this key may spend per day and month (besides its owner's quota, if any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaEntry>,
}

fn enabled_by_default() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl FileEntry {
    /// The text of this entry as a `[[keys]]` table, ready to paste into a keys file.
    pub fn to_toml(&self) -> String {
        let file = KeyFile {
            keys: vec![self.clone()],
            owners: BTreeMap::new(),
        };
        toml::to_string(&file).unwrap_or_default()
    }
}

/// Reads a keys file's text.
pub fn read(path: &Path) -> Result<String, KeyFileError> {
    std::fs::read_to_string(path).map_err(|e| KeyFileError {
        path: Some(path.to_owned()),
        entry: None,
        problem: format!("cannot read: {e}"),
    })
}

/// Reads and validates a keys file.
pub fn load(path: &Path) -> Result<Vec<KeyEntry>, KeyFileError> {
    parse(&read(path)?).map_err(|mut e| {
        e.path = Some(path.to_owned());
        e
    })
}

/// [`load`], with the notes of [`parse_noting`] returned instead of logged (for `keys check`).
pub fn load_noting(path: &Path) -> Result<(Vec<KeyEntry>, Vec<String>), KeyFileError> {
    parse_noting(&read(path)?).map_err(|mut e| {
        e.path = Some(path.to_owned());
        e
    })
}

/// Parses and validates keys-file text: every field, unique ids, unique hashes. What is
/// suspicious but must not stop a reload is logged as a warning (see [`parse_noting`]).
pub fn parse(text: &str) -> Result<Vec<KeyEntry>, KeyFileError> {
    let (entries, notes) = parse_noting(text)?;
    for note in notes {
        log::warn!("keys file: {note}");
    }
    Ok(entries)
}

/// [`parse`], returning its warnings: one line each.
pub fn parse_noting(text: &str) -> Result<(Vec<KeyEntry>, Vec<String>), KeyFileError> {
    let file: KeyFile = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        KeyFileError {
            path: None,
            entry: line.map(|l| format!("line {l}")),
            problem: format!("not a valid keys file: {}", e.message().trim()),
        }
    })?;
    let mut entries = file
        .keys
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let label = format!("entry {} (id {:?})", i + 1, raw.id);
            entry(raw).map_err(|problem| KeyFileError {
                path: None,
                entry: Some(label),
                problem,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_unique(&entries)?;
    let notes = apply_owners(&mut entries, file.owners)?;
    Ok((entries, notes))
}

/// Gives each key its owner's quota. An owner table that no key's `owner` names is a note, not a
/// refusal: deleting an owner's last key (revoking it) must take effect, and a refused file
/// would keep every old key in force. The note names it, as a misspelt name would otherwise
/// leave the owner's keys unbounded without a word.
fn apply_owners(
    entries: &mut [KeyEntry],
    owners: BTreeMap<String, OwnerEntry>,
) -> Result<Vec<String>, KeyFileError> {
    let mut notes = Vec::new();
    for (name, owner) in owners {
        let problem = |problem: String| KeyFileError {
            path: None,
            entry: Some(format!("owners.{name:?}")),
            problem,
        };
        let quota = owner.quota.map(quota).transpose().map_err(problem)?;
        let mut named = false;
        for entry in entries.iter_mut() {
            if entry.owner.as_deref() == Some(name.as_str()) {
                entry.owner_quota = quota;
                named = true;
            }
        }
        if !named {
            notes.push(format!(
                "owners.{name:?}: no key has owner = {name:?}, its quota bounds nothing (owner \
                 names must match exactly)"
            ));
        }
    }
    Ok(notes)
}

/// A `quota` table, checked: at least one period, each at least one unit.
fn quota(raw: QuotaEntry) -> Result<Quota, String> {
    for (name, value) in [("per_day", raw.per_day), ("per_month", raw.per_month)] {
        if value == Some(0) {
            return Err(format!(
                "quota.{name} must be at least 1 (use enabled = false to refuse a key)"
            ));
        }
    }
    let quota = Quota {
        per_day: raw.per_day,
        per_month: raw.per_month,
    };
    if quota.is_empty() {
        return Err("quota must give per_day, per_month or both".into());
    }
    Ok(quota)
}

/// Refuses two entries with the same id or the same key.
pub fn check_unique(entries: &[KeyEntry]) -> Result<(), KeyFileError> {
    for (i, a) in entries.iter().enumerate() {
        for b in &entries[..i] {
            let problem = if a.id == b.id {
                format!("duplicate id {:?}", a.id)
            } else if a.hash == b.hash {
                format!("the same key as id {:?} (duplicate sha256)", b.id)
            } else {
                continue;
            };
            return Err(KeyFileError {
                path: None,
                entry: Some(format!("entry {} (id {:?})", i + 1, a.id)),
                problem,
            });
        }
    }
    Ok(())
}

fn entry(raw: FileEntry) -> Result<KeyEntry, String> {
    validate_id(&raw.id)?;
    let hash = parse_hash(&raw.sha256)?;
    let expires_at = raw
        .expires_at
        .as_deref()
        .map(|t| {
            OffsetDateTime::parse(t, &Rfc3339)
                .map_err(|e| format!("expires_at {t:?} is not an RFC 3339 time: {e}"))
        })
        .transpose()?;
    if let (Some(limit), Some(burst)) = (raw.rate_limit_per_minute, raw.rate_limit_burst) {
        if burst > limit {
            return Err(format!(
                "rate_limit_burst ({burst}) must not exceed rate_limit_per_minute ({limit})"
            ));
        }
    }
    for (name, value) in [
        ("rate_limit_per_minute", raw.rate_limit_per_minute),
        ("rate_limit_burst", raw.rate_limit_burst),
    ] {
        if value == Some(0) {
            return Err(format!(
                "{name} must be at least 1 (use enabled = false to refuse a key)"
            ));
        }
    }
    let scopes = raw
        .scopes
        .map(|names| {
            names
                .iter()
                .map(|name| {
                    Scope::parse(name).ok_or_else(|| {
                        format!(
                            "scopes: unknown scope {name:?}; the scopes are {}",
                            Scope::ALL.map(Scope::as_str).join(", ")
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let quota = raw.quota.map(quota).transpose()?;
    Ok(KeyEntry {
        id: raw.id,
        hash,
        enabled: raw.enabled,
        expires_at,
        owner: raw.owner,
        note: raw.note,
        rate_limit_per_minute: raw.rate_limit_per_minute,
        rate_limit_burst: raw.rate_limit_burst,
        scopes,
        quota,
        owner_quota: None,
    })
}

/// Ids show up in logs, metrics and JSON: keep them short and plain.
pub fn validate_id(id: &str) -> Result<(), String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if id.is_empty() || id.len() > 64 || !id.chars().all(plain) {
        return Err(format!(
            "id {id:?} must be 1 to 64 characters of letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

fn parse_hash(hex: &str) -> Result<KeyHash, String> {
    let digits = hex.strip_prefix("sha256:").unwrap_or(hex);
    // Never echo the value: a key pasted here by mistake must not reach a terminal or a log.
    let problem = || {
        format!(
            "sha256 is not 64 hexadecimal digits (it has {} characters); it must be the SHA-256 \
             of the key, never the key itself (see `sentiment-api keys hash`)",
            hex.chars().count()
        )
    };
    if digits.len() != 64 || !digits.is_ascii() {
        return Err(problem());
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).map_err(|_| problem())?;
    }
    Ok(hash)
}

/// Lower-case hex of a hash, as the keys file holds it.
pub fn hash_hex(hash: &KeyHash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::hash_key;

    fn hex_of(key: &str) -> String {
        hash_hex(&hash_key(key.as_bytes()))
    }

    #[test]
    fn a_full_entry_parses() {
        let text = format!(
            "[[keys]]\nid = \"alice\"\nsha256 = \"{}\"\nexpires_at = \"2030-01-01T00:00:00Z\"\n\
             owner = \"Alice\"\nnote = \"laptop\"\nrate_limit_per_minute = 5\nrate_limit_burst = 2\n\
             [[keys]]\nid = \"bob\"\nsha256 = \"sha256:{}\"\nenabled = false\n",
            hex_of("alice-key-0123456789"),
            hex_of("bob-key-0123456789ab")
        );
        let entries = parse(&text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].owner.as_deref(), Some("Alice"));
        assert_eq!(entries[0].rate_limit_per_minute, Some(5));
        assert!(entries[0].enabled && !entries[1].enabled);
        assert_eq!(entries[1].hash, hash_key(b"bob-key-0123456789ab"));
    }

    #[test]
    fn every_malformed_entry_is_named() {
        let good = hex_of("k-0123456789abcdef");
        let other = hex_of("k2-0123456789abcdef");
        let cases = [
            ("[[keys]]\nid = \"a\"\n".to_owned(), "line"),
            (format!("[[keys]]\nid = \"a\"\nsha256 = \"{good}\"\nexpire_at = \"x\"\n"), "line"),
            (format!("[[keys]]\nid = \"a b\"\nsha256 = \"{good}\"\n"), "entry 1"),
            ("[[keys]]\nid = \"a\"\nsha256 = \"abc\"\n".to_owned(), "entry 1"),
            (format!("[[keys]]\nid = \"a\"\nsha256 = \"{good}\"\nexpires_at = \"tomorrow\"\n"), "entry 1"),
            (format!("[[keys]]\nid = \"a\"\nsha256 = \"{good}\"\n[[keys]]\nid = \"a\"\nsha256 = \"{other}\"\n"), "duplicate id"),
            (format!("[[keys]]\nid = \"a\"\nsha256 = \"{good}\"\n[[keys]]\nid = \"b\"\nsha256 = \"{good}\"\n"), "duplicate sha256"),
            (format!("[[keys]]\nid = \"a\"\nsha256 = \"{good}\"\nrate_limit_per_minute = 0\n"), "rate_limit_per_minute"),
            ("this is not toml".to_owned(), "not a valid keys file"),
        ];
        for (text, expected) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{err:?} should mention {expected:?}"
            );
            assert!(!err.contains('\n'), "{err:?} is more than one line");
        }
    }

    #[test]
    fn a_key_pasted_in_place_of_its_hash_is_not_echoed() {
        let text = "[[keys]]\nid = \"a\"\nsha256 = \"sk_MyRealSecretKey0123456789\"\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(!err.contains("MyRealSecret"), "{err}");
        assert!(err.contains("64 hexadecimal digits"), "{err}");
    }

    #[test]
    fn an_entry_written_by_to_toml_reads_back() {
        let entry = FileEntry {
            id: "carol".into(),
            sha256: hex_of("carol-key-0123456789"),
            expires_at: Some("2031-05-06T07:08:09Z".into()),
            enabled: true,
            owner: Some("Carol \"C\" O'Neil".into()),
            note: None,
            rate_limit_per_minute: None,
            rate_limit_burst: None,
            scopes: Some(vec!["jobs".into()]),
            quota: None,
        };
        let parsed = parse(&entry.to_toml()).unwrap();
        assert_eq!(parsed[0].id, "carol");
        assert_eq!(parsed[0].owner.as_deref(), Some("Carol \"C\" O'Neil"));
        assert_eq!(parsed[0].scopes, Some(vec![Scope::Jobs]));
    }

    #[test]
    fn quotas_on_keys_and_owners_parse_and_owners_reach_their_keys() {
        let (a, b, c) = (
            hex_of("a-0123456789abcdef"),
            hex_of("b-0123456789abcdef"),
            hex_of("c-0123456789abcdef"),
        );
        let text = format!(
            "[[keys]]\nid = \"a\"\nsha256 = \"{a}\"\nowner = \"acme\"\nquota = {{ per_day = 10 }}\n\
             [[keys]]\nid = \"b\"\nsha256 = \"{b}\"\nowner = \"acme\"\n\
             [[keys]]\nid = \"c\"\nsha256 = \"{c}\"\nowner = \"other\"\n\
             [owners.acme]\nquota = {{ per_day = 100, per_month = 2000 }}\n"
        );
        let entries = parse(&text).unwrap();
        let acme = Some(Quota {
            per_day: Some(100),
            per_month: Some(2000),
        });
        assert_eq!(
            entries[0].quota,
            Some(Quota {
                per_day: Some(10),
                per_month: None
            })
        );
        assert_eq!(
            (entries[0].owner_quota, entries[1].owner_quota),
            (acme, acme)
        );
        assert_eq!((entries[1].quota, entries[2].owner_quota), (None, None));
    }

    #[test]
    fn every_malformed_quota_is_named_on_one_line() {
        let good = hex_of("k-0123456789abcdef");
        let key = |extra: &str| {
            format!("[[keys]]\nid = \"a\"\nsha256 = \"{good}\"\nowner = \"acme\"\n{extra}")
        };
        let cases = [
            (
                key("quota = { per_day = 0 }\n"),
                "entry 1 (id \"a\"): quota.per_day must be at least 1",
            ),
            (
                key("quota = {}\n"),
                "quota must give per_day, per_month or both",
            ),
            (key("quota = { per_week = 5 }\n"), "per_week"),
            (key("quota = { per_day = -1 }\n"), "line"),
            (
                key("[owners.acme]\nquota = { per_month = 0 }\n"),
                "owners.\"acme\": quota.per_month must be at least 1",
            ),
            (key("[owners.acme]\nlimit = 5\n"), "limit"),
        ];
        for (text, expected) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{err:?} should mention {expected:?}"
            );
            assert!(!err.contains('\n'), "{err:?} is more than one line");
        }
    }

    #[test]
    fn an_owners_table_no_key_names_is_a_note_not_a_refusal() {
        let good = hex_of("k-0123456789abcdef");
        let text = format!(
            "[[keys]]\nid = \"a\"\nsha256 = \"{good}\"\nowner = \"acme\"\n\
             [owners.acne]\nquota = {{ per_day = 5 }}\n"
        );
        let (entries, notes) = parse_noting(&text).unwrap();
        assert_eq!((entries.len(), entries[0].owner_quota), (1, None));
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with("owners.\"acne\": no key has owner = \"acne\""),
            "{notes:?}"
        );
    }

    #[test]
    fn scopes_are_optional_named_and_checked() {
        let good = hex_of("k1-0123456789abcdef");
        let entry = |extra: &str| format!("[[keys]]\nid = \"a\"\nsha256 = \"{good}\"\n{extra}");
        let all = &parse(&entry("")).unwrap()[0];
        assert_eq!(all.scopes, None);
        assert!(all.allows(Scope::Predict) && all.allows(Scope::Jobs));
        let one = &parse(&entry("scopes = [\"predict\"]\n")).unwrap()[0];
        assert!(one.allows(Scope::Predict) && !one.allows(Scope::Jobs));
        let none = &parse(&entry("scopes = []\n")).unwrap()[0];
        assert!(!none.allows(Scope::Predict) && !none.allows(Scope::Jobs));
        let err = parse(&entry("scopes = [\"admin\"]\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown scope \"admin\"") && err.contains("predict, jobs"),
            "{err}"
        );
    }
}
