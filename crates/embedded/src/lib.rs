//! The embedded offline engine: scores every page against every term with sentence
//! embeddings, a lexical signal, the taxonomy's own term-to-term links and, when trusted
//! labels exist, what the labelled pages say.
//!
//! # Brief overview
//! - [`EmbeddedEngine`] implements [`taxonomist_engine::Engine`]. It embeds page chunks
//!   (token-bounded, overlapping, each prefixed with the page title) and term views (the
//!   definition, "title: description", each key topic, each exclusion) through any
//!   [`taxonomist_embed::Embedder`] (usually cached), computes [`calibrate::FEATURES`] per
//!   pair, and turns them into a 0–100 score with the versioned [`Calibration`].
//! - [`Labels`] / [`learn::Learner`]: nearest labelled neighbours, per-term label priors and
//!   centroids; every signal can leave a page out (evaluation never learns from the page
//!   being judged).
//! - [`lexical`]: phrase matching that handles multi-word titles, aliases, case and plurals.
//! - [`reason`]: checkable evidence for each score.
//!
//! Scores depend only on the page, the term (with the terms that link to it) and the engine
//! version, which includes the calibration and a fingerprint of the labels learned from, so
//! a store can recompute exactly what changed.
#![deny(missing_docs)]

pub mod calibrate;
pub mod features;
pub mod learn;
pub mod lexical;
pub mod reason;

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use taxonomist_embed::{Embedder, TextTokenizer};
use taxonomist_engine::{Engine, EngineError, Flow, Progress, RunSummary, Sink, Work};
use taxonomist_model::{EngineId, Hash, Hasher, Inputs, PageId, Score, Site};

pub use calibrate::{Calibration, FEATURES};
use features::{PageSide, PairFeatures, Sims, TermViews, Terms};
pub use learn::{Labels, Learned, Learner};
use lexical::{PageTokens, TermNames};

/// Version of the scoring recipe (views, chunking, features). Part of the engine version.
pub const RECIPE_VERSION: &str = "emb-1";

/// Tunables that change scores (and so are part of the engine version).
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Tokens per body chunk.
    pub chunk_tokens: usize,
    /// Tokens shared by consecutive chunks.
    pub chunk_overlap: usize,
    /// At most this many body chunks per page (the rest of a very long page is not read).
    pub max_chunks: usize,
    /// Texts per embedding call (progress granularity; no effect on scores).
    pub batch: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            chunk_tokens: 128,
            chunk_overlap: 32,
            max_chunks: 48,
            batch: 256,
        }
    }
}

/// Everything one pair's analysis produced.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// Term index in `site.terms`.
    pub term: usize,
    /// Feature vector ([`FEATURES`] order).
    pub x: Vec<f32>,
    /// Labelled pages that judged the term (0 without labels).
    pub evidence: usize,
    /// The score.
    pub score: Score,
}

/// Embedded vectors for one run.
pub struct Prepared {
    terms: Terms,
    pages: HashMap<usize, PageSide>,
    dim: usize,
    def_hashes: Vec<Hash>,
}

impl Prepared {
    /// A page's unit mean vector, when prepared.
    pub fn page_vector(&self, page: usize) -> Option<&[f32]> {
        self.pages.get(&page).map(|p| p.mean.as_slice())
    }
}

/// Makes the embedder on first use.
pub type EmbedderFactory = Box<dyn FnOnce() -> Result<Box<dyn Embedder>, String> + Send>;

/// The embedded engine.
pub struct EmbeddedEngine {
    embedder: std::sync::OnceLock<Box<dyn Embedder>>,
    factory: std::sync::Mutex<Option<EmbedderFactory>>,
    embedder_id: String,
    tokenizer: TextTokenizer,
    calibration: Calibration,
    options: Options,
    labels: Labels,
    labels_fingerprint: Option<Hash>,
    spans: taxonomist_embed::SpanCache,
}

fn run_err<E: std::fmt::Display>(e: E) -> EngineError {
    EngineError::Run(e.to_string())
}

