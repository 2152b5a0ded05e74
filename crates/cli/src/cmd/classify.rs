//! `taxonomist classify`: score what is stale or missing, store it, show the selection.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use anyhow::Context;
use serde_json::json;
use taxonomist_apply::Finals;
use taxonomist_engine::{Engine, Flow, Sink, scorable_terms};
use taxonomist_model::{PageId, Score, Site, TermId, fmt_score};
use taxonomist_store::{
    Entry, Index, PageScores, PageWriter, Plan, Stamp, Store, StoreError, Written, expected_digest,
    now_rfc3339, plan_loaded,
};

use crate::Exit;
use crate::args::{ClassifyArgs, Format, Global};
use crate::cmd::{Ctx, choices, matching_pages};
use crate::engines;
use crate::output;
use crate::progress::Bars;

/// Writes each page's new scores into its store file as soon as the page is done.
pub struct StoreSink<'a> {
    store: &'a Store,
    files: &'a mut BTreeMap<PageId, PageScores>,
    index: &'a mut Index,
    paths: HashMap<PageId, String>,
    pending: Vec<Score>,
    /// Pages done but not yet written (written together, one durability barrier).
    dirty: Vec<PageId>,
    /// Writes batches of pages in the background while scoring goes on.
    writer: PageWriter,
    now: String,
    /// Pairs scored.
    pub scored: usize,
    /// Page files written (a file whose bytes did not change is not counted).
    pub written: usize,
    /// Pairs that failed, with reasons.
    pub failures: Vec<(PageId, TermId, String)>,
    /// The first store error (the run stops on it).
    pub error: Option<StoreError>,
}

impl<'a> StoreSink<'a> {
    /// A sink writing into `store`, keeping `files` (the loaded store) up to date.
    pub fn new(
        store: &'a Store,
        files: &'a mut BTreeMap<PageId, PageScores>,
        index: &'a mut Index,
        site: &Site,
    ) -> StoreSink<'a> {
        let paths = site
            .pages
            .iter()
            .map(|p| (p.id.clone(), p.path.to_string_lossy().replace('\\', "/")))
            .collect();
        StoreSink {
            store,
            files,
            index,
            paths,
            pending: Vec::new(),
            dirty: Vec::new(),
            writer: PageWriter::new(),
            now: now_rfc3339(),
            scored: 0,
            written: 0,
            failures: Vec::new(),
            error: None,
        }
    }
}

impl Sink for StoreSink<'_> {
    fn score(&mut self, _page: &PageId, mut score: Score) -> Flow {
        if score.computed_at.is_empty() {
            score.computed_at = self.now.clone();
        }
        self.pending.push(score);
        self.scored += 1;
        Flow::Continue
    }

    fn failed(&mut self, page: &PageId, term: &TermId, reason: &str) -> Flow {
        self.failures
            .push((page.clone(), term.clone(), reason.to_string()));
        Flow::Continue
    }

    fn page_done(&mut self, page: &PageId) -> Flow {
        let path = self.paths.get(page).cloned().unwrap_or_default();
        let file = self
            .files
            .entry(page.clone())
            .or_insert_with(|| PageScores {
                page: page.clone(),
                path: path.clone(),
                scores: BTreeMap::new(),
            });
        file.path = path;
        for s in self.pending.drain(..) {
            file.scores.insert(s.term.clone(), s);
        }
        self.dirty.push(page.clone());
        if self.dirty.len() >= FLUSH_PAGES {
            self.submit();
        }
        if self.error.is_some() {
            return Flow::Stop;
        }
        Flow::Continue
    }
}

/// Pages written together: bounds the work a killed run loses and the memory held.
const FLUSH_PAGES: usize = 256;

