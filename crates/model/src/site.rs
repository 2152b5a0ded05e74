use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{Hash, Hasher, PageId, TermId};

/// A loaded site.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Site {
    /// The site root (the folder holding the Hugo config).
    pub root: PathBuf,
    /// The content dir, relative to the root (`content`).
    pub content_dir: PathBuf,
    /// Config files read, relative to the root, in the order they were merged.
    pub config_files: Vec<PathBuf>,
    /// Taxonomies, in a stable order (as configured).
    pub taxonomies: Vec<Taxonomy>,
    /// Term definitions, sorted by id.
    pub terms: Vec<Term>,
    /// Content pages (not term pages), sorted by path.
    pub pages: Vec<Page>,
    /// Files not loaded on purpose (drafts, excluded, ignored).
    pub skipped: Vec<Skipped>,
    /// Problems met while loading. The site is still usable: bad files are left out.
    pub diagnostics: Vec<Diagnostic>,
}

impl Site {
    /// The taxonomy with this name.
    pub fn taxonomy(&self, name: &str) -> Option<&Taxonomy> {
        self.taxonomies.iter().find(|t| t.name == name)
    }

    /// The term with this id.
    pub fn term(&self, id: &TermId) -> Option<&Term> {
        self.terms
            .binary_search_by(|t| t.id.cmp(id))
            .ok()
            .map(|i| &self.terms[i])
    }

    /// Terms of one taxonomy, in id order.
    pub fn terms_of<'a>(&'a self, taxonomy: &'a str) -> impl Iterator<Item = &'a Term> + 'a {
        self.terms.iter().filter(move |t| t.taxonomy == taxonomy)
    }

    /// Finds a term of `taxonomy` by title, alias or slug, ignoring case and punctuation.
    pub fn find_term(&self, taxonomy: &str, name: &str) -> Option<&Term> {
        let key = crate::slugify(name);
        self.terms.iter().find(|t| {
            t.taxonomy == taxonomy
                && (t.slug == key
                    || crate::slug_matches(&t.title, &key)
                    || t.aliases.iter().any(|a| crate::slug_matches(a, &key)))
        })
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// One taxonomy (`tags`, `categories`, `concepts`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Taxonomy {
    /// Plural name, also the folder under the content dir: `tags`.
    pub name: String,
    /// Singular name from the Hugo config (`tag`), when known.
    pub singular: Option<String>,
    /// The front-matter key pages list its terms under (usually the plural name).
    pub key: String,
    /// How terms are chosen for a page.
    pub policy: Policy,
}

impl Taxonomy {
    /// A taxonomy with the default policy for its name.
    pub fn new(name: &str, singular: Option<&str>) -> Taxonomy {
        Taxonomy {
            name: name.to_string(),
            singular: singular.map(str::to_string),
            key: name.to_string(),
            policy: Policy::default_for(name),
        }
    }
}

/// How a taxonomy's list is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The list becomes the selection.
    #[default]
    Replace,
    /// Keep what a person put there, add the selection.
    Merge,
}

/// Selection policy of one taxonomy (DESIGN.md §5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// At most this many terms.
    pub max: usize,
    /// Only terms whose final score is at least this.
    pub min_score: f32,
    /// Written when nothing qualifies (e.g. "Uncategorized").
    pub fallback: Option<String>,
    /// Replace or merge.
    pub mode: Mode,
}

impl Policy {
    /// The defaults that mirror the system we replace: concepts 1 ≥ 80, categories 3 ≥ 75
    /// (fallback "Uncategorized"), tags 15 ≥ 80; anything else 10 ≥ 80. The mode is
    /// `merge`: what a person listed stays until `mode = "replace"` says the engine may
    /// remove it (check `taxonomist eval` first).
    pub fn default_for(taxonomy: &str) -> Policy {
        let (max, min_score, fallback) = match taxonomy {
            "concepts" => (1, 80.0, None),
            "categories" => (3, 75.0, Some("Uncategorized".to_string())),
            "tags" => (15, 80.0, None),
            _ => (10, 80.0, None),
        };
        Policy {
            max,
            min_score,
            fallback,
            mode: Mode::Merge,
        }
    }
}

