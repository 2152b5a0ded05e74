//! The per-page selection shared by `classify` (which shows it) and `apply` (which writes
//! it): every taxonomy that has terms, through [`taxonomist_apply::choose`], with the
//! `[apply]` settings (human pages locked wholesale when configured).

use taxonomist_apply::{Choice, Finals, SelectOptions, choose};
use taxonomist_model::{Mode, Origin, Page, PageKind, Site};

use crate::settings::ApplySection;

/// Whether `page` is human-authored according to `section.origin_key` (default: the keys
/// the loader reads: `ClassificationContentOrigin`, `ItemContentOrigin`,
/// `ResourceContentOrigin`). A configured key is looked up in the file itself.
pub fn is_human(site: &Site, page: &Page, section: &ApplySection) -> bool {
    let Some(key) = section.origin_key.as_deref() else {
        return page.origin.as_deref() == Some("human");
    };
    let Ok(text) = std::fs::read_to_string(site.root.join(&page.path)) else {
        return false;
    };
    let Ok(doc) = taxonomist_frontmatter::Document::parse(&text) else {
        return false;
    };
    doc.data()
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("human"))
}

/// The choice of every taxonomy that has terms, in the site's taxonomy order.
pub fn page_choices(
    site: &Site,
    page: &Page,
    finals: &Finals,
    section: &ApplySection,
    prune_undefined: bool,
) -> Vec<Choice> {
    let lock_all = section.lock_human && is_human(site, page, section);
    let opts = SelectOptions {
        prune_undefined,
        lock_all,
    };
    // A term page gets terms of the other taxonomies, never of its own (nor itself).
    let own = (page.kind == PageKind::Term)
        .then(|| site.terms.iter().find(|t| t.path == page.path))
        .flatten();
    let self_term = own.map(|t| &t.id);
    site.taxonomies
        .iter()
        .filter(|tax| site.terms_of(&tax.name).next().is_some())
        .filter(|tax| own.is_none_or(|t| t.taxonomy != tax.name))
        .map(|tax| {
            if implicit_only(site, &tax.name) && tax.policy.mode != Mode::Merge {
                let mut t = tax.clone();
                t.policy.mode = Mode::Merge;
                choose(site, page, self_term, finals, &t, opts)
            } else {
                choose(site, page, self_term, finals, tax, opts)
            }
        })
        .collect()
}

/// A taxonomy without term pages: its terms are the values pages list (implicit terms).
/// Such a taxonomy is always applied in `merge` mode: with no definition to judge a
/// person's values against, taxonomist only adds. This also keeps `apply` idempotent, since
/// removing values would shrink the vocabulary the implicit terms are made from.
pub fn implicit_only(site: &Site, taxonomy: &str) -> bool {
    site.terms_of(taxonomy)
        .all(|t| t.origin == Origin::Implicit)
}
