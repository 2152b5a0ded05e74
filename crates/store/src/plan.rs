//! Freshness: which stored scores can be used, which must be recomputed and why.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use taxonomist_engine::Work;
use taxonomist_model::{EngineId, Hash, PageId, Site, TermId};

use crate::PageScores;

/// Why a (page, term) pair needs (re)computing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Staleness {
    /// The page has never been scored.
    NewPage,
    /// The page was scored, but not against this term (a new term).
    NewTerm,
    /// The page's title, description or body changed.
    PageChanged,
    /// The term's definition changed.
    DefinitionChanged,
    /// The engine, model, prompt or calibration version changed.
    EngineChanged,
}

impl Staleness {
    /// A short phrase for people.
    pub fn describe(self) -> &'static str {
        match self {
            Staleness::NewPage => "new page",
            Staleness::NewTerm => "new term",
            Staleness::PageChanged => "page changed",
            Staleness::DefinitionChanged => "definition changed",
            Staleness::EngineChanged => "engine changed",
        }
    }
}

/// The outcome of comparing a site with its store.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The pairs to (re)compute.
    pub work: Work,
    /// Fresh pairs per taxonomy.
    pub fresh: BTreeMap<String, usize>,
    /// Stale or missing pairs per taxonomy and reason.
    pub stale: BTreeMap<String, BTreeMap<Staleness, usize>>,
    /// Stored pages that the site no longer has.
    pub orphan_pages: Vec<PageId>,
    /// Stored scores of terms the site no longer has, per term, with how many pages hold one.
    pub orphan_terms: BTreeMap<TermId, usize>,
    /// Pages (indices) with at least one stale or missing pair.
    pub stale_pages: Vec<usize>,
}

impl Plan {
    /// Total fresh pairs.
    pub fn fresh_total(&self) -> usize {
        self.fresh.values().sum()
    }

    /// Total stale or missing pairs.
    pub fn stale_total(&self) -> usize {
        self.stale.values().flat_map(|m| m.values()).sum()
    }
}

/// Compares the site with the stored scores. `terms` are the scorable term indices,
/// `def_hashes` the definition hash each term's scores must carry (from the engine), and
/// `engine_ok` says whether a stored score's engine is acceptable for this run. Only pages
/// in `pages` (indices) get work; orphans are computed over the whole site.
pub fn plan(
    site: &Site,
    stored: &BTreeMap<PageId, PageScores>,
    pages: &[usize],
    terms: &[usize],
    def_hashes: &[Hash],
    engine_ok: &dyn Fn(&EngineId) -> bool,
) -> Plan {
    let ids: BTreeSet<PageId> = stored.keys().cloned().collect();
    plan_inner(
        site,
        stored,
        &BTreeSet::new(),
        &ids,
        pages,
        terms,
        &|e, t| (def_hashes[t], engine_ok(e)),
    )
}

/// Like [`plan`], over what [`crate::Store::load_for`] read: pages the index proved fresh
/// count as fresh without their files.
pub fn plan_loaded(
    site: &Site,
    loaded: &crate::Loaded,
    pages: &[usize],
    terms: &[usize],
    def_hashes: &[Hash],
    engine_ok: &dyn Fn(&EngineId) -> bool,
) -> Plan {
    plan_loaded_with(site, loaded, pages, terms, &|e, t| {
        (def_hashes[t], engine_ok(e))
    })
}

/// Like [`plan_loaded`] for runs that accept scores of several engines (the cascade):
/// `required(engine, term)` gives the definition hash a stored score of `engine` for term
/// index `term` must carry to be fresh, and whether that engine is acceptable at all.
pub fn plan_loaded_with(
    site: &Site,
    loaded: &crate::Loaded,
    pages: &[usize],
    terms: &[usize],
    required: &dyn Fn(&EngineId, usize) -> (Hash, bool),
) -> Plan {
    plan_inner(
        site,
        &loaded.files,
        &loaded.proven_fresh,
        &loaded.stored,
        pages,
        terms,
        required,
    )
}

