//! A static embedding model derived from MiniLM: the model2vec recipe.
//!
//! Building ([`StaticModel::build`]):
//! 1. every vocabulary token `t` is embedded as the input `[CLS] t [SEP]`
//!    through MiniLM, mean-pooled over those three positions (not
//!    normalised), as model2vec's `distill` does;
//! 2. PCA to [`StaticOptions::dims`] (256) dimensions: the embeddings are
//!    centred, their covariance matrix is diagonalised with a cyclic Jacobi
//!    eigen-solver (f64), and each token vector is projected on the
//!    eigenvectors of the largest eigenvalues (each eigenvector's sign is
//!    fixed so that its largest component is positive, for determinism);
//! 3. SIF weighting under a Zipf assumption, exactly model2vec's
//!    `post_process_embeddings`: the token with id `i` (ids are taken as the
//!    frequency rank) gets probability `p(i) = (1/(i+2)) / Σ_{k=0}^{V-1} 1/(k+2)`
//!    and its vector is multiplied by `w(i) = a / (a + p(i))` with
//!    `a` = [`StaticOptions::sif_coefficient`] (1e-4).
//!
//! Embedding a text: the mean of the static vectors of its tokens (same
//! tokenizer, nothing truncated; special tokens and `[UNK]` excluded, like
//! model2vec), L2-normalised as model2vec's `normalize=True` does. A text
//! without such tokens embeds as the zero vector.
//!
//! The table is cached in a binary file next to the model
//! ([`STATIC_FILE`]), whose header records the format version, the recipe,
//! the source model's sha256 and the tokenizer's hash, and whose trailer is a
//! blake3 checksum of everything before it.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fetch::{MODEL_NAME, MODEL_SHA256, hex, write_atomic};
use crate::minilm::{Batching, MiniLm};
use crate::tokens::TextTokenizer;
use crate::{Embedder, l2_normalize};

/// The cache file name, in the model directory.
pub const STATIC_FILE: &str = "static-256.bin";
const MAGIC: &[u8; 8] = b"TXSTATIC";
const FORMAT_VERSION: u32 = 1;
/// Bumped when the recipe changes (invalidates cached tables and ids).
const RECIPE_VERSION: &str = "model2vec-cls-t-sep-mean/pca-jacobi/sif-zipf/v1";

/// The recipe's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaticOptions {
    /// PCA output dimensions (capped by the model's width).
    pub dims: usize,
    /// SIF coefficient `a` in `a / (a + p)`.
    pub sif_coefficient: f64,
}

impl Default for StaticOptions {
    fn default() -> StaticOptions {
        StaticOptions {
            dims: 256,
            sif_coefficient: 1e-4,
        }
    }
}

/// What [`StaticModel::load_or_build`] did.
#[derive(Debug, Default)]
pub struct StaticReport {
    /// True when the table was built (no usable cached file).
    pub built: bool,
    /// Seconds spent building, when built.
    pub build_seconds: f64,
    /// Non-fatal problems, for the caller to warn about: a cached file that
    /// was stale or corrupt (and replaced), or one that could not be saved.
    pub warnings: Vec<Error>,
}

/// A static (token table) embedding model. Embedding is a table look-up per
/// token: very fast, somewhat less accurate than MiniLM.
pub struct StaticModel {
    tokenizer: TextTokenizer,
    /// `vocab × dim`, row-major.
    table: Vec<f32>,
    dim: usize,
    vocab: usize,
    /// Token ids skipped when embedding (special tokens and `[UNK]`).
    skip: HashSet<u32>,
    id: String,
    header: Header,
}

impl std::fmt::Debug for StaticModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticModel")
            .field("id", &self.id)
            .field("dim", &self.dim)
            .field("vocab", &self.vocab)
            .finish_non_exhaustive()
    }
}

/// Identifies what a table was built from.
#[derive(Debug, Clone, PartialEq)]
struct Header {
    /// Dimensions asked for (before capping by the model's width).
    requested_dims: u32,
    dims: u32,
    vocab: u32,
    sif_coefficient: f64,
    model_sha256: String,
    tokenizer_hash: [u8; 32],
}

impl Header {
    fn id(&self) -> String {
        let mut h = blake3::Hasher::new();
        h.update(RECIPE_VERSION.as_bytes());
        h.update(self.model_sha256.as_bytes());
        h.update(&self.tokenizer_hash);
        h.update(&self.requested_dims.to_le_bytes());
        h.update(&self.dims.to_le_bytes());
        h.update(&self.sif_coefficient.to_le_bytes());
        let name = if self.model_sha256 == MODEL_SHA256 {
            MODEL_NAME
        } else {
            "bert"
        };
        format!(
            "{name}-static{}@{}",
            self.dims,
            hex(&h.finalize().as_bytes()[..6])
        )
    }
}