impl EmbeddedEngine {
    /// An engine over `embedder`, chunking with `tokenizer` (the embedder's own).
    pub fn new(embedder: Box<dyn Embedder>, tokenizer: TextTokenizer) -> EmbeddedEngine {
        let embedder_id = embedder.id().to_string();
        let cell = std::sync::OnceLock::new();
        let _ = cell.set(embedder);
        EmbeddedEngine::build(cell, None, embedder_id, tokenizer)
    }

    /// An engine whose embedder is made by `factory` the first time something needs
    /// embedding: a run with nothing to score never loads the model. `embedder_id` must be
    /// the id the factory's embedder will have.
    pub fn lazy(
        embedder_id: String,
        factory: EmbedderFactory,
        tokenizer: TextTokenizer,
    ) -> EmbeddedEngine {
        EmbeddedEngine::build(
            std::sync::OnceLock::new(),
            Some(factory),
            embedder_id,
            tokenizer,
        )
    }

    fn build(
        embedder: std::sync::OnceLock<Box<dyn Embedder>>,
        factory: Option<EmbedderFactory>,
        embedder_id: String,
        tokenizer: TextTokenizer,
    ) -> EmbeddedEngine {
        EmbeddedEngine {
            embedder,
            factory: std::sync::Mutex::new(factory),
            embedder_id,
            tokenizer,
            calibration: Calibration::builtin(),
            options: Options::default(),
            labels: Labels::default(),
            labels_fingerprint: None,
            spans: taxonomist_embed::SpanCache::in_memory(),
        }
    }

    /// Keeps chunk spans in `cache` (persisted by [`taxonomist_embed::SpanCache::save`]
    /// after each run that added some), so a page whose text did not change is not
    /// tokenised again.
    pub fn with_span_cache(mut self, cache: taxonomist_embed::SpanCache) -> EmbeddedEngine {
        self.spans = cache;
        self
    }

    fn embedder(&self) -> Result<&dyn Embedder, EngineError> {
        if let Some(e) = self.embedder.get() {
            return Ok(e.as_ref());
        }
        let factory = self
            .factory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(factory) = factory else {
            return Err(EngineError::Setup("the embedder could not be made".into()));
        };
        let made = factory().map_err(EngineError::Setup)?;
        if made.id() != self.embedder_id {
            return Err(EngineError::Setup(format!(
                "the embedder is {} but {} was expected",
                made.id(),
                self.embedder_id
            )));
        }
        let _ = self.embedder.set(made);
        self.embedder
            .get()
            .map(|e| e.as_ref())
            .ok_or_else(|| EngineError::Setup("the embedder could not be made".into()))
    }

    /// Uses another calibration.
    pub fn with_calibration(mut self, calibration: Calibration) -> EmbeddedEngine {
        self.calibration = calibration;
        self
    }

    /// Uses other options.
    pub fn with_options(mut self, options: Options) -> EmbeddedEngine {
        self.options = options;
        self
    }

    /// Learns from `labels` (indices into `site`). The labels' fingerprint becomes part of
    /// the engine version.
    pub fn with_labels(mut self, site: &Site, labels: Labels) -> EmbeddedEngine {
        self.labels_fingerprint = (!labels.is_empty()).then(|| {
            labels.fingerprint(
                &|p| (site.pages[p].id.0.clone(), site.pages[p].content_hash),
                &|t| site.terms[t].id.0.clone(),
            )
        });
        self.labels = labels;
        self
    }

