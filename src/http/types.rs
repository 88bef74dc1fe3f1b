//! The JSON of requests and answers, and how they appear in the OpenAPI document.
//!
//! The answers are also what `crate::client` reads (hence `Deserialize`): the server writes them
//! borrowed (`Cow::Borrowed`, no copy), the client reads them owned (`'static`), and the two sides
//! share one definition that cannot drift.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ValidationItem;
use crate::inference::Scored;
use crate::jobs::JobState;
use crate::model::{Models, Scores, Sentiment, LABELS};

/// The JSON body form of `/predict` (for the document; the handler validates it itself).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PredictRequest {
    /// The text to score, at most `MAX_TEXT_CHARS` characters.
    text: String,
    /// The model to score it with (`GET /models`); without it, `DEFAULT_MODEL`.
    model: Option<String>,
}

/// The body of a batch (for the document; the handler validates it itself).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BatchRequest {
    /// 1 to `MAX_BATCH_SIZE` texts of at most `MAX_TEXT_CHARS` characters each.
    texts: Vec<String>,
    /// The model to score them with (`GET /models`); without it, `DEFAULT_MODEL`.
    model: Option<String>,
}

/// The answer for one text.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Prediction<'a> {
    /// The text as received.
    #[schema(value_type = String)]
    pub text: Cow<'a, str>,
    /// `positive`, `neutral` or `negative`.
    pub sentiment: Sentiment,
    /// The compound score in [-1, 1].
    pub score: f64,
    /// Positive, neutral and negative proportions.
    pub scores: Scores,
    /// The model that scored the text.
    #[schema(value_type = String)]
    pub model: Cow<'a, str>,
    /// `"success"` on `/predict`; absent inside a batch (and from this schema: `/predict`'s
    /// answer is documented as [`PredictResponse`], where it is required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub status: Option<Cow<'static, str>>,
}

/// The answer of `POST /predict` (for the document: [`Prediction`] writes it, with `status`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PredictResponse {
    /// The text as received.
    text: String,
    /// `positive`, `neutral` or `negative`.
    sentiment: Sentiment,
    /// The compound score in [-1, 1].
    score: f64,
    /// Positive, neutral and negative proportions.
    scores: Scores,
    /// The model that scored the text.
    model: String,
    /// Always `success`.
    status: String,
}

impl<'a> Prediction<'a> {
    /// The answer for a scored text: its label, compound score and proportions.
    pub fn of(scored: &'a Scored) -> Self {
        let scores = scored.scores;
        Prediction {
            text: Cow::Borrowed(&scored.text),
            sentiment: Sentiment::of(scores.compound),
            score: scores.compound,
            scores,
            model: Cow::Borrowed(scored.model),
            status: None,
        }
    }

    /// The answers for scored texts, in their order.
    pub fn all(scored: &'a [Scored]) -> Vec<Self> {
        scored.iter().map(Prediction::of).collect()
    }

