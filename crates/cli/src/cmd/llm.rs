//! `classify --engine llm|cascade`: the LLM engine alone, or the cascade (the embedded
//! engine ranks every term, the LLM judges each page's shortlist), live, as a dry run or
//! through the Batch API.
//!
//! Freshness in a cascade: a stored score is fresh when it came from the LLM or from the
//! embedded engine with matching inputs. Which pairs the LLM owes is decided by each page's
//! shortlist, kept in `.taxonomist/cascade.json` with the inputs it was computed from (page
//! content, embedded engine and term definitions, K): a shortlisted pair without a fresh
//! LLM score is work, whether it was never sent, failed, ran out of budget or was killed.
//! So a re-run finishes exactly the rest, and a run with nothing left sends no request.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use taxonomist_engine::{CollectSink, Engine, Shortlister, Work, scorable_terms};
use taxonomist_llm::{HttpApi, LlmConfig, LlmEngine, Mode, batch, engine_id, estimate, recompute};
use taxonomist_model::{EngineId, Hash, Hasher, PageId, Site, TermId};
use taxonomist_site::Config;
use taxonomist_store::{Entry, Index, PageScores, Plan, Stamp, Store, fsutil, plan_loaded_with};

use crate::Exit;
use crate::args::{BatchStep, ClassifyArgs, EngineKind, Format, Global, ModeChoice};
use crate::cmd::Ctx;
use crate::cmd::classify::{Outcome, StoreSink};
use crate::engines;
use crate::progress::Bars;

/// Default shortlist size per taxonomy.
pub const DEFAULT_SHORTLIST: usize = 20;

/// The `[llm]` table plus the flags.
pub struct Settings {
    /// The LLM engine's configuration.
    pub cfg: LlmConfig,
    /// Cascade: terms per taxonomy sent to the LLM.
    pub shortlist: usize,
}

/// Whether `taxonomist.toml` has an `[llm]` table.
pub fn configured(config: &Config) -> bool {
    config.taxonomist.as_ref().is_some_and(|t| t.llm.is_some())
}

/// The engine a run uses: `auto` is the cascade when `[llm]` is configured.
pub fn resolve(kind: EngineKind, config: &Config) -> EngineKind {
    match kind {
        EngineKind::Auto if configured(config) => EngineKind::Cascade,
        EngineKind::Auto => EngineKind::Embedded,
        k => k,
    }
}

/// The `[llm]` configuration with `mode` overridden.
pub fn llm_config(config: &Config, mode: Option<ModeChoice>) -> anyhow::Result<LlmConfig> {
    Ok(settings_with(config, mode, None)?.cfg)
}

/// Reads `[llm]` (defaults when absent) and applies the flags.
pub fn settings(config: &Config, args: &ClassifyArgs) -> anyhow::Result<Settings> {
    settings_with(config, args.llm.mode, args.llm.shortlist)
}

fn settings_with(
    config: &Config,
    mode: Option<ModeChoice>,
    shortlist_flag: Option<usize>,
) -> anyhow::Result<Settings> {
    let mut table = config
        .taxonomist
        .as_ref()
        .and_then(|t| t.llm.clone())
        .unwrap_or_default();
    let shortlist = match table.remove("shortlist") {
        None => DEFAULT_SHORTLIST,
        Some(v) => v
            .as_integer()
            .and_then(|n| usize::try_from(n).ok())
            .context("taxonomist.toml [llm] shortlist: expected a whole number")?,
    };
    let mut cfg: LlmConfig = toml::Value::Table(table)
        .try_into()
        .map_err(|e| anyhow::anyhow!("taxonomist.toml [llm]: {e}"))?;
    if let Some(m) = mode {
        cfg.mode = match m {
            ModeChoice::PerTerm => Mode::PerTerm,
            ModeChoice::MultiTerm => Mode::MultiTerm,
        };
    }
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("taxonomist.toml [llm]: {e}"))?;
    Ok(Settings {
        cfg,
        shortlist: shortlist_flag.unwrap_or(shortlist),
    })
}

