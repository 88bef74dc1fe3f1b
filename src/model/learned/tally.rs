//! One TF-IDF block's contribution to the decision, accumulated as the text's n-grams are found:
//! the coefficients' dot product with the l2-normalised sublinear tf-idf vector, without a list
//! of hits or a pass over a table afterwards.

use super::weights::Slot;

/// A small open-addressing table of the features seen in one text and their counts, reused from
/// text to text: a slot belongs to the current text only when it carries the current stamp, so
/// starting a text clears nothing.
#[derive(Default)]
pub(super) struct Tally {
    /// (stamp, feature, count) per slot.
    table: Vec<(u32, u32, u32)>,
    stamp: u32,
    /// Features in the table for the current text.
    used: usize,
    /// What the `c`-th occurrence of a feature adds to its tf and to its tf², for small `c`
    /// (repeated n-grams are common: " th" in every "the").
    steps: Vec<(f64, f64)>,
    /// Σ tf · idf · coef and Σ (tf · idf)² so far.
    dot: f64,
    squares: f64,
}

impl Tally {
    /// Starts a block.
    pub fn start(&mut self) {
        if self.table.is_empty() {
            self.table = vec![(0, 0, 0); 1024];
            self.steps = (0..STEPS).map(step).collect();
        }
        self.used = 0;
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.table.fill((0, 0, 0));
            self.stamp = 1;
        }
        self.dot = 0.0;
        self.squares = 0.0;
    }

    /// Counts one occurrence of `feature` (its vocabulary slot index), whose weights are `slot`.
    /// Sublinear tf: a feature seen `c` times counts 1 + ln(c), so its `c`-th occurrence adds the
    /// difference from `c - 1`.
    #[inline(always)]
    pub fn add(&mut self, feature: u32, slot: &Slot) {
        let mask = self.table.len() - 1;
        let mut at = (feature.wrapping_mul(0x9e37_79b1) as usize) & mask;
        let (idf, coef) = (f64::from(slot.idf), f64::from(slot.coef));
        loop {
            let entry = &mut self.table[at];
            if entry.0 != self.stamp {
                *entry = (self.stamp, feature, 1);
                self.dot += idf * coef;
                self.squares += idf * idf;
                self.used += 1;
                if self.used * 2 > self.table.len() {
                    self.grow();
                }
                return;
            }
            if entry.1 == feature {
                let (dtf, dsquare) = match self.steps.get(entry.2 as usize) {
                    Some(&known) => known,
                    None => step(entry.2),
                };
                entry.2 += 1;
                self.dot += dtf * idf * coef;
                self.squares += dsquare * idf * idf;
                return;
            }
            at = (at + 1) & mask;
        }
    }

    /// Doubles the table, keeping the current text's features (a long text).
    fn grow(&mut self) {
        let size = self.table.len() * 2;
        let old = std::mem::replace(&mut self.table, vec![(0, 0, 0); size]);
        let mask = self.table.len() - 1;
        for entry in old.into_iter().filter(|e| e.0 == self.stamp) {
            let mut at = (entry.1.wrapping_mul(0x9e37_79b1) as usize) & mask;
            while self.table[at].0 == self.stamp {
                at = (at + 1) & mask;
            }
            self.table[at] = entry;
        }
    }

    /// The block's contribution: 0 without any feature.
    pub fn finish(&self) -> f64 {
        if self.squares > 0.0 {
            self.dot / self.squares.sqrt()
        } else {
            0.0
        }
    }
}

/// How many [`step`]s are precomputed.
const STEPS: u32 = 64;

/// What a feature's tf and tf² gain when its count goes from `count` to `count + 1`.
fn step(count: u32) -> (f64, f64) {
    let (before, after) = (tf(count), tf(count + 1));
    (after - before, after * after - before * before)
}

/// Sublinear tf, 1 + ln(count) (0 for a feature not seen).
#[inline]
fn tf(count: u32) -> f64 {
    if count == 0 {
        0.0
    } else if count == 1 {
        1.0
    } else {
        1.0 + f64::from(count).ln()
    }
}
