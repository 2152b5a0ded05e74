//! all-MiniLM-L6-v2 in pure Rust: candle's BERT on the CPU in f32, mean
//! pooling over the attention mask and L2 normalisation, exactly as
//! sentence-transformers runs this model.

use std::fs;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

use crate::bert::PackedBert;
use crate::error::{Error, Result};
use crate::fetch::{MODEL_NAME, MODEL_SHA256, sha256_bytes};
use crate::tokens::{TextTokenizer, load_tokenizer};
use crate::{Embedder, l2_normalize};

/// The model's maximum sequence length in tokens, special tokens included
/// (`max_seq_length` in sentence_bert_config.json).
pub const MAX_SEQ_LEN: usize = 256;

/// Bumped whenever the embedding pipeline changes in a way that changes
/// vectors (it is part of the embedder id, so caches are invalidated).
const PIPELINE_VERSION: &str = "minilm-meanpool-l2-trunc256-v1";

/// Which BERT implementation runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The packed encoder of this crate (default): no padding at all, fused
    /// attention and GELU; 1.5–2.5× faster on CPU, same numbers.
    #[default]
    Packed,
    /// `candle_transformers::models::bert::BertModel` on padded batches: the
    /// reference the packed encoder is tested against.
    CandleBert,
}

enum Net {
    Packed(PackedBert),
    Candle(BertModel),
}

/// The id of a model: its name and a short hash of the weights' sha256, the tokenizer, the
/// config and the pipeline version.
fn model_id(model_sha256: &str, tokenizer_bytes: &[u8], config_bytes: &[u8]) -> String {
    let mut key = blake3::Hasher::new();
    key.update(model_sha256.as_bytes());
    key.update(tokenizer_bytes);
    key.update(config_bytes);
    key.update(PIPELINE_VERSION.as_bytes());
    let short = crate::fetch::hex(&key.finalize().as_bytes()[..6]);
    let name = if model_sha256 == MODEL_SHA256 {
        MODEL_NAME
    } else {
        "bert"
    };
    format!("{name}@{short}")
}

/// How inputs are grouped into batches. Inputs are sorted by length first,
/// so a batch holds inputs of similar length (no padding is needed with
/// [`Backend::Packed`]; [`Backend::CandleBert`] pads to the longest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// At most this many inputs per batch.
    pub max_batch: usize,
    /// At most this many (padded) tokens per batch.
    pub max_tokens: usize,
}

impl Default for Batching {
    fn default() -> Batching {
        Batching {
            max_batch: 256,
            max_tokens: 8192,
        }
    }
}

/// all-MiniLM-L6-v2 (or any BERT checkpoint with the same layout) ready to
/// embed text. Loading reads the three model files once; embedding is
/// thread-safe.
pub struct MiniLm {
    net: Net,
    /// Truncates to [`MAX_SEQ_LEN`], no padding (we pad per batch).
    tokenizer: Tokenizer,
    text: TextTokenizer,
    id: String,
    dim: usize,
    batching: Batching,
    model_sha256: String,
    device: Device,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm")
            .field("id", &self.id)
            .field("dim", &self.dim)
            .field("batching", &self.batching)
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl MiniLm {
    /// Loads `model.safetensors`, `config.json` and `tokenizer.json` from
    /// `dir`. Does not verify hashes: pass a directory from
    /// [`crate::fetch::ensure`]. Uses [`Backend::Packed`].
    pub fn load(dir: &Path) -> Result<MiniLm> {
        MiniLm::load_with_backend(dir, Backend::default())
    }

    /// The id the (verified) model in `dir` has, without loading its weights: reads only
    /// `config.json` and `tokenizer.json`, and takes the weights' pinned hash (the fetch
    /// step has verified them).
    pub fn id_for(dir: &Path) -> Result<String> {
        let config_path = dir.join("config.json");
        let config_bytes = fs::read(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_bytes =
            fs::read(&tokenizer_path).map_err(|e| Error::io(&tokenizer_path, e))?;
        Ok(model_id(MODEL_SHA256, &tokenizer_bytes, &config_bytes))
    }

    /// Like [`MiniLm::load`], with a chosen backend.
    pub fn load_with_backend(dir: &Path, backend: Backend) -> Result<MiniLm> {
        let config_path = dir.join("config.json");
        let config_bytes = fs::read(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let config: Config = serde_json::from_slice(&config_bytes).map_err(|e| Error::Config {
            path: config_path.clone(),
            reason: e.to_string(),
        })?;
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_bytes =
            fs::read(&tokenizer_path).map_err(|e| Error::io(&tokenizer_path, e))?;
        let mut tokenizer = load_tokenizer(&tokenizer_path)?;
        let text = TextTokenizer::from_tokenizer(tokenizer.clone())?;
        let max_len = MAX_SEQ_LEN.min(config.max_position_embeddings);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..TruncationParams::default()
            }))
            .map_err(|e| Error::tokenizer(tokenizer_path.display().to_string(), e))?;

        let weights_path = dir.join("model.safetensors");
        let weights = fs::read(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
        let model_sha256 = sha256_bytes(&weights);
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| Error::model(weights_path.display().to_string(), e))?;
        let context = |e| Error::model(weights_path.display().to_string(), e);
        let net = match backend {
            Backend::Packed => Net::Packed(PackedBert::load(vb, &config).map_err(context)?),
            Backend::CandleBert => Net::Candle(BertModel::load(vb, &config).map_err(context)?),
        };

        let id = model_id(&model_sha256, &tokenizer_bytes, &config_bytes);
        Ok(MiniLm {
            net,
            tokenizer,
            text,
            id,
            dim: config.hidden_size,
            batching: Batching::default(),
            model_sha256,
            device,
        })
    }