/// One page's shortlist and the inputs it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ShortlistEntry {
    key: Hash,
    terms: Vec<TermId>,
}

/// `.taxonomist/cascade.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct CascadeState {
    version: u32,
    pages: BTreeMap<PageId, ShortlistEntry>,
}

const CASCADE_VERSION: u32 = 1;

impl CascadeState {
    fn path(store: &Store) -> PathBuf {
        store.root().join("cascade.json")
    }

    fn load(store: &Store) -> CascadeState {
        let path = Self::path(store);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return CascadeState::default();
        };
        match serde_json::from_str::<CascadeState>(&text) {
            Ok(s) if s.version == CASCADE_VERSION => s,
            Ok(_) => CascadeState::default(),
            Err(e) => {
                eprintln!(
                    "warning: {}: line {}: unreadable ({e}); shortlists are recomputed",
                    path.display(),
                    e.line()
                );
                CascadeState::default()
            }
        }
    }

    fn save(&self, store: &Store) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(&json!({
            "version": CASCADE_VERSION,
            "pages": self.pages,
        }))?;
        text.push('\n');
        let path = Self::path(store);
        fsutil::write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// What [`prepare`] worked out.
struct Prepared {
    plan: Plan,
    files: BTreeMap<PageId, PageScores>,
    index: Index,
    /// The pairs the LLM owes.
    work: Work,
    /// Files written while preparing (embedded scores, recomputed LLM scores).
    written: usize,
    /// Pairs the embedded engine scored (cascade).
    embedded_scored: usize,
    /// Shortlist figures (cascade).
    shortlist: Value,
    /// Which embedder, for people (cascade).
    note: String,
}

