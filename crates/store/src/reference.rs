//! Import and export of the reference system's per-page cache files
//! (`data.index.categories.json`, `data.index.tags.json`, `data.index.classifications.json`;
//! see `reference-system.md` §1.3 and §2.3–2.4).
//!
//! # Where the files are
//! The reference kept one cache per page **bundle**, beside its `index.md` (or a section's
//! `_index.md`). Only bundle and section pages are looked up: a single-file page
//! `blog/foo.md` shares its folder with its siblings, so a cache in that folder is not its
//! own and is never attached to it. Translations (`index.fr.md`) are skipped too: the
//! folder's cache belongs to the bundle's default-language page.
//!
//! # Generations
//! Every entry is classified into one generation, from the keys it has (a key holding
//! `null` counts as absent). The first rule that matches wins:
//!
//! | generation | rule | `final_score` in the file |
//! |---|---|---|
//! | `classifications-v3` | has `resourceId` or any of `ai_intent`, `ai_audience`, `ai_signal` | `round(ai)` |
//! | `classifications-legacy` | has any of `ai_mentions`, `ai_alignment`, `ai_depth` | whatever the version that last re-scored it wrote (not checked) |
//! | `legacy-0.9/0.1` | has `calculated_at` | `round(0.9·ai + 0.1·non_ai)` |
//! | `legacy-0.7/0.3` | has reasoning (or a summary) | `round(0.7·ai + 0.3·non_ai)` |
//! | `legacy-v0` | none of the above: no reasoning, no `calculated_at` | `round(0.7·ai + 0.3·non_ai)` |
//!
//! The rules look at the entry, not at the file it is in: the reference merged the per-type
//! files into `data.index.classifications.json` (keeping the entries as they were), so the
//! legacy shapes occur in both. Rounding is half-to-even (.NET). [`ImportReport`] counts,
//! per generation, the entries whose `final_score` disagrees with the generation's formula,
//! so a wrong classification shows up.
//!
//! **`legacy-v0` entries are not judgments and are skipped** (counted as
//! `not_a_judgment`): the oldest prompt left `reasoning: null` and `ai_confidence` 0 when
//! it did not really ask the model, so importing them would teach "this term does not fit"
//! where nothing was judged. Entries of later generations with no reasoning are imported
//! with an empty reason.
//!
//! # Scales
//! Numbers may be JSON numbers or strings (`"87"`, `"87.5"`, `"87,5"`, `"87%"`); anything
//! else counts as missing. Unknown keys are ignored.
//!
//! **Dimensions.** `classifications-v3` has six dimensions on 0–10 (missing ones are 0, as
//! the reference wrote them); if any of the six is above 10 the answer was on 0–100 and all
//! six are divided by 10. `classifications-legacy` entries have three (mentions, alignment,
//! depth), on a scale decided per entry:
//! 1. all three ≤ 10 → 0–10, as they are;
//! 2. else, when they fit the weighted-points maxima of the old prompt (mentions ≤ 20,
//!    alignment ≤ 40, depth ≤ 40) and their **sum** is closer to the entry's confidence than
//!    their 20/40/40-weighted mean is → weighted points: mentions ÷ 2, alignment ÷ 4,
//!    depth ÷ 4 (each divided by its weight × 10);
//! 3. else → 0–100: each ÷ 10.
//!
//! Intent, audience and signal were not asked then; they are stored as 0 (the
//! [`Dimensions`] type has no "unknown"), so a consumer must not read them for this
//! generation (its engine version says which it is). Dimensions that are all 0 with no
//! penalty carry no information (the reference wrote 0 for "missing", and so does
//! [`export`] for scores without dimensions) and are imported as `None`.
//!
//! **Confidence** (`ai_confidence`, wanted on 0–100):
//! - above 10 → 0–100, as it is (clamped to 100);
//! - 0 < c ≤ 10 and the entry has dimensions → the candidate among `c`, `10·c` and (when
//!   c ≤ 1) `100·c` nearest (on a log scale) to the dimensions' own estimate (their mean, or
//!   their 20/40/40-weighted mean for the legacy three, × 10). A 0–10 answer (`8.2`), or a
//!   0–1 answer the reference multiplied by 10 instead of 100 (its bug: 0.82 → 8.2), is
//!   then ×10, a raw 0–1 answer ×100, and a genuinely low score stays low;
//! - 0 < c < 1 without dimensions → a 0–1 answer: ×100;
//! - otherwise as it is (the legacy files are 0–100 integers, and their `final_score`
//!   formula confirms it).
//!
//! When the confidence was rescaled, the file's `final_score` was computed from the unscaled
//! number, so it is replaced by `round(confidence)` (the current rule); otherwise the score's
//! `final_score` is the file's, clamped to 0–100 (computed with the generation's formula if
//! the file lacks it). An entry with neither a confidence nor a final score is invalid.
//!
//! # Mapping titles to terms
//! The cache is keyed by term **title**. The title (the JSON key, else the entry's
//! `category`) is matched with [`Site::find_term`] (title, alias or slug, ignoring case and
//! punctuation): in the categories taxonomy for the categories file, tags for the tags file,
//! and in every taxonomy for the classifications file (titles were one global namespace in
//! the reference). A title matching terms of two taxonomies is *ambiguous* and skipped,
//! unless exactly one of them has it as its title (not as an alias or slug). Titles that
//! match nothing (old vocabulary) are counted per title, with any term of another
//! taxonomy that has it (the legacy tags files hold many category titles).
//!
//! # What an imported score holds
//! Engine `imported:reference@<generation>`; `confidence` = the model's `ai_confidence` on
//! 0–100; `lexical` = `non_ai_confidence` (0 when absent); `final_score` as above; `reason` =
//! `reasoning_summary` when present, else `reasoning` (trimmed); `dimensions` when known;
//! `computed_at` = `calculated_at` as written (empty when absent). `inputs` are the page's
//! **current** content hash and the term's **current** definition hash: what they were
//! when the reference scored is unknowable, so an import states "valid for the site as it
//! is now"; re-importing after an edit re-stamps them.
//!
//! When two entries give the same (page, term) — the tags file and the classifications
//! file, or two titles of one term — the newer wins: by `calculated_at` when both have one
//! (compared as text, which orders the reference's `yyyy-MM-ddTHH:mm:ss`), else by
//! generation (`classifications-v3` > `classifications-legacy` > `legacy-0.9/0.1` >
//! `legacy-0.7/0.3`), else by file (classifications > tags > categories), else the first
//! read. Each loser counts as a conflict.
//!
//! Every entry read is accounted for exactly once:
//! `entries = invalid + Σ generations` and
//! `Σ generations = imported + not_a_judgment + unmappable + ambiguous + conflicts`.
//!
//! # Export
//! [`export`] writes the reference's current format for sites whose templates still read
//! it; see its documentation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};
use taxonomist_model::{
    Dimensions, EngineId, Inputs, Page, PageId, PageKind, Score, Site, Term, TermId, Thresholds,
};