    /// Sets how inputs are batched.
    pub fn set_batching(&mut self, batching: Batching) {
        self.batching = Batching {
            max_batch: batching.max_batch.max(1),
            max_tokens: batching.max_tokens.max(1),
        };
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        match self.net {
            Net::Packed(_) => Backend::Packed,
            Net::Candle(_) => Backend::CandleBert,
        }
    }

    /// The current batching.
    pub fn batching(&self) -> Batching {
        self.batching
    }

    /// The sha256 of `model.safetensors` as loaded.
    pub fn model_sha256(&self) -> &str {
        &self.model_sha256
    }

    /// The tokenizer without truncation, for counting and chunking.
    pub fn text_tokenizer(&self) -> &TextTokenizer {
        &self.text
    }

    /// The number of tokens in `text` (special tokens excluded, nothing
    /// truncated). See [`TextTokenizer::count_tokens`].
    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        self.text.count_tokens(text)
    }

    /// Token-bounded overlapping chunks of `text`. See
    /// [`TextTokenizer::chunks`].
    pub fn chunks<'a>(
        &self,
        text: &'a str,
        max_tokens: usize,
        overlap_tokens: usize,
    ) -> Result<Vec<&'a str>> {
        self.text.chunks(text, max_tokens, overlap_tokens)
    }

    /// The token ids the model sees for `text`: `[CLS] ... [SEP]`, truncated
    /// to [`MAX_SEQ_LEN`].
    pub fn model_input_ids(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode_fast(text, true)
            .map_err(|e| Error::tokenizer("encode", e))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Embeds already tokenised inputs (special tokens included), batching
    /// with `batching`. Returns L2-normalised mean-pooled vectors in input
    /// order.
    pub fn embed_ids(&self, inputs: &[Vec<u32>], batching: Batching) -> Result<Vec<Vec<f32>>> {
        self.embed_ids_inner(inputs, batching, true)
    }

    /// Like [`MiniLm::embed_ids`] but returns the mean-pooled vectors without
    /// L2 normalisation (what model2vec distils from).
    pub fn embed_ids_unnormalized(
        &self,
        inputs: &[Vec<u32>],
        batching: Batching,
    ) -> Result<Vec<Vec<f32>>> {
        self.embed_ids_inner(inputs, batching, false)
    }

    fn embed_ids_inner(
        &self,
        inputs: &[Vec<u32>],
        batching: Batching,
        normalize: bool,
    ) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        // Longest first: the first batch shows the peak memory at once.
        order.sort_by_key(|&i| std::cmp::Reverse(inputs[i].len()));
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); inputs.len()];
        let mut start = 0;
        while start < order.len() {
            let end = self.batch_end(inputs, &order, start, batching);
            let batch = &order[start..end];
            let seqs: Vec<&[u32]> = batch.iter().map(|&i| inputs[i].as_slice()).collect();
            let vectors = self.forward_batch(&seqs, normalize)?;
            for (&i, v) in batch.iter().zip(vectors) {
                out[i] = v;
            }
            start = end;
        }
        Ok(out)
    }

    /// Where the batch starting at `order[start]` ends: at most
    /// `max_batch` inputs and `max_tokens` tokens (padded tokens for the
    /// candle backend), and at least one input.
    fn batch_end(
        &self,
        inputs: &[Vec<u32>],
        order: &[usize],
        start: usize,
        batching: Batching,
    ) -> usize {
        let max_batch = batching.max_batch.max(1);
        match self.net {
            Net::Candle(_) => {
                let longest = inputs[order[start]].len().max(1);
                let by_tokens = (batching.max_tokens / longest).max(1);
                (start + max_batch.min(by_tokens)).min(order.len())
            }
            Net::Packed(_) => {
                let mut end = start;
                let mut tokens = 0;
                while end < order.len() && end - start < max_batch {
                    let n = inputs[order[end]].len();
                    if end > start && tokens + n > batching.max_tokens {
                        break;
                    }
                    tokens += n;
                    end += 1;
                }
                end
            }
        }
    }

    /// One forward pass over a batch; returns mean-pooled vectors.
    fn forward_batch(&self, seqs: &[&[u32]], normalize: bool) -> Result<Vec<Vec<f32>>> {
        match &self.net {
            Net::Packed(net) => {
                let ctx = |e| Error::model("forward", e);
                let hidden = net.forward(seqs).map_err(ctx)?;
                let dim = self.dim;
                let mut vectors = Vec::with_capacity(seqs.len());
                let mut row = 0;
                for seq in seqs {
                    let mut v = vec![0f32; dim];
                    for r in row..row + seq.len() {
                        for (acc, x) in v.iter_mut().zip(&hidden[r * dim..(r + 1) * dim]) {
                            *acc += x;
                        }
                    }
                    row += seq.len();
                    let count = seq.len().max(1) as f32;
                    v.iter_mut().for_each(|x| *x /= count);
                    if normalize {
                        l2_normalize(&mut v);
                    }
                    vectors.push(v);
                }
                Ok(vectors)
            }
            Net::Candle(model) => self.forward_padded(model, seqs, normalize),
        }
    }

    /// One padded forward pass through candle-transformers' BertModel.
    fn forward_padded(
        &self,
        model: &BertModel,
        seqs: &[&[u32]],
        normalize: bool,
    ) -> Result<Vec<Vec<f32>>> {
        let b = seqs.len();
        let len = seqs.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0u32; b * len];
        let mut mask = vec![0u32; b * len];
        for (row, seq) in seqs.iter().enumerate() {
            ids[row * len..row * len + seq.len()].copy_from_slice(seq);
            mask[row * len..row * len + seq.len()].fill(1);
        }
        let ctx = |e| Error::model("forward", e);
        let ids_t = Tensor::from_vec(ids, (b, len), &self.device).map_err(ctx)?;
        let types_t = ids_t.zeros_like().map_err(ctx)?;
        let mask_t = Tensor::from_vec(mask, (b, len), &self.device).map_err(ctx)?;
        let hidden = model
            .forward(&ids_t, &types_t, Some(&mask_t))
            .map_err(ctx)?;
        let dim = self.dim;
        let flat: Vec<f32> = hidden.flatten_all().map_err(ctx)?.to_vec1().map_err(ctx)?;
        let mut vectors = Vec::with_capacity(b);
        for (row, seq) in seqs.iter().enumerate() {
            // Mean over the unpadded positions (the attention mask).
            let mut v = vec![0f32; dim];
            for pos in 0..seq.len() {
                let at = (row * len + pos) * dim;
                for (acc, x) in v.iter_mut().zip(&flat[at..at + dim]) {
                    *acc += x;
                }
            }
            let count = seq.len().max(1) as f32;
            v.iter_mut().for_each(|x| *x /= count);
            if normalize {
                l2_normalize(&mut v);
            }
            vectors.push(v);
        }
        Ok(vectors)
    }
}

