//! Walking the content dir and turning files into pages and terms.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use serde_json::{Map, Value};
use taxonomist_frontmatter::Document;
use taxonomist_model::{
    Diagnostic, Locks, Origin, Page, PageId, PageKind, Site, SkipReason, Skipped, Taxonomy, Term,
    TermId,
};

use crate::Error;
use crate::config::{Config, read_config_with};
use crate::instructions::parse_instructions;
use crate::markdown::to_plain_text;

/// Files larger than this are skipped with a warning.
pub const MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;

/// Caller options for [`load`].
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Load drafts as pages.
    pub drafts: bool,
    /// Only pages whose path (relative to the content dir) matches one of these globs.
    /// Terms always load.
    pub only: Vec<String>,
    /// Read `taxonomist.toml` from here instead of the site root.
    pub config: Option<PathBuf>,
}

/// What a markdown file under the content dir is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A term page of `taxonomy`, slug `slug`.
    Term {
        /// Taxonomy name.
        taxonomy: String,
        /// Term slug.
        slug: String,
    },
    /// A taxonomy's own list page (`content/tags/_index.md`): not loaded.
    TaxonomyList,
    /// A page of this kind.
    Page(PageKind),
    /// A bundle resource, a term translation or a file inside a term folder: not loaded.
    Resource,
}

fn split_name(file_name: &str) -> Option<(&str, Option<&str>)> {
    let stem = file_name
        .strip_suffix(".md")
        .or_else(|| file_name.strip_suffix(".markdown"))?;
    // `index.es.md`: a language suffix of 2–3 letters, optionally `-xx` region.
    if let Some((base, lang)) = stem.rsplit_once('.') {
        let (l, region) = lang.split_once('-').unwrap_or((lang, ""));
        let ok = (2..=3).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_lowercase())
            && region.len() <= 4
            && region.bytes().all(|b| b.is_ascii_alphanumeric());
        if ok && !base.is_empty() {
            return Some((base, Some(lang)));
        }
    }
    Some((stem, None))
}

/// Classifies a path relative to the content dir (`/`-separated). `bundle_dirs` holds the
/// dirs (relative, `/`-separated) that contain an `index.md`.
pub fn classify_path(
    rel: &str,
    taxonomies: &[Taxonomy],
    bundle_dirs: &BTreeSet<String>,
) -> Option<(FileKind, Option<String>)> {
    let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel));
    let (base, lang) = split_name(file)?;
    let lang = lang.map(str::to_string);
    let parts: Vec<&str> = if dir.is_empty() {
        vec![]
    } else {
        dir.split('/').collect()
    };
    if let Some(first) = parts.first().copied()
        && taxonomies.iter().any(|t| t.name == first)
    {
        let kind = match (parts.len(), base) {
            (1, "_index") => FileKind::TaxonomyList,
            (1, slug) if slug != "index" && lang.is_none() => FileKind::Term {
                taxonomy: first.to_string(),
                slug: slug.to_string(),
            },
            (2, "_index") if lang.is_none() => FileKind::Term {
                taxonomy: first.to_string(),
                slug: parts[1].to_string(),
            },
            _ => FileKind::Resource,
        };
        return Some((kind, lang));
    }
    // Anything below a leaf bundle (other than its own index) is a resource.
    let mut prefix = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            prefix.push('/');
        }
        prefix.push_str(p);
        let own_index = i + 1 == parts.len() && base == "index";
        if !own_index && bundle_dirs.contains(&prefix) {
            return Some((FileKind::Resource, lang));
        }
    }
    let kind = match base {
        "index" => PageKind::Bundle,
        "_index" => PageKind::Section,
        _ => PageKind::Single,
    };
    Some((FileKind::Page(kind), lang))
}

/// Loads the site at `root`.
pub fn load(root: &Path, opts: &LoadOptions) -> Result<Site, Error> {
    let config = read_config_with(root, opts.config.as_deref())?;
    load_with_config(&config, opts)
}

struct Filters {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    only: Option<GlobSet>,
    ignore: Vec<regex::Regex>,
}

fn globset(patterns: &[String], origin: &str) -> Result<Option<GlobSet>, Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = Glob::new(p).map_err(|e| Error::Pattern {
            pattern: p.clone(),
            origin: origin.to_string(),
            reason: e.kind().to_string(),
        })?;
        b.add(g);
    }
    b.build().map(Some).map_err(|e| Error::Pattern {
        pattern: patterns.join(", "),
        origin: origin.to_string(),
        reason: e.to_string(),
    })
}