use crate::{PageScores, Store, StoreError, fsutil};

/// The legacy categories cache.
pub const CATEGORIES_FILE: &str = "data.index.categories.json";
/// The legacy tags cache.
pub const TAGS_FILE: &str = "data.index.tags.json";
/// The current cache: every taxonomy, keyed by term title.
pub const CLASSIFICATIONS_FILE: &str = "data.index.classifications.json";

/// At most this many characters in an exported `reasoning_summary` (the reference's limit).
pub const SUMMARY_MAX_CHARS: usize = 500;

/// Which cache file an entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// `data.index.categories.json`: the categories taxonomy only.
    Categories,
    /// `data.index.tags.json`: the tags taxonomy only.
    Tags,
    /// `data.index.classifications.json`: any taxonomy.
    Classifications,
}

impl FileKind {
    /// All kinds, in the order they are read.
    pub const ALL: [FileKind; 3] = [
        FileKind::Categories,
        FileKind::Tags,
        FileKind::Classifications,
    ];

    /// The file name.
    pub fn file_name(self) -> &'static str {
        match self {
            FileKind::Categories => CATEGORIES_FILE,
            FileKind::Tags => TAGS_FILE,
            FileKind::Classifications => CLASSIFICATIONS_FILE,
        }
    }

    /// The short name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Categories => "categories",
            FileKind::Tags => "tags",
            FileKind::Classifications => "classifications",
        }
    }

    /// The taxonomy its titles belong to (`None`: any).
    pub fn taxonomy(self) -> Option<&'static str> {
        match self {
            FileKind::Categories => Some("categories"),
            FileKind::Tags => Some("tags"),
            FileKind::Classifications => None,
        }
    }

    fn rank(self) -> u8 {
        match self {
            FileKind::Categories => 0,
            FileKind::Tags => 1,
            FileKind::Classifications => 2,
        }
    }
}

/// The prompt and formula generation an entry was written by (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Generation {
    /// No reasoning, no `calculated_at`: not a judgment.
    LegacyV0,
    /// No `calculated_at`, has reasoning: `final = round(0.7·ai + 0.3·non_ai)`.
    Legacy73,
    /// Has `calculated_at`, no dimensions: `final = round(0.9·ai + 0.1·non_ai)`.
    Legacy91,
    /// Three dimensions on mixed scales, no `resourceId`.
    ClassificationsLegacy,
    /// The current schema: six dimensions, `final = round(ai)`.
    ClassificationsV3,
}

impl Generation {
    /// The label used in reports and as the imported score's engine version.
    pub fn as_str(self) -> &'static str {
        match self {
            Generation::LegacyV0 => "legacy-v0",
            Generation::Legacy73 => "legacy-0.7/0.3",
            Generation::Legacy91 => "legacy-0.9/0.1",
            Generation::ClassificationsLegacy => "classifications-legacy",
            Generation::ClassificationsV3 => "classifications-v3",
        }
    }

    /// Whether entries of this generation are judgments (everything but `legacy-v0`).
    pub fn is_judgment(self) -> bool {
        self != Generation::LegacyV0
    }

    /// The generation's `final_score` from the raw `ai` and `non_ai` numbers, when it has
    /// a fixed formula.
    pub fn formula(self, ai: f64, non_ai: f64) -> Option<f64> {
        match self {
            Generation::LegacyV0 | Generation::Legacy73 => {
                Some((0.7 * ai + 0.3 * non_ai).round_ties_even())
            }
            Generation::Legacy91 => Some((0.9 * ai + 0.1 * non_ai).round_ties_even()),
            Generation::ClassificationsV3 => Some(ai.round_ties_even()),
            Generation::ClassificationsLegacy => None,
        }
    }
}

/// The engine id of scores imported from entries of `generation`.
pub fn engine_id(generation: Generation) -> EngineId {
    EngineId {
        name: "imported".into(),
        model: "reference".into(),
        version: generation.as_str().into(),
    }
}

/// What to import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportOptions {
    /// The cache files to read (default: all three).
    pub files: Vec<FileKind>,
}

impl Default for ImportOptions {
    fn default() -> ImportOptions {
        ImportOptions {
            files: FileKind::ALL.to_vec(),
        }
    }
}

/// A problem with one cache file or entry; the rest still imports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportWarning {
    /// The file, relative to the site root, `/`-separated.
    pub file: String,
    /// The entry's key, when the problem is one entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What was wrong and what was done.
    pub message: String,
}

/// One title that matched no term.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UnmappableTitle {
    /// Entries with this title.
    pub count: usize,
    /// The file kinds it was found in.
    pub files: BTreeSet<FileKind>,
    /// Terms of other taxonomies with this title (the legacy per-type files hold titles
    /// of other taxonomies).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub elsewhere: BTreeSet<TermId>,
}

/// One title that matched terms of several taxonomies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AmbiguousTitle {
    /// Entries with this title.
    pub count: usize,
    /// The terms it matched.
    pub terms: BTreeSet<TermId>,
}

/// Entries not imported, per reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportSkips {
    /// `legacy-v0` entries (no reasoning): not judgments.
    pub not_a_judgment: usize,
    /// Entries whose title matched no term.
    pub unmappable: usize,
    /// Those titles, with counts.
    pub unmappable_titles: BTreeMap<String, UnmappableTitle>,
    /// Entries whose title matched terms of several taxonomies.
    pub ambiguous: usize,
    /// Those titles.
    pub ambiguous_titles: BTreeMap<String, AmbiguousTitle>,
    /// Entries that lost to a newer entry for the same (page, term).
    pub conflicts: usize,
    /// Entries that are not objects or hold no score (each has a warning).
    pub invalid: usize,
}

