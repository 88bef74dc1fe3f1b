//! BERT's forward pass over a packed batch: the texts' word pieces laid end to end, one row per
//! token, with no padding. Everything but attention works on single tokens, so the linear layers,
//! layer norms and GELU see only real tokens, as one matrix product per layer for the whole
//! batch; only attention, which mixes the tokens of one text, gathers the rows into a
//! `(texts, longest, ...)` block padded to the batch's longest text and masks the padding out.
//! This is text-embeddings-inference's "padless" batching, done with candle's CPU operations
//! (docs/internals/models.md, "Encoder throughput (issue 26)").
//!
//! The weights and the arithmetic are candle-transformers' `bert` (the model before issue 26), with
//! two changes that leave the numbers the same to float rounding: the query, key and value
//! projections are one product with the three weight matrices stacked, and the exact (erf) GELU is
//! computed here, split over the encoder's threads, with the same `libm::erff` candle uses (candle
//! runs it on one thread when `CANDLE_NUM_THREADS=1`, as the server sets it).

use candle_core::{Device, Module, Result, Tensor};
use candle_nn::{LayerNorm, Linear, VarBuilder};
use candle_transformers::models::bert::{Config, HiddenAct};
use rayon::prelude::*;

/// One encoder layer's weights.
struct Layer {
    /// Query, key and value stacked: `hidden → 3 × hidden`.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// all-MiniLM-L6-v2's BERT (any BERT with absolute positions and an erf GELU).
pub(super) struct Bert {
    word: Tensor,
    position: Tensor,
    /// The token-type-0 embedding, `(1, hidden)`: every token here is of type 0.
    token_type: Tensor,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_size: usize,
    hidden: usize,
}

/// A linear layer's weight `(outputs, inputs)` and bias.
fn weights(vb: &VarBuilder, inputs: usize, outputs: usize) -> Result<(Tensor, Tensor)> {
    Ok((
        vb.get((outputs, inputs), "weight")?,
        vb.get(outputs, "bias")?,
    ))
}

fn linear(vb: &VarBuilder, inputs: usize, outputs: usize) -> Result<Linear> {
    let (weight, bias) = weights(vb, inputs, outputs)?;
    Ok(Linear::new(weight, Some(bias)))
}

fn layer_norm(vb: &VarBuilder, size: usize, eps: f64) -> Result<LayerNorm> {
    let weight = vb.get(size, "weight")?;
    let bias = vb.get(size, "bias")?;
    Ok(LayerNorm::new(weight, bias, eps))
}

impl Bert {
    /// Loads the weights under `embeddings.` and `encoder.` (or under `bert.`, as candle does).
    pub(super) fn load(vb: VarBuilder, config: &Config) -> Result<Bert> {
        if config.hidden_act != HiddenAct::Gelu {
            candle_core::bail!("only the erf GELU is supported");
        }
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let hidden = config.hidden_size;
        let eps = config.layer_norm_eps;
        let e = vb.pp("embeddings");
        let word = e.get((config.vocab_size, hidden), "word_embeddings.weight")?;
        let position = e.get(
            (config.max_position_embeddings, hidden),
            "position_embeddings.weight",
        )?;
        let token_type = e
            .get(
                (config.type_vocab_size, hidden),
                "token_type_embeddings.weight",
            )?
            .narrow(0, 0, 1)?
            .contiguous()?;
        let embedding_norm = layer_norm(&e.pp("LayerNorm"), hidden, eps)?;

        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = vb.pp(format!("encoder.layer.{i}"));
                let a = l.pp("attention");
                let (q, k, v) = (
                    weights(&a.pp("self").pp("query"), hidden, hidden)?,
                    weights(&a.pp("self").pp("key"), hidden, hidden)?,
                    weights(&a.pp("self").pp("value"), hidden, hidden)?,
                );
                let weight = Tensor::cat(&[&q.0, &k.0, &v.0], 0)?;
                let bias = Tensor::cat(&[&q.1, &k.1, &v.1], 0)?;
                Ok(Layer {
                    qkv: Linear::new(weight, Some(bias)),
                    attention_out: linear(&a.pp("output").pp("dense"), hidden, hidden)?,
                    attention_norm: layer_norm(&a.pp("output").pp("LayerNorm"), hidden, eps)?,
                    intermediate: linear(
                        &l.pp("intermediate").pp("dense"),
                        hidden,
                        config.intermediate_size,
                    )?,
                    output: linear(
                        &l.pp("output").pp("dense"),
                        config.intermediate_size,
                        hidden,
                    )?,
                    output_norm: layer_norm(&l.pp("output").pp("LayerNorm"), hidden, eps)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Bert {
            word,
            position,
            token_type,
            embedding_norm,
            layers,
            heads: config.num_attention_heads,
            head_size: hidden / config.num_attention_heads,
            hidden,
        })
    }

    /// The last layer's hidden states of `batch`'s texts (word-piece ids), packed: `(tokens,
    /// hidden)`, the rows of text 0, then of text 1, and so on. Call it inside the encoder's pool.
    pub(super) fn forward(&self, batch: &[&[u32]], device: &Device) -> Result<Tensor> {
        let packed = Packing::of(batch, device)?;
        let ids: Vec<u32> = batch.iter().flat_map(|ids| ids.iter().copied()).collect();
        let positions: Vec<u32> = batch.iter().flat_map(|ids| 0..ids.len() as u32).collect();
        let ids = Tensor::from_vec(ids, packed.tokens, device)?;
        let positions = Tensor::from_vec(positions, packed.tokens, device)?;
        // In candle's order: word + token type, then + position.
        let embeddings = self
            .word
            .index_select(&ids, 0)?
            .broadcast_add(&self.token_type)?
            .add(&self.position.index_select(&positions, 0)?)?;
        let mut x = self.embedding_norm.forward(&embeddings)?;
        for layer in &self.layers {
            let context = self.attention(&layer.qkv.forward(&x)?, &packed)?;
            let x1 = layer
                .attention_norm
                .forward(&(layer.attention_out.forward(&context)? + &x)?)?;
            let inner = gelu(&layer.intermediate.forward(&x1)?)?;
            x = layer
                .output_norm
                .forward(&(layer.output.forward(&inner)? + &x1)?)?;
        }
        Ok(x)
    }

    /// Self-attention of each text over its own tokens: `qkv` is `(tokens, 3 × hidden)`, the
    /// result `(tokens, hidden)`.
    fn attention(&self, qkv: &Tensor, packed: &Packing) -> Result<Tensor> {
        let (texts, longest) = (packed.texts, packed.longest);
        let padded = match &packed.gather {
            Some(gather) => qkv.index_select(gather, 0)?,
            None => qkv.clone(),
        };
        let padded = padded.reshape((texts, longest, 3, self.heads, self.head_size))?;
        let part = |i: usize| -> Result<Tensor> {
            padded
                .narrow(2, i, 1)?
                .squeeze(2)?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (part(0)?, part(1)?, part(2)?); // (texts, heads, longest, head_size)
        let scores = (q.matmul(&k.t()?)? / (self.head_size as f64).sqrt())?;
        let scores = match &packed.mask {
            Some(mask) => scores.broadcast_add(mask)?,
            None => scores,
        };
        let probabilities = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probabilities
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((texts * longest, self.hidden))?;
        match &packed.scatter {
            Some(scatter) => context.index_select(scatter, 0),
            None => Ok(context),
        }
    }
}

/// Where a packed batch's tokens go in attention's padded block, and back.
struct Packing {
    texts: usize,
    tokens: usize,
    longest: usize,
    /// For each padded slot, the packed row it takes (padding takes row 0, masked out); `None`
    /// when no text is shorter than the longest, so the packed rows are the padded block.
    gather: Option<Tensor>,
    /// For each packed row, its padded slot.
    scatter: Option<Tensor>,
    /// `(texts, 1, 1, longest)`: 0 for a token, `f32::MIN` for padding (as candle's `bert`).
    mask: Option<Tensor>,
}

impl Packing {
    fn of(batch: &[&[u32]], device: &Device) -> Result<Packing> {
        let texts = batch.len();
        let tokens = batch.iter().map(|ids| ids.len()).sum();
        let longest = batch.iter().map(|ids| ids.len()).max().unwrap_or(0);
        if batch.iter().all(|ids| ids.len() == longest) {
            return Ok(Packing {
                texts,
                tokens,
                longest,
                gather: None,
                scatter: None,
                mask: None,
            });
        }
        let mut gather = vec![0u32; texts * longest];
        let mut scatter = Vec::with_capacity(tokens);
        let mut mask = vec![f32::MIN; texts * longest];
        let mut row = 0u32;
        for (t, ids) in batch.iter().enumerate() {
            for p in 0..ids.len() {
                let slot = t * longest + p;
                gather[slot] = row;
                mask[slot] = 0.0;
                scatter.push(slot as u32);
                row += 1;
            }
        }
        Ok(Packing {
            texts,
            tokens,
            longest,
            gather: Some(Tensor::from_vec(gather, texts * longest, device)?),
            scatter: Some(Tensor::from_vec(scatter, tokens, device)?),
            mask: Some(Tensor::from_vec(mask, (texts, 1, 1, longest), device)?),
        })
    }
}

/// The exact GELU, `x · (1 + erf(x / √2)) / 2`, as candle's `gelu_erf` computes it, over the
/// current rayon pool's threads.
fn gelu(x: &Tensor) -> Result<Tensor> {
    let shape = x.shape().clone();
    let mut values = x.flatten_all()?.to_vec1::<f32>()?;
    values.par_chunks_mut(16 * 1024).for_each(|chunk| {
        for v in chunk {
            *v = (libm::erff(*v * std::f32::consts::FRAC_1_SQRT_2) + 1.0) * 0.5 * *v;
        }
    });
    Tensor::from_vec(values, shape, x.device())
}
