//! The cascade: a cheap engine ranks every term, an expensive one scores the shortlist.
//!
//! [`Shortlister`] turns one page's scores from the first engine into the terms the second
//! engine should judge: per taxonomy the `k` best by final score (ties by term order),
//! plus every term the page already lists (a person's choice always gets a second
//! opinion). The orchestration (which pairs are fresh, where scores go) belongs to the
//! caller, which knows its store.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use taxonomist_model::{Site, slugify};

/// Builds shortlists for pages of one site.
#[derive(Debug)]
pub struct Shortlister {
    k: usize,
    /// `(taxonomy, slug of a title, alias or slug)` → term index.
    names: HashMap<(String, String), usize>,
    /// Scorable term indices per taxonomy.
    scorable: BTreeMap<String, BTreeSet<usize>>,
}

impl Shortlister {
    /// A shortlister keeping the `k` best terms per taxonomy (`k` = 0 keeps only the
    /// listed terms).
    pub fn new(site: &Site, k: usize) -> Shortlister {
        let mut names = HashMap::new();
        let mut scorable: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for t in crate::scorable_terms(site) {
            let term = &site.terms[t];
            scorable.entry(term.taxonomy.clone()).or_default().insert(t);
            let keys = std::iter::once(term.slug.clone())
                .chain(std::iter::once(slugify(&term.title)))
                .chain(term.aliases.iter().map(|a| slugify(a)));
            for key in keys {
                names.entry((term.taxonomy.clone(), key)).or_insert(t);
            }
        }
        Shortlister { k, names, scorable }
    }

    /// The shortlist (term indices, ascending) of page `page`, given its first-engine
    /// final scores as `(term index, final)`. Terms the page lists that no term defines are
    /// ignored; unscorable terms never appear.
    pub fn shortlist(&self, site: &Site, page: usize, finals: &[(usize, f32)]) -> Vec<usize> {
        let mut out = BTreeSet::new();
        let mut by_tax: BTreeMap<&str, Vec<(usize, f32)>> = BTreeMap::new();
        for &(t, f) in finals {
            let tax = site.terms[t].taxonomy.as_str();
            if self.scorable.get(tax).is_some_and(|s| s.contains(&t)) {
                by_tax.entry(tax).or_default().push((t, f));
            }
        }
        for list in by_tax.values_mut() {
            list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            out.extend(list.iter().take(self.k).map(|&(t, _)| t));
        }
        for (tax, values) in &site.pages[page].terms {
            for v in values {
                if let Some(&t) = self.names.get(&(tax.clone(), slugify(v))) {
                    out.insert(t);
                }
            }
        }
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use taxonomist_model::*;

    use super::*;

    fn term(tax: &str, slug: &str, title: &str) -> Term {
        Term {
            id: TermId::new(tax, slug),
            taxonomy: tax.into(),
            slug: slug.into(),
            title: title.into(),
            aliases: vec![format!("{title} alias")],
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
        let mut page = Page {
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
        page.terms
            .insert("tags".into(), vec!["d alias".into(), "Nowhere".into()]);
        page.terms.insert("categories".into(), vec!["X".into()]);
        Site {
            taxonomies: vec![
                Taxonomy::new("tags", None),
                Taxonomy::new("categories", None),
            ],
            terms: vec![
                term("tags", "a", "A"),
                term("tags", "b", "B"),
                term("tags", "c", "C"),
                term("tags", "d", "D"),
                term("categories", "x", "X"),
                term("categories", "y", "Y"),
            ],
            pages: vec![page],
            ..Default::default()
        }
    }

    #[test]
    fn top_k_per_taxonomy_plus_listed_terms() {
        let s = site();
        let sl = Shortlister::new(&s, 2);
        let finals = [
            (0, 10.0),
            (1, 90.0),
            (2, 50.0),
            (3, 5.0),
            (4, 1.0),
            (5, 70.0),
        ];
        // tags: b, c (top 2) + d (listed by alias); categories: y, x (k = 2 covers both).
        assert_eq!(sl.shortlist(&s, 0, &finals), vec![1, 2, 3, 4, 5]);
        let sl = Shortlister::new(&s, 1);
        // tags: b + d (listed); categories: y + x (listed by title).
        assert_eq!(sl.shortlist(&s, 0, &finals), vec![1, 3, 4, 5]);
        let sl = Shortlister::new(&s, 0);
        assert_eq!(sl.shortlist(&s, 0, &finals), vec![3, 4]);
    }

    #[test]
    fn ties_break_by_term_order_and_ignored_terms_never_appear() {
        let mut s = site();
        s.terms[0].ignore = true;
        let sl = Shortlister::new(&s, 2);
        let finals = [(0, 99.0), (1, 20.0), (2, 20.0), (3, 20.0)];
        assert_eq!(sl.shortlist(&s, 0, &finals), vec![1, 2, 3, 4]);
    }
}