/// Who wrote a term page's generated parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Written by a person (or not said).
    #[default]
    Human,
    /// Generated.
    Ai,
    /// Both.
    Hybrid,
    /// No term page: the term was made from a value pages list (a taxonomy without term
    /// pages, such as a blog's free-form tags).
    Implicit,
}

/// A term's parsed `Instructions` block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Instructions {
    /// The text as written.
    pub raw: String,
    /// The scope: everything before the first list heading, markdown removed.
    pub scope: String,
    /// Bullets under "Key Topics" (or "Includes", "Covers", ...).
    pub key_topics: Vec<String>,
    /// Bullets under "Strictly exclude" (or "Exclusions", "Do not use for", ...).
    pub exclusions: Vec<String>,
}

/// A taxonomy term, defined by its own page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Term {
    /// `"<taxonomy>/<slug>"`.
    pub id: TermId,
    /// The taxonomy's plural name.
    pub taxonomy: String,
    /// From the folder or file name.
    pub slug: String,
    /// Front-matter `title` (the slug, title-cased, when missing).
    pub title: String,
    /// Former titles and synonyms (front-matter `aliases` that are not URLs, plus
    /// `synonyms` / `former_titles`).
    pub aliases: Vec<String>,
    /// Front-matter `description`.
    pub description: String,
    /// Parsed `Instructions`, when present.
    pub instructions: Option<Instructions>,
    /// Front-matter `abstract`.
    pub abstract_text: String,
    /// The body as plain text.
    pub body_text: String,
    /// From `ClassificationContentOrigin`.
    pub origin: Origin,
    /// `ignore: true` in front matter: never scored, never selected.
    pub ignore: bool,
    /// The term page's own path, relative to the site root.
    pub path: PathBuf,
    /// Terms the term page itself lists (taxonomy → values), as pages do. A term page may
    /// list terms of its own taxonomy (related terms), never itself.
    pub terms: BTreeMap<String, Vec<String>>,
    /// Hash of everything that affects a score. See [`Term::compute_definition_hash`].
    pub definition_hash: Hash,
}

impl Term {
    /// The definition hash: what the term *means* — description and Instructions, or the
    /// body text when there are no Instructions (the engines then fall back to it). The
    /// title and aliases are names, not meaning: renaming a term (same slug, new title, the
    /// old title kept as an alias) keeps its scores fresh.
    pub fn compute_definition_hash(
        description: &str,
        instructions: Option<&Instructions>,
        body_text: &str,
    ) -> Hash {
        let mut h = Hasher::new("term-definition/2");
        h.str(description);
        match instructions {
            Some(i) => {
                h.str("instructions").str(&i.raw);
            }
            None => {
                h.str("body").str(body_text);
            }
        }
        h.finish()
    }
}

/// What kind of file a page is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageKind {
    /// A single `.md` file.
    Single,
    /// A leaf bundle's `index.md`.
    Bundle,
    /// A section's `_index.md` (only when configured).
    Section,
    /// A term's own page, classified against the other taxonomies (only with
    /// `[site] term_pages = true`).
    Term,
}

/// Per-page instructions to taxonomist, from front matter
/// `taxonomist: {lock: [tags], pin: {tags: [...]}, exclude: {tags: [...]}}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Locks {
    /// Taxonomies never written on this page.
    pub lock: BTreeSet<String>,
    /// Terms that always stay, per taxonomy.
    pub pin: BTreeMap<String, Vec<String>>,
    /// Terms that never appear, per taxonomy.
    pub exclude: BTreeMap<String, Vec<String>>,
}

impl Locks {
    /// Whether the page asks for nothing special.
    pub fn is_empty(&self) -> bool {
        self.lock.is_empty() && self.pin.is_empty() && self.exclude.is_empty()
    }
}

