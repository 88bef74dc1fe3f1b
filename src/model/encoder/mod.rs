//! all-MiniLM-L6-v2 sentence embeddings (candle, CPU) with a linear head trained on the VADER
//! ground truth: the `encoder` cargo feature (docs/internals/encoder.md).
//!
//! The pipeline is sentence-transformers' for this model, then a logistic head:
//!
//! 1. **Tokenizer** (`tokenizer.json`, the `tokenizers` crate): BERT's lower-casing,
//!    accent-stripping WordPiece; `[CLS] … [SEP]`, truncated to `max_seq_length` word pieces
//!    (special tokens included) from `sentence_bert_config.json`, 256 for this model. The
//!    padding to 128 and truncation to 128 stored in `tokenizer.json` are replaced: sentence-transformers
//!    ignores them too.
//! 2. **BERT** (`config.json`, `model.safetensors`; candle-transformers' `bert`): 6 layers, 384
//!    wide, exact (erf) GELU, float32.
//! 3. **Mean pooling** over the tokens the attention mask keeps (`1_Pooling/config.json` must ask
//!    for mean pooling), then **L2 normalisation** (the model's `2_Normalize` module).
//! 4. **Head** ([`head.json`](head.json), compiled in): a logistic regression on
//!    [embedding (384) ++ VADER's compound, positive, neutral, negative ++ embedding × compound
//!    (384) ++ z], z the decision value of the service's learned model ([`Learned`], `tfidf`): a
//!    stacked ensemble, trained by `scripts/encoder/train_head.py` on the binary items of the VADER
//!    ground truth with out-of-fold z. It gives `p`, the probability that the text is positive. The
//!    384 products let the head weigh VADER's compound by what kind of text it is (VADER is right on
//!    98% of the tweets and on 63-73% of the reviews and editorials); z brings the n-grams the
//!    frozen encoder cannot learn (docs/internals/encoder.md).
//!
//! **Scores.** The model is binary, so it maps `p` onto the service's scores as:
//! `compound = 2p − 1` (in [-1, 1]), `positive = p`, `negative = 1 − p`, `neutral = 0`. The label
//! follows from the compound with VADER's ±0.05 thresholds ([`super::Sentiment::of`]), so a text is
//! `neutral` exactly when the head is unsure: 0.475 < p < 0.525.
//!
//! **Threads.** Forward passes run in the encoder's own rayon pool, sized when it is loaded
//! ([`Encoder::load_with_threads`]; [`Encoder::load`] uses the CPUs the process may run on).
//! candle's matrix products (the `gemm` crate) run on the pool they are called from, so they never
//! use more threads than that pool holds, however many callers there are: concurrent calls queue on
//! the pool (the callers block). The tokenizer encodes one text at a time, without rayon, and
//! rayon's global pool is not used. One more pool is candle's own and process-wide: element-wise
//! operations on 64 Ki elements or more (GELU and additions in batches of more than ~40 tokens ×
//! texts) run on candle 0.11's spin-then-park "barrier pool" of `CANDLE_NUM_THREADS − 1` threads
//! (else `RAYON_NUM_THREADS − 1`, else physical cores − 1: one thread on a 2-core machine), started
//! on first use, and one such operation runs at a time. Set `CANDLE_NUM_THREADS` in the process's
//! environment to bound it (1: none; the binary sets 1 when it is unset). candle cuts each matrix
//! product into `RAYON_NUM_THREADS` (else physical cores) tasks; on a smaller pool the surplus tasks
//! run one after another.

use std::path::{Path, PathBuf};

mod bert;

use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationParams};

use super::{Cost, Learned, ModelCard, Scores, SentimentModel, Vader};

/// The head, trained by `scripts/encoder/train_head.py`: weights over the embedding, VADER's four
/// scores and the embedding times VADER's compound, and a bias.
const HEAD_JSON: &str = include_str!("head.json");

/// The most texts one forward pass takes in [`Encoder::embed`]; longer lists are split.
const MAX_BATCH: usize = 32;

/// The most word pieces one forward pass takes (a text longer than this runs alone): bounds
/// attention's padded block, `texts × longest²` scores per head, when long texts come together,
/// as text-embeddings-inference's `max_batch_tokens` does. 32 texts of 64 word pieces fit.
const MAX_BATCH_TOKENS: usize = 2048;

/// Why the encoder could not be loaded (or, for a bug, could not run).
#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    /// A model file is missing or unreadable.
    #[error("{}: cannot read it: {source} (fetch the model with scripts/encoder/fetch_model.py and point MODEL_DIR at it)", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// A model file is there but not what the encoder needs.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The compiled-in head does not fit the model's embeddings.
    #[error("the encoder head (src/model/encoder/head.json): {0}")]
    Head(String),
    /// The thread pool could not be started.
    #[error("the encoder's thread pool: {0}")]
    Threads(String),
    /// A forward pass failed (a bug: shapes are checked when the model is loaded).
    #[error("the encoder's forward pass: {0}")]
    Inference(String),
}

