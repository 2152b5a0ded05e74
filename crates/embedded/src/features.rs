//! Per-pair features from prepared vectors: what the calibration turns into a score.

use std::ops::Range;

use crate::lexical::{LexicalMatch, PageTokens, TermNames};

/// How many best-matching chunks are averaged.
pub const TOP_CHUNKS: usize = 3;

/// The rows of one term's views in the stacked term matrix.
#[derive(Clone, Debug, Default)]
pub struct TermViews {
    /// "Title. Description. Scope. Key topics: …"
    pub def: usize,
    /// "Title: description"
    pub td: usize,
    /// "Title: key topic", one row per topic.
    pub topics: Range<usize>,
    /// One row per exclusion.
    pub exclusions: Range<usize>,
}

/// The term side, prepared once per run.
pub struct Terms {
    /// Stacked unit vectors of every view, transposed: `dim × rows`.
    pub matrix_t: candle_core::Tensor,
    /// Rows in `matrix`.
    pub rows: usize,
    /// Per site term (same index); `None` for terms that are not scored.
    pub views: Vec<Option<TermViews>>,
    /// Names for the lexical signal.
    pub names: Vec<TermNames>,
    /// For each term, the terms whose pages list it.
    pub in_links: Vec<Vec<usize>>,
    /// Topic texts as reasons quote them (cut to [`crate::reason::TOPIC_CLIP`]), per term.
    pub topic_texts: Vec<Vec<String>>,
    /// Exclusion texts as reasons quote them (cut to [`crate::reason::EXCLUSION_CLIP`]), per
    /// term.
    pub exclusion_texts: Vec<Vec<String>>,
    /// Words of each term's title and key topics, for picking the reason's sentence.
    pub hints: Vec<crate::lexical::TokSet>,
}

/// The page side of one page.
pub struct PageSide {
    /// Chunk texts as embedded (the first is "title. description"; body chunks carry a
    /// "title. " prefix).
    pub chunk_texts: Vec<String>,
    /// The same chunks without the title prefix, split into sentences (for reasons).
    pub passages: Vec<(String, crate::reason::Sentences)>,
    /// Stacked unit vectors of the chunks (`chunks × dim`).
    pub chunks: Vec<f32>,
    /// Unit mean of the chunk vectors (for neighbours and centroids).
    pub mean: Vec<f32>,
    /// Tokens for the lexical signal.
    pub tokens: PageTokens,
}

/// Similarities of one page's chunks to every term view: `sims[c * rows + r]`.
pub struct Sims {
    sims: Vec<f32>,
    rows: usize,
    chunks: usize,
}

impl Sims {
    /// Computes chunk × view cosine similarities (vectors are unit length) with one
    /// matrix product.
    pub fn new(page: &PageSide, terms: &Terms, dim: usize) -> Result<Sims, candle_core::Error> {
        let chunks = page.chunks.len() / dim.max(1);
        let rows = terms.rows;
        if chunks == 0 || rows == 0 {
            return Ok(Sims {
                sims: Vec::new(),
                rows,
                chunks: 0,
            });
        }
        let c = candle_core::Tensor::from_slice(
            &page.chunks,
            (chunks, dim),
            &candle_core::Device::Cpu,
        )?;
        let sims = c.matmul(&terms.matrix_t)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(Sims { sims, rows, chunks })
    }

    fn column(&self, r: usize) -> impl Iterator<Item = f32> + '_ {
        (0..self.chunks).map(move |c| self.sims[c * self.rows + r])
    }

    /// Best similarity of any chunk to view row `r`.
    pub fn max(&self, r: usize) -> f32 {
        self.column(r).fold(f32::NEG_INFINITY, f32::max).max(-1.0)
    }

    /// Mean of the `TOP_CHUNKS` best chunk similarities to row `r`.
    pub fn top_mean(&self, r: usize) -> f32 {
        let mut best = [f32::NEG_INFINITY; TOP_CHUNKS];
        for s in self.column(r) {
            if s > best[TOP_CHUNKS - 1] {
                best[TOP_CHUNKS - 1] = s;
                best.sort_by(|a, b| b.total_cmp(a));
            }
        }
        let got: Vec<f32> = best.into_iter().filter(|s| s.is_finite()).collect();
        if got.is_empty() {
            0.0
        } else {
            got.iter().sum::<f32>() / got.len() as f32
        }
    }

    /// The chunk most similar to row `r`.
    pub fn argmax(&self, r: usize) -> usize {
        let mut best = (0, f32::NEG_INFINITY);
        for (c, s) in self.column(r).enumerate() {
            if s > best.1 {
                best = (c, s);
            }
        }
        best.0
    }
}

/// The zero-shot features of one pair plus what the reason needs.
#[derive(Clone, Debug, Default)]
pub struct PairFeatures {
    /// Feature values in [`crate::calibrate::FEATURES`] order (learned ones 0 here).
    pub x: Vec<f32>,
    /// The lexical match.
    pub lexical: LexicalMatch,
    /// (topic index, similarity), best first.
    pub topics: Vec<(usize, f32)>,
    /// The exclusion that fired most, with its margin over the definition.
    pub exclusion: Option<(usize, f32)>,
    /// The chunk that matches the definition best.
    pub best_chunk: usize,
}

/// Per-page definition similarity of every term (needed by the graph feature of others).
pub fn definition_sims(sims: &Sims, terms: &Terms) -> Vec<f32> {
    terms
        .views
        .iter()
        .map(|v| v.as_ref().map_or(0.0, |v| sims.top_mean(v.def)))
        .collect()
}

/// Zero-shot features of (page, term `t`). `def_sims` comes from [`definition_sims`].
pub fn pair(
    page: &PageSide,
    sims: &Sims,
    terms: &Terms,
    t: usize,
    def_sims: &[f32],
) -> Option<PairFeatures> {
    let v = terms.views[t].as_ref()?;
    let s_def = def_sims[t];
    let s_td = sims.top_mean(v.td);
    let mut topics: Vec<(usize, f32)> = v
        .topics
        .clone()
        .enumerate()
        .map(|(i, r)| (i, sims.max(r)))
        .collect();
    let s_top = if topics.is_empty() {
        s_def
    } else {
        topics.iter().map(|x| x.1).sum::<f32>() / topics.len() as f32
    };
    topics.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let exclusion = v
        .exclusions
        .clone()
        .enumerate()
        .map(|(i, r)| (i, sims.max(r) - s_def))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
    let excl = exclusion.map_or(0.0, |e| e.1.max(0.0));
    let lexical = terms.names[t].match_page(&page.tokens);
    let links = &terms.in_links[t];
    let graph = links.iter().map(|&x| def_sims[x]).fold(0.0f32, f32::max);
    let in_degree = (1.0 + links.len() as f32).ln();
    let x = vec![
        s_def,
        s_td,
        s_top,
        if lexical.in_title { 1.0 } else { 0.0 },
        lexical.body_signal(page.tokens.body_len()),
        lexical.coverage,
        excl,
        graph,
        in_degree,
        0.0,
        0.0,
        0.0,
    ];
    Some(PairFeatures {
        x,
        lexical,
        topics,
        exclusion: exclusion.filter(|e| e.1 > 0.0),
        best_chunk: sims.argmax(v.def),
    })
}