/// A content page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// Stable id (see [`PageId`]).
    pub id: PageId,
    /// The file, relative to the site root.
    pub path: PathBuf,
    /// The file, relative to the content dir, `/`-separated.
    pub rel: String,
    /// Single file, bundle or section.
    pub kind: PageKind,
    /// Language code from a `name.xx.md` file name, when there is one.
    pub lang: Option<String>,
    /// Front-matter `title` (may be empty).
    pub title: String,
    /// Front-matter `description` (or `summary`).
    pub description: String,
    /// Front-matter `date`, as written.
    pub date: Option<String>,
    /// Front-matter `draft`.
    pub draft: bool,
    /// The body as plain text (shortcodes, HTML, code and link targets removed).
    pub body_text: String,
    /// Terms the page lists, per taxonomy name, as written.
    pub terms: BTreeMap<String, Vec<String>>,
    /// Locks, pins and excludes.
    pub locks: Locks,
    /// Front-matter `ClassificationContentOrigin` / `ResourceContentOrigin` / `ItemContentOrigin`,
    /// lowercased, when present.
    pub origin: Option<String>,
    /// Whether the file has front matter at all.
    pub has_front_matter: bool,
    /// Hash of title + description + body text. See [`Page::compute_content_hash`].
    pub content_hash: Hash,
}

impl Page {
    /// The content hash: title, description and body text. Front-matter keys that do not
    /// change what the page says (its tags, dates, weights) do not count, so applying terms
    /// never makes a page's scores stale.
    pub fn compute_content_hash(title: &str, description: &str, body_text: &str) -> Hash {
        let mut h = Hasher::new("page-content/1");
        h.str(title).str(description).str(body_text);
        h.finish()
    }
}

/// Why a file was not loaded as a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// `draft: true` and `--drafts` not given.
    Draft,
    /// Matched an exclude glob or `ignoreFiles`.
    Excluded,
    /// A section `_index.md` while sections are not classified.
    Section,
}

/// A file left out on purpose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// Relative to the site root.
    pub path: PathBuf,
    /// Why.
    pub reason: SkipReason,
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file (or part of it) could not be used.
    Error,
    /// Used, but something is off.
    Warning,
}

/// A problem with one file, located as precisely as known.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file, relative to the site root when it is inside it.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
}

impl Diagnostic {
    /// An error about a whole file.
    pub fn error(file: impl Into<PathBuf>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// A warning about a whole file.
    pub fn warning(file: impl Into<PathBuf>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, message)
        }
    }

    /// The same diagnostic at a line and column.
    pub fn at(mut self, line: usize, column: usize) -> Diagnostic {
        self.line = Some(line);
        self.column = Some(column);
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_display_names_file_and_line() {
        let d = Diagnostic::error("content/a.md", "invalid YAML").at(3, 7);
        assert_eq!(d.to_string(), "error: content/a.md:3:7: invalid YAML");
        let w = Diagnostic::warning("content/b.md", "empty file");
        assert_eq!(w.to_string(), "warning: content/b.md: empty file");
    }

    #[test]
    fn content_hash_ignores_nothing_it_reads() {
        let a = Page::compute_content_hash("t", "d", "b");
        assert_ne!(a, Page::compute_content_hash("t", "d", "b2"));
        assert_ne!(a, Page::compute_content_hash("t2", "d", "b"));
        assert_ne!(a, Page::compute_content_hash("t", "", "db"));
    }

    #[test]
    fn definition_hash_uses_body_only_without_instructions() {
        let i = Instructions {
            raw: "x".into(),
            ..Default::default()
        };
        let a = Term::compute_definition_hash("d", Some(&i), "body1");
        let b = Term::compute_definition_hash("d", Some(&i), "body2");
        assert_eq!(a, b);
        let c = Term::compute_definition_hash("d", None, "body1");
        let d = Term::compute_definition_hash("d", None, "body2");
        assert_ne!(c, d);
        let i2 = Instructions {
            raw: "y".into(),
            ..Default::default()
        };
        assert_ne!(a, Term::compute_definition_hash("d", Some(&i2), "body1"));
        assert_ne!(a, Term::compute_definition_hash("d2", Some(&i), "body1"));
    }

    #[test]
    fn policy_defaults() {
        assert_eq!(Policy::default_for("concepts").max, 1);
        let c = Policy::default_for("categories");
        assert_eq!((c.max, c.min_score), (3, 75.0));
        assert_eq!(c.fallback.as_deref(), Some("Uncategorized"));
        assert_eq!(Policy::default_for("tags").max, 15);
    }
}
