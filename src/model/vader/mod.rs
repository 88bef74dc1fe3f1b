//! VADER 3.3.2 (Hutto & Gilbert, ICWSM-14): a fast exact scorer for ASCII texts, and `vader-parity`
//! for every other text.
//!
//! `vader-parity` matches Python `vaderSentiment==3.3.2` to the published precision (the popular
//! `vader_sentiment` crate differs from it on about a fifth of texts), but spends ~10 µs on a
//! 20-word review in allocations, hashing and Unicode casing tables. [`ascii`] computes the same
//! four numbers, bit for bit, for ASCII texts from one compact hash table ([`lexicon`]), with no
//! allocation per call; `tests/model/fast_path.rs` holds the two to each other on the fixture,
//! the ground-truth sets and a large generated corpus.
//!
//! Both are built at start, once: the fast path's table takes 2-3 ms and about 340 KiB,
//! `vader-parity`'s tables about 4 ms and 1.4 MiB; the first non-ASCII text then costs no more than
//! any other.

mod ascii;
mod lexicon;
mod round;

use vader_parity::SentimentIntensityAnalyzer;

use super::{ModelCard, Scores, SentimentModel};

/// VADER 3.3.2 (Hutto & Gilbert, ICWSM-14) with its lexicons compiled into the binary.
///
/// ASCII texts are scored by a fast path written for this service; every other text by
/// `vader-parity`. Both give the scores of Python `vaderSentiment==3.3.2`, bit for bit.
pub struct Vader {
    table: lexicon::Table,
    /// Every text the fast path leaves.
    analyzer: SentimentIntensityAnalyzer,
}

impl Vader {
    /// Parses the embedded lexicons (a few milliseconds); do it once and share the result.
    pub fn new() -> Self {
        Vader {
            table: lexicon::Table::new(),
            analyzer: SentimentIntensityAnalyzer::new(),
        }
    }

    /// The scores of the fast ASCII path alone, `None` for a text it leaves to `vader-parity`
    /// (any non-ASCII text, and a few pathological ones). For tests and benchmarks.
    #[doc(hidden)]
    pub fn score_fast_path(&self, text: &str) -> Option<Scores> {
        ascii::score(&self.table, text)
    }

    /// The scores of `vader-parity` alone. For tests and benchmarks.
    #[doc(hidden)]
    pub fn score_reference(&self, text: &str) -> Scores {
        let s = self.analyzer.polarity_scores(text);
        Scores {
            compound: s.compound,
            positive: s.pos,
            neutral: s.neu,
            negative: s.neg,
        }
    }
}

impl Default for Vader {
    fn default() -> Self {
        Self::new()
    }
}

impl SentimentModel for Vader {
    fn name(&self) -> &'static str {
        "vader"
    }

    fn card(&self) -> ModelCard {
        ModelCard {
            kind: "lexicon",
            licence: "MIT",
            description: "VADER 3.3.2 (Hutto & Gilbert, 2014): a sentiment lexicon and rules, \
                          scoring exactly as Python vaderSentiment 3.3.2",
        }
    }

    fn score(&self, text: &str) -> Scores {
        match ascii::score(&self.table, text) {
            Some(scores) => scores,
            None => self.score_reference(text),
        }
    }
}
