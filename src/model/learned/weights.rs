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

use super::tokenize::{hash_str, mix};

const MAGIC: &[u8; 8] = b"SALRN001";

/// One TF-IDF block: its terms, their idf and logistic-regression coefficients, and an
/// open-addressing table from a term's hash to its feature index.
pub(super) struct Vocabulary {
    /// Every term's UTF-8 bytes, back to back; term `i` is `terms[ends[i-1]..ends[i]]`.
    terms: String,
    ends: Vec<u32>,
    pub idf: Vec<f64>,
    pub coef: Vec<f64>,
    /// Per slot: the upper 32 bits of the term's hash, and its feature index + 1 (0: empty slot).
    slots: Vec<(u32, u32)>,
    shift: u32,
}

impl Vocabulary {
    fn new(terms: String, ends: Vec<u32>, idf: Vec<f64>, coef: Vec<f64>) -> Self {
        let n = ends.len();
        let bits = (n * 2).max(2).next_power_of_two().trailing_zeros();
        let mut vocabulary = Vocabulary {
            terms,
            ends,
            idf,
            coef,
            slots: vec![(0, 0); 1 << bits],
            shift: 64 - bits,
        };
        for index in 0..n {
            let hash = hash_str(vocabulary.term(index));
            let mut slot = vocabulary.home(hash);
            while vocabulary.slots[slot].1 != 0 {
                slot = (slot + 1) & (vocabulary.slots.len() - 1);
            }
            vocabulary.slots[slot] = ((hash >> 32) as u32, index as u32 + 1);
        }
        vocabulary
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    fn term(&self, index: usize) -> &str {
        let start = if index == 0 {
            0
        } else {
            self.ends[index - 1] as usize
        };
        &self.terms[start..self.ends[index] as usize]
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    /// The feature index of the term whose hash is `hash` and which `matches` confirms.
    #[inline]
    pub fn find(&self, hash: u64, matches: impl Fn(&str) -> bool) -> Option<u32> {
        let tag = (hash >> 32) as u32;
        let mask = self.slots.len() - 1;
        let mut slot = self.home(hash);
        loop {
            let (slot_tag, entry) = self.slots[slot];
            if entry == 0 {
                return None;
            }
            if slot_tag == tag && matches(self.term(entry as usize - 1)) {
                return Some(entry - 1);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The feature index of `term` (hash computed here).
    #[cfg(test)]
    pub fn get(&self, term: &str) -> Option<u32> {
        self.find(hash_str(term), |t| t == term)
    }

    /// The feature index of the bigram `first + " " + second`, whose hash is `hash`.
    #[inline]
    pub fn find_pair(&self, hash: u64, first: &str, second: &str) -> Option<u32> {
        self.find(hash, |t| {
            t.len() == first.len() + 1 + second.len()
                && t.as_bytes()[first.len()] == b' '
                && t.starts_with(first)
                && t.ends_with(second)
        })
    }
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
        let mut ends = Vec::with_capacity(n);
        let mut idf = Vec::with_capacity(n);
        let mut coef = Vec::with_capacity(n);
        for _ in 0..n {
            let length = self.u16()? as usize;
            let term = std::str::from_utf8(self.take(length)?).map_err(|e| e.to_string())?;
            terms.push_str(term);
            ends.push(u32::try_from(terms.len()).map_err(|e| e.to_string())?);
            idf.push(self.f64()?);
            coef.push(self.f64()?);
        }
        Ok(Vocabulary::new(terms, ends, idf, coef))
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