fn tokenizer_hash(model_dir: &Path) -> Result<[u8; 32]> {
    let path = model_dir.join("tokenizer.json");
    let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
    Ok(*blake3::hash(&bytes).as_bytes())
}

/// Ids the static model never averages: added special tokens and `[UNK]`.
fn skip_ids(tokenizer: &TextTokenizer) -> HashSet<u32> {
    let inner = tokenizer.inner();
    let mut skip: HashSet<u32> = inner
        .get_added_tokens_decoder()
        .iter()
        .filter(|(_, t)| t.special)
        .map(|(id, _)| *id)
        .collect();
    if let Some(unk) = inner.token_to_id("[UNK]") {
        skip.insert(unk);
    }
    skip
}

impl StaticModel {
    /// Derives the table from MiniLM (the slow part: one forward pass per
    /// vocabulary token). `model_dir` is the directory `minilm` was loaded
    /// from (for the tokenizer's hash). `progress(done, total)` is called as
    /// tokens are embedded.
    pub fn build(
        minilm: &MiniLm,
        model_dir: &Path,
        opts: StaticOptions,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<StaticModel> {
        let tokenizer = minilm.text_tokenizer().clone();
        let vocab = tokenizer.vocab_size();
        let specials = minilm.model_input_ids("")?;
        let (cls, sep) = match specials.as_slice() {
            [cls, sep] => (*cls, *sep),
            other => {
                return Err(Error::tokenizer(
                    "static model",
                    format!("expected [CLS] [SEP] for the empty text, got {other:?}"),
                ));
            }
        };
        let hidden = minilm.dim();
        let inputs: Vec<Vec<u32>> = (0..vocab as u32).map(|t| vec![cls, t, sep]).collect();
        let batching = Batching {
            max_batch: 2048,
            max_tokens: 8192,
        };
        let mut raw: Vec<f32> = Vec::with_capacity(vocab * hidden);
        let step = 4096;
        for (i, part) in inputs.chunks(step).enumerate() {
            for v in minilm.embed_ids_unnormalized(part, batching)? {
                raw.extend_from_slice(&v);
            }
            progress((i * step + part.len()).min(vocab), vocab);
        }
        let dims = opts.dims.min(hidden).min(vocab).max(1);
        let mut table = pca(&raw, vocab, hidden, dims)?;
        sif_weight(&mut table, vocab, dims, opts.sif_coefficient);
        let header = Header {
            requested_dims: opts.dims as u32,
            dims: dims as u32,
            vocab: vocab as u32,
            sif_coefficient: opts.sif_coefficient,
            model_sha256: minilm.model_sha256().to_owned(),
            tokenizer_hash: tokenizer_hash(model_dir)?,
        };
        Ok(StaticModel::from_parts(tokenizer, table, header))
    }

    fn from_parts(tokenizer: TextTokenizer, table: Vec<f32>, header: Header) -> StaticModel {
        StaticModel {
            skip: skip_ids(&tokenizer),
            tokenizer,
            table,
            dim: header.dims as usize,
            vocab: header.vocab as usize,
            id: header.id(),
            header,
        }
    }

    /// The id a table built from the (verified) model in `model_dir` with `opts` has,
    /// without building or loading it: reads only `config.json` and `tokenizer.json`. Lets
    /// a caller decide whether stored results are fresh before paying for the model.
    pub fn id_for(model_dir: &Path, opts: StaticOptions) -> Result<String> {
        let config_path = model_dir.join("config.json");
        let config_bytes = fs::read(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let config: serde_json::Value =
            serde_json::from_slice(&config_bytes).map_err(|e| Error::Config {
                path: config_path.clone(),
                reason: e.to_string(),
            })?;
        let hidden = config
            .get("hidden_size")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(384) as usize;
        let vocab = config
            .get("vocab_size")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(30522) as usize;
        let dims = opts.dims.min(hidden).min(vocab).max(1);
        let header = Header {
            requested_dims: opts.dims as u32,
            dims: dims as u32,
            vocab: vocab as u32,
            sif_coefficient: opts.sif_coefficient,
            model_sha256: MODEL_SHA256.to_string(),
            tokenizer_hash: tokenizer_hash(model_dir)?,
        };
        Ok(header.id())
    }

    /// The default cache file for a model directory.
    pub fn default_path(model_dir: &Path) -> PathBuf {
        model_dir.join(STATIC_FILE)
    }

    /// Writes the table (temp file + rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let h = &self.header;
        let mut bytes = Vec::with_capacity(128 + self.table.len() * 4);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&h.requested_dims.to_le_bytes());
        bytes.extend_from_slice(&h.dims.to_le_bytes());
        bytes.extend_from_slice(&h.vocab.to_le_bytes());
        bytes.extend_from_slice(&h.sif_coefficient.to_le_bytes());
        let recipe = RECIPE_VERSION.as_bytes();
        bytes.extend_from_slice(&(recipe.len() as u32).to_le_bytes());
        bytes.extend_from_slice(recipe);
        bytes.extend_from_slice(&(h.model_sha256.len() as u32).to_le_bytes());
        bytes.extend_from_slice(h.model_sha256.as_bytes());
        bytes.extend_from_slice(&h.tokenizer_hash);
        for x in &self.table {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        let sum = blake3::hash(&bytes);
        bytes.extend_from_slice(sum.as_bytes());
        write_atomic(path, &bytes)
    }

    /// Loads a table saved by [`StaticModel::save`] for the model in
    /// `model_dir`, whose `model.safetensors` has sha256 `model_sha256`.
    /// Any mismatch (version, recipe, source model, tokenizer, checksum) is
    /// an [`Error::Corrupt`].
    pub fn load(path: &Path, model_dir: &Path, model_sha256: &str) -> Result<StaticModel> {
        let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
        let corrupt = |reason: &str| Error::Corrupt {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
        };
        if bytes.len() < 32 + MAGIC.len() {
            return Err(corrupt("truncated static model file"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if blake3::hash(body).as_bytes() != sum {
            return Err(corrupt(
                "static model checksum mismatch (torn or damaged file)",
            ));
        }
        let mut r = Reader { bytes: body, at: 0 };
        if r.take(8) != Some(MAGIC.as_slice()) {
            return Err(corrupt("not a taxonomist static model file"));
        }
        if r.u32() != Some(FORMAT_VERSION) {
            return Err(corrupt("static model file of another format version"));
        }
        let (Some(requested_dims), Some(dims), Some(vocab), Some(sif)) =
            (r.u32(), r.u32(), r.u32(), r.f64())
        else {
            return Err(corrupt("truncated header"));
        };
        let recipe = r.u32().and_then(|n| r.take(n as usize));
        if recipe != Some(RECIPE_VERSION.as_bytes()) {
            return Err(corrupt("static model built with another recipe"));
        }
        let sha = r
            .u32()
            .and_then(|n| r.take(n as usize))
            .and_then(|s| std::str::from_utf8(s).ok())
            .map(str::to_owned);
        if sha.as_deref() != Some(model_sha256) {
            return Err(corrupt("static model built from another source model"));
        }
        let tok_hash: Option<[u8; 32]> = r.take(32).and_then(|s| s.try_into().ok());
        let current = tokenizer_hash(model_dir)?;
        if tok_hash != Some(current) {
            return Err(corrupt("static model built with another tokenizer"));
        }
        let rest = &body[r.at..];
        let (d, v) = (dims as usize, vocab as usize);
        if d == 0 || rest.len() != d * v * 4 {
            return Err(corrupt("table size does not match the header"));
        }
        let table: Vec<f32> = rest
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let tokenizer = TextTokenizer::from_file(&model_dir.join("tokenizer.json"))?;
        if tokenizer.vocab_size() != v {
            return Err(corrupt("vocabulary size differs from the tokenizer's"));
        }
        let header = Header {
            requested_dims,
            dims,
            vocab,
            sif_coefficient: sif,
            model_sha256: model_sha256.to_owned(),
            tokenizer_hash: current,
        };
        Ok(StaticModel::from_parts(tokenizer, table, header))
    }

    /// Loads the cached table at `path` (default: [`StaticModel::default_path`]),
    /// or builds it from the MiniLM in `model_dir` and saves it. A stale or
    /// corrupt cache file is rebuilt, and a failure to save is not fatal;
    /// both are reported in [`StaticReport::warnings`].
    ///
    /// `model_sha256` is the verified hash of the model (for a directory from
    /// [`crate::fetch::ensure`], [`crate::fetch::MODEL_SHA256`]).
    pub fn load_or_build(
        model_dir: &Path,
        model_sha256: &str,
        path: Option<&Path>,
        opts: StaticOptions,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(StaticModel, StaticReport)> {
        let path = path.map_or_else(|| StaticModel::default_path(model_dir), Path::to_path_buf);
        let mut report = StaticReport::default();
        if path.exists() {
            match StaticModel::load(&path, model_dir, model_sha256) {
                Ok(model)
                    if model.header.requested_dims as usize == opts.dims
                        && model.header.sif_coefficient == opts.sif_coefficient =>
                {
                    return Ok((model, report));
                }
                Ok(_) => report.warnings.push(Error::Corrupt {
                    path: path.clone(),
                    reason: "static model built with other options; rebuilding".to_owned(),
                }),
                Err(e) => report.warnings.push(e),
            }
        }
        let started = Instant::now();
        let minilm = MiniLm::load(model_dir)?;
        if minilm.model_sha256() != model_sha256 {
            return Err(Error::HashMismatch {
                file: "model.safetensors".to_owned(),
                path: model_dir.join("model.safetensors"),
                expected: model_sha256.to_owned(),
                actual: minilm.model_sha256().to_owned(),
            });
        }
        let model = StaticModel::build(&minilm, model_dir, opts, progress)?;
        report.built = true;
        report.build_seconds = started.elapsed().as_secs_f64();
        if let Err(e) = model.save(&path) {
            report.warnings.push(e);
        }
        Ok((model, report))
    }

    /// The vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.vocab
    }

    /// The static vector of one token id (None when out of range).
    pub fn token_vector(&self, id: u32) -> Option<&[f32]> {
        let i = id as usize;
        (i < self.vocab).then(|| &self.table[i * self.dim..(i + 1) * self.dim])
    }

    /// Embeds one text (see the module docs).
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let ids = self.tokenizer.ids(text)?;
        let mut v = vec![0f32; self.dim];
        let mut n = 0usize;
        for id in ids {
            if self.skip.contains(&id) {
                continue;
            }
            if let Some(row) = self.token_vector(id) {
                v.iter_mut().zip(row).for_each(|(a, x)| *a += x);
                n += 1;
            }
        }
        if n > 0 {
            let inv = 1.0 / n as f32;
            v.iter_mut().for_each(|x| *x *= inv);
            l2_normalize(&mut v);
        }
        Ok(v)
    }
}

impl Embedder for StaticModel {
    fn id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.len() < 64 {
            return texts.iter().map(|t| self.embed_one(t)).collect();
        }
        texts.par_iter().map(|t| self.embed_one(t)).collect()
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_le_bytes)
    }

    fn f64(&mut self) -> Option<f64> {
        self.take(8)
            .and_then(|s| s.try_into().ok())
            .map(f64::from_le_bytes)
    }
}

/// PCA of `rows × cols` data (row-major) to `dims` components: centred data
/// projected on the top eigenvectors of its covariance.
pub(crate) fn pca(data: &[f32], rows: usize, cols: usize, dims: usize) -> Result<Vec<f32>> {
    let ctx = |e| Error::model("pca", e);
    let dev = Device::Cpu;
    let mut mean = vec![0f64; cols];
    for r in data.chunks_exact(cols) {
        mean.iter_mut()
            .zip(r)
            .for_each(|(m, x)| *m += f64::from(*x));
    }
    mean.iter_mut().for_each(|m| *m /= rows.max(1) as f64);
    let centred: Vec<f32> = data
        .chunks_exact(cols)
        .flat_map(|r| r.iter().zip(&mean).map(|(x, m)| (f64::from(*x) - m) as f32))
        .collect();
    let x = Tensor::from_vec(centred, (rows, cols), &dev).map_err(ctx)?;
    let cov = x
        .t()
        .and_then(|t| t.matmul(&x))
        .and_then(|c| c.to_vec2::<f32>())
        .map_err(ctx)?;
    let denom = (rows.max(2) - 1) as f64;
    let mut a: Vec<f64> = cov
        .iter()
        .flat_map(|r| r.iter().map(|v| f64::from(*v) / denom))
        .collect();
    let (values, vectors) = jacobi_eigen(&mut a, cols);
    let mut order: Vec<usize> = (0..cols).collect();
    order.sort_by(|&i, &j| values[j].total_cmp(&values[i]));
    // Components as columns of a cols × dims matrix, signs fixed.
    let mut w = vec![0f32; cols * dims];
    for (k, &c) in order.iter().take(dims).enumerate() {
        let col: Vec<f64> = (0..cols).map(|r| vectors[r * cols + c]).collect();
        let big = col
            .iter()
            .copied()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
            .unwrap_or(1.0);
        let sign = if big < 0.0 { -1.0 } else { 1.0 };
        for r in 0..cols {
            w[r * dims + k] = (col[r] * sign) as f32;
        }
    }
    let w = Tensor::from_vec(w, (cols, dims), &dev).map_err(ctx)?;
    x.matmul(&w)
        .and_then(|y| y.flatten_all())
        .and_then(|y| y.to_vec1::<f32>())
        .map_err(ctx)
}

/// model2vec's SIF weighting with Zipf-estimated probabilities (see the
/// module docs).
pub(crate) fn sif_weight(table: &mut [f32], vocab: usize, dims: usize, a: f64) {
    let total: f64 = (0..vocab).map(|i| 1.0 / (i as f64 + 2.0)).sum();
    for (i, row) in table.chunks_exact_mut(dims).enumerate().take(vocab) {
        let p = (1.0 / (i as f64 + 2.0)) / total;
        let w = (a / (a + p)) as f32;
        row.iter_mut().for_each(|x| *x *= w);
    }
}

/// Eigen-decomposition of a symmetric `n × n` matrix (row-major, destroyed)
/// by cyclic Jacobi rotations. Returns the eigenvalues and the eigenvectors
/// as the columns of a row-major `n × n` matrix.
pub(crate) fn jacobi_eigen(a: &mut [f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        if off <= 1e-24 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let app = a[p * n + p];
                let aqq = a[q * n + q];
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A <- A J (columns p, q), then A <- J^T A (rows p, q).
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                a[p * n + q] = 0.0;
                a[q * n + p] = 0.0;
                for k in 0..n {
                    let vkp = v[k * n + p];
                    let vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let values = (0..n).map(|i| a[i * n + i]).collect();
    (values, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, SplitMix};

    #[test]
    fn jacobi_finds_eigenpairs() {
        let n = 12;
        let mut rng = SplitMix::new(3);
        let mut m = vec![0f64; n * n];
        for i in 0..n {
            for j in i..n {
                let x = f64::from(rng.next_f32());
                m[i * n + j] = x;
                m[j * n + i] = x;
            }
        }
        let orig = m.clone();
        let (values, vectors) = jacobi_eigen(&mut m, n);
        for c in 0..n {
            for r in 0..n {
                let av: f64 = (0..n).map(|k| orig[r * n + k] * vectors[k * n + c]).sum();
                assert!((av - values[c] * vectors[r * n + c]).abs() < 1e-9);
            }
            for c2 in 0..n {
                let dot: f64 = (0..n)
                    .map(|k| vectors[k * n + c] * vectors[k * n + c2])
                    .sum();
                let want = if c == c2 { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn pca_keeps_the_main_direction() {
        // Points spread along (1, 1, 0) with small noise elsewhere.
        let mut rng = SplitMix::new(5);
        let mut data = Vec::new();
        for _ in 0..200 {
            let t = rng.next_f32() * 10.0;
            data.extend_from_slice(&[
                t + 3.0 + 0.01 * rng.next_f32(),
                t - 1.0 + 0.01 * rng.next_f32(),
                0.05 * rng.next_f32(),
            ]);
        }
        let y = pca(&data, 200, 3, 1).expect("pca");
        assert_eq!(y.len(), 200);
        // The projection is centred and carries the spread of t * sqrt(2).
        let mean: f32 = y.iter().sum::<f32>() / 200.0;
        assert!(mean.abs() < 1e-3);
        for (row, p) in data.chunks_exact(3).zip(&y) {
            let along = (row[0] + row[1]) / std::f32::consts::SQRT_2;
            // Same up to the constant offset (centring).
            let offset = along - p;
            let first = (data[0] + data[1]) / std::f32::consts::SQRT_2 - y[0];
            assert!((offset - first).abs() < 0.05, "{offset} vs {first}");
        }
    }

    #[test]
    fn sif_weights_follow_zipf() {
        let mut t = vec![1f32; 4 * 2];
        sif_weight(&mut t, 4, 2, 1e-1);
        let total = 1.0 / 2.0 + 1.0 / 3.0 + 1.0 / 4.0 + 1.0 / 5.0;
        let w0 = 0.1 / (0.1 + (0.5 / total));
        assert!((f64::from(t[0]) - w0).abs() < 1e-6);
        // Rarer (higher id) tokens weigh more.
        assert!(t[0] < t[2] && t[2] < t[4] && t[4] < t[6]);
    }

    fn tiny_static() -> (tempfile::TempDir, MiniLm, StaticModel) {
        let dir = tempfile::tempdir().expect("tempdir");
        testing::write_tiny_model(dir.path(), 11).expect("tiny");
        let minilm = MiniLm::load(dir.path()).expect("load");
        let mut calls = Vec::new();
        let opts = StaticOptions {
            dims: 8,
            sif_coefficient: 1e-4,
        };
        let model = StaticModel::build(&minilm, dir.path(), opts, &mut |d, t| calls.push((d, t)))
            .expect("build");
        assert_eq!(
            calls.last(),
            Some(&(testing::VOCAB.len(), testing::VOCAB.len()))
        );
        (dir, minilm, model)
    }

    #[test]
    fn builds_embeds_and_round_trips() {
        let (dir, minilm, model) = tiny_static();
        assert_eq!(model.dim(), 8);
        assert!(model.id().starts_with("bert-static8@"), "{}", model.id());
        let v = model
            .embed(&["the cat sat", "", "[CLS] [UNK]", "cat"])
            .expect("embed");
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm(&v[0]) - 1.0).abs() < 1e-5);
        assert_eq!(norm(&v[1]), 0.0, "no tokens: zero vector");
        assert_eq!(norm(&v[2]), 0.0, "special and unknown tokens are skipped");
        // One token: its own (normalised) table row.
        let cat = minilm.text_tokenizer().ids("cat").expect("ids")[0];
        let mut row = model.token_vector(cat).expect("row").to_vec();
        l2_normalize(&mut row);
        assert!(v[3].iter().zip(&row).all(|(a, b)| (a - b).abs() < 1e-6));
        // Mean of token rows, order-free.
        let a = model.embed_one("the cat sat").expect("embed");
        let b = model.embed_one("sat the cat").expect("embed");
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-6));

        let path = dir.path().join("static.bin");
        model.save(&path).expect("save");
        let back = StaticModel::load(&path, dir.path(), minilm.model_sha256()).expect("load");
        assert_eq!(back.id(), model.id());
        assert_eq!(back.table, model.table);
        // Another source model: refused.
        let err = StaticModel::load(&path, dir.path(), "0000").expect_err("other model");
        assert!(matches!(err, Error::Corrupt { .. }));
        // A flipped byte: refused.
        let mut bytes = fs::read(&path).expect("read");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        fs::write(&path, &bytes).expect("write");
        let err = StaticModel::load(&path, dir.path(), minilm.model_sha256()).expect_err("flip");
        assert!(err.to_string().contains("checksum"), "{err}");
        // Truncated: refused, no panic.
        fs::write(&path, &bytes[..10]).expect("write");
        assert!(StaticModel::load(&path, dir.path(), minilm.model_sha256()).is_err());
    }

    #[test]
    fn load_or_build_builds_once_then_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        testing::write_tiny_model(dir.path(), 12).expect("tiny");
        let sha = MiniLm::load(dir.path())
            .expect("load")
            .model_sha256()
            .to_owned();
        let opts = StaticOptions::default();
        let (first, report) =
            StaticModel::load_or_build(dir.path(), &sha, None, opts, &mut |_, _| {})
                .expect("build");
        assert!(report.built && report.warnings.is_empty());
        assert_eq!(
            first.dim(),
            testing::HIDDEN,
            "dims capped by the model width"
        );
        let (second, report) =
            StaticModel::load_or_build(dir.path(), &sha, None, opts, &mut |_, _| {}).expect("load");
        assert!(!report.built);
        assert_eq!(first.table, second.table);
        // A damaged file is rebuilt with a warning.
        let path = StaticModel::default_path(dir.path());
        fs::write(&path, b"garbage").expect("write");
        let (_third, report) =
            StaticModel::load_or_build(dir.path(), &sha, None, opts, &mut |_, _| {})
                .expect("rebuild");
        assert!(report.built);
        assert_eq!(report.warnings.len(), 1);
        // A wrong expected hash is an error, never a silent build.
        let err = StaticModel::load_or_build(
            dir.path(),
            "abc",
            Some(&dir.path().join("x.bin")),
            opts,
            &mut |_, _| {},
        )
        .expect_err("wrong sha");
        assert!(matches!(err, Error::HashMismatch { .. }));
    }
}
