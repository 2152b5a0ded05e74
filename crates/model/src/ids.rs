use std::fmt;

use serde::{Deserialize, Serialize};

/// A term's stable identity: `"<taxonomy>/<slug>"`, e.g. `"tags/product-owner"`.
///
/// The slug comes from the term's folder or file name, never from its title, so a term can
/// be renamed without losing its scores.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TermId(pub String);

impl TermId {
    /// Builds an id from a taxonomy name and a slug.
    pub fn new(taxonomy: &str, slug: &str) -> TermId {
        TermId(format!("{taxonomy}/{slug}"))
    }

    /// The taxonomy part (before the first `/`).
    pub fn taxonomy(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(t, _)| t)
    }

    /// The slug part (after the first `/`).
    pub fn slug(&self) -> &str {
        self.0.split_once('/').map_or("", |(_, s)| s)
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TermId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TermId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TermId({})", self.0)
    }
}

/// A page's stable identity.
///
/// Front-matter `ItemId`, `ResourceId` or `id` when present; otherwise the bundle path
/// relative to the content dir, with `/` separators and without `index.md` / `.md`
/// (`blog/2024/first-post`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PageId(pub String);

impl PageId {
    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageId({})", self.0)
    }
}

/// Hugo-style slug of a title: lowercase, runs of anything that is not a letter or digit
/// become one `-`, no leading or trailing `-`. Non-ASCII letters are kept (lowercased).
///
/// ```
/// assert_eq!(taxonomist_model::slugify("Definition of Done"), "definition-of-done");
/// assert_eq!(taxonomist_model::slugify("  C++ & .NET!"), "c-net");
/// ```
pub fn slugify(title: &str) -> String {
    slug_chars(title).collect()
}

/// The characters of [`slugify`]`(title)`, without allocating.
fn slug_chars(title: &str) -> impl Iterator<Item = char> + '_ {
    let mut started = false;
    let mut dash = false;
    title.chars().flat_map(move |ch| {
        let mut sep = None;
        let lower = if ch.is_alphanumeric() {
            if dash && started {
                sep = Some('-');
            }
            dash = false;
            started = true;
            Some(ch.to_lowercase())
        } else {
            dash = true;
            None
        };
        sep.into_iter().chain(lower.into_iter().flatten())
    })
}

/// Whether `slugify(title) == slug`, without allocating (lookups compare many titles).
///
/// ```
/// assert!(taxonomist_model::slug_matches("Definition of Done", "definition-of-done"));
/// assert!(!taxonomist_model::slug_matches("Definition of Done", "definition-of"));
/// ```
pub fn slug_matches(title: &str, slug: &str) -> bool {
    slug_chars(title).eq(slug.chars())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_id_parts() {
        let id = TermId::new("tags", "product-owner");
        assert_eq!(id.taxonomy(), "tags");
        assert_eq!(id.slug(), "product-owner");
        assert_eq!(id.to_string(), "tags/product-owner");
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("Product Owner"), "product-owner");
        assert_eq!(
            slugify("AI and Automation in Agility"),
            "ai-and-automation-in-agility"
        );
        assert_eq!(slugify("Café Müller"), "café-müller");
        assert_eq!(slugify("---"), "");
        for t in [
            "Product Owner",
            "  C++ & .NET!",
            "Café Müller",
            "---",
            "ÅNGSTRÖM x",
            "",
        ] {
            assert!(slug_matches(t, &slugify(t)), "{t}");
            assert!(!slug_matches(t, &format!("{}x", slugify(t))), "{t}");
        }
    }
}
