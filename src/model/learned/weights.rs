//! The artifact `weights.bin`, written by `scripts/learned/train.py`, and the lookup tables built
//! from it when the model is loaded.
//!
//! Format (all numbers little-endian, floats as IEEE-754 `f64` bits, so a retraining reproduces the
//! file byte for byte):
//!
//! ```text
//! magic            8 bytes  "SALRN003"
//! n_words          u32      word 1-2-gram features
//! n_chars          u32      char_wb 2-5-gram features
//! n_vader          u32      VADER features (4 scores + thresholds + style marks)
//! n_thresholds     u32      compound thresholds
//! intercept        f64
//! vader_scale      f64      the VADER features are multiplied by it
//! bands            4 × f64  the neutral bands on the decision value z, low < z < high (low <= 0 <=
//!                           high; fitted by cross-validation): low, high for a text whose VADER
//!                           compound is not 0, then low, high for one whose compound is 0
//! thresholds       n_thresholds × f64
//! vader_coef       n_vader × f64
//! then n_words word terms, then n_chars char terms, in feature order, each:
//!   length u16, the term's UTF-8 bytes, idf f64, coef f64
//! ```

use super::tokenize::{hash_str, mix};

const MAGIC: &[u8; 8] = b"SALRN003";

/// One slot of a [`Vocabulary`]: a term's 64-bit hash and what scoring needs of it, in 16 bytes
/// (four to a cache line), so a lookup is one probe of one line in the common case. `idf` is at
/// least 1 for a term (smoothed idf), so 0 marks an empty slot.
#[derive(Clone, Copy, Default)]
pub(super) struct Slot {
    hash: u64,
    pub coef: f32,
    pub idf: f32,
}

/// One TF-IDF block: an open-addressing table (linear probing) from a term's [`hash_str`] to its
/// idf and logistic-regression coefficient. A term is known by its 64-bit hash alone: the load
/// checks that no two terms of the vocabulary share one, and a text's unknown n-gram matches a term
/// only if its 64-bit hash is the term's (about 1 in 10^14 per n-gram for this vocabulary size).
pub(super) struct Vocabulary {
    slots: Vec<Slot>,
    shift: u32,
    len: usize,
}

impl Vocabulary {
    /// The table of `terms` (term, idf, coef); an error if two terms share a hash.
    fn new(terms: &[(String, f64, f64)]) -> Result<Self, String> {
        let n = terms.len();
        // Load factor between 1/6 and 1/3: most lookups end at the first slot, so the branch
        // after it is predictable (at 2/3, a sixth of the time went to mispredicted probes).
        let bits = (n * 3).max(2).next_power_of_two().trailing_zeros();
        let mut vocabulary = Vocabulary {
            slots: vec![Slot::default(); 1 << bits],
            shift: 64 - bits,
            len: n,
        };
        let mask = vocabulary.slots.len() - 1;
        // The most frequent terms (lowest idf) go in first, so they sit in their first slot: a
        // text's n-grams are mostly frequent ones, so most lookups end at the first slot and the
        // branch on it is predictable (the layout only; what a term scores is unchanged).
        let mut order: Vec<&(String, f64, f64)> = terms.iter().collect();
        order.sort_by(|a, b| a.1.total_cmp(&b.1));
        for (term, idf, coef) in order {
            let hash = hash_str(term);
            let mut slot = vocabulary.home(hash);
            while vocabulary.slots[slot].idf != 0.0 {
                if vocabulary.slots[slot].hash == hash {
                    return Err(format!("two terms share the hash of {term:?}"));
                }
                slot = (slot + 1) & mask;
            }
            if idf.is_nan() || *idf < 1.0 {
                return Err(format!("idf {idf} < 1 for {term:?}"));
            }
            vocabulary.slots[slot] = Slot {
                hash,
                coef: *coef as f32,
                idf: *idf as f32,
            };
        }
        Ok(vocabulary)
    }

    /// The number of slots (the bound of the indices [`Self::find`] returns).
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    /// The slot of the term whose [`hash_str`] is `hash`, if it is in the vocabulary: its index
    /// (below [`Self::slots`]) and its weights.
    #[inline]
    pub fn find(&self, hash: u64) -> Option<(u32, &Slot)> {
        let mask = self.slots.len() - 1;
        let mut at = self.home(hash);
        loop {
            let found = &self.slots[at];
            if found.hash == hash && found.idf != 0.0 {
                return Some((at as u32, found));
            }
            if found.idf == 0.0 {
                return None;
            }
            at = (at + 1) & mask;
        }
    }

    /// The slot of `term` (hash computed here).
    #[cfg(test)]
    pub fn get(&self, term: &str) -> Option<u32> {
        self.find(hash_str(term)).map(|(at, _)| at)
    }
}

/// The hash of `first + " " + second`, given the hash of `first`.
#[inline]
pub(super) fn pair_hash(first_hash: u64, second: &str) -> u64 {
    let hash = mix(first_hash, ' ');
    if second.is_ascii() {
        // A byte is its code point.
        return second.bytes().map(char::from).fold(hash, mix);
    }
    second.chars().fold(hash, mix)
}

/// The whole model.
pub(super) struct Weights {
    pub words: Vocabulary,
    pub chars: Vocabulary,
    pub intercept: f64,
    pub vader_scale: f64,
    /// The neutral bands on the decision value, `(low, high)`: `low < z < high` is neutral. The
    /// first for a text whose VADER compound is not 0, the second for one whose compound is 0.
    pub bands: [(f64, f64); 2],
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
        let mut terms = Vec::with_capacity(n);
        for _ in 0..n {
            let length = self.u16()? as usize;
            let term = std::str::from_utf8(self.take(length)?).map_err(|e| e.to_string())?;
            terms.push((term.to_owned(), self.f64()?, self.f64()?));
        }
        Vocabulary::new(&terms)
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
        let mut bands = [(0.0, 0.0); 2];
        for band in &mut bands {
            let (low, high) = (reader.f64()?, reader.f64()?);
            // A band must hold z = 0, so the label never contradicts the sign of the score.
            if !(low.is_finite() && high.is_finite() && low <= 0.0 && 0.0 <= high) {
                return Err(format!("neutral band {low}..{high} does not hold 0"));
            }
            *band = (low, high);
        }
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
            bands,
            thresholds,
            vader_coef,
        })
    }
}