/// Plans an LLM or cascade run: which pairs are fresh, the cascade's embedded scores and
/// shortlists, and the LLM's work. Writes nothing when `dry_run`.
fn prepare(
    ctx: &Ctx,
    global: &Global,
    args: &ClassifyArgs,
    kind: EngineKind,
    settings: &Settings,
    pages: &[usize],
    dry_run: bool,
) -> anyhow::Result<Prepared> {
    let site = &ctx.site;
    let terms = scorable_terms(site);
    let llm_id = engine_id(&settings.cfg)?;
    let llm_defs: Vec<Hash> = site.terms.iter().map(|t| t.definition_hash).collect();
    let cascade = kind == EngineKind::Cascade;
    let mut embedded = if cascade {
        Some(engines::embedded(
            &ctx.config,
            site,
            &ctx.store,
            &args.flags,
            None,
        )?)
    } else {
        None
    };
    let emb_id: Option<EngineId> = embedded.as_ref().map(|e| e.engine.id());
    let emb_defs: Vec<Hash> = embedded
        .as_ref()
        .map(|e| e.engine.definition_hashes(site))
        .unwrap_or_default();

    let mut loaded = ctx.store.load_for(&|_| None)?;
    for w in &loaded.warnings {
        eprintln!("warning: {}: {}", w.path.display(), w.message);
    }
    // A formula change needs no calls: stored LLM dimensions are re-weighed here.
    let mut dirty: BTreeSet<PageId> = BTreeSet::new();
    for (pid, file) in loaded.files.iter_mut() {
        for s in file.scores.values_mut() {
            let r = recompute(s);
            if r != *s {
                *s = r;
                dirty.insert(pid.clone());
            }
        }
    }
    let force = args.force;
    let accept = |e: &EngineId, t: usize| -> (Hash, bool) {
        if !force && *e == llm_id {
            (llm_defs[t], true)
        } else if let Some(id) = emb_id.as_ref() {
            (emb_defs[t], !force && e == id)
        } else {
            (llm_defs[t], false)
        }
    };
    let plan = plan_loaded_with(site, &loaded, pages, &terms, &accept);
    let mut files = std::mem::take(&mut loaded.files);
    let mut index = std::mem::take(&mut loaded.index);
    let page_of: HashMap<&PageId, usize> = site
        .pages
        .iter()
        .enumerate()
        .map(|(i, p)| (&p.id, i))
        .collect();
    let term_of: HashMap<&TermId, usize> = site
        .terms
        .iter()
        .enumerate()
        .map(|(i, t)| (&t.id, i))
        .collect();
    let llm_fresh = |files: &BTreeMap<PageId, PageScores>, p: usize, t: usize| {
        let page = &site.pages[p];
        !force
            && files
                .get(&page.id)
                .and_then(|f| f.scores.get(&site.terms[t].id))
                .is_some_and(|s| {
                    s.engine == llm_id
                        && s.inputs.content_hash == page.content_hash
                        && s.inputs.definition_hash == llm_defs[t]
                })
    };

    let mut work = Work::default();
    let mut embedded_scored = 0;
    let mut shortlist = Value::Null;
    let mut note = String::new();
    if let (Some(emb), Some(emb_id)) = (embedded.as_mut(), emb_id.as_ref()) {
        note = emb.note.clone();
        let mut state = CascadeState::load(&ctx.store);
        let k = settings.shortlist;
        let mut common = Hasher::new("cascade-shortlist/1");
        common
            .str(&emb_id.name)
            .str(&emb_id.model)
            .str(&emb_id.version)
            .field(&(k as u64).to_le_bytes());
        for &t in &terms {
            common.str(site.terms[t].id.as_str()).field(&emb_defs[t].0);
        }
        let common = common.finish();
        let key_of = |p: usize| {
            let page = &site.pages[p];
            let mut h = Hasher::new("cascade-page/1");
            h.field(&common.0).field(&page.content_hash.0);
            // The terms a page lists join its shortlist.
            for (tax, values) in &page.terms {
                h.str(tax);
                for v in values {
                    h.str(v);
                }
            }
            h.finish()
        };
        let stale: BTreeSet<usize> = plan.stale_pages.iter().copied().collect();
        let need: Vec<usize> = pages
            .iter()
            .copied()
            .filter(|&p| {
                stale.contains(&p)
                    || state
                        .pages
                        .get(&site.pages[p].id)
                        .is_none_or(|e| e.key != key_of(p))
            })
            .collect();
        if !need.is_empty() {
            let all = Work {
                items: need.iter().map(|&p| (p, terms.clone())).collect(),
            };
            let mut collected = CollectSink::default();
            {
                let mut bars = Bars::new(&mut collected, !global.no_progress);
                emb.engine
                    .score(site, &all, &mut bars)
                    .context("ranking terms with the embedded engine")?;
            }
            let lister = Shortlister::new(site, k);
            let stale_terms: HashMap<usize, BTreeSet<usize>> = plan
                .work
                .items
                .iter()
                .map(|(p, ts)| (*p, ts.iter().copied().collect()))
                .collect();
            for &p in &need {
                let page = &site.pages[p];
                let scores = collected.scores.remove(&page.id).unwrap_or_default();
                let finals: Vec<(usize, f32)> = scores
                    .iter()
                    .filter_map(|s| term_of.get(&s.term).map(|&t| (t, s.final_score)))
                    .collect();
                let list = lister.shortlist(site, p, &finals);
                state.pages.insert(
                    page.id.clone(),
                    ShortlistEntry {
                        key: key_of(p),
                        terms: list.iter().map(|&t| site.terms[t].id.clone()).collect(),
                    },
                );
                // Stale pairs get the embedded score now; shortlisted ones are replaced by
                // the LLM's as it answers.
                if let Some(todo) = stale_terms.get(&p) {
                    let file = files.entry(page.id.clone()).or_insert_with(|| PageScores {
                        page: page.id.clone(),
                        path: page.path.to_string_lossy().replace('\\', "/"),
                        scores: BTreeMap::new(),
                    });
                    let now = taxonomist_store::now_rfc3339();
                    for mut s in scores {
                        if term_of.get(&s.term).is_some_and(|t| todo.contains(t)) {
                            if s.computed_at.is_empty() {
                                s.computed_at = now.clone();
                            }
                            file.scores.insert(s.term.clone(), s);
                            embedded_scored += 1;
                        }
                    }
                    dirty.insert(page.id.clone());
                }
            }
        }
        // The LLM's work: shortlisted pairs without a fresh LLM score.
        let mut listed = 0;
        for &p in pages {
            let Some(entry) = state.pages.get(&site.pages[p].id) else {
                continue;
            };
            listed += entry.terms.len();
            let todo: Vec<usize> = entry
                .terms
                .iter()
                .filter_map(|t| term_of.get(t).copied())
                .filter(|&t| !llm_fresh(&files, p, t))
                .collect();
            if !todo.is_empty() {
                work.items.push((p, todo));
            }
        }
        shortlist = json!({
            "k": k,
            "pairs": listed,
            "of_pairs": pages.len() * terms.len(),
        });
        if let Some(path) = &args.llm.labels {
            shortlist["recall"] = shortlist_recall(site, &state, pages, path)?;
        }
        // Shortlists of deleted pages go.
        state.pages.retain(|id, _| page_of.contains_key(id));
        if !dry_run {
            state.save(&ctx.store)?;
        }
    } else {
        work.items = plan
            .work
            .items
            .iter()
            .map(|(p, ts)| (*p, ts.clone()))
            .collect();
    }
    let mut written = 0;
    if !dry_run && !dirty.is_empty() {
        let list: Vec<&PageScores> = dirty.iter().filter_map(|p| files.get(p)).collect();
        written = ctx.store.write_pages(&list)?.iter().filter(|&&w| w).count();
        for f in list {
            if let Some(stamp) = Stamp::of(&ctx.store.page_path(&f.page)) {
                index.pages.insert(f.page.clone(), Entry::of(f, stamp));
            }
        }
    }
    Ok(Prepared {
        plan,
        files,
        index,
        work,
        written,
        embedded_scored,
        shortlist,
        note,
    })
}