/// The index digest a page whose every scorable term is fresh would have.
pub fn expected_digest(
    site: &Site,
    page: usize,
    terms: &[usize],
    def_hashes: &[Hash],
    engine: &EngineId,
) -> Hash {
    let content = site.pages[page].content_hash;
    let mut items: Vec<(&TermId, Hash)> = terms
        .iter()
        .map(|&t| (&site.terms[t].id, def_hashes[t]))
        .collect();
    items.sort_by(|a, b| a.0.cmp(b.0));
    crate::index::digest(items.into_iter().map(|(t, d)| (t, d, content, engine)))
}

fn plan_inner(
    site: &Site,
    stored: &BTreeMap<PageId, PageScores>,
    proven: &BTreeSet<PageId>,
    stored_ids: &BTreeSet<PageId>,
    pages: &[usize],
    terms: &[usize],
    required: &dyn Fn(&EngineId, usize) -> (Hash, bool),
) -> Plan {
    let mut out = Plan::default();
    for &p in pages {
        let page = &site.pages[p];
        if proven.contains(&page.id) {
            for &t in terms {
                *out.fresh.entry(site.terms[t].taxonomy.clone()).or_default() += 1;
            }
            continue;
        }
        let file = stored.get(&page.id);
        let mut todo = Vec::new();
        for &t in terms {
            let term = &site.terms[t];
            let reason = match file.map(|f| f.scores.get(&term.id)) {
                None => Some(Staleness::NewPage),
                Some(None) => Some(Staleness::NewTerm),
                Some(Some(s)) => {
                    if s.inputs.content_hash != page.content_hash {
                        Some(Staleness::PageChanged)
                    } else {
                        let (def, engine_ok) = required(&s.engine, t);
                        if s.inputs.definition_hash != def {
                            Some(Staleness::DefinitionChanged)
                        } else if !engine_ok {
                            Some(Staleness::EngineChanged)
                        } else {
                            None
                        }
                    }
                }
            };
            match reason {
                None => *out.fresh.entry(term.taxonomy.clone()).or_default() += 1,
                Some(r) => {
                    *out.stale
                        .entry(term.taxonomy.clone())
                        .or_default()
                        .entry(r)
                        .or_default() += 1;
                    todo.push(t);
                }
            }
        }
        if !todo.is_empty() {
            out.stale_pages.push(p);
            out.work.items.push((p, todo));
        }
    }
    let live_pages: BTreeSet<&PageId> = site.pages.iter().map(|p| &p.id).collect();
    let live_terms: BTreeSet<&TermId> = site.terms.iter().map(|t| &t.id).collect();
    for id in stored_ids {
        if !live_pages.contains(id) {
            out.orphan_pages.push(id.clone());
        }
    }
    for (id, file) in stored {
        if !live_pages.contains(id) {
            continue;
        }
        for term in file.scores.keys() {
            if !live_terms.contains(term) {
                *out.orphan_terms.entry(term.clone()).or_default() += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use taxonomist_model::*;

    use super::*;

    fn term(slug: &str, def: &[u8]) -> Term {
        Term {
            id: TermId::new("tags", slug),
            taxonomy: "tags".into(),
            slug: slug.into(),
            title: slug.into(),
            aliases: vec![],
            description: String::new(),
            instructions: None,
            abstract_text: String::new(),
            body_text: String::new(),
            origin: Origin::Human,
            ignore: false,
            path: PathBuf::new(),
            terms: Default::default(),
            definition_hash: Hash::of(def),
        }
    }

    fn page(id: &str, content: &[u8]) -> Page {
        Page {
            id: PageId(id.into()),
            path: PathBuf::new(),
            rel: String::new(),
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
            content_hash: Hash::of(content),
        }
    }

    fn engine(v: &str) -> EngineId {
        EngineId {
            name: "e".into(),
            model: "m".into(),
            version: v.into(),
        }
    }

    fn stored(page: &Page, terms: &[&Term], v: &str) -> PageScores {
        let scores = terms
            .iter()
            .map(|t| {
                let s = Score {
                    term: t.id.clone(),
                    confidence: 50.0,
                    lexical: 0.0,
                    final_score: 50.0,
                    reason: String::new(),
                    dimensions: None,
                    engine: engine(v),
                    inputs: Inputs {
                        content_hash: page.content_hash,
                        definition_hash: t.definition_hash,
                    },
                    computed_at: String::new(),
                    usage: None,
                };
                (t.id.clone(), s)
            })
            .collect();
        PageScores {
            page: page.id.clone(),
            path: String::new(),
            scores,
        }
    }

    #[test]
    fn every_invalidation_cause() {
        let (a, b, c) = (term("a", b"a"), term("b", b"b"), term("c", b"c"));
        let old_page = page("changed", b"v1");
        let mut store = BTreeMap::new();
        store.insert(
            PageId("fresh".into()),
            stored(&page("fresh", b"x"), &[&a, &b], "1"),
        );
        store.insert(PageId("changed".into()), stored(&old_page, &[&a, &b], "1"));
        store.insert(
            PageId("old-engine".into()),
            stored(&page("old-engine", b"y"), &[&a, &b], "0"),
        );
        store.insert(
            PageId("gone".into()),
            stored(&page("gone", b"z"), &[&a], "1"),
        );
        let mut with_removed = stored(&page("fresh2", b"w"), &[&a, &b], "1");
        with_removed.scores.insert(
            TermId::new("tags", "removed"),
            with_removed.scores[&a.id].clone(),
        );
        store.insert(PageId("fresh2".into()), with_removed);

        // Term b's definition changed; term c is new; page "new" is new.
        let b2 = term("b", b"b2");
        let site = Site {
            taxonomies: vec![Taxonomy::new("tags", None)],
            terms: vec![a.clone(), b2.clone(), c.clone()],
            pages: vec![
                page("fresh", b"x"),
                page("changed", b"v2"),
                page("old-engine", b"y"),
                page("new", b"n"),
                page("fresh2", b"w"),
            ],
            ..Default::default()
        };
        let defs: Vec<Hash> = site.terms.iter().map(|t| t.definition_hash).collect();
        let p = plan(&site, &store, &[0, 1, 2, 3, 4], &[0, 1, 2], &defs, &|e| {
            e.version == "1"
        });
        let s = &p.stale["tags"];
        assert_eq!(s.get(&Staleness::NewPage), Some(&3), "{s:?}");
        assert_eq!(
            s.get(&Staleness::NewTerm),
            Some(&4),
            "c on the 4 stored pages"
        );
        assert_eq!(s.get(&Staleness::PageChanged), Some(&2));
        assert_eq!(
            s.get(&Staleness::DefinitionChanged),
            Some(&3),
            "b on fresh, fresh2 and old-engine"
        );
        assert_eq!(
            s.get(&Staleness::EngineChanged),
            Some(&1),
            "a on old-engine (b is already stale)"
        );
        assert_eq!(p.fresh["tags"], 2, "a on fresh and fresh2");
        assert_eq!(p.orphan_pages, vec![PageId("gone".into())]);
        assert_eq!(
            p.orphan_terms.get(&TermId::new("tags", "removed")),
            Some(&1)
        );
        assert_eq!(p.work.pairs(), p.stale_total());
        assert_eq!(p.work.items[0], (0, vec![1, 2]), "fresh page: only b and c");
    }

    #[test]
    fn unchanged_site_has_no_work() {
        let a = term("a", b"a");
        let pg = page("p", b"x");
        let mut store = BTreeMap::new();
        store.insert(pg.id.clone(), stored(&pg, &[&a], "1"));
        let site = Site {
            taxonomies: vec![Taxonomy::new("tags", None)],
            terms: vec![a.clone()],
            pages: vec![pg],
            ..Default::default()
        };
        let p = plan(&site, &store, &[0], &[0], &[a.definition_hash], &|e| {
            e.version == "1"
        });
        assert!(p.work.is_empty());
        assert_eq!(p.fresh_total(), 1);
    }
}
