//! review-triage: finds the customer reviews a person should read first, by asking
//! sentiment-api which ones are negative. The code under test in this example; its tests run it
//! against the real server (`tests/triage.rs`).

use sentiment_api::client::{Client, Error};
use sentiment_api::model::Sentiment;

/// Sorts reviews by what sentiment-api makes of them.
pub struct Triage {
    client: Client,
}

impl Triage {
    /// Triage through `client`.
    pub fn new(client: Client) -> Self {
        Triage { client }
    }

    /// The positions of the negative reviews, asked in one batch.
    pub async fn negative(&self, reviews: &[&str]) -> Result<Vec<usize>, Error> {
        let predictions = self.client.predict_batch(reviews.iter().copied()).await?;
        Ok(negatives(predictions.iter().map(|p| p.sentiment)))
    }

    /// The same, as a background job (for a nightly run over many reviews).
    pub async fn negative_in_background(&self, reviews: &[&str]) -> Result<Vec<usize>, Error> {
        let job = self.client.submit_job(reviews.iter().copied()).await?;
        let predictions = job.wait().await?;
        Ok(negatives(predictions.iter().map(|p| p.sentiment)))
    }
}

fn negatives(labels: impl Iterator<Item = Sentiment>) -> Vec<usize> {
    labels
        .enumerate()
        .filter(|(_, label)| *label == Sentiment::Negative)
        .map(|(at, _)| at)
        .collect()
}