/// The logistic head over [embedding ++ compound, positive, neutral, negative ++ embedding × compound
/// ++ the learned model's decision value].
#[derive(Debug, Deserialize)]
struct Head {
    weights: Vec<f64>,
    bias: f64,
}

impl Head {
    fn parse(hidden: usize) -> Result<Head, EncoderError> {
        let head: Head =
            serde_json::from_str(HEAD_JSON).map_err(|e| EncoderError::Head(e.to_string()))?;
        if head.weights.len() != 2 * hidden + 5 {
            return Err(EncoderError::Head(format!(
                "{} weights, but the model's embeddings have {hidden} dimensions \
                 (the head needs 2 × {hidden} + 5)",
                head.weights.len()
            )));
        }
        Ok(head)
    }

    /// `p = σ(b + w_e · e + w_v · v + w_x · (e × compound) + w_z · z)`, features in the order of
    /// `scripts/encoder/train_head.py`; `z` is the learned model's decision value.
    fn probability(&self, embedding: &[f32], vader: &Scores, z: f64) -> f64 {
        let n = embedding.len();
        let (w_embedding, rest) = self.weights.split_at(n);
        let (w_vader, rest) = rest.split_at(4);
        let (w_cross, w_z) = rest.split_at(n);
        let mut logit = self.bias + w_z[0] * z;
        for ((w, wx), x) in w_embedding.iter().zip(w_cross).zip(embedding) {
            let x = f64::from(*x);
            logit += w * x + wx * (x * vader.compound);
        }
        let features = [
            vader.compound,
            vader.positive,
            vader.neutral,
            vader.negative,
        ];
        for (w, x) in w_vader.iter().zip(features) {
            logit += w * x;
        }
        1.0 / (1.0 + (-logit).exp())
    }
}

/// The parts of `sentence_bert_config.json` and `1_Pooling/config.json` the encoder reads.
#[derive(Deserialize)]
struct SentenceConfig {
    max_seq_length: usize,
}