impl Filters {
    fn new(config: &Config, opts: &LoadOptions) -> Result<Filters, Error> {
        let site = config
            .taxonomist
            .as_ref()
            .map(|t| t.site.clone())
            .unwrap_or_default();
        let ignore = config
            .hugo
            .ignore_files
            .iter()
            .map(|r| {
                regex::Regex::new(r).map_err(|e| Error::Pattern {
                    pattern: r.clone(),
                    origin: "ignoreFiles".into(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Filters {
            include: globset(&site.include, "taxonomist.toml [site] include")?,
            exclude: globset(&site.exclude, "taxonomist.toml [site] exclude")?,
            only: globset(&opts.only, "--only")?,
            ignore,
        })
    }

    /// Hugo's `ignoreFiles` and our excludes: the file is not part of the site at all.
    fn ignored(&self, rel: &str, site_rel: &str) -> bool {
        self.ignore
            .iter()
            .any(|r| r.is_match(rel) || r.is_match(site_rel))
            || self.exclude.as_ref().is_some_and(|g| g.is_match(rel))
    }

    /// Whether a page is selected by `include` and `--only`.
    fn selected(&self, rel: &str) -> bool {
        self.include.as_ref().is_none_or(|g| g.is_match(rel))
            && self.only.as_ref().is_none_or(|g| g.is_match(rel))
    }
}

enum Loaded {
    Page(Box<Page>),
    Term(Box<Term>),
    /// A term whose page is classified too (`[site] term_pages`).
    TermAndPage(Box<Term>, Box<Page>),
    Skipped(Skipped),
    Nothing,
}

struct Job {
    abs: PathBuf,
    site_rel: PathBuf,
    rel: String,
    kind: FileKind,
    lang: Option<String>,
}

/// Loads a site whose config is already read.
pub fn load_with_config(config: &Config, opts: &LoadOptions) -> Result<Site, Error> {
    let root = &config.root;
    let content = root.join(&config.content_dir);
    if !content.is_dir() {
        return Err(Error::ContentDir {
            path: config.content_dir.clone(),
        });
    }
    let filters = Filters::new(config, opts)?;
    let sections = config.taxonomist.as_ref().is_some_and(|t| t.site.sections);
    let mut diagnostics = Vec::new();

    // 1. Walk (hidden files skipped, symlinks followed with loop detection), then sort.
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let walker = ignore::WalkBuilder::new(&content)
        .standard_filters(false)
        .hidden(true)
        .follow_links(true)
        .build();
    for entry in walker {
        match entry {
            Ok(e) => {
                if !e.file_type().is_some_and(|t| t.is_file()) {
                    continue;
                }
                let abs = e.into_path();
                let Ok(rel) = abs.strip_prefix(&content) else {
                    continue;
                };
                let rel = rel.to_string_lossy().replace('\\', "/");
                files.push((rel, abs));
            }
            Err(err) => {
                let path = err_path(&err).unwrap_or_else(|| content.clone());
                let site_rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                let msg = if is_loop(&err) {
                    "symlink loop; not followed".to_string()
                } else {
                    format!("cannot read: {}", io_message(&err))
                };
                diagnostics.push(Diagnostic::warning(site_rel, msg));
            }
        }
    }
    files.sort();
    files.dedup_by(|a, b| a.0 == b.0);

    let bundle_dirs: BTreeSet<String> = files
        .iter()
        .filter_map(|(rel, _)| {
            let (dir, file) = rel.rsplit_once('/')?;
            let (base, _) = split_name(file)?;
            (base == "index").then(|| dir.to_string())
        })
        .collect();

    // 2. Decide what each file is.
    let mut skipped = Vec::new();
    let mut jobs = Vec::new();
    for (rel, abs) in files {
        let Some((kind, lang)) = classify_path(&rel, &config.taxonomies, &bundle_dirs) else {
            continue; // not markdown
        };
        let site_rel = config.content_dir.join(&rel);
        if filters.ignored(&rel, &site_rel.to_string_lossy()) {
            if !matches!(kind, FileKind::Resource | FileKind::TaxonomyList) {
                skipped.push(Skipped {
                    path: site_rel,
                    reason: SkipReason::Excluded,
                });
            }
            continue;
        }
        match &kind {
            FileKind::Resource | FileKind::TaxonomyList => continue,
            FileKind::Page(PageKind::Section) if !sections => {
                skipped.push(Skipped {
                    path: site_rel,
                    reason: SkipReason::Section,
                });
                continue;
            }
            FileKind::Page(_) if !filters.selected(&rel) => continue,
            _ => {}
        }
        jobs.push(Job {
            abs,
            site_rel,
            rel,
            kind,
            lang,
        });
    }

    // 3. Parse in parallel; results keep the sorted order.
    let default_lang = config.hugo.default_language.clone();
    let results: Vec<(Loaded, Vec<Diagnostic>)> = jobs
        .par_iter()
        .map(|job| load_one(job, config, opts, default_lang.as_deref()))
        .collect();

    // 4. Assemble, checking id and title collisions.
    let mut pages: Vec<Page> = Vec::new();
    let mut terms: Vec<Term> = Vec::new();
    for (loaded, diags) in results {
        diagnostics.extend(diags);
        match loaded {
            Loaded::Page(p) => pages.push(*p),
            Loaded::Term(t) => terms.push(*t),
            Loaded::TermAndPage(t, p) => {
                terms.push(*t);
                pages.push(*p);
            }
            Loaded::Skipped(s) => skipped.push(s),
            Loaded::Nothing => {}
        }
    }
    let pages = dedup_pages(pages, &mut diagnostics);
    let mut terms = dedup_terms(terms, &mut diagnostics);
    for tax in &config.taxonomies {
        if terms.iter().any(|t| t.taxonomy == tax.name) {
            continue;
        }
        // Tags and categories are subjects; other taxonomies (authors, series) often are
        // not, so they get implicit terms only when asked for.
        let min = match config.implicit_min_uses.get(&tax.name) {
            Some(&n) => n,
            None if IMPLICIT_BY_DEFAULT.contains(&tax.name.as_str()) => DEFAULT_IMPLICIT_MIN_USES,
            None => {
                if pages.iter().any(|p| p.terms.contains_key(&tax.name)) {
                    diagnostics.push(Diagnostic::warning(
                        config.content_dir.join(&tax.name),
                        format!(
                            "{0} has no term pages and is not classified (add term pages, or set [taxonomies.{0}] implicit_min_uses = 3 in taxonomist.toml to classify with the values pages list)",
                            tax.name
                        ),
                    ));
                }
                continue;
            }
        };
        if min == 0 {
            continue;
        }
        let made = implicit_terms(&tax.name, &pages, min);
        if !made.is_empty() {
            diagnostics.push(Diagnostic::warning(
                config.content_dir.join(&tax.name),
                format!(
                    "{} has no term pages; using {} implicit terms made from values listed on at least {min} pages (no Instructions: add term pages to define them)",
                    tax.name,
                    made.len()
                ),
            ));
        }
        terms.extend(made);
    }
    terms.sort_by(|a, b| a.id.cmp(&b.id));

    diagnostics.sort();
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Site {
        root: root.clone(),
        content_dir: config.content_dir.clone(),
        config_files: config.hugo.files.clone(),
        taxonomies: config.taxonomies.clone(),
        terms,
        pages,
        skipped,
        diagnostics,
    })
}

fn err_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            err_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        _ => None,
    }
}

fn is_loop(err: &ignore::Error) -> bool {
    match err {
        ignore::Error::Loop { .. } => true,
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => is_loop(err),
        _ => false,
    }
}

fn io_message(err: &ignore::Error) -> String {
    match err {
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => io_message(err),
        other => other.to_string(),
    }
}

/// Taxonomies that get implicit terms without being asked (when they have no term pages).
pub const IMPLICIT_BY_DEFAULT: [&str; 2] = ["tags", "categories"];

/// Default minimum uses for implicit terms.
pub const DEFAULT_IMPLICIT_MIN_USES: usize = 3;

/// Terms made from the values pages list, for a taxonomy without term pages: values that
/// slugify alike are one term (titled with the most used spelling; the others become
/// aliases), kept when listed on at least `min_uses` pages.
pub fn implicit_terms(taxonomy: &str, pages: &[Page], min_uses: usize) -> Vec<Term> {
    let mut by_slug: BTreeMap<String, (BTreeSet<usize>, BTreeMap<String, usize>)> = BTreeMap::new();
    for (i, p) in pages.iter().enumerate() {
        for v in p.terms.get(taxonomy).into_iter().flatten() {
            let slug = taxonomist_model::slugify(v);
            if slug.is_empty() {
                continue;
            }
            let e = by_slug.entry(slug).or_default();
            e.0.insert(i);
            *e.1.entry(v.clone()).or_default() += 1;
        }
    }
    by_slug
        .into_iter()
        .filter(|(_, (pages, _))| pages.len() >= min_uses)
        .map(|(slug, (_, spellings))| {
            let mut sp: Vec<(String, usize)> = spellings.into_iter().collect();
            sp.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let title = sp[0].0.clone();
            let aliases: Vec<String> = sp[1..].iter().map(|(s, _)| s.clone()).collect();
            Term {
                id: TermId::new(taxonomy, &slug),
                taxonomy: taxonomy.to_string(),
                slug,
                title,
                aliases,
                description: String::new(),
                instructions: None,
                abstract_text: String::new(),
                body_text: String::new(),
                origin: Origin::Implicit,
                ignore: false,
                path: PathBuf::new(),
                terms: BTreeMap::new(),
                definition_hash: Term::compute_definition_hash("", None, ""),
            }
        })
        .collect()
}

fn dedup_pages(pages: Vec<Page>, diags: &mut Vec<Diagnostic>) -> Vec<Page> {
    let mut seen: HashMap<PageId, PathBuf> = HashMap::new();
    let mut out = Vec::with_capacity(pages.len());
    for p in pages {
        if let Some(first) = seen.get(&p.id) {
            diags.push(Diagnostic::error(
                &p.path,
                format!(
                    "page id {:?} is also used by {}; this page is left out",
                    p.id.as_str(),
                    first.display()
                ),
            ));
            continue;
        }
        seen.insert(p.id.clone(), p.path.clone());
        out.push(p);
    }
    out
}

fn dedup_terms(mut terms: Vec<Term>, diags: &mut Vec<Diagnostic>) -> Vec<Term> {
    terms.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| a.path.cmp(&b.path)));
    let mut out: Vec<Term> = Vec::with_capacity(terms.len());
    let mut titles: HashMap<(String, String), PathBuf> = HashMap::new();
    for t in terms {
        if let Some(prev) = out.last()
            && prev.id == t.id
        {
            diags.push(Diagnostic::error(
                &t.path,
                format!(
                    "term {} is defined twice: {} and {}; the second is left out",
                    t.id,
                    prev.path.display(),
                    t.path.display()
                ),
            ));
            continue;
        }
        let key = (t.taxonomy.clone(), t.title.to_lowercase());
        if let Some(first) = titles.get(&key) {
            diags.push(Diagnostic::error(
                &t.path,
                format!(
                    "duplicate {} title {:?}: {} and {}; the second is left out",
                    t.taxonomy,
                    t.title,
                    first.display(),
                    t.path.display()
                ),
            ));
            continue;
        }
        titles.insert(key, t.path.clone());
        out.push(t);
    }
    out
}

