//! `taxonomist inspect`: what was loaded, what is missing, what is undefined.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;
use taxonomist_model::{Diagnostic, Severity, Site, SkipReason};

/// The inspect report. Field order is the JSON key order.
#[derive(Clone, Debug, Serialize)]
pub struct Inspect {
    /// The site root as given.
    pub site: String,
    /// The content dir, relative to the root.
    pub content_dir: String,
    /// Config files read.
    pub config_files: Vec<String>,
    /// Number of content pages loaded.
    pub pages: usize,
    /// Pages without front matter.
    pub pages_without_front_matter: usize,
    /// Files left out on purpose, by reason.
    pub skipped: Skips,
    /// Per taxonomy, in configured order.
    pub taxonomies: BTreeMap<String, TaxonomyReport>,
    /// Load errors (the files were left out).
    pub errors: Vec<Problem>,
    /// Load warnings.
    pub warnings: Vec<Problem>,
}

/// Counts of skipped files.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Skips {
    /// Drafts (use `--drafts` to load them).
    pub drafts: usize,
    /// Matched an exclude glob or `ignoreFiles`.
    pub excluded: usize,
    /// Section `_index.md` pages (set `[site] sections = true` to classify them).
    pub sections: usize,
}

/// One taxonomy's figures.
#[derive(Clone, Debug, Serialize)]
pub struct TaxonomyReport {
    /// The front-matter key.
    pub key: String,
    /// Terms defined.
    pub terms: usize,
    /// Ids of terms that have no Instructions.
    pub without_instructions: Vec<String>,
    /// Pages listing at least one term of this taxonomy.
    pub pages_with_terms: usize,
    /// Term values listed on pages, in total.
    pub assignments: usize,
    /// Values pages list that no term defines, with how many pages list each.
    pub undefined: BTreeMap<String, usize>,
    /// Defined terms no page lists.
    pub unused: Vec<String>,
}

/// A diagnostic, flattened for JSON.
#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    /// The file, relative to the site root.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl From<&Diagnostic> for Problem {
    fn from(d: &Diagnostic) -> Problem {
        Problem {
            file: d.file.to_string_lossy().replace('\\', "/"),
            line: d.line,
            column: d.column,
            message: d.message.clone(),
        }
    }
}

impl Inspect {
    /// Builds the report from a loaded site.
    pub fn new(site: &Site) -> Inspect {
        let mut skipped = Skips::default();
        for s in &site.skipped {
            match s.reason {
                SkipReason::Draft => skipped.drafts += 1,
                SkipReason::Excluded => skipped.excluded += 1,
                SkipReason::Section => skipped.sections += 1,
            }
        }
        let mut taxonomies = BTreeMap::new();
        for tax in &site.taxonomies {
            let terms: Vec<_> = site.terms_of(&tax.name).collect();
            let without_instructions = terms
                .iter()
                .filter(|t| t.instructions.is_none())
                .map(|t| t.id.to_string())
                .collect();
            let mut undefined: BTreeMap<String, usize> = BTreeMap::new();
            let mut used = std::collections::BTreeSet::new();
            let mut pages_with_terms = 0;
            let mut assignments = 0;
            let lists = site
                .pages
                .iter()
                .map(|p| &p.terms)
                .chain(site.terms.iter().map(|t| &t.terms));
            for list in lists {
                let Some(values) = list.get(&tax.name) else {
                    continue;
                };
                if !values.is_empty() {
                    pages_with_terms += 1;
                }
                assignments += values.len();
                for v in values {
                    match site.find_term(&tax.name, v) {
                        Some(t) => {
                            used.insert(t.id.clone());
                        }
                        None => *undefined.entry(v.clone()).or_default() += 1,
                    }
                }
            }
            let unused = terms
                .iter()
                .filter(|t| !used.contains(&t.id))
                .map(|t| t.id.to_string())
                .collect();
            taxonomies.insert(
                tax.name.clone(),
                TaxonomyReport {
                    key: tax.key.clone(),
                    terms: terms.len(),
                    without_instructions,
                    pages_with_terms,
                    assignments,
                    undefined,
                    unused,
                },
            );
        }
        let pick = |sev: Severity| {
            site.diagnostics
                .iter()
                .filter(|d| d.severity == sev)
                .map(Problem::from)
                .collect()
        };
        Inspect {
            site: site.root.to_string_lossy().into_owned(),
            content_dir: site.content_dir.to_string_lossy().into_owned(),
            config_files: site
                .config_files
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
            pages: site.pages.len(),
            pages_without_front_matter: site.pages.iter().filter(|p| !p.has_front_matter).count(),
            skipped,
            taxonomies,
            errors: pick(Severity::Error),
            warnings: pick(Severity::Warning),
        }
    }