impl ImportSkips {
    /// All skipped entries.
    pub fn total(&self) -> usize {
        self.not_a_judgment + self.unmappable + self.ambiguous + self.conflicts + self.invalid
    }
}

/// What an import found and did (`--format json` prints it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Cache files read.
    pub files_read: usize,
    /// Cache files read, per kind.
    pub files_per_kind: BTreeMap<FileKind, usize>,
    /// Entries read (every key of every file that parsed).
    pub entries: usize,
    /// Valid entries per generation.
    pub generations: BTreeMap<&'static str, usize>,
    /// Valid entries per file kind and generation.
    pub generations_per_file: BTreeMap<FileKind, BTreeMap<&'static str, usize>>,
    /// Scores imported.
    pub imported: usize,
    /// Scores imported, per generation.
    pub imported_per_generation: BTreeMap<&'static str, usize>,
    /// Pages with at least one imported score.
    pub pages: usize,
    /// Entries not imported, and why.
    pub skipped: ImportSkips,
    /// Entries whose `final_score` disagrees with their generation's formula.
    pub final_score_mismatches: BTreeMap<&'static str, usize>,
    /// Confidences rescaled to 0–100 (`x10`, `x100`).
    pub confidence_rescaled: BTreeMap<&'static str, usize>,
    /// Scales detected for `classifications-legacy` dimensions (`0-10`, `0-100`, `points`).
    pub legacy_dimension_scales: BTreeMap<&'static str, usize>,
    /// Files and entries that could not be used.
    pub warnings: Vec<ImportWarning>,
}

/// The result of an import: the scores per page, and the report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Imported {
    /// Imported scores of each page that has any.
    pub pages: BTreeMap<PageId, PageScores>,
    /// What was found.
    pub report: ImportReport,
}

/// Reads the reference's cache files of every bundle page of `site` (see the module docs
/// for every rule). Reads files, writes nothing; never fails: unreadable files and entries
/// become warnings.
pub fn import(site: &Site, opts: &ImportOptions) -> Imported {
    let mut report = ImportReport::default();
    let mut pages = BTreeMap::new();
    let kinds: BTreeSet<FileKind> = opts.files.iter().copied().collect();
    for page in &site.pages {
        let Some(dir) = cache_dir(page) else {
            continue;
        };
        let mut best: BTreeMap<TermId, Candidate> = BTreeMap::new();
        for &kind in &kinds {
            let rel = dir.join(kind.file_name());
            let abs = site.root.join(&rel);
            let shown = slash(&rel);
            let bytes = match std::fs::read(&abs) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    if abs.exists() {
                        report.warnings.push(warning(
                            &shown,
                            None,
                            format!("cannot read: {e}; skipped"),
                        ));
                    }
                    continue;
                }
            };
            report.files_read += 1;
            *report.files_per_kind.entry(kind).or_default() += 1;
            let Some(map) = parse_file(&bytes, &shown, &mut report) else {
                continue;
            };
            for (key, value) in map {
                report.entries += 1;
                let Value::Object(obj) = value else {
                    report.skipped.invalid += 1;
                    report.warnings.push(warning(
                        &shown,
                        Some(&key),
                        format!("the entry is {}, not an object; skipped", json_type(&value)),
                    ));
                    continue;
                };
                let entry = match parse_entry(&obj) {
                    Ok(e) => e,
                    Err(why) => {
                        report.skipped.invalid += 1;
                        report.warnings.push(warning(
                            &shown,
                            Some(&key),
                            format!("{why}; skipped"),
                        ));
                        continue;
                    }
                };
                let g = entry.generation.as_str();
                *report.generations.entry(g).or_default() += 1;
                *report
                    .generations_per_file
                    .entry(kind)
                    .or_default()
                    .entry(g)
                    .or_default() += 1;
                if entry.final_mismatch {
                    *report.final_score_mismatches.entry(g).or_default() += 1;
                }
                if let Some(r) = entry.rescaled {
                    *report.confidence_rescaled.entry(r).or_default() += 1;
                }
                if let Some(s) = entry.legacy_scale {
                    *report.legacy_dimension_scales.entry(s).or_default() += 1;
                }
                if !entry.generation.is_judgment() {
                    report.skipped.not_a_judgment += 1;
                    continue;
                }
                let term = match resolve(site, kind, &key, entry.category.as_deref()) {
                    Resolution::Found(t) => t,
                    Resolution::Ambiguous(terms) => {
                        report.skipped.ambiguous += 1;
                        let a = report
                            .skipped
                            .ambiguous_titles
                            .entry(title_of(&key, &entry))
                            .or_default();
                        a.count += 1;
                        a.terms.extend(terms);
                        continue;
                    }
                    Resolution::Unmappable(elsewhere) => {
                        report.skipped.unmappable += 1;
                        let u = report
                            .skipped
                            .unmappable_titles
                            .entry(title_of(&key, &entry))
                            .or_default();
                        u.count += 1;
                        u.files.insert(kind);
                        u.elsewhere.extend(elsewhere);
                        continue;
                    }
                };
                let candidate = Candidate {
                    score: entry.to_score(page, term),
                    generation: entry.generation,
                    kind,
                };
                match best.get(&term.id) {
                    Some(old) if !candidate.newer_than(old) => {
                        report.skipped.conflicts += 1;
                    }
                    Some(_) => {
                        report.skipped.conflicts += 1;
                        best.insert(term.id.clone(), candidate);
                    }
                    None => {
                        best.insert(term.id.clone(), candidate);
                    }
                }
            }
        }
        if best.is_empty() {
            continue;
        }
        for c in best.values() {
            report.imported += 1;
            *report
                .imported_per_generation
                .entry(c.generation.as_str())
                .or_default() += 1;
        }
        let scores = best.into_iter().map(|(t, c)| (t, c.score)).collect();
        pages.insert(
            page.id.clone(),
            PageScores {
                page: page.id.clone(),
                path: slash(&page.path),
                scores,
            },
        );
    }
    report.pages = pages.len();
    Imported { pages, report }
}

/// How many page files a save wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SaveSummary {
    /// Files written (new or changed).
    pub written: usize,
    /// Files already holding these bytes, left alone.
    pub unchanged: usize,
}