/// Recall of the labels' positives (score ≥ 80) by the shortlists, per taxonomy.
fn shortlist_recall(
    site: &Site,
    state: &CascadeState,
    pages: &[usize],
    path: &std::path::Path,
) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let labels = crate::cmd::eval::labels_from_file(site, &text)
        .with_context(|| format!("reading {}", path.display()))?
        .labels;
    let mut hit: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let want: BTreeSet<usize> = pages.iter().copied().collect();
    for p in labels.pages() {
        if !want.contains(&p) {
            continue;
        }
        let Some(entry) = state.pages.get(&site.pages[p].id) else {
            continue;
        };
        let listed: BTreeSet<&TermId> = entry.terms.iter().collect();
        for (&t, &score) in labels.of(p).into_iter().flatten() {
            if score < 80.0 {
                continue;
            }
            let term = &site.terms[t];
            let e = hit.entry(term.taxonomy.as_str()).or_default();
            e.1 += 1;
            if listed.contains(&term.id) {
                e.0 += 1;
            }
        }
    }
    let mut out = serde_json::Map::new();
    for (tax, (h, n)) in hit {
        out.insert(
            tax.to_string(),
            json!({"recall": (h as f64 / n.max(1) as f64 * 1000.0).round() / 1000.0, "positives": n}),
        );
    }
    Ok(Value::Object(out))
}

fn kind_name(kind: EngineKind) -> &'static str {
    match kind {
        EngineKind::Cascade => "cascade",
        EngineKind::Llm => "llm",
        EngineKind::Embedded => "embedded",
        EngineKind::Auto => "auto",
    }
}