    /// Writes the report as pretty JSON (sorted, stable).
    pub fn write_json(&self, w: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, self).map_err(io::Error::other)?;
        writeln!(w)
    }

    /// Writes the report as text for people. `order` gives the taxonomy order to print
    /// (the configured order); `limit` caps long lists.
    pub fn write_text(&self, w: &mut dyn Write, order: &[String], limit: usize) -> io::Result<()> {
        writeln!(w, "site        {}", self.site)?;
        writeln!(w, "content dir {}", self.content_dir)?;
        if self.config_files.is_empty() {
            writeln!(w, "config      (none found; Hugo defaults)")?;
        } else {
            writeln!(w, "config      {}", self.config_files.join(", "))?;
        }
        write!(w, "pages       {}", self.pages)?;
        let s = &self.skipped;
        let mut notes = Vec::new();
        if s.drafts > 0 {
            notes.push(format!("{} drafts skipped", s.drafts));
        }
        if s.excluded > 0 {
            notes.push(format!("{} excluded", s.excluded));
        }
        if s.sections > 0 {
            notes.push(format!("{} section pages not classified", s.sections));
        }
        if self.pages_without_front_matter > 0 {
            notes.push(format!(
                "{} without front matter",
                self.pages_without_front_matter
            ));
        }
        if notes.is_empty() {
            writeln!(w)?;
        } else {
            writeln!(w, " ({})", notes.join(", "))?;
        }
        writeln!(w)?;
        for name in order {
            let Some(t) = self.taxonomies.get(name) else {
                continue;
            };
            writeln!(
                w,
                "{name}: {} terms, {} on {} pages",
                t.terms, t.assignments, t.pages_with_terms
            )?;
            if !t.without_instructions.is_empty() {
                writeln!(
                    w,
                    "  without Instructions ({}): {}",
                    t.without_instructions.len(),
                    clip(&t.without_instructions, limit)
                )?;
            }
            if !t.undefined.is_empty() {
                let mut v: Vec<(&String, &usize)> = t.undefined.iter().collect();
                v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
                let items: Vec<String> = v.iter().map(|(k, n)| format!("{k:?} ×{n}")).collect();
                writeln!(w, "  undefined ({}): {}", v.len(), clip(&items, limit))?;
            }
            if !t.unused.is_empty() && t.terms > 0 {
                writeln!(
                    w,
                    "  unused ({}): {}",
                    t.unused.len(),
                    clip(&t.unused, limit)
                )?;
            }
        }
        if !self.errors.is_empty() || !self.warnings.is_empty() {
            writeln!(w)?;
        }
        for p in &self.errors {
            writeln!(w, "error: {}", located(p))?;
        }
        // Warnings often repeat (hundreds of term pages without Instructions): one line per
        // kind of warning, with a few example files.
        let mut groups: BTreeMap<&str, Vec<&Problem>> = BTreeMap::new();
        for p in &self.warnings {
            groups.entry(p.message.as_str()).or_default().push(p);
        }
        for (message, list) in groups {
            if list.len() <= 3 {
                for p in list {
                    writeln!(w, "warning: {}", located(p))?;
                }
            } else {
                let files: Vec<String> = list.iter().take(3).map(|p| p.file.clone()).collect();
                writeln!(
                    w,
                    "warning: {message} ({} files: {}, … and {} more)",
                    list.len(),
                    files.join(", "),
                    list.len() - 3
                )?;
            }
        }
        Ok(())
    }
}