/// Writes an import into the site store's imported area (`store.imported()`; pass the
/// site's store, [`Store::open`]). Each page file is written atomically and only when its
/// bytes change, so importing the same caches twice writes nothing the second time. Pages
/// imported earlier but absent now are kept (imported judgments are never deleted
/// silently). The caller holds the store's lock.
pub fn save_import(store: &Store, imported: &Imported) -> Result<SaveSummary, StoreError> {
    let target = store.imported();
    let mut summary = SaveSummary::default();
    for scores in imported.pages.values() {
        if target.write_page(scores)? {
            summary.written += 1;
        } else {
            summary.unchanged += 1;
        }
    }
    Ok(summary)
}

/// Builds the reference's current cache, `data.index.classifications.json`, for every
/// bundle page (`index.md` / `_index.md`, default language) that has scores, and returns
/// `(path, text)` pairs (path = `site.root` joined with the page's folder and the file
/// name); nothing is written here (see [`write_export`]).
///
/// The file is keyed by term **title** (all taxonomies mixed, as in the reference), keys
/// sorted, pretty-printed with a 2-space indent like `ConvertTo-Json`, one trailing
/// newline. Every number has exactly one decimal. Per entry, in sorted key order:
/// `ai_alignment`, `ai_audience`, `ai_confidence` (the score's confidence), `ai_depth`,
/// `ai_intent`, `ai_mentions`, `ai_penalties_applied`, `ai_penalty_details` (`"none"` when
/// none), `ai_penalty_points`, `ai_signal` (dimensions 0 when unknown, as the reference
/// wrote them), `calculated_at` (the score's `computed_at`), `category` (the title),
/// `final_score` (rounded half-to-even), `level`, `reasoning` (the reason),
/// `reasoning_summary` (the reason cut to at most [`SUMMARY_MAX_CHARS`] characters at a
/// word boundary, `…` appended when cut) and `resourceId` (the page id, which is the
/// page's `ItemId` / `ResourceId` / `id` when it has one).
///
/// `level` follows the **reference's** semantics, not ours: strict `>` on the given
/// thresholds (with the defaults: above 80 Primary, above 60 Secondary, above 40
/// Tertiary, else Ignored — exactly 80 is Secondary), so templates written for the
/// reference see what they used to.
///
/// Scores of terms the site no longer has are left out (they have no title). Titles are one
/// namespace in this file: when terms of two taxonomies share a title, the one with the
/// higher final score is written (ties: the smaller term id).
pub fn export(
    site: &Site,
    scores: &BTreeMap<PageId, PageScores>,
    levels: &Thresholds,
) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for page in &site.pages {
        let Some(dir) = cache_dir(page) else {
            continue;
        };
        let Some(ps) = scores.get(&page.id) else {
            continue;
        };
        let mut by_title: BTreeMap<&str, (&Term, &Score)> = BTreeMap::new();
        for (id, score) in &ps.scores {
            let Some(term) = site.term(id) else {
                continue;
            };
            match by_title.get(term.title.as_str()) {
                Some((_, old)) if old.final_score >= score.final_score => {}
                _ => {
                    by_title.insert(term.title.as_str(), (term, score));
                }
            }
        }
        if by_title.is_empty() {
            continue;
        }
        let mut text = String::from("{\n");
        let n = by_title.len();
        for (i, (title, (_, score))) in by_title.into_iter().enumerate() {
            text.push_str("  ");
            text.push_str(&json_str(title));
            text.push_str(": ");
            text.push_str(&export_entry(page, title, score, levels));
            text.push_str(if i + 1 < n { ",\n" } else { "\n" });
        }
        text.push_str("}\n");
        out.push((site.root.join(dir).join(CLASSIFICATIONS_FILE), text));
    }
    out
}

/// Writes [`export`]'s files atomically, each only when its bytes change. Returns how many
/// were written.
pub fn write_export(files: &[(PathBuf, String)]) -> Result<SaveSummary, StoreError> {
    let mut summary = SaveSummary::default();
    for (path, text) in files {
        let wrote =
            fsutil::write_atomic(path, text.as_bytes()).map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
        if wrote {
            summary.written += 1;
        } else {
            summary.unchanged += 1;
        }
    }
    Ok(summary)
}

/// The reference's level name of a final score: strict `>` on the thresholds.
pub fn reference_level(final_score: f64, levels: &Thresholds) -> &'static str {
    if final_score > f64::from(levels.primary) {
        "Primary"
    } else if final_score > f64::from(levels.secondary) {
        "Secondary"
    } else if final_score > f64::from(levels.tertiary) {
        "Tertiary"
    } else {
        "Ignored"
    }
}

/// Cuts `text` to at most `max` characters at a word boundary, appending `…` when cut.
pub fn summarize(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max || max == 0 {
        return text.to_string();
    }
    // Room for the ellipsis.
    let limit = max - 1;
    let cut_at = text
        .char_indices()
        .nth(limit)
        .map_or(text.len(), |(i, _)| i);
    let head = &text[..cut_at];
    // Cut at the last whitespace if the limit falls inside a word.
    let next_is_space = text[cut_at..]
        .chars()
        .next()
        .is_some_and(char::is_whitespace);
    let head = if next_is_space {
        head
    } else {
        match head.rfind(char::is_whitespace) {
            Some(i) if i > 0 => &head[..i],
            _ => head,
        }
    };
    let head = head.trim_end();
    let head = head.trim_end_matches([',', ';', ':', '-', '—', '–']);
    format!("{}…", head.trim_end())
}

// ------------------------------------------------------------------------------------------
// Import internals

/// The folder holding a page's caches, relative to the site root: bundles and sections
/// only, default language only.
fn cache_dir(page: &Page) -> Option<PathBuf> {
    match page.kind {
        PageKind::Bundle | PageKind::Section if page.lang.is_none() => {
            page.path.parent().map(Path::to_path_buf)
        }
        _ => None,
    }
}

fn slash(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn warning(file: &str, key: Option<&str>, message: String) -> ImportWarning {
    ImportWarning {
        file: file.to_string(),
        key: key.map(str::to_string),
        message,
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_file(bytes: &[u8], shown: &str, report: &mut ImportReport) -> Option<Map<String, Value>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            report.warnings.push(warning(
                shown,
                None,
                format!("not valid JSON ({e}); the file is skipped"),
            ));
            return None;
        }
    };
    match value {
        Value::Object(map) => Some(map),
        other => {
            report.warnings.push(warning(
                shown,
                None,
                format!(
                    "the file holds {}, not an object keyed by term title; skipped",
                    json_type(&other)
                ),
            ));
            None
        }
    }
}