/// A live LLM or cascade run: brings the scores of `pages` up to date.
pub fn update(
    ctx: &Ctx,
    global: &Global,
    args: &ClassifyArgs,
    kind: EngineKind,
    pages: Vec<usize>,
) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let site = &ctx.site;
    let _lock = ctx.store.lock("taxonomist classify")?;
    let settings = settings(&ctx.config, args)?;
    let mut prep = prepare(ctx, global, args, kind, &settings, &pages, false)?;
    // Pairs a submitted batch carries are paid for already: `--batch collect` stores them.
    let in_flight = taxonomist_llm::batch::in_flight_pairs(&ctx.store.root().join("batches"))?;
    let mut left_to_batch = 0;
    if !in_flight.is_empty() {
        for (p, terms) in &mut prep.work.items {
            let page = &site.pages[*p].id;
            let before = terms.len();
            terms.retain(|&t| !in_flight.contains(&(page.clone(), site.terms[t].id.clone())));
            left_to_batch += before - terms.len();
        }
        prep.work.items.retain(|(_, terms)| !terms.is_empty());
        if left_to_batch > 0 {
            eprintln!(
                "note: {left_to_batch} owed pairs are in batches not yet collected; \
                 `taxonomist classify --batch collect` stores them"
            );
        }
    }
    let mut engine = LlmEngine::from_env(settings.cfg.clone())?;
    let id = engine.id();
    let mut sink = StoreSink::new(&ctx.store, &mut prep.files, &mut prep.index, site);
    let result = {
        let mut bars = Bars::new(&mut sink, !global.no_progress);
        engine.score(site, &prep.work, &mut bars)
    };
    sink.flush();
    let store_error = sink.error.take();
    let (scored, written, failures) = (
        sink.scored,
        sink.written,
        std::mem::take(&mut sink.failures),
    );
    drop(sink);
    let pruned = if args.prune && store_error.is_none() {
        crate::cmd::classify::prune(ctx, &prep.plan, &mut prep.files, &mut prep.index)?
    } else {
        0
    };
    ctx.store.save_index(&prep.index)?;
    if let Some(e) = store_error {
        return Err(e.into());
    }
    result.context("scoring with the LLM")?;
    let report = engine.last_report().cloned().unwrap_or_default();
    let finals = prep
        .index
        .pages
        .iter()
        .map(|(k, e)| (k.clone(), e.finals.clone()))
        .collect();
    Ok(Outcome {
        plan: prep.plan,
        scored: scored + prep.embedded_scored,
        written: written + prep.written,
        failures,
        engine: format!("{} ({id})", kind_name(kind)),
        note: prep.note,
        seconds: start.elapsed().as_secs_f64(),
        pruned,
        finals,
        llm: Some(json!({
            "engine": id.to_string(),
            "llm_pairs": prep.work.pairs(),
            "left_to_batch": left_to_batch,
            "llm_scored": scored,
            "embedded_scored": prep.embedded_scored,
            "shortlist": prep.shortlist,
            "report": report,
        })),
    })
}

fn print(global: &Global, v: &Value, text: &[String]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut w = crate::output::stdout();
    match global.format {
        Format::Json => writeln!(w, "{v}")?,
        _ => {
            for l in text {
                writeln!(w, "{l}")?;
            }
        }
    }
    crate::output::finish(w)?;
    Ok(())
}