fn located(p: &Problem) -> String {
    let mut s = p.file.clone();
    if let Some(l) = p.line {
        s.push_str(&format!(":{l}"));
        if let Some(c) = p.column {
            s.push_str(&format!(":{c}"));
        }
    }
    format!("{s}: {}", p.message)
}

fn clip(items: &[String], limit: usize) -> String {
    if items.len() <= limit {
        items.join(", ")
    } else {
        format!(
            "{}, … and {} more",
            items[..limit].join(", "),
            items.len() - limit
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use taxonomist_model::*;

    use super::*;

    fn term(tax: &str, slug: &str, title: &str, with_instructions: bool) -> Term {
        Term {
            id: TermId::new(tax, slug),
            taxonomy: tax.into(),
            slug: slug.into(),
            title: title.into(),
            aliases: vec![],
            description: String::new(),
            instructions: with_instructions.then(Instructions::default),
            abstract_text: String::new(),
            body_text: String::new(),
            origin: Origin::Human,
            ignore: false,
            path: PathBuf::from(format!("content/{tax}/{slug}.md")),
            terms: Default::default(),
            definition_hash: Hash::default(),
        }
    }

    fn page(id: &str, tags: &[&str]) -> Page {
        Page {
            id: PageId(id.into()),
            path: PathBuf::from(format!("content/{id}.md")),
            rel: format!("{id}.md"),
            kind: PageKind::Single,
            lang: None,
            title: id.into(),
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

    #[test]
    fn counts_undefined_unused_and_missing_instructions() {
        let site = Site {
            taxonomies: vec![Taxonomy::new("tags", Some("tag"))],
            terms: vec![
                term("tags", "ci", "Continuous Integration", true),
                term("tags", "testing", "Testing", false),
            ],
            pages: vec![
                page("a", &["continuous integration", "Serverless"]),
                page("b", &["Serverless", "ci"]),
                page("c", &[]),
            ],
            skipped: vec![Skipped {
                path: "content/d.md".into(),
                reason: SkipReason::Draft,
            }],
            diagnostics: vec![Diagnostic::error("content/e.md", "invalid YAML").at(2, 3)],
            ..Default::default()
        };
        let r = Inspect::new(&site);
        let t = &r.taxonomies["tags"];
        assert_eq!(t.terms, 2);
        assert_eq!(t.without_instructions, ["tags/testing"]);
        assert_eq!(t.undefined.get("Serverless"), Some(&2));
        assert_eq!(t.undefined.len(), 1);
        assert_eq!(t.unused, ["tags/testing"]);
        assert_eq!(t.pages_with_terms, 2);
        assert_eq!(t.assignments, 4);
        assert_eq!(r.skipped.drafts, 1);
        assert_eq!(r.errors.len(), 1);

        let mut json = Vec::new();
        r.write_json(&mut json).expect("json");
        let v: serde_json::Value = serde_json::from_slice(&json).expect("valid json");
        assert_eq!(v["pages"], 3);
        assert_eq!(v["taxonomies"]["tags"]["undefined"]["Serverless"], 2);
        assert_eq!(v["errors"][0]["line"], 2);

        let mut text = Vec::new();
        r.write_text(&mut text, &["tags".into()], 10).expect("text");
        let text = String::from_utf8(text).expect("utf8");
        assert!(text.contains("undefined (1): \"Serverless\" ×2"), "{text}");
        assert!(
            text.contains("error: content/e.md:2:3: invalid YAML"),
            "{text}"
        );
    }
}