impl Embedder for MiniLm {
    fn id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(|e| Error::tokenizer("encode", e))?;
        let ids: Vec<Vec<u32>> = encodings.iter().map(|e| e.get_ids().to_vec()).collect();
        self.embed_ids(&ids, self.batching)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn tiny() -> (tempfile::TempDir, MiniLm) {
        let dir = tempfile::tempdir().expect("tempdir");
        testing::write_tiny_model(dir.path(), 7).expect("tiny model");
        let model = MiniLm::load(dir.path()).expect("load");
        (dir, model)
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    const TEXTS: &[&str] = &[
        "the cat sat on the mat",
        "",
        "dog",
        "the big blue sky is very big and the sea is green and the house is small",
        "a red tree.",
        "running dogs ran far away",
        "unknownword zzz",
    ];

    #[test]
    fn loads_with_id_and_dim() {
        let (_dir, model) = tiny();
        assert_eq!(model.dim(), testing::HIDDEN);
        assert!(model.id().starts_with("bert@"), "{}", model.id());
        assert_eq!(model.id().len(), "bert@".len() + 12);
        // Same files, same id; other weights, other id.
        let (_d2, again) = tiny();
        assert_eq!(again.id(), model.id());
        let other_dir = tempfile::tempdir().expect("tempdir");
        testing::write_tiny_model(other_dir.path(), 8).expect("tiny");
        let other = MiniLm::load(other_dir.path()).expect("load");
        assert_ne!(other.id(), model.id());
    }

    #[test]
    fn vectors_are_unit_length_and_in_input_order() {
        let (_dir, mut model) = tiny();
        // Tiny batches force several forward passes over the sorted order.
        model.set_batching(Batching {
            max_batch: 2,
            max_tokens: 64,
        });
        let all = model.embed(TEXTS).expect("embed");
        assert_eq!(all.len(), TEXTS.len());
        for (text, v) in TEXTS.iter().zip(&all) {
            assert_eq!(v.len(), testing::HIDDEN);
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{text:?}: norm {norm}");
            let alone = model.embed(&[text]).expect("embed one");
            assert!(
                max_diff(v, &alone[0]) < 1e-5,
                "{text:?} differs when batched"
            );
        }
        // Different texts give different vectors.
        assert!(max_diff(&all[0], &all[2]) > 1e-3);
        assert!(model.embed(&[]).expect("empty batch").is_empty());
    }

    #[test]
    fn batching_does_not_change_results() {
        let (_dir, mut model) = tiny();
        let one_batch = model.embed(TEXTS).expect("embed");
        model.set_batching(Batching {
            max_batch: 1,
            max_tokens: 1,
        });
        let singles = model.embed(TEXTS).expect("embed");
        for (a, b) in one_batch.iter().zip(&singles) {
            assert!(max_diff(a, b) < 1e-5);
        }
    }

    #[test]
    fn packed_backend_matches_candle_bert() {
        let (dir, mut packed) = tiny();
        let mut candle = MiniLm::load_with_backend(dir.path(), Backend::CandleBert).expect("load");
        assert_eq!(packed.backend(), Backend::Packed);
        assert_eq!(candle.backend(), Backend::CandleBert);
        assert_eq!(packed.id(), candle.id(), "same vectors, same id");
        for batching in [
            Batching::default(),
            Batching {
                max_batch: 3,
                max_tokens: 20,
            },
        ] {
            packed.set_batching(batching);
            candle.set_batching(batching);
            let a = packed.embed(TEXTS).expect("packed");
            let b = candle.embed(TEXTS).expect("candle");
            for (x, y) in a.iter().zip(&b) {
                assert!(max_diff(x, y) < 1e-5, "{}", max_diff(x, y));
            }
        }
    }

    #[test]
    fn pooling_is_the_mean_over_real_tokens() {
        let dir = tempfile::tempdir().expect("tempdir");
        testing::write_tiny_model(dir.path(), 7).expect("tiny model");
        let model = MiniLm::load_with_backend(dir.path(), Backend::CandleBert).expect("load");
        let Net::Candle(bert) = &model.net else {
            panic!("candle backend expected");
        };
        let text = "the cat sat on the mat";
        let ids = model.model_input_ids(text).expect("ids");
        assert_eq!(ids.first(), Some(&2)); // [CLS]
        assert_eq!(ids.last(), Some(&3)); // [SEP]
        // Unpadded forward pass straight through candle, pooled by hand.
        let dev = Device::Cpu;
        let t = Tensor::new(ids.as_slice(), &dev)
            .and_then(|t| t.unsqueeze(0))
            .expect("tensor");
        let types = t.zeros_like().expect("zeros");
        let hidden = bert.forward(&t, &types, None).expect("forward");
        let rows: Vec<Vec<f32>> = hidden.squeeze(0).and_then(|h| h.to_vec2()).expect("vec");
        let mut mean = vec![0f32; testing::HIDDEN];
        for r in &rows {
            for (m, x) in mean.iter_mut().zip(r) {
                *m += x / rows.len() as f32;
            }
        }
        l2_normalize(&mut mean);
        // Embedded in a batch with a longer (padded) text.
        let got = model
            .embed(&[text, "the big blue sky is very big and the sea is green"])
            .expect("embed");
        assert!(max_diff(&got[0], &mean) < 1e-5);
    }

    #[test]
    fn truncates_at_256_tokens_not_the_shipped_limit() {
        let (_dir, model) = tiny();
        let words: Vec<&str> = std::iter::repeat_n(["the", "cat", "sat", "on", "mat"], 60)
            .flatten()
            .collect();
        let long = words.join(" "); // 300 tokens
        let ids = model.model_input_ids(&long).expect("ids");
        assert_eq!(ids.len(), MAX_SEQ_LEN);
        let first = words[..MAX_SEQ_LEN - 2].join(" ");
        let v = model.embed(&[&long, &first]).expect("embed");
        assert!(max_diff(&v[0], &v[1]) < 1e-5);
        // The shipped tokenizer.json truncates at 8: not applied.
        let short = words[..20].join(" ");
        let v = model
            .embed(&[&short, &words[..8].join(" ")])
            .expect("embed");
        assert!(max_diff(&v[0], &v[1]) > 1e-4);
        assert_eq!(model.count_tokens(&long).expect("count"), 300);
    }
}
