//! The artifact `weights.bin`, written by `scripts/learned/train.py`, and the lookup tables built
//! from it when the model is loaded.
//!
//! Format (all numbers little-endian, floats as IEEE-754 `f64` bits, so a retraining reproduces the
//! file byte for byte):
//!
//! ```text
//! magic            8 bytes  "SALRN001"
//! n_words          u32      word 1-2-gram features
//! n_chars          u32      char_wb 2-5-gram features
//! n_vader          u32      VADER features (4 scores + thresholds + style marks)
//! n_thresholds     u32      compound thresholds
//! intercept        f64
//! vader_scale      f64      the VADER features are multiplied by it
//! thresholds       n_thresholds × f64
//! vader_coef       n_vader × f64
//! then n_words word terms, then n_chars char terms, in feature order, each:
//!   length u16, the term's UTF-8 bytes, idf f64, coef f64
//! ```

use super::tokenize::{hash_str, key_str, mix, Key, KEY_BYTES};

const MAGIC: &[u8; 8] = b"SALRN001";

/// One feature: what scoring needs, and what checking a short term needs, in 32 bytes (two to a
/// cache line). The term's length is in its slot.
#[derive(Clone, Copy)]
pub(super) struct Entry {
    pub idf: f64,
    pub coef: f64,
    /// The term's [`Key`] (its first [`KEY_BYTES`] bytes), as two halves to keep the entry 8-aligned.
    key: [u64; 2],
}

/// A slot's check word: 24 bits of the hash (not those that chose the slot) and the term's byte
/// length, capped at 255.
#[inline]
fn check(hash: u64, len: usize) -> u32 {
    (((hash >> 40) as u32) << 8) | len.min(255) as u32
}

/// One TF-IDF block: its terms, their idf and logistic-regression coefficients, and an
/// open-addressing table (linear probing) from a term's hash to its feature index.
pub(super) struct Vocabulary {
    /// Every term's UTF-8 bytes, back to back; term `i` is `terms[spans[i].0..spans[i].1]`.
    terms: String,
    spans: Vec<(u32, u32)>,
    pub entries: Vec<Entry>,
    /// Per slot: [`check`] of the term's hash and length, and its feature index + 1 (0: empty).
    slots: Vec<(u32, u32)>,
    shift: u32,
}