    /// The labels learned from.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// The calibration in use.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// For each term, the terms whose pages list it (by title, alias or slug), self excluded.
    ///
    /// Empty when the site classifies its term pages too (`[site] term_pages = true`): their
    /// lists are then this engine's own output, and using them as evidence would feed every
    /// apply back into the scores it came from (each apply re-scoring whole term columns and
    /// shifting the next selection), so runs would not settle.
    pub fn in_links(site: &Site) -> Vec<Vec<usize>> {
        if site
            .pages
            .iter()
            .any(|p| p.kind == taxonomist_model::PageKind::Term)
        {
            return vec![Vec::new(); site.terms.len()];
        }
        let index: HashMap<&taxonomist_model::TermId, usize> = site
            .terms
            .iter()
            .enumerate()
            .map(|(i, t)| (&t.id, i))
            .collect();
        let mut links = vec![Vec::new(); site.terms.len()];
        for (x, term) in site.terms.iter().enumerate() {
            for (tax, values) in &term.terms {
                for v in values {
                    if let Some(y) = site.find_term(tax, v).and_then(|t| index.get(&t.id))
                        && *y != x
                        && !links[*y].contains(&x)
                    {
                        links[*y].push(x);
                    }
                }
            }
        }
        links.iter_mut().for_each(|l| l.sort_unstable());
        links
    }

    fn term_texts(
        site: &Site,
        t: usize,
    ) -> (String, String, Vec<String>, Vec<String>, Vec<String>) {
        let term = &site.terms[t];
        let desc = if term.description.is_empty() {
            term.abstract_text.as_str()
        } else {
            term.description.as_str()
        };
        let (scope, topics, exclusions) = match &term.instructions {
            Some(i) => (i.scope.clone(), i.key_topics.clone(), i.exclusions.clone()),
            None => (reason::clip(&term.body_text, 600), Vec::new(), Vec::new()),
        };
        let mut def = format!("{}. {} {}", term.title, desc, scope);
        if !topics.is_empty() {
            def.push_str(" Key topics: ");
            def.push_str(&topics.join("; "));
        }
        let td = format!("{}: {}", term.title, desc);
        let topic_views = topics
            .iter()
            .map(|k| format!("{}: {k}", term.title))
            .collect();
        (def, td, topic_views, topics, exclusions)
    }

    fn page_chunks(&self, site: &Site, p: usize) -> Result<Vec<String>, EngineError> {
        let page = &site.pages[p];
        let head = if page.description.is_empty() {
            page.title.clone()
        } else {
            format!("{}. {}", page.title, page.description)
        };
        let mut out = vec![head];
        let body = &page.body_text;
        let spans = self
            .spans
            .spans(
                &self.tokenizer,
                body,
                self.options.chunk_tokens,
                self.options.chunk_overlap,
            )
            .map_err(run_err)?;
        out.extend(
            spans
                .into_iter()
                .take(self.options.max_chunks)
                .map(|(s, e)| format!("{}. {}", page.title, &body[s..e])),
        );
        Ok(out)
    }

