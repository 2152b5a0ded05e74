//! Learning from trusted labels: nearest labelled neighbours, per-term label priors and
//! per-term centroids of positively labelled pages.
//!
//! Labels are judgments of (page, term) pairs on a 0–100 scale: a person's front matter
//! (listed = 100, not listed = 0) or imported LLM scores. Every signal can leave one page
//! out, so evaluation never lets a page learn from its own labels.

use std::collections::BTreeMap;

use taxonomist_model::{Hash, Hasher};

/// A judged score at or above this is a positive example for the term centroid.
pub const POSITIVE: f32 = 80.0;

/// Neighbours consulted per page.
const NEIGHBOURS: usize = 10;
/// Softmax temperature over neighbour similarities.
const TEMPERATURE: f32 = 0.05;

/// Trusted judgments, by page index and term index (indices into the site's lists).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labels {
    pages: BTreeMap<usize, BTreeMap<usize, f32>>,
}

impl Labels {
    /// Labels from `(page index, term index, score 0–100)` triples; a later triple for the
    /// same pair wins.
    pub fn new(triples: impl IntoIterator<Item = (usize, usize, f32)>) -> Labels {
        let mut pages: BTreeMap<usize, BTreeMap<usize, f32>> = BTreeMap::new();
        for (p, t, s) in triples {
            pages.entry(p).or_default().insert(t, s.clamp(0.0, 100.0));
        }
        Labels { pages }
    }

    /// Whether there are no labels at all.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Labelled page indices.
    pub fn pages(&self) -> impl Iterator<Item = usize> + '_ {
        self.pages.keys().copied()
    }

    /// The judgments of one page.
    pub fn of(&self, page: usize) -> Option<&BTreeMap<usize, f32>> {
        self.pages.get(&page)
    }

    /// Number of labelled pages.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// A fingerprint of the labels and the labelled pages' content: part of the engine
    /// version, so changing what the engine learns from re-scores every page.
    pub fn fingerprint(
        &self,
        page_keys: &dyn Fn(usize) -> (String, Hash),
        term_key: &dyn Fn(usize) -> String,
    ) -> Hash {
        let mut h = Hasher::new("labels/1");
        for (p, judged) in &self.pages {
            let (id, content) = page_keys(*p);
            h.str(&id).field(&content.0);
            for (t, s) in judged {
                h.str(&term_key(*t)).field(&s.to_le_bytes());
            }
        }
        h.finish()
    }
}

/// What the labels say about one (page, term) pair.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Learned {
    /// Similarity-weighted mean judgment of the nearest labelled pages (0–1).
    pub vote: f32,
    /// Mean judgment of the term over all labelled pages (0–1).
    pub prior: f32,
    /// Cosine similarity to the centroid of pages judged positive (0 when none).
    pub centroid: f32,
    /// Labelled pages that judged the term.
    pub evidence: usize,
}

/// Precomputed sums over the labelled pages, so each page's signals (leaving itself out
/// when it is labelled) cost one pass over the labelled pages.
pub struct Learner<'a> {
    labels: &'a Labels,
    /// (page index, unit vector) of labelled pages with vectors.
    vectors: Vec<(usize, &'a [f32])>,
    n_terms: usize,
    sum: Vec<f32>,
    count: Vec<usize>,
    centroid_sum: Vec<Vec<f32>>,
    dim: usize,
}