/// A number, from a JSON number or a string; `None` for anything else or non-finite.
fn num(v: Option<&Value>) -> Option<f64> {
    let x = match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let s = s.trim();
            let s = s.strip_suffix('%').unwrap_or(s).trim();
            s.parse::<f64>()
                .ok()
                .or_else(|| s.replace(',', ".").parse::<f64>().ok())
        }
        _ => None,
    }?;
    x.is_finite().then_some(x)
}

/// A string field (numbers and booleans as written); `None` when missing or null.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn present(obj: &Map<String, Value>, key: &str) -> bool {
    obj.get(key).is_some_and(|v| !v.is_null())
}

fn nonblank(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// One entry, parsed and normalised.
struct Entry {
    generation: Generation,
    category: Option<String>,
    confidence: f64,
    lexical: f64,
    final_score: f64,
    reason: String,
    dimensions: Option<Dimensions>,
    computed_at: String,
    final_mismatch: bool,
    rescaled: Option<&'static str>,
    legacy_scale: Option<&'static str>,
}

impl Entry {
    fn to_score(&self, page: &Page, term: &Term) -> Score {
        Score {
            term: term.id.clone(),
            confidence: self.confidence as f32,
            lexical: self.lexical as f32,
            final_score: self.final_score as f32,
            reason: self.reason.clone(),
            dimensions: self.dimensions.clone(),
            engine: engine_id(self.generation),
            inputs: Inputs {
                content_hash: page.content_hash,
                definition_hash: term.definition_hash,
            },
            computed_at: self.computed_at.clone(),
            usage: None,
        }
    }
}

fn generation_of(obj: &Map<String, Value>, has_reason: bool) -> Generation {
    if ["resourceId", "ai_intent", "ai_audience", "ai_signal"]
        .iter()
        .any(|k| present(obj, k))
    {
        Generation::ClassificationsV3
    } else if ["ai_mentions", "ai_alignment", "ai_depth"]
        .iter()
        .any(|k| present(obj, k))
    {
        Generation::ClassificationsLegacy
    } else if present(obj, "calculated_at") {
        Generation::Legacy91
    } else if has_reason {
        Generation::Legacy73
    } else {
        Generation::LegacyV0
    }
}

/// The scale of a legacy entry's three dimensions; returns the label and the divisors.
fn legacy_scale(m: f64, a: f64, d: f64, confidence_raw: Option<f64>) -> (&'static str, [f64; 3]) {
    if m <= 10.0 && a <= 10.0 && d <= 10.0 {
        return ("0-10", [1.0, 1.0, 1.0]);
    }
    let fits_points = m <= 20.0 && a <= 40.0 && d <= 40.0;
    if fits_points {
        let sum = m + a + d;
        let weighted_mean = 0.2 * m + 0.4 * a + 0.4 * d;
        let closer_to_sum = match confidence_raw {
            // A confidence on an odd scale is brought to 0–100 roughly, only to compare.
            Some(c) if c > 0.0 => {
                let c = if c > 10.0 {
                    c
                } else if c > 1.0 {
                    c * 10.0
                } else {
                    c * 100.0
                };
                (sum - c).abs() < (weighted_mean - c).abs()
            }
            _ => true,
        };
        if closer_to_sum {
            return ("points", [2.0, 4.0, 4.0]);
        }
    }
    ("0-100", [10.0, 10.0, 10.0])
}

/// Brings a confidence to 0–100 (see the module docs); returns it and the factor applied.
fn scale_confidence(c: f64, dims_estimate: Option<f64>) -> (f64, Option<&'static str>) {
    if c <= 0.0 {
        return (0.0, None);
    }
    if c > 10.0 {
        return (c.min(100.0), None);
    }
    match dims_estimate {
        Some(d) => {
            let dist = |x: f64| ((x + 1.0) / (d + 1.0)).ln().abs();
            let mut best = (c, None, dist(c));
            let mut consider = |x: f64, label: &'static str| {
                let dx = dist(x);
                if dx < best.2 {
                    best = (x, Some(label), dx);
                }
            };
            consider(c * 10.0, "x10");
            if c <= 1.0 {
                consider(c * 100.0, "x100");
            }
            (best.0.min(100.0), best.1)
        }
        None if c < 1.0 => (c * 100.0, Some("x100")),
        None => (c, None),
    }
}

