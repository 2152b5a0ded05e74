//! The seam between the loaded site and whatever scores it.
//!
//! # Brief overview
//! - [`Engine`]: scores a [`Work`] list of (page, terms) pairs of a [`Site`] and pushes each
//!   result into a [`Sink`] the caller supplies. Engines know nothing of files, stores or
//!   terminals.
//! - [`Sink`]: receives scores, finished pages, progress and usage; answers [`Flow::Continue`]
//!   or [`Flow::Stop`]. The CLI's progress bars, a token budget and Ctrl-C all live behind it.
//! - [`Work`]: which pairs to score. The store decides it (only stale and missing pairs);
//!   [`Work::all`] is every page against every term of the site's taxonomies.
//! - [`CollectSink`]: a sink that keeps everything in memory (tests, small runs).
//!
//! ```
//! use taxonomist_engine::{CollectSink, Work};
//! use taxonomist_model::Site;
//! let site = Site::default();
//! let work = Work::all(&site);
//! assert!(work.is_empty());
//! let sink = CollectSink::default();
//! assert!(sink.scores.is_empty());
//! ```
#![deny(missing_docs)]

mod cascade;
pub use cascade::Shortlister;

use std::collections::BTreeMap;

use taxonomist_model::{EngineId, Hash, PageId, Score, Site, TermId, Usage};

/// What an engine should score: for each page (by index into `site.pages`), the terms (by
/// index into `site.terms`) whose scores are needed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Work {
    /// `(page index, term indices)`, pages in site order, terms in site order.
    pub items: Vec<(usize, Vec<usize>)>,
}

impl Work {
    /// Every page against every scorable term (ignored terms left out).
    pub fn all(site: &Site) -> Work {
        let terms: Vec<usize> = scorable_terms(site);
        if terms.is_empty() {
            return Work::default();
        }
        Work {
            items: (0..site.pages.len()).map(|p| (p, terms.clone())).collect(),
        }
    }

    /// Number of (page, term) pairs.
    pub fn pairs(&self) -> usize {
        self.items.iter().map(|(_, t)| t.len()).sum()
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.pairs() == 0
    }

    /// Number of pages with at least one pair.
    pub fn pages(&self) -> usize {
        self.items.iter().filter(|(_, t)| !t.is_empty()).count()
    }
}

/// Indices of the terms an engine should score: every term of a configured taxonomy that
/// is not marked `ignore: true`.
pub fn scorable_terms(site: &Site) -> Vec<usize> {
    site.terms
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.ignore && site.taxonomy(&t.taxonomy).is_some())
        .map(|(i, _)| i)
        .collect()
}

/// The sink's answer: go on, or stop as soon as possible (keeping what is done).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep going.
    Continue,
    /// Stop cleanly; everything already pushed is kept.
    Stop,
}

/// A progress event, for bars and logs.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// A phase started; `total` units of work are expected (0 when unknown).
    Phase {
        /// Short name (`embedding pages`, `scoring`).
        name: String,
        /// Units expected.
        total: u64,
    },
    /// `n` more units of the current phase are done.
    Advance(u64),
    /// Something a person may want to know (model fetch, cache rebuilt).
    Note(String),
}

/// Receives an engine's results as they are produced.
pub trait Sink {
    /// One pair's score.
    fn score(&mut self, page: &PageId, score: Score) -> Flow;
    /// A page has received every score it will get in this run.
    fn page_done(&mut self, _page: &PageId) -> Flow {
        Flow::Continue
    }
    /// A pair could not be scored (the run goes on).
    fn failed(&mut self, _page: &PageId, _term: &TermId, _reason: &str) -> Flow {
        Flow::Continue
    }
    /// Progress.
    fn progress(&mut self, _event: Progress) -> Flow {
        Flow::Continue
    }
    /// Tokens and cost spent (LLM engines).
    fn usage(&mut self, _usage: Usage) -> Flow {
        Flow::Continue
    }
}