fn load_one(
    job: &Job,
    config: &Config,
    opts: &LoadOptions,
    default_lang: Option<&str>,
) -> (Loaded, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let file = &job.site_rel;
    let bytes = match read_limited(&job.abs) {
        Ok(b) => b,
        Err(msg) => {
            diags.push(Diagnostic::warning(file, msg));
            return (Loaded::Nothing, diags);
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        diags.push(Diagnostic::warning(file, "empty file; skipped"));
        return (Loaded::Nothing, diags);
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let (line, col) = crate::config::line_col(
                &String::from_utf8_lossy(&bytes[..e.valid_up_to()]),
                usize::MAX,
            );
            diags.push(Diagnostic::warning(file, "invalid UTF-8; file skipped").at(line, col));
            return (Loaded::Nothing, diags);
        }
    };
    if let Some(i) = memchr::memchr(0, text.as_bytes()) {
        let (line, col) = crate::config::line_col(text, i);
        diags.push(Diagnostic::warning(file, "NUL byte (binary file?); skipped").at(line, col));
        return (Loaded::Nothing, diags);
    }
    match &job.kind {
        FileKind::Term { taxonomy, slug } => {
            match parse_term(file, text, taxonomy, slug, &config.taxonomies) {
                Ok((term, warns)) => {
                    diags.extend(warns);
                    let term_pages = config
                        .taxonomist
                        .as_ref()
                        .is_some_and(|t| t.site.term_pages);
                    if term_pages && !term.ignore {
                        let lang = job.lang.as_deref().filter(|l| Some(*l) != default_lang);
                        if let Ok(page) = parse_page(
                            file,
                            &job.rel,
                            text,
                            PageKind::Term,
                            lang,
                            &config.taxonomies,
                        ) && (!page.draft || opts.drafts)
                        {
                            return (Loaded::TermAndPage(Box::new(term), Box::new(page)), diags);
                        }
                    }
                    (Loaded::Term(Box::new(term)), diags)
                }
                Err(d) => {
                    diags.push(d);
                    (Loaded::Nothing, diags)
                }
            }
        }
        FileKind::Page(kind) => {
            let lang = job.lang.as_deref().filter(|l| Some(*l) != default_lang);
            match parse_page(file, &job.rel, text, *kind, lang, &config.taxonomies) {
                Ok(page) => {
                    if page.draft && !opts.drafts {
                        return (
                            Loaded::Skipped(Skipped {
                                path: file.clone(),
                                reason: SkipReason::Draft,
                            }),
                            diags,
                        );
                    }
                    (Loaded::Page(Box::new(page)), diags)
                }
                Err(d) => {
                    diags.push(d);
                    (Loaded::Nothing, diags)
                }
            }
        }
        FileKind::Resource | FileKind::TaxonomyList => (Loaded::Nothing, diags),
    }
}

fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "file is {:.1} MB, over the {} MB limit; skipped",
            meta.len() as f64 / 1_048_576.0,
            MAX_FILE_BYTES / 1_048_576
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read: {e}"))
}

fn parse_document(file: &Path, text: &str) -> Result<Document, Diagnostic> {
    Document::parse(text).map_err(|e| {
        let mut d = Diagnostic::error(file, e.message().to_string());
        if let Some(l) = e.line() {
            d = d.at(l, e.column().unwrap_or(1));
        }
        d
    })
}

/// Case-insensitive front-matter lookup (Hugo keys are case-insensitive).
fn get<'a>(data: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    data.get(key).or_else(|| {
        data.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn get_str(data: &Map<String, Value>, key: &str) -> String {
    get(data, key)
        .and_then(scalar_string)
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn as_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(scalar_string)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        Value::Null => Vec::new(),
        other => scalar_string(other)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .into_iter()
            .collect(),
    }
}

fn is_true(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("yes"),
        _ => false,
    }
}

fn taxonomy_terms(
    data: &Map<String, Value>,
    taxonomies: &[Taxonomy],
) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for t in taxonomies {
        if let Some(v) = get(data, &t.key) {
            out.insert(t.name.clone(), as_list(v));
        }
    }
    out
}

fn parse_locks(data: &Map<String, Value>) -> Locks {
    let mut locks = Locks::default();
    let Some(Value::Object(m)) = get(data, "taxonomist") else {
        return locks;
    };
    if let Some(v) = get(m, "lock") {
        locks.lock = as_list(v).into_iter().collect();
    }
    for (key, target) in [("pin", &mut locks.pin), ("exclude", &mut locks.exclude)] {
        if let Some(Value::Object(per)) = get(m, key) {
            for (tax, list) in per {
                target.insert(tax.clone(), as_list(list));
            }
        }
    }
    locks
}

