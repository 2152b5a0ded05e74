//! Selection: a taxonomy's policy and a page's scores → the terms the page should list.

use std::collections::BTreeMap;

use serde::Serialize;
use taxonomist_model::{Mode, Page, Site, Taxonomy, TermId};

/// Options that are not part of a taxonomy's policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SelectOptions {
    /// Drop values no term defines instead of keeping them.
    pub prune_undefined: bool,
    /// Treat every taxonomy of this page as locked (e.g. a human-curated page).
    pub lock_all: bool,
}

/// One taxonomy's outcome for one page.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Choice {
    /// Taxonomy name.
    pub taxonomy: String,
    /// The list the page should have, as written to front matter (term titles).
    pub terms: Vec<String>,
    /// The list it has now.
    pub current: Vec<String>,
    /// Locked: never written.
    pub locked: bool,
    /// Nothing qualified and the fallback was written.
    pub fallback: bool,
    /// Selected terms with their final scores (best first).
    pub scored: Vec<(TermId, f32)>,
}

impl Choice {
    /// Whether writing would change the page's list.
    pub fn changes(&self) -> bool {
        !self.locked && self.terms != self.current
    }
}

fn same(a: &str, b: &str) -> bool {
    taxonomist_model::slugify(a) == taxonomist_model::slugify(b)
}

/// Final scores of one page, by term id.
pub type Finals = BTreeMap<TermId, f32>;