    /// This prediction as JSON: byte for byte what `serde_json::to_vec` writes (a test holds it to
    /// that), but quicker on `/predict`'s path. The keys are written as the constants they are,
    /// the numbers by serde_json, and the text, the one long field, is checked for characters to
    /// escape eight bytes at a time and then copied (serde_json escapes every string, keys
    /// included, byte by byte). Text that needs escaping goes to serde_json.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(self.text.len() + 160);
        out.extend_from_slice(b"{\"text\":");
        if needs_json_escape(self.text.as_bytes()) {
            serde_json::to_writer(&mut out, &self.text)?;
        } else {
            out.push(b'"');
            out.extend_from_slice(self.text.as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(b",\"sentiment\":");
        serde_json::to_writer(&mut out, &self.sentiment)?;
        out.extend_from_slice(b",\"score\":");
        serde_json::to_writer(&mut out, &self.score)?;
        out.extend_from_slice(b",\"scores\":{\"positive\":");
        serde_json::to_writer(&mut out, &self.scores.positive)?;
        out.extend_from_slice(b",\"neutral\":");
        serde_json::to_writer(&mut out, &self.scores.neutral)?;
        out.extend_from_slice(b",\"negative\":");
        serde_json::to_writer(&mut out, &self.scores.negative)?;
        out.extend_from_slice(b"},\"model\":");
        serde_json::to_writer(&mut out, &self.model)?;
        if let Some(status) = &self.status {
            out.extend_from_slice(b",\"status\":");
            serde_json::to_writer(&mut out, status)?;
        }
        out.push(b'}');
        Ok(out)
    }
}

/// Whether serde_json would escape anything in `bytes`: a control character (below 0x20), `"` or
/// `\\`. Everything else, UTF-8 sequences included, it writes as it is.
fn needs_json_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The top bit of a byte of `(w - n) & !w` is set for some byte below `n` (n <= 0x80) when
    // there is one: exact as an "any", which is all that is asked here.
    let any_below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH != 0;
    let any_equal = |w: u64, b: u8| any_below(w ^ (ONES * u64::from(b)), 1);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_le_bytes(w);
        if any_below(w, 0x20) || any_equal(w, b'"') || any_equal(w, b'\\') {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// The answer of `POST /predict/batch`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse<'a> {
    /// One prediction per text, in input order.
    pub results: Vec<Prediction<'a>>,
    /// Always `success`.
    #[schema(value_type = String)]
    pub status: Cow<'static, str>,
}

/// The JSON of `GET /jobs/{id}` and of the 202 answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobView<'a> {
    /// The job's id.
    #[schema(value_type = String)]
    pub job_id: Uuid,
    /// `processing`, `done` or `failed`.
    #[schema(value_type = String)]
    pub status: Cow<'static, str>,
    /// The predictions, once done (absent before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Prediction>>, nullable = false)]
    pub results: Option<Vec<Prediction<'a>>>,
    /// Why it failed, if it did (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    pub detail: Option<Cow<'a, str>>,
}

impl<'a> JobView<'a> {
    /// The view of a job in `state`.
    pub fn new(job_id: Uuid, state: &'a JobState) -> Self {
        let (status, results, detail) = match state {
            JobState::Processing => ("processing", None, None),
            JobState::Done(results) => ("done", Some(Prediction::all(results)), None),
            JobState::Failed(reason) => ("failed", None, Some(reason.as_str())),
        };
        JobView {
            job_id,
            status: Cow::Borrowed(status),
            results,
            detail: detail.map(Cow::Borrowed),
        }
    }
}

/// What `/me` tells a caller about its own key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me<'a> {
    /// The key's id.
    #[schema(value_type = String)]
    pub key_id: Cow<'a, str>,
    /// Who holds it, or null.
    #[schema(value_type = Option<String>, required = true)]
    pub owner: Option<Cow<'a, str>>,
    /// When it expires (RFC 3339), or null.
    #[schema(required = true)]
    pub expires_at: Option<String>,
    /// The route groups it may use: `predict` (`/predict`, `/predict/batch`), `jobs`
    /// (`/analyze_batch`, `/jobs/{job_id}`).
    #[schema(value_type = Vec<String>)]
    pub scopes: Vec<Cow<'static, str>>,
    /// The key's rate limit and what is left of it.
    pub rate_limit: RateLimitView,
    /// The day and month quotas the key is held to, its own and its owner's, with what is used
    /// and left of each; absent for a key with none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaView>,
}

/// A key's day and month quotas, as `/me` shows them.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct QuotaView {
    /// The key's own quotas; absent when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PeriodsView>,
    /// Its owner's quotas, shared by all the owner's keys; absent when the owner has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<PeriodsView>,
}

/// One holder's quotas, by period.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct PeriodsView {
    /// The calendar day's (UTC); absent when there is no daily quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<UsageView>,
    /// The calendar month's (UTC); absent when there is no monthly quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<UsageView>,
}

/// One quota in the current period.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UsageView {
    /// Units allowed in the period.
    pub limit: u64,
    /// Units spent in the period (may exceed `limit` after the quota was lowered).
    pub used: u64,
    /// Units left in the period.
    pub remaining: u64,
    /// Seconds until the period ends and the count starts again from zero.
    pub reset_seconds: u64,
}

/// A key's rate limit, as `/me` shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RateLimitView {
    /// Units per window.
    pub limit: u32,
    /// Most units at once.
    pub burst: u32,
    /// The window in seconds.
    pub window_seconds: u64,
    /// Units left now.
    pub remaining: u32,
    /// Seconds until the next unit returns (0 when full).
    pub reset_seconds: u64,
}

/// The answer of `GET /models`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelList {
    /// Every loaded model, the default included.
    pub models: Vec<ModelView>,
}

