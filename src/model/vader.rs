use vader_parity::SentimentIntensityAnalyzer;

use super::{Scores, SentimentModel};

/// VADER 3.3.2 (Hutto & Gilbert, ICWSM-14) with both lexicons compiled into the binary.
///
/// Backed by `vader-parity`, which matches Python `vaderSentiment==3.3.2` to the published
/// precision; the popular `vader_sentiment` crate differs from it on about a fifth of texts.
pub struct Vader {
    analyzer: SentimentIntensityAnalyzer,
}

impl Vader {
    /// Parses the embedded lexicons; do it once and share the result.
    pub fn new() -> Self {
        Vader {
            analyzer: SentimentIntensityAnalyzer::new(),
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
        "vader-3.3.2"
    }

    fn score(&self, text: &str) -> Scores {
        let s = self.analyzer.polarity_scores(text);
        Scores {
            compound: s.compound,
            positive: s.pos,
            neutral: s.neu,
            negative: s.neg,
        }
    }
}