fn first_heading(body: &str) -> Option<String> {
    body.lines()
        .map(str::trim)
        .find(|l| l.starts_with("# "))
        .map(|l| l.trim_start_matches('#').trim().to_string())
        .filter(|s| !s.is_empty())
}

fn humanize(stem: &str) -> String {
    stem.replace(['-', '_'], " ").trim().to_string()
}

/// Parses a content page (no I/O). `file` is used in diagnostics; `rel` is the path
/// relative to the content dir.
pub fn parse_page(
    file: &Path,
    rel: &str,
    text: &str,
    kind: PageKind,
    lang: Option<&str>,
    taxonomies: &[Taxonomy],
) -> Result<Page, Diagnostic> {
    let doc = parse_document(file, text)?;
    let data = doc.data();
    let body_text = to_plain_text(doc.body());

    let in_folder = |rel: &str| {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        name.starts_with("_index.") || name.starts_with("index.")
    };
    let bundle = match kind {
        PageKind::Bundle | PageKind::Section => rel.rsplit_once('/').map_or("", |(d, _)| d),
        PageKind::Term if in_folder(rel) => rel.rsplit_once('/').map_or("", |(d, _)| d),
        PageKind::Term | PageKind::Single => rel
            .strip_suffix(".md")
            .or_else(|| rel.strip_suffix(".markdown"))
            .unwrap_or(rel),
    };
    let bundle = match (kind, lang) {
        (PageKind::Single | PageKind::Term, Some(l)) => bundle
            .strip_suffix(&format!(".{l}"))
            .unwrap_or(bundle)
            .to_string(),
        _ => bundle.to_string(),
    };
    let explicit_id = ["ItemId", "ResourceId", "id"]
        .iter()
        .find_map(|k| get(data, k).and_then(scalar_string))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let mut id = match explicit_id {
        Some(id) => id,
        None if bundle.is_empty() => "_index".to_string(),
        None => bundle.clone(),
    };
    if let Some(l) = lang {
        id = format!("{id}.{l}");
    }

    let mut title = get_str(data, "title");
    if title.is_empty() {
        title = first_heading(doc.body())
            .unwrap_or_else(|| humanize(bundle.rsplit('/').next().unwrap_or(&bundle)));
    }
    let mut description = get_str(data, "description");
    if description.is_empty() {
        description = get_str(data, "summary");
    }
    let origin = [
        "ClassificationContentOrigin",
        "ItemContentOrigin",
        "ResourceContentOrigin",
    ]
    .iter()
    .find_map(|k| get(data, k).and_then(scalar_string))
    .map(|s| s.trim().to_lowercase());
    let content_hash = Page::compute_content_hash(&title, &description, &body_text);
    Ok(Page {
        id: PageId(id),
        path: file.to_path_buf(),
        rel: rel.to_string(),
        kind,
        lang: lang.map(str::to_string),
        title,
        description,
        date: get(data, "date").and_then(scalar_string),
        draft: is_true(get(data, "draft")),
        body_text,
        terms: taxonomy_terms(data, taxonomies),
        locks: parse_locks(data),
        origin,
        has_front_matter: doc.format().is_some(),
        content_hash,
    })
}