/// One loaded model, as `GET /models` describes it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelView {
    /// The name a request's `model` gives.
    #[schema(value_type = String)]
    pub name: Cow<'static, str>,
    /// How it works: `lexicon`, `linear`, `encoder`.
    #[schema(value_type = String)]
    pub kind: Cow<'static, str>,
    /// Whether a request that names no model gets this one.
    pub default: bool,
    /// The labels it answers with.
    pub labels: [Sentiment; 3],
    /// The licence of its data or weights (SPDX).
    #[schema(value_type = String)]
    pub licence: Cow<'static, str>,
    /// One line about it.
    #[schema(value_type = String)]
    pub description: Cow<'static, str>,
}

impl ModelList {
    /// The list of `models`.
    pub fn of(models: &Models) -> Self {
        ModelList {
            models: models
                .iter()
                .map(|(model, default)| {
                    let card = model.card();
                    ModelView {
                        name: model.name().into(),
                        kind: card.kind.into(),
                        default,
                        labels: LABELS,
                        licence: card.licence.into(),
                        description: card.description.into(),
                    }
                })
                .collect(),
        }
    }
}

/// The answer of `/health` (`ok`) and `/health/ready` (`ready` or `draining`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` on `/health` whenever the process serves; `ready` or `draining` on `/health/ready`.
    #[schema(value_type = String)]
    pub status: Cow<'static, str>,
}

/// The body of every error but 422: `{"detail": "..."}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// What went wrong.
    pub detail: String,
}

/// The body of a 422: Pydantic v2 error items (FastAPI's `HTTPValidationError`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = HTTPValidationError)]
pub struct HttpValidationError {
    /// One item per problem.
    pub detail: Vec<ValidationItem>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction<'a>(text: &'a str, status: Option<&'static str>) -> Prediction<'a> {
        Prediction {
            text: text.into(),
            sentiment: Sentiment::Negative,
            score: -0.5423,
            scores: Scores {
                compound: -0.5423,
                positive: 0.0,
                neutral: 0.623,
                negative: 0.377,
            },
            model: "vader".into(),
            status: status.map(Cow::Borrowed),
        }
    }

    #[test]
    fn to_json_writes_what_serde_json_writes() {
        // Every byte that matters to the escaping, at every position in and around a word.
        let mut texts: Vec<String> = vec![
            String::new(),
            "plain ascii text".into(),
            "caf\u{e9} \u{1f600} \u{7f}\u{80}".into(),
        ];
        for special in [
            '"', '\\', '\n', '\t', '\0', '\u{1f}', '\u{20}', '/', '\u{7f}', '\u{e9}',
        ] {
            for len in 0..20 {
                for at in 0..len {
                    let mut t: String = "abcdefghijklmnopqrst"[..len].into();
                    t.replace_range(at..at + 1, &special.to_string());
                    texts.push(t);
                }
            }
        }
        for text in &texts {
            for status in [None, Some("success"), Some("a \"quoted\" status")] {
                let p = prediction(text, status);
                assert_eq!(
                    String::from_utf8(p.to_json().unwrap()).unwrap(),
                    serde_json::to_string(&p).unwrap(),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn to_json_writes_every_label_and_number_as_serde_json_does() {
        let numbers = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.4404,
            1e-7,
            123456789.0,
            f64::NAN,
            f64::INFINITY,
        ];
        for sentiment in [Sentiment::Positive, Sentiment::Neutral, Sentiment::Negative] {
            for (k, &x) in numbers.iter().enumerate() {
                let y = numbers[(k + 3) % numbers.len()];
                let p = Prediction {
                    sentiment,
                    score: x,
                    scores: Scores {
                        compound: x,
                        positive: y,
                        neutral: x,
                        negative: -y,
                    },
                    ..prediction("some text", Some("success"))
                };
                assert_eq!(
                    String::from_utf8(p.to_json().unwrap()).unwrap(),
                    serde_json::to_string(&p).unwrap()
                );
            }
        }
    }

    #[test]
    fn the_escape_scan_finds_exactly_what_serde_json_escapes() {
        for b in 0..=255u8 {
            for len in 1..=17 {
                for at in 0..len {
                    let mut bytes = vec![b'x'; len];
                    bytes[at] = b;
                    let expected = b < 0x20 || b == b'"' || b == b'\\';
                    assert_eq!(
                        needs_json_escape(&bytes),
                        expected,
                        "byte {b:#x} at {at} of {len}"
                    );
                }
            }
        }
    }
}