/// `--dry-run` and `--batch`: plan, then estimate or talk to the Batch API.
pub fn run_special(
    ctx: &Ctx,
    global: &Global,
    args: &ClassifyArgs,
    kind: EngineKind,
    pages: Vec<usize>,
) -> anyhow::Result<Exit> {
    let site = &ctx.site;
    let settings = settings(&ctx.config, args)?;
    if args.llm.dry_run {
        let prep = prepare(ctx, global, args, kind, &settings, &pages, true)?;
        let est = estimate(site, &prep.work, &settings.cfg)?;
        let v = json!({
            "engine": kind_name(kind),
            "mode": settings.cfg.mode.as_str(),
            "model": settings.cfg.model,
            "pages": pages.len(),
            "terms": scorable_terms(site).len(),
            "calls": est.calls,
            "pairs": est.pairs,
            "input_tokens": est.input_tokens,
            "output_tokens": est.output_tokens,
            "cost": (est.cost * 10_000.0).round() / 10_000.0,
            "batch_cost": (est.batch_cost * 10_000.0).round() / 10_000.0,
            "truncated_pages": est.truncated_pages,
            "fresh_pairs": prep.plan.fresh_total(),
            "shortlist": prep.shortlist,
        });
        let mut text = vec![
            format!(
                "dry run: {} ({}, {}), {} pages × {} terms",
                kind_name(kind),
                settings.cfg.mode,
                settings.cfg.model,
                pages.len(),
                scorable_terms(site).len()
            ),
            format!(
                "  {} calls, {} pairs, {} input tokens, {} output tokens",
                est.calls, est.pairs, est.input_tokens, est.output_tokens
            ),
            format!(
                "  cost {:.4} live, {:.4} through the Batch API",
                est.cost, est.batch_cost
            ),
        ];
        if let Some(r) = prep.shortlist.get("recall") {
            text.push(format!("  shortlist recall of the labels: {r}"));
        }
        print(global, &v, &text)?;
        return Ok(Exit::Ok);
    }
    let state_dir = ctx.store.root().join("batches");
    let api = HttpApi::from_config(&settings.cfg)?;
    match args.llm.batch {
        Some(BatchStep::Submit) => {
            let _lock = ctx.store.lock("taxonomist classify --batch submit")?;
            let mut prep = prepare(ctx, global, args, kind, &settings, &pages, false)?;
            ctx.store.save_index(&prep.index)?;
            let report = batch::submit(site, &prep.work, &settings.cfg, &api, &state_dir)?;
            let v = json!({"step": "submit", "embedded_scored": prep.embedded_scored,
                "shortlist": std::mem::take(&mut prep.shortlist), "report": report});
            let text = vec![format!(
                "submitted {} requests ({} pairs) in {} batches; {} in flight, {} left{}",
                report.requests,
                report.pairs,
                report.submitted.len(),
                report.in_flight,
                report.left,
                report
                    .stopped_by
                    .as_deref()
                    .map(|s| format!(" (stopped by {s})"))
                    .unwrap_or_default()
            )];
            print(global, &v, &text)?;
            Ok(Exit::Ok)
        }
        Some(BatchStep::Status) => {
            let report = batch::status(&state_dir, &api)?;
            let mut text = vec![format!(
                "{} running, {} ready to collect, {} unsubmitted, {} pairs re-queued",
                report.running, report.ready, report.unsubmitted, report.requeued
            )];
            for b in &report.batches {
                text.push(format!("  {}", serde_json::to_string(b)?));
            }
            print(global, &json!({"step": "status", "report": report}), &text)?;
            Ok(Exit::Ok)
        }
        Some(BatchStep::Collect) => {
            let _lock = ctx.store.lock("taxonomist classify --batch collect")?;
            let mut loaded = ctx.store.load_for(&|_| None)?;
            for w in &loaded.warnings {
                eprintln!("warning: {}: {}", w.path.display(), w.message);
            }
            let mut files = std::mem::take(&mut loaded.files);
            let mut index = std::mem::take(&mut loaded.index);
            let mut sink = StoreSink::new(&ctx.store, &mut files, &mut index, site);
            let result = batch::collect(site, &state_dir, &api, &mut sink);
            sink.flush();
            let store_error = sink.error.take();
            let failures = std::mem::take(&mut sink.failures);
            drop(sink);
            ctx.store.save_index(&index)?;
            if let Some(e) = store_error {
                return Err(e.into());
            }
            let report = result?;
            let mut text = vec![format!(
                "collected {} batches: {} pairs scored, {} re-queued, {} dropped, {} batches pending",
                report.collected.len(),
                report.scored,
                report.requeued,
                report.dropped,
                report.pending
            )];
            for (p, t, why) in &failures {
                text.push(format!("  failed {p} × {t}: {why}"));
            }
            let v = json!({"step": "collect", "report": report,
                "failed": failures.iter().map(|(p, t, r)| json!({"page": p, "term": t, "reason": r})).collect::<Vec<_>>()});
            print(global, &v, &text)?;
            Ok(Exit::Ok)
        }
        None => unreachable!("run_special is called for --dry-run or --batch"),
    }
}