#[derive(Deserialize)]
struct PoolingConfig {
    word_embedding_dimension: usize,
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

/// Which BERT forward pass the encoder runs.
enum Forward {
    /// [`bert::Bert`]: packed batches, padding only inside attention (issue 26).
    Packed(bert::Bert),
    /// candle-transformers' `BertModel`, every text padded to the batch's longest: the forward
    /// pass before issue 26, kept as the benchmark's reference ([`Encoder::load_reference`]).
    Padded(BertModel),
}

/// all-MiniLM-L6-v2 with a logistic head: a binary sentiment model (module documentation).
pub struct Encoder {
    bert: Forward,
    tokenizer: Tokenizer,
    head: Head,
    vader: Vader,
    learned: Learned,
    pool: rayon::ThreadPool,
    device: Device,
    max_tokens: usize,
    hidden: usize,
}

fn read(path: &Path) -> Result<Vec<u8>, EncoderError> {
    std::fs::read(path).map_err(|source| EncoderError::Read {
        path: path.to_owned(),
        source,
    })
}

fn json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, EncoderError> {
    serde_json::from_slice(&read(path)?).map_err(|e| EncoderError::Invalid {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn invalid(path: &Path, reason: impl ToString) -> EncoderError {
    EncoderError::Invalid {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

impl Encoder {
    /// Loads the model files from `dir` (what `scripts/encoder/fetch_model.py` unpacks), with a
    /// thread pool as large as the CPUs this process may use. Takes ~0.4-0.7 s here; ~103 MB
    /// resident afterwards, ~193 MB at the peak while loading (docs/internals/encoder.md).
    pub fn load(dir: &Path) -> Result<Encoder, EncoderError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Encoder::load_with_threads(dir, threads)
    }

    /// Loads the model files from `dir`, computing with at most `threads` threads (at least 1).
    pub fn load_with_threads(dir: &Path, threads: usize) -> Result<Encoder, EncoderError> {
        Encoder::load_forward(dir, threads, false)
    }

    /// [`Self::load_with_threads`] with the forward pass before issue 26 (candle-transformers'
    /// `BertModel`, every text padded to the batch's longest): the reference `benches/encoder.rs`
    /// measures the encoder against in the same run. Same scores, to float rounding.
    #[doc(hidden)]
    pub fn load_reference(dir: &Path, threads: usize) -> Result<Encoder, EncoderError> {
        Encoder::load_forward(dir, threads, true)
    }

    fn load_forward(dir: &Path, threads: usize, padded: bool) -> Result<Encoder, EncoderError> {
        let config_path = dir.join("config.json");
        let config: Config = json(&config_path)?;

        let sentence_path = dir.join("sentence_bert_config.json");
        let sentence: SentenceConfig = json(&sentence_path)?;
        if sentence.max_seq_length < 2 || sentence.max_seq_length > config.max_position_embeddings {
            return Err(invalid(
                &sentence_path,
                format!(
                    "max_seq_length {} is outside 2..={} (config.json's max_position_embeddings)",
                    sentence.max_seq_length, config.max_position_embeddings
                ),
            ));
        }

        let pooling_path = dir.join("1_Pooling").join("config.json");
        let pooling: PoolingConfig = json(&pooling_path)?;
        if !pooling.pooling_mode_mean_tokens
            || pooling.pooling_mode_cls_token
            || pooling.pooling_mode_max_tokens
            || pooling.pooling_mode_mean_sqrt_len_tokens
        {
            return Err(invalid(&pooling_path, "only mean pooling is supported"));
        }
        if pooling.word_embedding_dimension != config.hidden_size {
            return Err(invalid(
                &pooling_path,
                format!(
                    "word_embedding_dimension {} differs from config.json's hidden_size {}",
                    pooling.word_embedding_dimension, config.hidden_size
                ),
            ));
        }
        let head = Head::parse(config.hidden_size)?;

        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_json = read(&tokenizer_path)?;
        let mut tokenizer =
            Tokenizer::from_bytes(&tokenizer_json).map_err(|e| invalid(&tokenizer_path, e))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: sentence.max_seq_length,
                ..TruncationParams::default()
            }))
            .map_err(|e| invalid(&tokenizer_path, e))?;

        // Read into memory and copied into tensors (no mmap: the crate forbids unsafe code); the
        // file's bytes are freed once the tensors exist.
        let device = Device::Cpu;
        let weights_path = dir.join("model.safetensors");
        let tensors = {
            let bytes = read(&weights_path)?;
            candle_core::safetensors::load_buffer(&bytes, &device)
                .map_err(|e| invalid(&weights_path, e))?
        };
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let bert = if padded {
            BertModel::load(vb, &config).map(Forward::Padded)
        } else {
            bert::Bert::load(vb, &config).map(Forward::Packed)
        }
        .map_err(|e| invalid(&weights_path, e))?;

        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("encoder-{i}"))
            .build()
            .map_err(|e| EncoderError::Threads(e.to_string()))?;

        Ok(Encoder {
            bert,
            tokenizer,
            head,
            vader: Vader::new(),
            learned: Learned::new(),
            pool,
            device,
            max_tokens: sentence.max_seq_length,
            hidden: config.hidden_size,
        })
    }

    /// The number of threads the encoder computes with.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// The most word pieces a text is cut to, `[CLS]` and `[SEP]` included (256 for this model).
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// The embedding's width (384 for this model).
    pub fn dimensions(&self) -> usize {
        self.hidden
    }

    /// The word-piece ids of `text`, `[CLS]` and `[SEP]` included, truncated to [`Self::max_tokens`].
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, EncoderError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| EncoderError::Inference(format!("tokenizer: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The sentence embeddings of `texts` (unit length, [`Self::dimensions`] wide), in order.
    ///
    /// Texts are sorted by length and cut into forward passes of at most [`MAX_BATCH`] texts and
    /// [`MAX_BATCH_TOKENS`] word pieces once padded to the pass's longest; a pass packs its texts
    /// end to end and pads only inside attention ([`bert`]).
    ///
    /// # Panics
    /// If candle fails on shapes that were checked at load, which would be a bug.
    pub fn embed(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        self.try_embed(texts)
            .unwrap_or_else(|e| panic!("encoder: {e}"))
    }

    /// [`Self::embed`], with errors returned rather than raised.
    pub fn try_embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        let ids = texts
            .iter()
            .map(|text| self.token_ids(text))
            .collect::<Result<Vec<_>, _>>()?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| ids[i].len());

        let mut embeddings = vec![Vec::new(); texts.len()];
        let mut rest = order.as_slice();
        while !rest.is_empty() {
            let take = batch_end(rest.iter().map(|&i| ids[i].len()));
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            let rows = self
                .pool
                .install(|| self.forward(&batch))
                .map_err(|e| EncoderError::Inference(e.to_string()))?;
            for (&i, row) in chunk.iter().zip(rows) {
                embeddings[i] = row;
            }
        }
        Ok(embeddings)
    }

    /// One forward pass: token ids (unpadded) to normalised mean-pooled embeddings.
    fn forward(&self, batch: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let bert = match &self.bert {
            Forward::Packed(bert) => bert,
            Forward::Padded(bert) => return self.forward_padded(bert, batch),
        };
        let hidden = bert.forward(batch, &self.device)?; // (tokens, hidden), packed
        let hidden = hidden.flatten_all()?.to_vec1::<f32>()?;
        let mut rows = hidden.chunks_exact(self.hidden);
        Ok(batch
            .iter()
            .map(|ids| {
                // Mean pooling and F.normalize, as sentence-transformers.
                let mut mean = vec![0f32; self.hidden];
                for row in rows.by_ref().take(ids.len()) {
                    for (m, x) in mean.iter_mut().zip(row) {
                        *m += x;
                    }
                }
                let count = (ids.len() as f32).max(1e-9);
                mean.iter_mut().for_each(|m| *m /= count);
                let norm = mean.iter().map(|m| m * m).sum::<f32>().sqrt().max(1e-12);
                mean.iter_mut().for_each(|m| *m /= norm);
                mean
            })
            .collect())
    }

    /// [`Self::forward`] before issue 26: every text padded to the longest, through `bert`.
    fn forward_padded(
        &self,
        bert: &BertModel,
        batch: &[&[u32]],
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let rows = batch.len();
        let len = batch.iter().map(|ids| ids.len()).max().unwrap_or(0);
        let mut input = vec![0u32; rows * len];
        let mut mask = vec![0u32; rows * len];
        for (r, ids) in batch.iter().enumerate() {
            input[r * len..r * len + ids.len()].copy_from_slice(ids);
            mask[r * len..r * len + ids.len()].fill(1);
        }
        let input = Tensor::from_vec(input, (rows, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (rows, len), &self.device)?;
        let token_types = input.zeros_like()?;

        let hidden = bert.forward(&input, &token_types, Some(&mask))?; // (rows, len, hidden)
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?; // (rows, len, 1)
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // (rows, hidden)
        let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (rows, 1), as sentence-transformers
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?; // F.normalize
        mean.broadcast_div(&norm)?.to_vec2::<f32>()
    }

    /// The head's probability that `text`, whose embedding is `embedding`, is positive (VADER's
    /// scores and the learned model's decision value are computed here).
    pub fn head_probability(&self, text: &str, embedding: &[f32]) -> f64 {
        let vader = self.vader.score(text);
        let z = self.learned.decision_function(text, &vader);
        self.head.probability(embedding, &vader, z)
    }

    /// The probability that `text` is positive.
    pub fn probability(&self, text: &str) -> f64 {
        let embedding = self.embed(&[text]).pop().unwrap_or_default();
        self.head_probability(text, &embedding)
    }
}

impl SentimentModel for Encoder {
    fn name(&self) -> &'static str {
        "minilm"
    }

    fn cost(&self) -> Cost {
        Cost::Heavy
    }

    fn card(&self) -> ModelCard {
        ModelCard {
            kind: "encoder",
            licence: "Apache-2.0",
            description: "all-MiniLM-L6-v2 sentence embeddings (candle) with VADER's scores into a \
                          logistic head trained on the VADER ground truth; binary, neutral near p = 0.5",
        }
    }

    fn score(&self, text: &str) -> Scores {
        scores_of(self.probability(text))
    }

    /// Forward passes as [`Encoder::embed`] cuts them (sorted by length, at most [`MAX_BATCH`]
    /// texts and [`MAX_BATCH_TOKENS`] word pieces each). The embeddings differ from one-at-a-time ones only by float rounding (`tests/encoder.rs`).
    fn score_batch(&self, texts: &[&str]) -> Vec<Scores> {
        self.embed(texts)
            .iter()
            .zip(texts)
            .map(|(embedding, text)| scores_of(self.head_probability(text, embedding)))
            .collect()
    }

    /// The server coalesces up to this many concurrent requests into one forward pass.
    fn batch_size(&self) -> usize {
        MAX_BATCH
    }
}

/// How many of the texts whose lengths (in word pieces, sorted) are `lengths` go into the next
/// forward pass: at least one, at most [`MAX_BATCH`], and no more than fit in
/// [`MAX_BATCH_TOKENS`] once padded to the longest of them.
fn batch_end(lengths: impl Iterator<Item = usize>) -> usize {
    let mut longest = 0;
    let mut take = 0;
    for len in lengths.take(MAX_BATCH) {
        longest = longest.max(len);
        if take > 0 && (take + 1) * longest > MAX_BATCH_TOKENS {
            break;
        }
        take += 1;
    }
    take.max(1)
}

/// The service's scores for a probability `p` of positive (module documentation).
fn scores_of(p: f64) -> Scores {
    Scores {
        compound: 2.0 * p - 1.0,
        positive: p,
        neutral: 0.0,
        negative: 1.0 - p,
    }
}