    fn embed_all(
        &self,
        texts: &[String],
        sink: &mut dyn Sink,
        phase: &str,
    ) -> Result<Vec<Vec<f32>>, EngineError> {
        sink.progress(Progress::Phase {
            name: phase.to_string(),
            total: texts.len() as u64,
        });
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.options.batch.max(1)) {
            let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
            out.extend(self.embedder()?.embed(&refs).map_err(run_err)?);
            if sink.progress(Progress::Advance(batch.len() as u64)) == Flow::Stop {
                return Err(EngineError::Run("stopped".into()));
            }
        }
        Ok(out)
    }

    /// Embeds the term views and the given pages (plus every labelled page, which the
    /// learned signals need).
    pub fn prepare(
        &self,
        site: &Site,
        pages: &[usize],
        sink: &mut dyn Sink,
    ) -> Result<Prepared, EngineError> {
        let embedder = self.embedder()?;
        let dim = embedder.dim();
        let scorable: std::collections::BTreeSet<usize> = taxonomist_engine::scorable_terms(site)
            .into_iter()
            .collect();
        // Term side: every scorable term (the graph feature reads all of them).
        let mut texts: Vec<String> = Vec::new();
        let mut views = vec![None; site.terms.len()];
        let mut topic_texts = vec![Vec::new(); site.terms.len()];
        let mut exclusion_texts = vec![Vec::new(); site.terms.len()];
        for &t in &scorable {
            let (def, td, topic_views, topics, exclusions) = Self::term_texts(site, t);
            let base = texts.len();
            texts.push(def);
            texts.push(td);
            let n_topics = topic_views.len();
            texts.extend(topic_views);
            texts.extend(exclusions.iter().cloned());
            views[t] = Some(TermViews {
                def: base,
                td: base + 1,
                topics: base + 2..base + 2 + n_topics,
                exclusions: base + 2 + n_topics..base + 2 + n_topics + exclusions.len(),
            });
            topic_texts[t] = topics;
            exclusion_texts[t] = exclusions;
        }
        let vectors = self.embed_all(&texts, sink, "embedding terms")?;
        let rows = vectors.len();
        let mut matrix_t = vec![0f32; rows * dim];
        for (r, v) in vectors.iter().enumerate() {
            for (c, x) in v.iter().enumerate().take(dim) {
                matrix_t[c * rows + r] = *x;
            }
        }
        let matrix_t =
            candle_core::Tensor::from_vec(matrix_t, (dim, rows), &candle_core::Device::Cpu)
                .map_err(run_err)?;
        let names = site
            .terms
            .iter()
            .map(|t| TermNames::new(&t.title, &t.aliases))
            .collect();
        let hints = site
            .terms
            .iter()
            .zip(&topic_texts)
            .map(|(t, topics)| reason::hint_tokens(&format!("{} {}", t.title, topics.join(" "))))
            .collect();
        // Reasons quote topics and exclusions cut for display: cut them once here.
        let clip_all = |lists: Vec<Vec<String>>, max: usize| -> Vec<Vec<String>> {
            lists
                .into_iter()
                .map(|l| l.iter().map(|x| reason::clip(x, max)).collect())
                .collect()
        };
        let terms = Terms {
            matrix_t,
            rows,
            views,
            names,
            in_links: Self::in_links(site),
            topic_texts: clip_all(topic_texts, reason::TOPIC_CLIP),
            exclusion_texts: clip_all(exclusion_texts, reason::EXCLUSION_CLIP),
            hints,
        };

        // Page side.
        let mut wanted: Vec<usize> = pages.to_vec();
        wanted.extend(self.labels.pages());
        wanted.sort_unstable();
        wanted.dedup();
        let chunked: Vec<(usize, Vec<String>)> = wanted
            .par_iter()
            .map(|&p| self.page_chunks(site, p).map(|c| (p, c)))
            .collect::<Result<_, _>>()?;
        // A cache: failing to keep it costs time next run, never correctness.
        let _ = self.spans.save();
        let all: Vec<String> = chunked
            .iter()
            .flat_map(|(_, c)| c.iter().cloned())
            .collect();
        let vectors = self.embed_all(&all, sink, "embedding pages")?;
        let mut it = vectors.into_iter();
        let mut out = HashMap::new();
        // Tokenise every page once, in parallel (lexical matching and reasons reuse it).
        let texts: Vec<(PageTokens, Vec<(String, reason::Sentences)>)> = chunked
            .par_iter()
            .map(|(p, chunk_texts)| {
                let page = &site.pages[*p];
                let tokens = PageTokens::new(&page.title, &page.description, &page.body_text);
                let prefix = format!("{}. ", page.title);
                let passages = chunk_texts
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let text = if i == 0 {
                            c.as_str()
                        } else {
                            c.strip_prefix(prefix.as_str()).unwrap_or(c)
                        };
                        (text.to_string(), reason::Sentences::new(text))
                    })
                    .collect();
                (tokens, passages)
            })
            .collect();
        for ((p, chunk_texts), (tokens, passages)) in chunked.into_iter().zip(texts) {
            let mut chunks = Vec::with_capacity(chunk_texts.len() * dim);
            let mut mean = vec![0f32; dim];
            for _ in 0..chunk_texts.len() {
                let v = it
                    .next()
                    .ok_or_else(|| run_err("embedder returned too few vectors"))?;
                mean.iter_mut().zip(&v).for_each(|(a, b)| *a += b);
                chunks.extend(v);
            }
            let norm = learn::dot(&mean, &mean).sqrt().max(1e-12);
            mean.iter_mut().for_each(|x| *x /= norm);
            out.insert(
                p,
                PageSide {
                    chunk_texts,
                    passages,
                    chunks,
                    mean,
                    tokens,
                },
            );
        }
        Ok(Prepared {
            terms,
            pages: out,
            dim,
            def_hashes: self.definition_hashes(site),
        })
    }

    /// A learner over this engine's labels and the prepared page vectors.
    pub fn learner<'a>(&'a self, site: &Site, prepared: &'a Prepared) -> Option<Learner<'a>> {
        if self.labels.is_empty() {
            return None;
        }
        Some(Learner::new(
            &self.labels,
            site.terms.len(),
            prepared.dim,
            &|p| prepared.page_vector(p),
        ))
    }

    /// Features and scores of page `p` against `terms`. The learned signals leave `p` out
    /// when it is labelled itself.
    pub fn analyze(
        &self,
        site: &Site,
        prepared: &Prepared,
        learner: Option<&Learner<'_>>,
        p: usize,
        terms: &[usize],
    ) -> Result<Vec<Analysis>, EngineError> {
        let page = prepared
            .pages
            .get(&p)
            .ok_or_else(|| run_err("page not prepared"))?;
        let sims = Sims::new(page, &prepared.terms, prepared.dim).map_err(run_err)?;
        let def_sims = features::definition_sims(&sims, &prepared.terms);
        let learned = learner.map(|l| l.signals(p, &page.mean));
        let engine = self.id();
        let def_hashes = &prepared.def_hashes;
        let models = self
            .calibration
            .models(calibrate::family(&self.embedder_id))
            .ok_or_else(|| run_err("the calibration has no models"))?;
        let mut out = Vec::with_capacity(terms.len());
        for &t in terms {
            let Some(mut f) = features::pair(page, &sims, &prepared.terms, t, &def_sims) else {
                continue;
            };
            let l = learned.as_ref().map(|l| l[t]);
            if let Some(l) = &l {
                f.x[9] = l.vote;
                f.x[10] = l.prior;
                f.x[11] = l.centroid;
            }
            let evidence = l.map_or(0, |l| l.evidence);
            let pair = models.pair(&site.terms[t].taxonomy);
            let final_score = self.calibration.final_score(pair, &f.x, evidence);
            let reason = self.reason_for(prepared, p, t, &f, l.as_ref());
            let term = &site.terms[t];
            out.push(Analysis {
                term: t,
                evidence,
                score: Score {
                    term: term.id.clone(),
                    confidence: round2(final_score),
                    lexical: round1(f.lexical.score(page.tokens.body_len())),
                    final_score: round2(final_score),
                    reason,
                    dimensions: None,
                    engine: engine.clone(),
                    inputs: Inputs {
                        content_hash: site.pages[p].content_hash,
                        definition_hash: def_hashes[t],
                    },
                    computed_at: String::new(),
                    usage: None,
                },
                x: f.x,
            });
        }
        Ok(out)
    }

    fn reason_for(
        &self,
        prepared: &Prepared,
        p: usize,
        t: usize,
        f: &PairFeatures,
        l: Option<&Learned>,
    ) -> String {
        let sentence = prepared.pages[&p]
            .passages
            .get(f.best_chunk)
            .map(|(text, sentences)| sentences.best(text, &prepared.terms.hints[t]))
            .unwrap_or_default();
        reason::reason(
            f,
            sentence,
            &prepared.terms.topic_texts[t],
            &prepared.terms.exclusion_texts[t],
            l,
        )
    }
}