impl Vocabulary {
    fn new(terms: String, spans: Vec<(u32, u32)>, entries: Vec<Entry>) -> Self {
        let n = entries.len();
        // Load factor between 0.4 and 0.8: a probe sequence stays within a cache line or two.
        let bits = (n + n / 4).max(2).next_power_of_two().trailing_zeros();
        let mut vocabulary = Vocabulary {
            terms,
            spans,
            entries,
            slots: vec![(0, 0); 1 << bits],
            shift: 64 - bits,
        };
        for index in 0..n {
            let term = vocabulary.term(index);
            let (hash, len) = (hash_str(term), term.len());
            let mut slot = vocabulary.home(hash);
            while vocabulary.slots[slot].1 != 0 {
                slot = (slot + 1) & (vocabulary.slots.len() - 1);
            }
            vocabulary.slots[slot] = (check(hash, len), index as u32 + 1);
        }
        vocabulary
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn term(&self, index: usize) -> &str {
        let (start, end) = self.spans[index];
        &self.terms[start as usize..end as usize]
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    /// Whether feature `index`, whose slot's check word matched (so a term of at most 255 bytes
    /// has length `len`), is the term made of `parts` concatenated, `len` bytes, [`Key`] `key`.
    #[inline]
    fn is(&self, index: usize, len: usize, key: Key, parts: &[&[u8]]) -> bool {
        if self.entries[index].key != split(key) {
            return false;
        }
        if len <= KEY_BYTES {
            return true;
        }
        // A long term: compare all its bytes.
        let mut rest = self.term(index).as_bytes();
        if rest.len() != len {
            return false;
        }
        for part in parts {
            let (head, tail) = rest.split_at(part.len());
            if head != *part {
                return false;
            }
            rest = tail;
        }
        true
    }

    /// The feature index of the term made of `parts` concatenated, whose [`hash_str`] is `hash`
    /// and [`key_str`] is `key`.
    #[inline]
    fn find(&self, hash: u64, key: Key, parts: &[&[u8]]) -> Option<u32> {
        let len = parts.iter().map(|p| p.len()).sum();
        let tag = check(hash, len);
        let mask = self.slots.len() - 1;
        let mut slot = self.home(hash);
        loop {
            let (slot_tag, entry) = self.slots[slot];
            if entry == 0 {
                return None;
            }
            if slot_tag == tag && self.is(entry as usize - 1, len, key, parts) {
                return Some(entry - 1);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The feature index of `term`, whose [`hash_str`] is `hash` and [`key_str`] is `key`.
    #[inline]
    pub fn find_str(&self, hash: u64, key: Key, term: &str) -> Option<u32> {
        self.find(hash, key, &[term.as_bytes()])
    }

    /// The feature index of `term` (hash computed here).
    #[cfg(test)]
    pub fn get(&self, term: &str) -> Option<u32> {
        self.find_str(hash_str(term), key_str(term), term)
    }

    /// The feature index of the bigram `first + " " + second`, whose hash is `hash` and key `key`.
    #[inline]
    pub fn find_pair(&self, hash: u64, key: Key, first: &str, second: &str) -> Option<u32> {
        self.find(hash, key, &[first.as_bytes(), b" ", second.as_bytes()])
    }
}

#[inline]
fn split(key: Key) -> [u64; 2] {
    [key as u64, (key >> 64) as u64]
}

/// The hash of `first + " " + second`, given the hash of `first`.
#[inline]
pub(super) fn pair_hash(first_hash: u64, second: &str) -> u64 {
    second.chars().fold(mix(first_hash, ' '), mix)
}

/// The whole model.
pub(super) struct Weights {
    pub words: Vocabulary,
    pub chars: Vocabulary,
    pub intercept: f64,
    pub vader_scale: f64,
    pub thresholds: Vec<f64>,
    pub vader_coef: Vec<f64>,
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.data.len() < n {
            return Err("truncated".into());
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn f64s(&mut self, n: usize) -> Result<Vec<f64>, String> {
        (0..n).map(|_| self.f64()).collect()
    }
    fn vocabulary(&mut self, n: usize) -> Result<Vocabulary, String> {
        let mut terms = String::new();
        let mut spans = Vec::with_capacity(n);
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let length = self.u16()? as usize;
            let term = std::str::from_utf8(self.take(length)?).map_err(|e| e.to_string())?;
            let start = u32::try_from(terms.len()).map_err(|e| e.to_string())?;
            terms.push_str(term);
            spans.push((start, start + length as u32));
            entries.push(Entry {
                idf: self.f64()?,
                coef: self.f64()?,
                key: split(key_str(term)),
            });
        }
        Ok(Vocabulary::new(terms, spans, entries))
    }
}

impl Weights {
    /// Parses an artifact; an error names what is wrong with it.
    pub fn parse(data: &[u8]) -> Result<Self, String> {
        let mut reader = Reader { data };
        if reader.take(MAGIC.len())? != MAGIC {
            return Err("not a learned-model artifact (bad magic)".into());
        }
        let n_words = reader.u32()? as usize;
        let n_chars = reader.u32()? as usize;
        let n_vader = reader.u32()? as usize;
        let n_thresholds = reader.u32()? as usize;
        let intercept = reader.f64()?;
        let vader_scale = reader.f64()?;
        let thresholds = reader.f64s(n_thresholds)?;
        let vader_coef = reader.f64s(n_vader)?;
        if n_vader != 4 + n_thresholds + super::features::N_STYLE {
            return Err(format!(
                "{n_vader} VADER features, expected 4 + thresholds + style"
            ));
        }
        let words = reader.vocabulary(n_words)?;
        let chars = reader.vocabulary(n_chars)?;
        if !reader.data.is_empty() {
            return Err("trailing bytes".into());
        }
        Ok(Weights {
            words,
            chars,
            intercept,
            vader_scale,
            thresholds,
            vader_coef,
        })
    }
}