impl StoreSink<'_> {
    /// Hands the pages done so far to the background writer.
    fn submit(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        let files: Vec<&PageScores> = dirty.iter().filter_map(|p| self.files.get(p)).collect();
        let done = self.writer.submit(self.store, &files);
        self.absorb(done);
    }

    /// Records written batches: counts, index entries, the first error.
    fn absorb(&mut self, done: Vec<Written>) {
        for w in done {
            match w.result {
                Ok(flags) => self.written += flags.iter().filter(|&&x| x).count(),
                Err(e) => {
                    self.error.get_or_insert(e);
                    continue;
                }
            }
            for page in &w.pages {
                if let (Some(file), Some(stamp)) =
                    (self.files.get(page), Stamp::of(&self.store.page_path(page)))
                {
                    self.index
                        .pages
                        .insert(page.clone(), Entry::of(file, stamp));
                }
            }
        }
    }

    /// Writes the pages done so far and waits for every write. Must be called once scoring
    /// ends (`Drop` does it too, but cannot report an error).
    pub fn flush(&mut self) -> Flow {
        self.submit();
        let done = self.writer.finish();
        self.absorb(done);
        if self.error.is_some() {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

impl Drop for StoreSink<'_> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// What a classify run did.
pub struct Outcome {
    /// The plan it ran.
    pub plan: Plan,
    /// Pairs scored.
    pub scored: usize,
    /// Files written.
    pub written: usize,
    /// Failed pairs.
    pub failures: Vec<(PageId, TermId, String)>,
    /// The engine, for people.
    pub engine: String,
    /// Which embedder and why.
    pub note: String,
    /// Wall time.
    pub seconds: f64,
    /// Orphans removed (with `--prune`).
    pub pruned: usize,
    /// Final scores of every stored page after the run.
    pub finals: BTreeMap<PageId, Finals>,
    /// LLM and cascade runs: what the LLM did.
    pub llm: Option<serde_json::Value>,
}

/// Stored scores from another engine than the embedded one (the LLM's, paid for) that
/// `work` is about to replace.
fn llm_scores_replaced(
    site: &Site,
    files: &BTreeMap<PageId, PageScores>,
    work: &taxonomist_engine::Work,
) -> usize {
    work.items
        .iter()
        .filter_map(|(p, terms)| files.get(&site.pages[*p].id).map(|f| (f, terms)))
        .map(|(f, terms)| {
            terms
                .iter()
                .filter(|&&t| {
                    f.scores
                        .get(&site.terms[t].id)
                        .is_some_and(|s| s.engine.name != "embedded")
                })
                .count()
        })
        .sum()
}

/// Brings the scores of `pages` up to date (all pages when `None`).
pub fn update(
    ctx: &Ctx,
    global: &Global,
    args: &ClassifyArgs,
    pages: Option<Vec<usize>>,
) -> anyhow::Result<Outcome> {
    let kind = crate::cmd::llm::resolve(args.engine, &ctx.config);
    if kind != crate::args::EngineKind::Embedded {
        let pages = pages.unwrap_or_else(|| (0..ctx.site.pages.len()).collect());
        return crate::cmd::llm::update(ctx, global, args, kind, pages);
    }
    let start = Instant::now();
    let site = &ctx.site;
    let _lock = ctx.store.lock("taxonomist classify")?;
    let built = engines::embedded(&ctx.config, site, &ctx.store, &args.flags, None)?;
    let mut engine = built.engine;
    let id = engine.id();
    let def_hashes = engine.definition_hashes(site);
    let terms = scorable_terms(site);
    let pages: Vec<usize> = pages.unwrap_or_else(|| (0..site.pages.len()).collect());
    let force = args.force;
    let page_index: HashMap<&PageId, usize> = site
        .pages
        .iter()
        .enumerate()
        .map(|(i, p)| (&p.id, i))
        .collect();
    let mut loaded = ctx.store.load_for(&|pid| {
        if force {
            return None;
        }
        page_index
            .get(pid)
            .map(|&p| expected_digest(site, p, &terms, &def_hashes, &id))
    })?;
    for w in &loaded.warnings {
        eprintln!("warning: {}: {}", w.path.display(), w.message);
    }
    let p = plan_loaded(site, &loaded, &pages, &terms, &def_hashes, &|e| {
        !force && *e == id
    });
    let mut files = std::mem::take(&mut loaded.files);
    let mut index = std::mem::take(&mut loaded.index);
    // Pages about to be scored need their stored file (its fresh scores are kept).
    for &pi in &p.stale_pages {
        let pid = &site.pages[pi].id;
        if !files.contains_key(pid)
            && let Ok(Some(f)) = ctx.store.load_page(pid)
        {
            files.insert(pid.clone(), f);
        }
    }
    let replaced = llm_scores_replaced(site, &files, &p.work);
    if replaced > 0 {
        eprintln!(
            "warning: replacing {replaced} LLM scores with embedded ones (`--engine embedded`); \
             the cascade (`classify` with `[llm]` configured) keeps them"
        );
    }
    let mut sink = StoreSink::new(&ctx.store, &mut files, &mut index, site);
    {
        let mut bars = Bars::new(&mut sink, !global.no_progress);
        engine.score(site, &p.work, &mut bars).context("scoring")?;
    }
    sink.flush();
    if let Some(e) = sink.error.take() {
        drop(sink);
        ctx.store.save_index(&index)?;
        return Err(e.into());
    }
    let (scored, written, failures) = (
        sink.scored,
        sink.written,
        std::mem::take(&mut sink.failures),
    );
    drop(sink);
    let pruned = if args.prune {
        prune(ctx, &p, &mut files, &mut index)?
    } else {
        0
    };
    ctx.store.save_index(&index)?;
    let finals = index
        .pages
        .iter()
        .map(|(k, e)| (k.clone(), e.finals.clone()))
        .collect();
    Ok(Outcome {
        plan: p,
        scored,
        written,
        failures,
        engine: id.to_string(),
        note: built.note,
        seconds: start.elapsed().as_secs_f64(),
        pruned,
        finals,
        llm: None,
    })
}

/// Removes stored scores of deleted pages (their files) and deleted terms (from the files
/// that were read: a file holding a deleted term cannot have been proven fresh by the
/// index, its digest differs). Returns how many scores went.
pub fn prune(
    ctx: &Ctx,
    plan: &Plan,
    files: &mut BTreeMap<PageId, PageScores>,
    index: &mut Index,
) -> anyhow::Result<usize> {
    let mut pruned = 0;
    for orphan in &plan.orphan_pages {
        files.remove(orphan);
        if ctx.store.remove_page(orphan)? {
            index.pages.remove(orphan);
            pruned += 1;
        }
    }
    let live: std::collections::BTreeSet<&TermId> = ctx.site.terms.iter().map(|t| &t.id).collect();
    for (pid, file) in files.iter_mut() {
        let before = file.scores.len();
        file.scores.retain(|t, _| live.contains(t));
        if file.scores.len() != before {
            pruned += before - file.scores.len();
            ctx.store.write_page(file)?;
            if let Some(stamp) = Stamp::of(&ctx.store.page_path(pid)) {
                index.pages.insert(pid.clone(), Entry::of(file, stamp));
            }
        }
    }
    Ok(pruned)
}

pub fn run(ctx: &Ctx, global: &Global, args: &ClassifyArgs) -> anyhow::Result<Exit> {
    let site = &ctx.site;
    let pages = if args.only.is_empty() {
        None
    } else {
        Some(matching_pages(site, &args.only)?)
    };
    let shown: Vec<usize> = pages
        .clone()
        .unwrap_or_else(|| (0..site.pages.len()).collect());
    let kind = crate::cmd::llm::resolve(args.engine, &ctx.config);
    if kind != crate::args::EngineKind::Embedded && (args.llm.dry_run || args.llm.batch.is_some()) {
        return crate::cmd::llm::run_special(ctx, global, args, kind, shown);
    }
    anyhow::ensure!(
        !args.llm.dry_run && args.llm.batch.is_none(),
        "--dry-run and --batch are for the LLM engine (--engine llm or cascade)"
    );
    let out = update(ctx, global, args, pages)?;
    let thresholds = ctx.config.thresholds;
    let section = crate::settings::ApplySection::from_config(&ctx.config)?;
    let mut w = output::stdout();
    let mut json_pages = Vec::new();
    // `-q` in text mode prints only the summary: no choices to compute.
    let listing = global.format == Format::Json || !args.quiet;
    for &p in shown.iter().filter(|_| listing) {
        let page = &site.pages[p];
        let empty = BTreeMap::new();
        let scores = out.finals.get(&page.id).unwrap_or(&empty);
        let mut taxes = serde_json::Map::new();
        let mut lines = Vec::new();
        for c in choices::page_choices(site, page, scores, &section, false) {
            let picked: Vec<String> = c
                .scored
                .iter()
                .filter_map(|(t, f)| {
                    site.term(t)
                        .map(|term| format!("{} ({})", term.title, fmt_score(*f)))
                })
                .collect();
            let mut shown = picked.join(", ");
            if c.fallback {
                shown = format!("{} (fallback)", c.terms.join(", "));
            }
            if c.locked {
                shown = format!("locked: {}", c.current.join(", "));
            }
            lines.push(format!(
                "  {}: {}{}",
                c.taxonomy,
                if shown.is_empty() {
                    "—".into()
                } else {
                    shown
                },
                if c.changes() { "  *" } else { "" }
            ));
            taxes.insert(
                c.taxonomy.clone(),
                json!({
                    "selected": c.scored.iter().map(|(t, f)| json!({
                        "term": t, "title": site.term(t).map(|x| x.title.clone()), "final": (f * 10.0).round() / 10.0,
                        "level": thresholds.level(*f).as_str(),
                    })).collect::<Vec<_>>(),
                    "terms": c.terms,
                    "current": c.current,
                    "locked": c.locked,
                    "fallback": c.fallback,
                    "changes": c.changes(),
                }),
            );
        }
        if global.format == Format::Text && !args.quiet {
            use std::io::Write as _;
            writeln!(w, "{}", page.id)?;
            for l in lines {
                writeln!(w, "{l}")?;
            }
        }
        json_pages.push(
            json!({"page": page.id, "path": page.path.to_string_lossy(), "taxonomies": taxes}),
        );
    }
    let reused = out.plan.fresh_total();
    let mut summary = json!({
        "pages": shown.len(),
        "terms": scorable_terms(site).len(),
        "scored": out.scored,
        "reused": reused,
        "failed": out.failures.len(),
        "files_written": out.written,
        "orphan_pages": out.plan.orphan_pages.len(),
        "orphan_terms": out.plan.orphan_terms.len(),
        "pruned": out.pruned,
        "engine": out.engine,
        "embedder": out.note,
        "seconds": (out.seconds * 100.0).round() / 100.0,
    });
    if let Some(l) = &out.llm {
        summary["llm"] = l.clone();
    }
    use std::io::Write as _;
    match global.format {
        Format::Json => {
            serde_json::to_writer_pretty(
                &mut w,
                &json!({"pages": json_pages, "summary": summary}),
            )?;
            writeln!(w)?;
        }
        Format::Text | Format::Reference => {
            let stale: Vec<String> = out
                .plan
                .stale
                .values()
                .flat_map(|m| m.iter())
                .fold(BTreeMap::new(), |mut acc: BTreeMap<&str, usize>, (r, n)| {
                    *acc.entry(r.describe()).or_default() += n;
                    acc
                })
                .into_iter()
                .map(|(r, n)| format!("{n} {r}"))
                .collect();
            writeln!(
                w,
                "\nclassified {} pages × {} terms: {} pairs scored{}, {} reused, {} files written in {:.1} s",
                shown.len(),
                scorable_terms(site).len(),
                out.scored,
                if stale.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", stale.join(", "))
                },
                reused,
                out.written,
                out.seconds
            )?;
            writeln!(w, "engine {} · embedder {}", out.engine, out.note)?;
            if let Some(l) = &out.llm {
                let r = &l["report"];
                writeln!(
                    w,
                    "llm: {} pairs owed, {} scored, {} requests, {} tokens in, {} out, cost {}{}{}",
                    l["llm_pairs"],
                    l["llm_scored"],
                    r["requests"],
                    r["usage"]["input_tokens"],
                    r["usage"]["output_tokens"],
                    r["usage"]["cost"],
                    r["budget"]["stopped_by"]
                        .as_object()
                        .map(|_| format!(
                            "; stopped by the budget ({}), {} pairs left for the next run",
                            r["budget"]["stopped_by"], r["budget"]["pairs_left"]
                        ))
                        .unwrap_or_default(),
                    r["fatal"]
                        .as_str()
                        .map(|f| format!("; stopped: {f}"))
                        .unwrap_or_default()
                )?;
            }
            if !out.plan.orphan_pages.is_empty() || !out.plan.orphan_terms.is_empty() {
                writeln!(
                    w,
                    "store: {} scores of deleted pages and {} of deleted terms{}",
                    out.plan.orphan_pages.len(),
                    out.plan.orphan_terms.values().sum::<usize>(),
                    if args.prune {
                        " pruned"
                    } else {
                        " (run with --prune to remove them)"
                    }
                )?;
            }
        }
    }
    output::finish(w)?;
    for (p, t, why) in &out.failures {
        eprintln!("failed: {p} × {t}: {why}");
    }
    Ok(if out.failures.is_empty() {
        Exit::Ok
    } else {
        Exit::Findings
    })
}