fn round1(x: f32) -> f32 {
    (x * 10.0).round() / 10.0
}

/// Finals keep two decimals: rankings of low-scoring terms still differ there.
fn round2(x: f32) -> f32 {
    (x * 100.0).round() / 100.0
}

impl Engine for EmbeddedEngine {
    fn id(&self) -> EngineId {
        let o = &self.options;
        let mut version = format!(
            "{RECIPE_VERSION}+{}+c{}o{}m{}",
            self.calibration.version, o.chunk_tokens, o.chunk_overlap, o.max_chunks
        );
        if let Some(fp) = self.labels_fingerprint {
            version.push_str(&format!("+labels-{}", &fp.to_hex()[..12]));
        }
        EngineId {
            name: "embedded".into(),
            model: self.embedder_id.clone(),
            version,
        }
    }

    fn definition_hashes(&self, site: &Site) -> Vec<Hash> {
        let links = Self::in_links(site);
        site.terms
            .iter()
            .zip(&links)
            .map(|(t, l)| {
                if l.is_empty() {
                    return t.definition_hash;
                }
                let mut h = Hasher::new("embedded-term-context/1");
                h.field(&t.definition_hash.0);
                for &x in l {
                    h.str(site.terms[x].id.as_str())
                        .field(&site.terms[x].definition_hash.0);
                }
                h.finish()
            })
            .collect()
    }