impl<'a> Learner<'a> {
    /// Prepares the sums. `vector_of` gives a labelled page's unit vector.
    pub fn new(
        labels: &'a Labels,
        n_terms: usize,
        dim: usize,
        vector_of: &dyn Fn(usize) -> Option<&'a [f32]>,
    ) -> Learner<'a> {
        let mut sum = vec![0f32; n_terms];
        let mut count = vec![0usize; n_terms];
        let mut centroid_sum = vec![Vec::new(); n_terms];
        let mut vectors = Vec::new();
        for (&p, judged) in &labels.pages {
            let v = vector_of(p);
            if let Some(v) = v {
                vectors.push((p, v));
            }
            for (&t, &s) in judged {
                if t >= n_terms {
                    continue;
                }
                sum[t] += s / 100.0;
                count[t] += 1;
                if s >= POSITIVE
                    && let Some(v) = v
                {
                    let c = &mut centroid_sum[t];
                    if c.is_empty() {
                        c.resize(dim, 0.0);
                    }
                    c.iter_mut().zip(v).for_each(|(a, b)| *a += b);
                }
            }
        }
        Learner {
            labels,
            vectors,
            n_terms,
            sum,
            count,
            centroid_sum,
            dim,
        }
    }

    /// Signals for every term, for a page with unit vector `v`; `page` is left out of every
    /// sum when it is itself labelled.
    pub fn signals(&self, page: usize, v: &[f32]) -> Vec<Learned> {
        let own = self.labels.of(page);
        let own_vec = self
            .vectors
            .iter()
            .find(|(p, _)| *p == page)
            .map(|(_, v)| *v);
        // Nearest labelled neighbours, self excluded.
        let mut sims: Vec<(f32, usize)> = self
            .vectors
            .iter()
            .filter(|(p, _)| *p != page)
            .map(|(p, u)| (dot(v, u), *p))
            .collect();
        sims.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        sims.truncate(NEIGHBOURS);
        let mut vote_num = vec![0f32; self.n_terms];
        let mut vote_den = vec![0f32; self.n_terms];
        let top = sims.first().map_or(0.0, |s| s.0);
        for (s, q) in &sims {
            let w = ((s - top) / TEMPERATURE).exp();
            if let Some(judged) = self.labels.of(*q) {
                for (&t, &y) in judged {
                    if t < self.n_terms {
                        vote_num[t] += w * y / 100.0;
                        vote_den[t] += w;
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(self.n_terms);
        let mut c = vec![0f32; self.dim];
        for t in 0..self.n_terms {
            let own_y = own.and_then(|j| j.get(&t)).copied();
            let (mut s, mut n) = (self.sum[t], self.count[t]);
            if let Some(y) = own_y {
                s -= y / 100.0;
                n -= 1;
            }
            let prior = if n > 0 { s / n as f32 } else { 0.0 };
            let mut centroid = 0.0;
            if !self.centroid_sum[t].is_empty() {
                c.copy_from_slice(&self.centroid_sum[t]);
                if let (Some(y), Some(ov)) = (own_y, own_vec)
                    && y >= POSITIVE
                {
                    c.iter_mut().zip(ov).for_each(|(a, b)| *a -= b);
                }
                let norm = dot(&c, &c).sqrt();
                if norm > 1e-6 {
                    centroid = dot(&c, v) / norm;
                }
            }
            let vote = if vote_den[t] > 0.0 {
                vote_num[t] / vote_den[t]
            } else {
                0.0
            };
            out.push(Learned {
                vote,
                prior,
                centroid,
                evidence: n,
            });
        }
        out
    }
}

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = dot(v, v).sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn leave_one_out_never_sees_its_own_label() {
        // Page 0 is the only page labelled positive for term 0.
        let labels = Labels::new([(0, 0, 100.0), (1, 0, 0.0), (1, 1, 100.0), (2, 1, 100.0)]);
        let vecs = [unit(&[1.0, 0.0]), unit(&[0.9, 0.1]), unit(&[0.0, 1.0])];
        let learner = Learner::new(&labels, 2, 2, &|p| vecs.get(p).map(Vec::as_slice));
        let s0 = learner.signals(0, &vecs[0]);
        assert_eq!(s0[0].evidence, 1, "page 0's own label is left out");
        assert_eq!(s0[0].prior, 0.0, "only page 1's 0 remains");
        assert_eq!(s0[0].centroid, 0.0, "no other positive page");
        // An unlabelled page near page 0 sees its label.
        let s = learner.signals(9, &unit(&[1.0, 0.05]));
        assert_eq!(s[0].evidence, 2);
        assert!((s[0].prior - 0.5).abs() < 1e-6);
        assert!(s[0].centroid > 0.99);
        assert!(
            s[0].vote > 0.5,
            "nearest neighbour (page 0) says yes: {}",
            s[0].vote
        );
        assert!(s[1].vote < s[0].vote + 1.0);
    }

    #[test]
    fn fingerprint_changes_with_labels_and_content() {
        let a = Labels::new([(0, 0, 100.0)]);
        let b = Labels::new([(0, 0, 90.0)]);
        let key = |p: usize| (format!("p{p}"), Hash::of(b"x"));
        let key2 = |p: usize| (format!("p{p}"), Hash::of(b"y"));
        let term = |t: usize| format!("t{t}");
        assert_ne!(a.fingerprint(&key, &term), b.fingerprint(&key, &term));
        assert_ne!(a.fingerprint(&key, &term), a.fingerprint(&key2, &term));
        assert_eq!(
            a.fingerprint(&key, &term),
            a.clone().fingerprint(&key, &term)
        );
    }
}
