//! The sentiment models behind the service: a small trait, so the server does not care which model
//! runs, and the set of models loaded, from which each request chooses one.

mod catalog;
mod learned;
mod vader;

#[cfg(feature = "encoder")]
mod encoder;

pub use catalog::{LoadError, ModelId, Models, COMPILED};
pub use learned::Learned;
pub use vader::Vader;

#[cfg(feature = "encoder")]
pub use encoder::{Encoder, EncoderError};

use serde::{Deserialize, Serialize};

/// A model that scores the sentiment of one text; built once and shared by every worker.
pub trait SentimentModel: Send + Sync + 'static {
    /// The name clients choose it by (a request's `model`, `MODELS`, `DEFAULT_MODEL`), also in
    /// logs and metrics.
    fn name(&self) -> &'static str;

    /// What `GET /models` says of it.
    fn card(&self) -> ModelCard {
        ModelCard {
            kind: "custom",
            licence: "unknown",
            description: "",
        }
    }

    /// Scores one text. Must be total: every string gets an answer.
    fn score(&self, text: &str) -> Scores;

    /// Scores several texts, in order. A model that computes a batch faster than its texts one
    /// by one (the encoder: one padded forward pass) overrides this and [`Self::batch_size`].
    fn score_batch(&self, texts: &[&str]) -> Vec<Scores> {
        texts.iter().map(|text| self.score(text)).collect()
    }

    /// How many texts one [`Self::score_batch`] call handles well. Above 1, the server coalesces
    /// concurrent requests for this model into such calls.
    fn batch_size(&self) -> usize {
        1
    }

    /// Roughly what scoring a short text costs, so the server knows where it may run.
    fn cost(&self) -> Cost {
        Cost::Light
    }
}

/// What scoring a short text costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Microseconds: short texts are scored on the worker's event loop.
    Light,
    /// Milliseconds: every text goes to the blocking pool, so no connection waits behind it.
    Heavy,
}

/// A model's description, as `GET /models` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelCard {
    /// How it works, in a word or two: `lexicon`, `linear`, `encoder`.
    pub kind: &'static str,
    /// The licence of the model's data or weights (SPDX).
    pub licence: &'static str,
    /// One line about it.
    pub description: &'static str,
}

/// The labels every model answers with, whatever it computes inside.
pub const LABELS: [Sentiment; 3] = [Sentiment::Positive, Sentiment::Neutral, Sentiment::Negative];

/// The scores of one text: a compound in [-1, 1] and the positive/neutral/negative proportions.
// `compound` is not in the JSON (it travels as the prediction's `score`): `crate::client` fills
// it in from there when it reads an answer back.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scores {
    /// Overall polarity in [-1, 1] (VADER's compound).
    #[serde(skip)]
    pub compound: f64,
    /// Share of the text that reads positive.
    pub positive: f64,
    /// Share of the text that reads neutral.
    pub neutral: f64,
    /// Share of the text that reads negative.
    pub negative: f64,
}

/// The label given to a compound score, with VADER's customary ±0.05 thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sentiment {
    /// compound >= 0.05
    Positive,
    /// -0.05 < compound < 0.05
    Neutral,
    /// compound <= -0.05
    Negative,
}

impl Sentiment {
    /// The label of a compound score.
    pub fn of(compound: f64) -> Self {
        if compound >= 0.05 {
            Sentiment::Positive
        } else if compound <= -0.05 {
            Sentiment::Negative
        } else {
            Sentiment::Neutral
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_the_vader_convention() {
        assert_eq!(Sentiment::of(0.05), Sentiment::Positive);
        assert_eq!(Sentiment::of(0.0499), Sentiment::Neutral);
        assert_eq!(Sentiment::of(0.0), Sentiment::Neutral);
        assert_eq!(Sentiment::of(-0.0499), Sentiment::Neutral);
        assert_eq!(Sentiment::of(-0.05), Sentiment::Negative);
    }
}