fn parse_entry(obj: &Map<String, Value>) -> Result<Entry, String> {
    let reasoning = nonblank(text(obj.get("reasoning")));
    let summary = nonblank(text(obj.get("reasoning_summary")));
    let generation = generation_of(obj, reasoning.is_some() || summary.is_some());
    let ai = num(obj.get("ai_confidence"));
    let file_final = num(obj.get("final_score"));
    if ai.is_none() && file_final.is_none() {
        return Err("no usable ai_confidence or final_score".to_string());
    }
    let non_ai = num(obj.get("non_ai_confidence"));
    let dim = |k: &str| num(obj.get(k)).unwrap_or(0.0).max(0.0);

    // Dimensions, normalised to 0–10, and their own estimate of the confidence (0–100).
    let mut legacy_label = None;
    let (dimensions, estimate) = match generation {
        Generation::ClassificationsV3 => {
            let mut six = [
                dim("ai_mentions"),
                dim("ai_alignment"),
                dim("ai_depth"),
                dim("ai_intent"),
                dim("ai_audience"),
                dim("ai_signal"),
            ];
            if six.iter().any(|&x| x > 10.0) {
                for x in &mut six {
                    *x /= 10.0;
                }
            }
            let six = six.map(|x| x.clamp(0.0, 10.0));
            let estimate = six.iter().sum::<f64>() / 6.0 * 10.0;
            let details = nonblank(text(obj.get("ai_penalty_details")))
                .filter(|d| !d.eq_ignore_ascii_case("none"))
                .unwrap_or_default();
            let dims = Dimensions {
                mentions: six[0] as f32,
                alignment: six[1] as f32,
                depth: six[2] as f32,
                intent: six[3] as f32,
                audience: six[4] as f32,
                signal: six[5] as f32,
                penalty_points: num(obj.get("ai_penalty_points")).unwrap_or(0.0).max(0.0) as f32,
                penalty_details: details,
            };
            (Some(dims), Some(estimate))
        }
        Generation::ClassificationsLegacy => {
            let (m, a, d) = (dim("ai_mentions"), dim("ai_alignment"), dim("ai_depth"));
            let (label, div) = legacy_scale(m, a, d, ai);
            legacy_label = Some(label);
            let (m, a, d) = (
                (m / div[0]).clamp(0.0, 10.0),
                (a / div[1]).clamp(0.0, 10.0),
                (d / div[2]).clamp(0.0, 10.0),
            );
            let estimate = (0.2 * m + 0.4 * a + 0.4 * d) * 10.0;
            let dims = Dimensions {
                mentions: m as f32,
                alignment: a as f32,
                depth: d as f32,
                ..Dimensions::default()
            };
            (Some(dims), Some(estimate))
        }
        _ => (None, None),
    };
    let dimensions = dimensions.filter(|d| {
        [
            d.mentions,
            d.alignment,
            d.depth,
            d.intent,
            d.audience,
            d.signal,
            d.penalty_points,
        ]
        .iter()
        .any(|&x| x != 0.0)
            || !d.penalty_details.is_empty()
    });

    let (confidence, rescaled) = match ai {
        Some(c) => scale_confidence(c, estimate),
        None => (0.0, None),
    };
    let formula = ai.and_then(|c| generation.formula(c, non_ai.unwrap_or(0.0)));
    let final_mismatch =
        matches!((file_final, formula), (Some(f), Some(e)) if (f - e).abs() > 1e-6);
    let final_score = if rescaled.is_some() {
        confidence.round_ties_even()
    } else {
        match (file_final, formula) {
            (Some(f), _) => f,
            (None, Some(e)) => e,
            (None, None) => confidence.round_ties_even(),
        }
    }
    .clamp(0.0, 100.0);

    Ok(Entry {
        generation,
        category: nonblank(text(obj.get("category"))),
        confidence,
        lexical: non_ai.unwrap_or(0.0).clamp(0.0, 100.0),
        final_score,
        reason: summary.or(reasoning).unwrap_or_default(),
        dimensions,
        computed_at: text(obj.get("calculated_at"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        final_mismatch,
        rescaled,
        legacy_scale: legacy_label,
    })
}

fn title_of(key: &str, entry: &Entry) -> String {
    if key.trim().is_empty() {
        entry.category.clone().unwrap_or_default()
    } else {
        key.to_string()
    }
}

enum Resolution<'a> {
    Found(&'a Term),
    Ambiguous(Vec<TermId>),
    /// With the terms of other taxonomies that have the title.
    Unmappable(Vec<TermId>),
}

fn resolve<'a>(
    site: &'a Site,
    kind: FileKind,
    key: &str,
    category: Option<&str>,
) -> Resolution<'a> {
    let mut names: Vec<&str> = Vec::new();
    for n in [Some(key), category].into_iter().flatten() {
        let n = n.trim();
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    }
    let mut ambiguous = None;
    for name in &names {
        match kind.taxonomy() {
            Some(tax) => {
                if let Some(t) = site.find_term(tax, name) {
                    return Resolution::Found(t);
                }
            }
            None => {
                let found: Vec<&Term> = site
                    .taxonomies
                    .iter()
                    .filter_map(|t| site.find_term(&t.name, name))
                    .collect();
                match found.len() {
                    0 => {}
                    1 => return Resolution::Found(found[0]),
                    _ => {
                        let key = taxonomist_model::slugify(name);
                        let exact: Vec<&&Term> = found
                            .iter()
                            .filter(|t| taxonomist_model::slugify(&t.title) == key)
                            .collect();
                        if let [only] = exact.as_slice() {
                            return Resolution::Found(only);
                        }
                        if ambiguous.is_none() {
                            ambiguous = Some(found.iter().map(|t| t.id.clone()).collect());
                        }
                    }
                }
            }
        }
    }
    if let Some(a) = ambiguous {
        return Resolution::Ambiguous(a);
    }
    let mut elsewhere = Vec::new();
    if let Some(tax) = kind.taxonomy() {
        for name in &names {
            for t in site.taxonomies.iter().filter(|t| t.name != tax) {
                if let Some(term) = site.find_term(&t.name, name) {
                    elsewhere.push(term.id.clone());
                }
            }
        }
    }
    Resolution::Unmappable(elsewhere)
}

struct Candidate {
    score: Score,
    generation: Generation,
    kind: FileKind,
}

impl Candidate {
    /// Whether this entry should replace `old` for the same (page, term).
    fn newer_than(&self, old: &Candidate) -> bool {
        let a = self.score.computed_at.trim_end_matches('Z');
        let b = old.score.computed_at.trim_end_matches('Z');
        if !a.is_empty() && !b.is_empty() && a != b {
            return a > b;
        }
        if self.generation != old.generation {
            return self.generation > old.generation;
        }
        self.kind.rank() > old.kind.rank()
    }
}

// ------------------------------------------------------------------------------------------
// Export internals

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// A number with exactly one decimal; never `-0.0`, never `NaN`.
fn num1(x: f64) -> String {
    if !x.is_finite() {
        return "0.0".to_string();
    }
    let r = (x * 10.0).round() / 10.0;
    let r = if r == 0.0 { 0.0 } else { r };
    format!("{r:.1}")
}