/// Chooses the terms of `taxonomy` for `page`. `finals` are the page's final scores;
/// `self_term` is the term this page defines (a term page never lists itself).
///
/// Order: pinned terms, then the selection by final score (descending) then title; in
/// `merge` mode the page's current terms come first and new ones are appended. Values no
/// term defines are kept at the end unless `prune_undefined`. Excluded terms never appear.
pub fn choose(
    site: &Site,
    page: &Page,
    self_term: Option<&TermId>,
    finals: &Finals,
    taxonomy: &Taxonomy,
    opts: SelectOptions,
) -> Choice {
    let name = taxonomy.name.as_str();
    let current: Vec<String> = page.terms.get(name).cloned().unwrap_or_default();
    let locked = opts.lock_all || page.locks.lock.contains(name);
    let excluded: Vec<&String> = page
        .locks
        .exclude
        .get(name)
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    let is_excluded = |title: &str| excluded.iter().any(|e| same(e, title));
    let canonical = |v: &str| site.find_term(name, v).map(|t| t.title.clone());

    if locked {
        return Choice {
            taxonomy: name.to_string(),
            terms: current.clone(),
            current,
            locked: true,
            fallback: false,
            scored: Vec::new(),
        };
    }

    let policy = &taxonomy.policy;
    let mut ranked: Vec<(f32, &taxonomist_model::Term)> = finals
        .iter()
        .filter_map(|(id, f)| site.term(id).map(|t| (*f, t)))
        .filter(|(_, t)| t.taxonomy == name && !t.ignore && Some(&t.id) != self_term)
        .filter(|(f, t)| *f >= policy.min_score && !is_excluded(&t.title))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.title.cmp(&b.1.title)));

    let mut out: Vec<String> = Vec::new();
    let push = |out: &mut Vec<String>, title: String| {
        if !out.iter().any(|x| same(x, &title)) {
            out.push(title);
        }
    };
    let pins: Vec<String> = page.locks.pin.get(name).cloned().unwrap_or_default();
    let is_fallback = |v: &str| policy.fallback.as_deref().is_some_and(|f| same(f, v));
    if policy.mode == Mode::Merge {
        // The fallback is kept only while nothing else qualifies (added back below).
        for v in current.iter().filter(|v| !is_fallback(v)) {
            if let Some(c) = canonical(v)
                && !is_excluded(&c)
            {
                push(&mut out, v.clone());
            }
        }
    }
    for p in &pins {
        push(&mut out, canonical(p).unwrap_or_else(|| p.clone()));
    }
    let mut scored = Vec::new();
    let mut added = 0;
    for (s, t) in &ranked {
        if added >= policy.max {
            break;
        }
        if out.iter().any(|x| same(x, &t.title)) {
            // In merge mode a selected term the page already lists takes its slot, so a
            // second run selects the same terms (idempotence); a pinned one does not.
            if policy.mode == Mode::Merge && current.iter().any(|c| same(c, &t.title)) {
                scored.push((t.id.clone(), *s));
                added += 1;
            }
            continue;
        }
        out.push(t.title.clone());
        scored.push((t.id.clone(), *s));
        added += 1;
    }
    let mut fallback = false;
    let defined_in_out = out.iter().any(|v| canonical(v).is_some());
    if !defined_in_out
        && let Some(f) = &policy.fallback
        && !is_excluded(f)
    {
        push(&mut out, canonical(f).unwrap_or_else(|| f.clone()));
        fallback = true;
    }
    if !opts.prune_undefined {
        for v in &current {
            if canonical(v).is_none() && !is_excluded(v) && !is_fallback(v) {
                push(&mut out, v.clone());
            }
        }
    }
    Choice {
        taxonomy: name.to_string(),
        terms: out,
        current,
        locked: false,
        fallback,
        scored,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use taxonomist_model::*;

    use super::*;

    fn term(tax: &str, title: &str) -> Term {
        let slug = slugify(title);
        Term {
            id: TermId::new(tax, &slug),
            taxonomy: tax.into(),
            slug,
            title: title.into(),
            aliases: vec![],
            description: String::new(),
            instructions: None,
            abstract_text: String::new(),
            body_text: String::new(),
            origin: Origin::Human,
            ignore: false,
            path: PathBuf::new(),
            terms: Default::default(),
            definition_hash: Hash::default(),
        }
    }

    fn site() -> Site {
        let mut terms = vec![
            term("tags", "Alpha"),
            term("tags", "Beta"),
            term("tags", "Gamma"),
            term("tags", "Delta"),
            term("categories", "Uncategorized"),
            term("categories", "Ops"),
        ];
        terms.sort_by(|a, b| a.id.cmp(&b.id));
        Site {
            taxonomies: vec![
                Taxonomy::new("tags", None),
                Taxonomy::new("categories", None),
            ],
            terms,
            ..Default::default()
        }
    }

    fn page(tags: &[&str]) -> Page {
        Page {
            id: PageId("p".into()),
            path: PathBuf::new(),
            rel: String::new(),
            kind: PageKind::Single,
            lang: None,
            title: String::new(),
            description: String::new(),
            date: None,
            draft: false,
            body_text: String::new(),
            terms: [(
                "tags".to_string(),
                tags.iter().map(|s| s.to_string()).collect(),
            )]
            .into(),
            locks: Locks::default(),
            origin: None,
            has_front_matter: true,
            content_hash: Hash::default(),
        }
    }

    fn scores(list: &[(&str, f32)]) -> Finals {
        list.iter()
            .map(|(id, f)| (TermId(id.to_string()), *f))
            .collect()
    }

    fn tax(site: &Site, name: &str) -> Taxonomy {
        site.taxonomy(name).expect("taxonomy").clone()
    }

    #[test]
    fn replace_orders_by_score_then_title_and_caps() {
        let s = site();
        let mut t = tax(&s, "tags");
        t.policy.mode = Mode::Replace;
        t.policy.max = 2;
        t.policy.min_score = 50.0;
        let sc = scores(&[
            ("tags/alpha", 60.0),
            ("tags/beta", 90.0),
            ("tags/gamma", 60.0),
            ("tags/delta", 10.0),
        ]);
        let c = choose(
            &s,
            &page(&["Delta", "Serverless"]),
            None,
            &sc,
            &t,
            SelectOptions::default(),
        );
        assert_eq!(
            c.terms,
            ["Beta", "Alpha", "Serverless"],
            "undefined kept, delta dropped"
        );
        assert!(c.changes());
        let c = choose(
            &s,
            &page(&["Delta", "Serverless"]),
            None,
            &sc,
            &t,
            SelectOptions {
                prune_undefined: true,
                ..Default::default()
            },
        );
        assert_eq!(c.terms, ["Beta", "Alpha"]);
    }

    #[test]
    fn merge_keeps_what_a_person_listed() {
        let s = site();
        let mut t = tax(&s, "tags");
        t.policy.mode = Mode::Merge;
        t.policy.min_score = 50.0;
        let sc = scores(&[("tags/beta", 90.0)]);
        let c = choose(
            &s,
            &page(&["delta"]),
            None,
            &sc,
            &t,
            SelectOptions::default(),
        );
        assert_eq!(c.terms, ["delta", "Beta"]);
    }

    #[test]
    fn merge_is_the_default_and_drops_the_fallback_once_a_term_qualifies() {
        let s = site();
        let t = tax(&s, "categories");
        assert_eq!(t.policy.mode, Mode::Merge);
        let mut p = page(&[]);
        p.terms
            .insert("categories".into(), vec!["Uncategorized".into()]);
        let c = choose(&s, &p, None, &scores(&[]), &t, SelectOptions::default());
        assert_eq!(c.terms, ["Uncategorized"]);
        assert!(c.fallback && !c.changes());
        let c = choose(
            &s,
            &p,
            None,
            &scores(&[("categories/ops", 90.0)]),
            &t,
            SelectOptions::default(),
        );
        assert_eq!(c.terms, ["Ops"], "the fallback gives way");
    }

    #[test]
    fn merge_is_idempotent_under_max() {
        let s = site();
        let mut t = tax(&s, "tags");
        t.policy.mode = Mode::Merge;
        t.policy.min_score = 50.0;
        t.policy.max = 1;
        let sc = scores(&[("tags/beta", 90.0), ("tags/gamma", 80.0)]);
        let first = choose(
            &s,
            &page(&["Alpha"]),
            None,
            &sc,
            &t,
            SelectOptions::default(),
        );
        assert_eq!(first.terms, ["Alpha", "Beta"]);
        let refs: Vec<&str> = first.terms.iter().map(String::as_str).collect();
        let second = choose(&s, &page(&refs), None, &sc, &t, SelectOptions::default());
        assert_eq!(second.terms, first.terms, "a second run adds nothing");
        assert!(!second.changes());
    }

    #[test]
    fn locks_pins_and_excludes() {
        let s = site();
        let t = tax(&s, "tags");
        let sc = scores(&[("tags/alpha", 95.0), ("tags/beta", 90.0)]);
        let mut p = page(&["Gamma"]);
        p.locks.lock.insert("tags".into());
        let c = choose(&s, &p, None, &sc, &t, SelectOptions::default());
        assert!(c.locked && !c.changes());
        assert_eq!(c.terms, ["Gamma"]);

        let mut p = page(&[]);
        p.locks.pin.insert("tags".into(), vec!["delta".into()]);
        p.locks.exclude.insert("tags".into(), vec!["Alpha".into()]);
        let c = choose(&s, &p, None, &sc, &t, SelectOptions::default());
        assert_eq!(
            c.terms,
            ["Delta", "Beta"],
            "pinned first (canonical title), excluded never"
        );

        let c = choose(
            &s,
            &page(&["Gamma"]),
            None,
            &sc,
            &t,
            SelectOptions {
                lock_all: true,
                ..Default::default()
            },
        );
        assert!(c.locked);
    }

    #[test]
    fn fallback_when_nothing_qualifies_and_never_self() {
        let s = site();
        let t = tax(&s, "categories");
        let sc = scores(&[("categories/ops", 10.0)]);
        let c = choose(&s, &page(&[]), None, &sc, &t, SelectOptions::default());
        assert_eq!(c.terms, ["Uncategorized"]);
        assert!(c.fallback);
        let sc = scores(&[("categories/ops", 99.0)]);
        let c = choose(
            &s,
            &page(&[]),
            Some(&TermId::new("categories", "ops")),
            &sc,
            &t,
            SelectOptions::default(),
        );
        assert_eq!(
            c.terms,
            ["Uncategorized"],
            "a term page never receives itself"
        );
    }
}