    fn score(
        &mut self,
        site: &Site,
        work: &Work,
        sink: &mut dyn Sink,
    ) -> Result<RunSummary, EngineError> {
        let mut summary = RunSummary::default();
        if work.is_empty() {
            return Ok(summary);
        }
        let pages: Vec<usize> = work
            .items
            .iter()
            .filter(|(_, t)| !t.is_empty())
            .map(|(p, _)| *p)
            .collect();
        let prepared = self.prepare(site, &pages, sink)?;
        let learner = self.learner(site, &prepared);
        sink.progress(Progress::Phase {
            name: "scoring".into(),
            total: pages.len() as u64,
        });
        // Score in blocks of pages in parallel; push in page order.
        let items: Vec<&(usize, Vec<usize>)> =
            work.items.iter().filter(|(_, t)| !t.is_empty()).collect();
        for block in items.chunks(64) {
            let results: Vec<Result<(usize, Vec<Analysis>), EngineError>> = block
                .par_iter()
                .map(|(p, terms)| {
                    self.analyze(site, &prepared, learner.as_ref(), *p, terms)
                        .map(|a| (*p, a))
                })
                .collect();
            for r in results {
                let (p, analyses) = r?;
                let id: &PageId = &site.pages[p].id;
                for a in analyses {
                    summary.scored += 1;
                    if sink.score(id, a.score) == Flow::Stop {
                        summary.stopped = true;
                        return Ok(summary);
                    }
                }
                if sink.page_done(id) == Flow::Stop
                    || sink.progress(Progress::Advance(1)) == Flow::Stop
                {
                    summary.stopped = true;
                    return Ok(summary);
                }
            }
        }
        Ok(summary)
    }
}

/// Labels from the site's own front matter: every page `is_trusted` accepts lists its terms
/// (listed = 100) and, by omission, rejects the other terms of that taxonomy (0). Values no
/// term defines are ignored. A page that lists nothing in a taxonomy says nothing about it.
pub fn labels_from_front_matter(site: &Site, is_trusted: &dyn Fn(usize) -> bool) -> Labels {
    let by_tax: BTreeMap<&str, Vec<usize>> =
        site.terms
            .iter()
            .enumerate()
            .fold(BTreeMap::new(), |mut m, (i, t)| {
                m.entry(t.taxonomy.as_str())
                    .or_insert_with(Vec::new)
                    .push(i);
                m
            });
    let index: HashMap<&taxonomist_model::TermId, usize> = site
        .terms
        .iter()
        .enumerate()
        .map(|(i, t)| (&t.id, i))
        .collect();
    let mut triples = Vec::new();
    for (p, page) in site.pages.iter().enumerate() {
        if !is_trusted(p) {
            continue;
        }
        for (tax, values) in &page.terms {
            let listed: Vec<usize> = values
                .iter()
                .filter_map(|v| {
                    site.find_term(tax, v)
                        .and_then(|t| index.get(&t.id).copied())
                })
                .collect();
            if listed.is_empty() {
                continue;
            }
            for &t in by_tax.get(tax.as_str()).map_or(&[][..], Vec::as_slice) {
                triples.push((p, t, if listed.contains(&t) { 100.0 } else { 0.0 }));
            }
        }
    }
    Labels::new(triples)
}