fn export_entry(page: &Page, title: &str, score: &Score, levels: &Thresholds) -> String {
    let dims = score.dimensions.clone().unwrap_or_default();
    let final_score = f64::from(score.final_score)
        .clamp(0.0, 100.0)
        .round_ties_even();
    let penalties_applied = dims.penalty_points > 0.0 || !dims.penalty_details.trim().is_empty();
    let details = if dims.penalty_details.trim().is_empty() {
        "none"
    } else {
        dims.penalty_details.trim()
    };
    let reason = score.reason.trim();
    let f = |x: f32| num1(f64::from(x));
    // Keys in sorted (byte) order.
    let fields: [(&str, String); 17] = [
        ("ai_alignment", f(dims.alignment)),
        ("ai_audience", f(dims.audience)),
        ("ai_confidence", f(score.confidence)),
        ("ai_depth", f(dims.depth)),
        ("ai_intent", f(dims.intent)),
        ("ai_mentions", f(dims.mentions)),
        ("ai_penalties_applied", penalties_applied.to_string()),
        ("ai_penalty_details", json_str(details)),
        ("ai_penalty_points", f(dims.penalty_points)),
        ("ai_signal", f(dims.signal)),
        ("calculated_at", json_str(&score.computed_at)),
        ("category", json_str(title)),
        ("final_score", num1(final_score)),
        ("level", json_str(reference_level(final_score, levels))),
        ("reasoning", json_str(reason)),
        (
            "reasoning_summary",
            json_str(&summarize(reason, SUMMARY_MAX_CHARS)),
        ),
        ("resourceId", json_str(page.id.as_str())),
    ];
    let mut out = String::from("{\n");
    for (i, (k, v)) in fields.iter().enumerate() {
        out.push_str("    \"");
        out.push_str(k);
        out.push_str("\": ");
        out.push_str(v);
        out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
    }
    out.push_str("  }");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(s: &str) -> Map<String, Value> {
        match serde_json::from_str::<Value>(s).expect("json") {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn entry(s: &str) -> Entry {
        parse_entry(&obj(s)).expect("entry")
    }

    #[test]
    fn generations_follow_the_keys() {
        let g = |s: &str| entry(s).generation;
        assert_eq!(
            g(
                r#"{"category":"A","ai_confidence":0,"non_ai_confidence":10,"final_score":3.0,"reasoning":null,"level":"Ignored"}"#
            ),
            Generation::LegacyV0
        );
        assert_eq!(
            g(r#"{"ai_confidence":80,"non_ai_confidence":0,"final_score":56.0,"reasoning":"x"}"#),
            Generation::Legacy73
        );
        assert_eq!(
            g(
                r#"{"ai_confidence":80,"final_score":72.0,"reasoning":null,"calculated_at":"2025-02-13T22:23:46"}"#
            ),
            Generation::Legacy91
        );
        assert_eq!(
            g(
                r#"{"ai_confidence":87,"ai_mentions":18,"final_score":87.0,"calculated_at":"x","reasoning":"r"}"#
            ),
            Generation::ClassificationsLegacy
        );
        assert_eq!(
            g(r#"{"resourceId":"r","ai_confidence":87,"final_score":87.0,"reasoning":"r"}"#),
            Generation::ClassificationsV3
        );
        assert_eq!(
            g(r#"{"resourceId":null,"ai_mentions":1,"ai_confidence":87,"reasoning":"r"}"#),
            Generation::ClassificationsLegacy,
            "null keys count as absent"
        );
        assert_eq!(
            g(r#"{"ai_confidence":87,"reasoning":"  ","reasoning_summary":null}"#),
            Generation::LegacyV0,
            "blank reasoning is no reasoning"
        );
    }

    #[test]
    fn formulas_round_half_to_even() {
        assert_eq!(Generation::ClassificationsV3.formula(82.5, 0.0), Some(82.0));
        assert_eq!(Generation::ClassificationsV3.formula(92.7, 0.0), Some(93.0));
        assert_eq!(Generation::Legacy73.formula(50.0, 0.0), Some(35.0));
        assert_eq!(Generation::Legacy73.formula(80.0, 0.0), Some(56.0));
        assert_eq!(Generation::Legacy91.formula(50.0, 10.0), Some(46.0));
        assert_eq!(Generation::Legacy91.formula(0.0, 10.0), Some(1.0));
        // 0.9·45 + 0.1·0 = 40.5 → 40 (even).
        assert_eq!(Generation::Legacy91.formula(45.0, 0.0), Some(40.0));
        assert_eq!(Generation::ClassificationsLegacy.formula(1.0, 1.0), None);
        let e = entry(
            r#"{"ai_confidence":50,"non_ai_confidence":0,"final_score":35.0,"reasoning":"x"}"#,
        );
        assert!(!e.final_mismatch);
        let e = entry(
            r#"{"ai_confidence":50,"non_ai_confidence":0,"final_score":45.0,"reasoning":"x"}"#,
        );
        assert!(e.final_mismatch, "0.9/0.1 value in a 0.7/0.3 entry");
    }

    #[test]
    fn numbers_may_be_strings() {
        let e = entry(
            r#"{"ai_confidence":"87.5","non_ai_confidence":"10","final_score":"88","reasoning":"x","calculated_at":"t"}"#,
        );
        assert_eq!((e.confidence, e.lexical, e.final_score), (87.5, 10.0, 88.0));
        assert_eq!(num(Some(&Value::String(" 87,5 % ".into()))), Some(87.5));
        assert_eq!(num(Some(&Value::String("high".into()))), None);
        assert_eq!(num(Some(&Value::String("NaN".into()))), None);
        assert_eq!(num(Some(&Value::Bool(true))), None);
        assert!(parse_entry(&obj(r#"{"ai_confidence":"high","reasoning":"x"}"#)).is_err());
    }

    #[test]
    fn confidence_scales() {
        // 0–100 as is.
        assert_eq!(scale_confidence(87.0, None), (87.0, None));
        assert_eq!(scale_confidence(120.0, None), (100.0, None));
        assert_eq!(scale_confidence(-3.0, None), (0.0, None));
        // 0–1 without dimensions.
        assert_eq!(scale_confidence(0.85, None), (85.0, Some("x100")));
        // Small numbers without dimensions stay (legacy 0–100 integers).
        assert_eq!(scale_confidence(5.0, None), (5.0, None));
        // A 0–10 answer whose dimensions are high.
        let (c, r) = scale_confidence(8.2, Some(85.0));
        assert!((c - 82.0).abs() < 1e-9 && r == Some("x10"), "{c} {r:?}");
        // A genuinely low confidence with low dimensions stays.
        assert_eq!(scale_confidence(6.0, Some(5.0)), (6.0, None));
        assert_eq!(scale_confidence(3.0, Some(0.0)), (3.0, None));
        // A raw 0–1 answer with dimensions.
        let (c, r) = scale_confidence(0.9, Some(88.0));
        assert!((c - 90.0).abs() < 1e-9 && r == Some("x100"), "{c} {r:?}");
    }

    #[test]
    fn rescaled_confidence_replaces_the_final_score() {
        let e = entry(
            r#"{"resourceId":"r","ai_confidence":8.2,"ai_mentions":8,"ai_alignment":9,"ai_depth":8,
                "ai_intent":9,"ai_audience":8,"ai_signal":9,"final_score":8.0,"reasoning":"x"}"#,
        );
        assert!((e.confidence - 82.0).abs() < 1e-9);
        assert_eq!(e.final_score, 82.0);
        assert_eq!(e.rescaled, Some("x10"));
    }

    #[test]
    fn legacy_dimension_scales() {
        let scale = |s: &str| {
            let e = entry(s);
            (e.legacy_scale.expect("scale"), e.dimensions.expect("dims"))
        };
        // Kanban: 10/5/3 on 0–10.
        let (l, d) = scale(
            r#"{"ai_confidence":55,"ai_mentions":10,"ai_alignment":5,"ai_depth":3,"reasoning":"x","calculated_at":"t"}"#,
        );
        assert_eq!(l, "0-10");
        assert_eq!((d.mentions, d.alignment, d.depth), (10.0, 5.0, 3.0));
        assert_eq!((d.intent, d.audience, d.signal), (0.0, 0.0, 0.0));
        // Product Management: 75/85/90 on 0–100.
        let (l, d) = scale(
            r#"{"ai_confidence":85,"ai_mentions":75,"ai_alignment":85,"ai_depth":90,"reasoning":"x","calculated_at":"t"}"#,
        );
        assert_eq!(l, "0-100");
        assert_eq!((d.mentions, d.alignment, d.depth), (7.5, 8.5, 9.0));
        // Scrum: 18/36/38 weighted points summing to about the confidence (87).
        let (l, d) = scale(
            r#"{"ai_confidence":87.0,"ai_mentions":18,"ai_alignment":36,"ai_depth":38,"non_ai_confidence":50,"final_score":87.0,"reasoning":"x","calculated_at":"t"}"#,
        );
        assert_eq!(l, "points");
        assert_eq!((d.mentions, d.alignment, d.depth), (9.0, 9.0, 9.5));
        // DevOps: 15/35/22 points, confidence 72.
        let (l, _) = scale(
            r#"{"ai_confidence":72,"ai_mentions":15,"ai_alignment":35,"ai_depth":22,"reasoning":"x"}"#,
        );
        assert_eq!(l, "points");
        // Low 0–100 dimensions that fit the points maxima but whose weighted mean is the
        // confidence: 0–100.
        let (l, d) = scale(
            r#"{"ai_confidence":29,"ai_mentions":15,"ai_alignment":30,"ai_depth":35,"reasoning":"x"}"#,
        );
        assert_eq!(l, "0-100");
        assert_eq!(d.alignment, 3.0);
    }

    #[test]
    fn v3_dimensions_and_penalties() {
        let e = entry(
            r#"{"resourceId":"5wIEg7lD_Xd","category":"Engineering Excellence","calculated_at":"2025-05-08T08:55:20",
                "ai_confidence":92.7,"ai_mentions":6.7,"ai_alignment":9.7,"ai_depth":9.4,"ai_intent":9.2,
                "ai_audience":9.1,"ai_signal":9.6,"ai_penalties_applied":false,"ai_penalty_points":0,
                "ai_penalty_details":"none","final_score":93.0,"reasoning":"long","level":"Primary",
                "reasoning_summary":"  short  "}"#,
        );
        assert_eq!(e.generation, Generation::ClassificationsV3);
        assert_eq!(e.confidence, 92.7);
        assert_eq!(e.final_score, 93.0);
        assert_eq!(e.reason, "short");
        assert_eq!(e.computed_at, "2025-05-08T08:55:20");
        let d = e.dimensions.expect("dims");
        assert_eq!((d.mentions, d.signal), (6.7, 9.6));
        assert_eq!(d.penalty_details, "");
        assert!(!e.final_mismatch);
        // All-zero dimensions carry nothing.
        let e = entry(
            r#"{"resourceId":"r","ai_confidence":0,"ai_mentions":0,"ai_alignment":0,"ai_depth":0,
                "ai_intent":0,"ai_audience":0,"ai_signal":0,"ai_penalty_details":"none","final_score":0,"reasoning":"x"}"#,
        );
        assert!(e.dimensions.is_none());
        // 0–100 dimensions in a v3 entry.
        let e = entry(
            r#"{"resourceId":"r","ai_confidence":70,"ai_mentions":60,"ai_alignment":80,"ai_depth":70,
                "ai_intent":70,"ai_audience":70,"ai_signal":70,"ai_penalty_points":"5","ai_penalty_details":"off-topic","final_score":70,"reasoning":"x"}"#,
        );
        let d = e.dimensions.expect("dims");
        assert_eq!((d.mentions, d.alignment, d.penalty_points), (6.0, 8.0, 5.0));
        assert_eq!(d.penalty_details, "off-topic");
    }

    #[test]
    fn summaries_cut_at_words() {
        assert_eq!(summarize("  short  ", 500), "short");
        let long = "word ".repeat(200);
        let s = summarize(&long, 500);
        assert!(s.chars().count() <= 500, "{}", s.chars().count());
        assert!(s.ends_with("word…"), "{s}");
        let s = summarize("alpha beta gamma", 12);
        assert_eq!(s, "alpha beta…");
        let s = summarize("alphabetagamma delta", 8);
        assert_eq!(s, "alphabe…", "one long word is cut hard");
        let s = summarize("ééééé ééééé", 8);
        assert_eq!(s, "ééééé…");
    }

    #[test]
    fn reference_levels_are_strict() {
        let t = Thresholds::default();
        assert_eq!(reference_level(80.0, &t), "Secondary");
        assert_eq!(reference_level(81.0, &t), "Primary");
        assert_eq!(reference_level(60.0, &t), "Tertiary");
        assert_eq!(reference_level(41.0, &t), "Tertiary");
        assert_eq!(reference_level(40.0, &t), "Ignored");
    }

    #[test]
    fn numbers_print_with_one_decimal() {
        assert_eq!(num1(93.0), "93.0");
        assert_eq!(num1(92.7), "92.7");
        assert_eq!(num1(f64::from(92.7f32)), "92.7");
        assert_eq!(num1(-0.01), "0.0");
        assert_eq!(num1(f64::NAN), "0.0");
    }
}