/// A sink that keeps everything in memory.
#[derive(Clone, Debug, Default)]
pub struct CollectSink {
    /// Scores per page, in arrival order.
    pub scores: BTreeMap<PageId, Vec<Score>>,
    /// Failed pairs with reasons.
    pub failures: Vec<(PageId, TermId, String)>,
    /// Total usage.
    pub usage: Usage,
}

impl Sink for CollectSink {
    fn score(&mut self, page: &PageId, score: Score) -> Flow {
        self.scores.entry(page.clone()).or_default().push(score);
        Flow::Continue
    }
    fn failed(&mut self, page: &PageId, term: &TermId, reason: &str) -> Flow {
        self.failures
            .push((page.clone(), term.clone(), reason.to_string()));
        Flow::Continue
    }
    fn usage(&mut self, usage: Usage) -> Flow {
        self.usage.input_tokens += usage.input_tokens;
        self.usage.output_tokens += usage.output_tokens;
        self.usage.cost += usage.cost;
        Flow::Continue
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSummary {
    /// Pairs scored.
    pub scored: usize,
    /// Pairs that failed.
    pub failed: usize,
    /// Whether the sink stopped the run early.
    pub stopped: bool,
}

/// Errors that stop a whole run (a single bad pair never does; it goes to
/// [`Sink::failed`]).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine could not start (model missing, bad configuration).
    #[error("{0}")]
    Setup(String),
    /// Something failed mid-run.
    #[error("{0}")]
    Run(String),
}

/// Scores pages against terms.
pub trait Engine {
    /// The engine and version its scores carry. Part of every score's freshness.
    fn id(&self) -> EngineId;

    /// The definition hash each term's scores depend on, one per `site.terms` entry: a
    /// stored score is fresh only while it matches. By default the term's own
    /// [`taxonomist_model::Term::definition_hash`]; an engine whose score for a term also
    /// reads other terms folds their hashes in.
    fn definition_hashes(&self, site: &Site) -> Vec<Hash> {
        site.terms.iter().map(|t| t.definition_hash).collect()
    }

    /// Scores `work` over `site`, pushing results into `sink`.
    fn score(
        &mut self,
        site: &Site,
        work: &Work,
        sink: &mut dyn Sink,
    ) -> Result<RunSummary, EngineError>;
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use taxonomist_model::*;

    use super::*;

    fn term(tax: &str, slug: &str, ignore: bool) -> Term {
        Term {
            id: TermId::new(tax, slug),
            taxonomy: tax.into(),
            slug: slug.into(),
            title: slug.into(),
            aliases: vec![],
            description: String::new(),
            instructions: None,
            abstract_text: String::new(),
            body_text: String::new(),
            origin: Origin::Human,
            ignore,
            path: PathBuf::new(),
            terms: Default::default(),
            definition_hash: Hash::default(),
        }
    }

    #[test]
    fn work_all_skips_ignored_and_unconfigured_terms() {
        let page = Page {
            id: PageId("a".into()),
            path: PathBuf::new(),
            rel: "a.md".into(),
            kind: PageKind::Single,
            lang: None,
            title: String::new(),
            description: String::new(),
            date: None,
            draft: false,
            body_text: String::new(),
            terms: Default::default(),
            locks: Default::default(),
            origin: None,
            has_front_matter: true,
            content_hash: Hash::default(),
        };
        let site = Site {
            taxonomies: vec![Taxonomy::new("tags", None)],
            terms: vec![
                term("tags", "a", false),
                term("tags", "b", true),
                term("other", "c", false),
            ],
            pages: vec![page.clone(), page],
            ..Default::default()
        };
        let w = Work::all(&site);
        assert_eq!(w.items, vec![(0, vec![0]), (1, vec![0])]);
        assert_eq!(w.pairs(), 2);
        assert_eq!(w.pages(), 2);
    }
}
