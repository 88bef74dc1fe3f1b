//! One TF-IDF block's contribution to the decision, accumulated as the text's n-grams are found:
//! the coefficients' dot product with the l2-normalised sublinear tf-idf vector, without a list
//! of hits or a pass over a table afterwards.

use super::weights::Vocabulary;

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

impl Tally {
    /// One block's contribution to the decision, for the n-grams whose hashes are `hashes` (in the
    /// text's order), and whether any of them is in `vocabulary`.
    ///
    /// The loop keeps its sums in locals, in a function of its own: as fields of the per-thread
    /// `Tally`, or inlined into a larger function, they went through memory at every n-gram (a
    /// store and a load on the chain of additions).
    #[inline(never)]
    pub fn block(&mut self, vocabulary: &Vocabulary, hashes: &[u64]) -> (f64, bool) {
        self.start(vocabulary.slots());
        let stamp = self.stamp;
        let counts = &mut self.counts[..];
        let steps = &self.steps[..];
        // Σ tf · idf · coef and Σ (tf · idf)².
        let (mut dot, mut squares) = (0.0f64, 0.0f64);
        for &hash in hashes {
            let Some((feature, slot)) = vocabulary.find(hash) else {
                continue;
            };
            let (idf, coef) = (f64::from(slot.idf), f64::from(slot.coef));
            let entry = &mut counts[feature as usize];
            // Sublinear tf: a feature seen `c` times counts 1 + ln(c), so its `c`-th occurrence
            // adds the difference from `c - 1`.
            if entry.0 != stamp {
                *entry = (stamp, 1);
                dot += idf * coef;
                squares += idf * idf;
                continue;
            }
            let (dtf, dsquare) = match steps.get(entry.1 as usize) {
                Some(&known) => known,
                None => step(entry.1),
            };
            entry.1 += 1;
            dot += dtf * idf * coef;
            squares += dsquare * idf * idf;
        }
        // Every idf is at least 1, so the sum of squares is positive exactly when a feature was
        // found.
        if squares > 0.0 {
            (dot / squares.sqrt(), true)
        } else {
            (0.0, false)
        }
    }

    /// Starts a block whose vocabulary has `slots` slots: a new stamp, so nothing to clear.
    fn start(&mut self, slots: usize) {
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
