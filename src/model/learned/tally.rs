//! One TF-IDF block's contribution to the decision, accumulated as the text's n-grams are found:
//! the coefficients' dot product with the l2-normalised sublinear tf-idf vector, without a list
//! of hits or a pass over a table afterwards.

use super::weights::Slot;

/// The counts of the features seen in one text, indexed directly by the feature's vocabulary slot
/// and reused from text to text: an entry belongs to the current text only when it carries the
/// current stamp, so starting a text clears nothing. Indexing by slot (8 bytes per slot of the
/// larger vocabulary, 2 MiB per thread) replaces a probe of a small hash table per occurrence.
#[derive(Default)]
pub(super) struct Tally {
    /// (stamp, count) per vocabulary slot.
    counts: Vec<(u32, u32)>,
    stamp: u32,
    /// What the `c`-th occurrence of a feature adds to its tf and to its tf², for small `c`
    /// (repeated n-grams are common: " th" in every "the").
    steps: Vec<(f64, f64)>,
}

/// One block being tallied: borrowed from a [`Tally`] and held in locals, so the sums stay in
/// registers through the loop (as fields of the per-thread `Tally` they went through memory at
/// every occurrence, the compiler unable to rule out that the counts alias them).
pub(super) struct Block<'a> {
    counts: &'a mut [(u32, u32)],
    stamp: u32,
    steps: &'a [(f64, f64)],
    /// Σ tf · idf · coef and Σ (tf · idf)² so far.
    dot: f64,
    squares: f64,
}

impl Tally {
    /// Starts a block whose vocabulary has `slots` slots.
    pub fn start(&mut self, slots: usize) -> Block<'_> {
        if self.steps.is_empty() {
            self.steps = (0..STEPS).map(step).collect();
        }
        if self.counts.len() < slots {
            self.counts = vec![(0, 0); slots];
            self.stamp = 0;
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.counts.fill((0, 0));
            self.stamp = 1;
        }
        Block {
            counts: &mut self.counts[..slots],
            stamp: self.stamp,
            steps: &self.steps,
            dot: 0.0,
            squares: 0.0,
        }
    }
}

impl Block<'_> {
    /// Counts one occurrence of `feature` (its vocabulary slot index), whose weights are `slot`.
    /// Sublinear tf: a feature seen `c` times counts 1 + ln(c), so its `c`-th occurrence adds the
    /// difference from `c - 1`.
    #[inline(always)]
    pub fn add(&mut self, feature: u32, slot: &Slot) {
        let (idf, coef) = (f64::from(slot.idf), f64::from(slot.coef));
        let entry = &mut self.counts[feature as usize];
        if entry.0 != self.stamp {
            *entry = (self.stamp, 1);
            self.dot += idf * coef;
            self.squares += idf * idf;
            return;
        }
        let (dtf, dsquare) = match self.steps.get(entry.1 as usize) {
            Some(&known) => known,
            None => step(entry.1),
        };
        entry.1 += 1;
        self.dot += dtf * idf * coef;
        self.squares += dsquare * idf * idf;
    }

    /// The block's contribution (0 without any feature), and whether it had any feature (every
    /// idf is at least 1, so the sum of squares is positive exactly then).
    pub fn finish(&self) -> (f64, bool) {
        if self.squares > 0.0 {
            (self.dot / self.squares.sqrt(), true)
        } else {
            (0.0, false)
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