fn title_case(slug: &str) -> String {
    slug.split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses a term page (no I/O). Returns the term and any warnings.
pub fn parse_term(
    file: &Path,
    text: &str,
    taxonomy: &str,
    slug: &str,
    taxonomies: &[Taxonomy],
) -> Result<(Term, Vec<Diagnostic>), Diagnostic> {
    let doc = parse_document(file, text)?;
    let data = doc.data();
    let mut warnings = Vec::new();
    let mut title = get_str(data, "title");
    if title.is_empty() {
        title = title_case(slug);
        warnings.push(Diagnostic::warning(
            file,
            "term has no title; using its slug, title-cased",
        ));
    }
    // Aliases: Hugo's `aliases` are URLs; entries that are not paths or URLs are former
    // titles. `synonyms` and `former_titles` are always names.
    let mut aliases: Vec<String> = Vec::new();
    if let Some(v) = get(data, "aliases") {
        aliases.extend(
            as_list(v)
                .into_iter()
                .filter(|a| !a.starts_with('/') && !a.contains("://")),
        );
    }
    for key in ["synonyms", "former_titles", "formerTitles"] {
        if let Some(v) = get(data, key) {
            aliases.extend(as_list(v));
        }
    }
    aliases.dedup();
    let description = get_str(data, "description");
    let instructions = get(data, "Instructions")
        .and_then(scalar_string)
        .filter(|s| !s.trim().is_empty())
        .map(|raw| parse_instructions(&raw));
    let body_text = to_plain_text(doc.body());
    if instructions.is_none() {
        warnings.push(Diagnostic::warning(
            file,
            "term has no Instructions; scoring falls back to its description and body",
        ));
    }
    let origin = match get_str(data, "ClassificationContentOrigin")
        .to_lowercase()
        .as_str()
    {
        "ai" => Origin::Ai,
        "hybrid" => Origin::Hybrid,
        _ => Origin::Human,
    };
    let definition_hash =
        Term::compute_definition_hash(&description, instructions.as_ref(), &body_text);
    let term = Term {
        id: TermId::new(taxonomy, slug),
        taxonomy: taxonomy.to_string(),
        slug: slug.to_string(),
        title,
        aliases,
        description,
        instructions,
        abstract_text: get_str(data, "abstract"),
        body_text,
        origin,
        ignore: is_true(get(data, "ignore")),
        path: file.to_path_buf(),
        terms: taxonomy_terms(data, taxonomies),
        definition_hash,
    };
    Ok((term, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taxes() -> Vec<Taxonomy> {
        vec![
            Taxonomy::new("tags", Some("tag")),
            Taxonomy::new("categories", Some("category")),
        ]
    }

    fn kind(rel: &str, bundles: &[&str]) -> Option<FileKind> {
        let b: BTreeSet<String> = bundles.iter().map(|s| s.to_string()).collect();
        classify_path(rel, &taxes(), &b).map(|(k, _)| k)
    }

    #[test]
    fn classifies_paths() {
        let term = |t: &str, s: &str| {
            Some(FileKind::Term {
                taxonomy: t.into(),
                slug: s.into(),
            })
        };
        assert_eq!(
            kind("tags/product-owner/_index.md", &[]),
            term("tags", "product-owner")
        );
        assert_eq!(
            kind("categories/devops.md", &[]),
            term("categories", "devops")
        );
        assert_eq!(kind("tags/_index.md", &[]), Some(FileKind::TaxonomyList));
        assert_eq!(kind("tags/x/notes.md", &[]), Some(FileKind::Resource));
        assert_eq!(kind("tags/x/_index.es.md", &[]), Some(FileKind::Resource));
        assert_eq!(
            kind("blog/a/index.md", &["blog/a"]),
            Some(FileKind::Page(PageKind::Bundle))
        );
        assert_eq!(
            kind("blog/a/captions.en.md", &["blog/a"]),
            Some(FileKind::Resource)
        );
        assert_eq!(
            kind("blog/a/sub/x.md", &["blog/a"]),
            Some(FileKind::Resource)
        );
        assert_eq!(
            kind("blog/_index.md", &[]),
            Some(FileKind::Page(PageKind::Section))
        );
        assert_eq!(
            kind("blog/post.md", &[]),
            Some(FileKind::Page(PageKind::Single))
        );
        assert_eq!(
            kind("about.md", &[]),
            Some(FileKind::Page(PageKind::Single))
        );
        assert_eq!(kind("blog/img.png", &[]), None);
        let b: BTreeSet<String> = ["blog/a".to_string()].into();
        let (_, lang) = classify_path("blog/a/index.es.md", &taxes(), &b).expect("md");
        assert_eq!(lang.as_deref(), Some("es"));
        let (_, lang) = classify_path("blog/v1.2.md", &taxes(), &b).expect("md");
        assert_eq!(lang, None);
    }

    #[test]
    fn page_from_yaml() {
        let text = "---\ntitle: Hello\ndescription: A page\ndate: 2024-01-02\ntags: [Alpha, 'Beta']\ncategories: Gamma\ntaxonomist:\n  lock: [categories]\n  pin:\n    tags: [Alpha]\n  exclude:\n    tags: [Delta]\nClassificationContentOrigin: Human\n---\nBody **text** {{< x >}}.\n";
        let p = parse_page(
            Path::new("content/blog/hello.md"),
            "blog/hello.md",
            text,
            PageKind::Single,
            None,
            &taxes(),
        )
        .expect("page");
        assert_eq!(p.id.as_str(), "blog/hello");
        assert_eq!(p.title, "Hello");
        assert_eq!(p.date.as_deref(), Some("2024-01-02"));
        assert_eq!(p.terms["tags"], ["Alpha", "Beta"]);
        assert_eq!(p.terms["categories"], ["Gamma"]);
        assert!(p.locks.lock.contains("categories"));
        assert_eq!(p.locks.pin["tags"], ["Alpha"]);
        assert_eq!(p.locks.exclude["tags"], ["Delta"]);
        assert_eq!(p.origin.as_deref(), Some("human"));
        assert_eq!(p.body_text, "Body text  .");
        assert!(p.has_front_matter);
    }

    #[test]
    fn page_ids() {
        let id = |rel: &str, text: &str, kind: PageKind, lang: Option<&str>| {
            parse_page(Path::new(rel), rel, text, kind, lang, &taxes())
                .expect("page")
                .id
                .0
        };
        assert_eq!(id("blog/a/index.md", "x", PageKind::Bundle, None), "blog/a");
        assert_eq!(
            id("blog/a/index.es.md", "x", PageKind::Bundle, Some("es")),
            "blog/a.es"
        );
        assert_eq!(
            id("blog/b.es.md", "x", PageKind::Single, Some("es")),
            "blog/b.es"
        );
        assert_eq!(
            id(
                "blog/b.md",
                "---\nItemId: abc\n---\n",
                PageKind::Single,
                None
            ),
            "abc"
        );
        assert_eq!(
            id(
                "blog/b.md",
                "---\nResourceId: 42\n---\n",
                PageKind::Single,
                None
            ),
            "42"
        );
        assert_eq!(id("_index.md", "x", PageKind::Section, None), "_index");
    }

    #[test]
    fn page_without_front_matter_gets_a_title() {
        let p = parse_page(
            Path::new("content/notes/plain-note.md"),
            "notes/plain-note.md",
            "Some words.\n\n# Not first\n",
            PageKind::Single,
            None,
            &taxes(),
        )
        .expect("page");
        assert!(!p.has_front_matter);
        assert_eq!(p.title, "Not first");
        let p = parse_page(
            Path::new("content/notes/plain-note.md"),
            "notes/plain-note.md",
            "Some words.\n",
            PageKind::Single,
            None,
            &taxes(),
        )
        .expect("page");
        assert_eq!(p.title, "plain note");
    }

    #[test]
    fn draft_flag_variants() {
        for (fm, draft) in [
            ("draft: true", true),
            ("draft: 'true'", true),
            ("draft: false", false),
        ] {
            let text = format!("---\n{fm}\n---\n");
            let p = parse_page(
                Path::new("a.md"),
                "a.md",
                &text,
                PageKind::Single,
                None,
                &taxes(),
            )
            .expect("page");
            assert_eq!(p.draft, draft, "{fm}");
        }
    }

    #[test]
    fn bad_yaml_is_a_located_error() {
        let text = "---\ntitle: ok\ntags: [a, b\n---\nbody\n";
        let d = parse_page(
            Path::new("content/x.md"),
            "x.md",
            text,
            PageKind::Single,
            None,
            &taxes(),
        )
        .expect_err("invalid");
        assert_eq!(d.file, PathBuf::from("content/x.md"));
        assert!(d.line.is_some_and(|l| (2..=4).contains(&l)), "{d}");
    }

    #[test]
    fn term_parsing() {
        let text = "---\ntitle: Pair Programming\naliases: [Pairing, /tags/pairing/]\ndescription: Two people, one keyboard.\nInstructions: |-\n  **Use this category only for discussions on pairing.**\n\n  **Key Topics:**\n  - driver and navigator\n\n  **Strictly exclude:**\n  - mob programming\ncategories: [Practices]\n---\nBody.\n";
        let (t, warns) = parse_term(
            Path::new("content/tags/pair-programming/_index.md"),
            text,
            "tags",
            "pair-programming",
            &taxes(),
        )
        .expect("term");
        assert!(warns.is_empty());
        assert_eq!(t.id.as_str(), "tags/pair-programming");
        assert_eq!(t.aliases, ["Pairing"]);
        let i = t.instructions.as_ref().expect("instructions");
        assert_eq!(i.key_topics, ["driver and navigator"]);
        assert_eq!(i.exclusions, ["mob programming"]);
        assert_eq!(t.terms["categories"], ["Practices"]);
        assert!(
            !t.terms.contains_key("tags"),
            "a term never lists its own taxonomy"
        );
    }

    #[test]
    fn only_tags_and_categories_get_implicit_terms_unless_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        };
        write(
            "hugo.toml",
            "[taxonomies]\ntag = \"tags\"\nauthor = \"authors\"\n",
        );
        for i in 0..3 {
            write(
                &format!("content/p{i}.md"),
                "---\ntitle: P\ntags: [Rust]\nauthors: [Ada]\n---\nBody.\n",
            );
        }
        let site = load(dir.path(), &LoadOptions::default()).expect("load");
        let ids: Vec<String> = site.terms.iter().map(|t| t.id.to_string()).collect();
        assert_eq!(ids, vec!["tags/rust"]);
        assert!(
            site.diagnostics.iter().any(|d| d
                .message
                .contains("authors has no term pages and is not classified")),
            "{:?}",
            site.diagnostics
        );
        write(
            "taxonomist.toml",
            "[taxonomies.authors]\nimplicit_min_uses = 3\n",
        );
        let site = load(dir.path(), &LoadOptions::default()).expect("load");
        let ids: Vec<String> = site.terms.iter().map(|t| t.id.to_string()).collect();
        assert_eq!(ids, vec!["authors/ada", "tags/rust"]);
    }

    #[test]
    fn implicit_terms_from_values() {
        let mk = |tags: &[&str]| {
            let text = format!("---\ntags: [{}]\n---\n", tags.join(", "));
            parse_page(
                Path::new("a.md"),
                "a.md",
                &text,
                PageKind::Single,
                None,
                &taxes(),
            )
            .expect("page")
        };
        let pages = vec![
            mk(&["Rust", "tech notes"]),
            mk(&["rust", "Tech Notes"]),
            mk(&["Rust", "once"]),
            mk(&["tech-notes"]),
        ];
        let t = implicit_terms("tags", &pages, 3);
        let ids: Vec<&str> = t.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["tags/rust", "tags/tech-notes"]);
        assert_eq!(t[0].title, "Rust");
        assert_eq!(t[0].aliases, ["rust"]);
        assert_eq!(t[1].origin, Origin::Implicit);
        assert!(implicit_terms("tags", &pages, 4).is_empty());
    }

    #[test]
    fn term_without_instructions_warns() {
        let (t, warns) = parse_term(
            Path::new("content/tags/x.md"),
            "---\ndescription: d\n---\n",
            "tags",
            "x-ray",
            &taxes(),
        )
        .expect("term");
        assert_eq!(t.title, "X Ray");
        assert!(t.instructions.is_none());
        assert_eq!(warns.len(), 2);
        assert!(warns.iter().any(|w| w.message.contains("no Instructions")));
    }
}
