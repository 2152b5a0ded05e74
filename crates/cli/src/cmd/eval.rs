//! `taxonomist eval`: compares the embedded engine's scores with labels, and fits the
//! calibration (`--fit-calibration`).

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;

use anyhow::Context;
use taxonomist_apply::{SelectOptions, choose};
use taxonomist_embedded::calibrate::{self, Calibration, ModelSet, Pair, ZERO_SHOT_FEATURES};
use taxonomist_embedded::{Analysis, Labels, labels_from_front_matter};
use taxonomist_engine::{CollectSink, Engine, scorable_terms};
use taxonomist_model::{Score, Site, TermId};
use taxonomist_report::{Eval, PageEval, evaluate_taxonomy};

use crate::Exit;
use crate::args::{EvalArgs, Format, Global};
use crate::cmd::Ctx;
use crate::engines;
use crate::output;
use crate::progress::Bars;

/// Labels plus what could not be used.
pub struct LoadedLabels {
    /// `(page, term, score)`.
    pub labels: Labels,
    /// Label keys with no page.
    pub unmatched_pages: Vec<String>,
    /// Titles no term defines, with counts.
    pub unmapped_titles: BTreeMap<String, usize>,
}

fn page_index(site: &Site) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for (i, p) in site.pages.iter().enumerate() {
        m.insert(p.rel.clone(), i);
        for suffix in ["/index.md", "/_index.md", ".md"] {
            if let Some(s) = p.rel.strip_suffix(suffix) {
                m.entry(s.to_string()).or_insert(i);
            }
        }
    }
    m
}

/// Reads a labels.json: `{page key: {"title": …, "<taxonomy>": {term title: score} | [term titles]}}`.
/// Page keys are paths relative to the content dir (a bundle folder, or a file).
pub fn labels_from_file(site: &Site, text: &str) -> anyhow::Result<LoadedLabels> {
    let v: serde_json::Value = serde_json::from_str(text).context("labels file is not JSON")?;
    let obj = v
        .as_object()
        .context("labels file: expected an object of pages")?;
    let index = page_index(site);
    let term_index: HashMap<&TermId, usize> = site
        .terms
        .iter()
        .enumerate()
        .map(|(i, t)| (&t.id, i))
        .collect();
    let mut triples = Vec::new();
    let mut unmatched_pages = Vec::new();
    let mut unmapped: BTreeMap<String, usize> = BTreeMap::new();
    for (key, entry) in obj {
        let Some(&p) = index.get(key.trim_end_matches('/')) else {
            unmatched_pages.push(key.clone());
            continue;
        };
        for tax in &site.taxonomies {
            let Some(val) = entry.get(&tax.name) else {
                continue;
            };
            let mut resolve = |title: &str| {
                let t = site
                    .find_term(&tax.name, title)
                    .and_then(|t| term_index.get(&t.id).copied());
                if t.is_none() {
                    *unmapped.entry(format!("{}/{title}", tax.name)).or_default() += 1;
                }
                t
            };
            match val {
                serde_json::Value::Object(m) => {
                    for (title, score) in m {
                        if let (Some(t), Some(s)) = (resolve(title), score.as_f64()) {
                            triples.push((p, t, s as f32));
                        }
                    }
                }
                serde_json::Value::Array(a) => {
                    let listed: Vec<usize> = a
                        .iter()
                        .filter_map(|x| x.as_str())
                        .filter_map(&mut resolve)
                        .collect();
                    if listed.is_empty() {
                        continue;
                    }
                    for (t, term) in site.terms.iter().enumerate() {
                        if term.taxonomy == tax.name {
                            triples.push((p, t, if listed.contains(&t) { 100.0 } else { 0.0 }));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(LoadedLabels {
        labels: Labels::new(triples),
        unmatched_pages,
        unmapped_titles: unmapped,
    })
}

fn restrict(labels: &Labels, keep: &dyn Fn(usize) -> bool) -> Labels {
    let mut triples = Vec::new();
    for p in labels.pages() {
        if !keep(p) {
            continue;
        }
        for (t, s) in labels.of(p).into_iter().flatten() {
            triples.push((p, *t, *s));
        }
    }
    Labels::new(triples)
}

/// Training rows of one taxonomy: features, positive?, judge score.
type Rows = (Vec<Vec<f32>>, Vec<bool>, Vec<f32>);

fn fit_set(
    site: &Site,
    analyses: &[(usize, Vec<Analysis>)],
    labels: &Labels,
    threshold: f32,
    learned: bool,
    base: &ModelSet,
    only: Option<&dyn Fn(usize) -> bool>,
) -> ModelSet {
    let mut by_tax: BTreeMap<String, Rows> = BTreeMap::new();
    for (p, list) in analyses {
        if only.is_some_and(|f| !f(*p)) {
            continue;
        }
        let Some(judged) = labels.of(*p) else {
            continue;
        };
        for a in list {
            let Some(&y) = judged.get(&a.term) else {
                continue;
            };
            let tax = site.terms[a.term].taxonomy.clone();
            for key in [tax, "*".to_string()] {
                let e = by_tax.entry(key).or_default();
                e.0.push(a.x.clone());
                e.1.push(y >= threshold);
                e.2.push(y);
            }
        }
    }
    let fit_pair = |rows: &Rows, old: &Pair| {
        let zs_rows: Vec<Vec<f32>> = rows
            .0
            .iter()
            .map(|x| x[..ZERO_SHOT_FEATURES].to_vec())
            .collect();
        Pair {
            zero_shot: calibrate::fit(&zs_rows, &rows.1, &rows.2, 1.0),
            learned: if learned {
                calibrate::fit(&rows.0, &rows.1, &rows.2, 1.0)
            } else {
                old.learned.clone()
            },
        }
    };
    let enough = |rows: &Rows| rows.1.len() >= 200 && rows.1.iter().filter(|p| **p).count() >= 10;
    let default = match by_tax.get("*") {
        Some(rows) if enough(rows) => fit_pair(rows, &base.default),
        _ => base.default.clone(),
    };
    let mut taxonomies = BTreeMap::new();
    for (tax, rows) in &by_tax {
        if tax != "*" && enough(rows) {
            taxonomies.insert(tax.clone(), fit_pair(rows, base.pair(tax)));
        }
    }
    ModelSet {
        default,
        taxonomies,
    }
}

/// One JSON line per analysed pair: page, term, taxonomy, features (named), label, score.
fn dump_features(
    site: &Site,
    analyses: &[(usize, Vec<Analysis>)],
    labels: &Labels,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let mut out = String::new();
    for (p, list) in analyses {
        let judged = labels.of(*p);
        for a in list {
            let term = &site.terms[a.term];
            let row = serde_json::json!({
                "page": site.pages[*p].rel,
                "term": term.id.to_string(),
                "taxonomy": term.taxonomy,
                "features": calibrate::FEATURES,
                "x": a.x,
                "evidence": a.evidence,
                "label": judged.and_then(|j| j.get(&a.term)).copied(),
                "score": a.score.final_score,
            });
            out.push_str(&row.to_string());
            out.push('\n');
        }
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

pub fn run(ctx: &Ctx, global: &Global, args: &EvalArgs) -> anyhow::Result<Exit> {
    let site = &ctx.site;
    let loaded = match args.labels.as_str() {
        "front-matter" => LoadedLabels {
            labels: labels_from_front_matter(site, &|_| true),
            unmatched_pages: Vec::new(),
            unmapped_titles: BTreeMap::new(),
        },
        "store" => LoadedLabels {
            labels: engines::labels_from_store(site, &ctx.store)?,
            unmatched_pages: Vec::new(),
            unmapped_titles: BTreeMap::new(),
        },
        path => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading labels {path}"))?;
            labels_from_file(site, &text).with_context(|| format!("labels {path}"))?
        }
    };
    if !loaded.unmatched_pages.is_empty() {
        eprintln!(
            "warning: {} labelled pages are not in the site (first: {})",
            loaded.unmatched_pages.len(),
            loaded.unmatched_pages[0]
        );
    }
    if !loaded.unmapped_titles.is_empty() && global.verbose > 0 {
        eprintln!(
            "labels name {} titles no term defines (ignored)",
            loaded.unmapped_titles.len()
        );
    }
    let labels = restrict(&loaded.labels, &|p| {
        args.all_languages || site.pages[p].lang.is_none()
    });
    if labels.is_empty() {
        anyhow::bail!(
            "no usable labels: no labelled page matches a page of the site with a defined term"
        );
    }
    let learn_from = if args.learn {
        labels.clone()
    } else {
        Labels::default()
    };
    let built = engines::embedded(&ctx.config, site, &ctx.store, &args.flags, Some(learn_from))?;
    let engine = built.engine;
    let pages: Vec<usize> = labels.pages().collect();
    let mut sink = CollectSink::default();
    let prepared = {
        let mut bars = Bars::new(&mut sink, !global.no_progress);
        engine.prepare(site, &pages, &mut bars)?
    };
    let learner = engine.learner(site, &prepared);
    let terms = scorable_terms(site);
    let mut analyses: Vec<(usize, Vec<Analysis>)> = Vec::new();
    for &p in &pages {
        analyses.push((
            p,
            engine.analyze(site, &prepared, learner.as_ref(), p, &terms)?,
        ));
    }
    let family = calibrate::family(&engine.id().model).to_string();
    if let Some(path) = &args.dump_features {
        dump_features(site, &analyses, &labels, path)?;
    }

    // Fitting, and cross-validated finals.
    let mut finals: HashMap<(usize, usize), f32> = HashMap::new();
    if let Some(out) = &args.fit_calibration {
        let mut cal = match std::fs::read_to_string(out) {
            Ok(t) => serde_json::from_str::<Calibration>(&t)
                .with_context(|| format!("{} is not a calibration file", out.display()))?,
            Err(_) => Calibration::builtin(),
        };
        let base = cal.models(&family).cloned().context("no base models")?;
        if let Some(k) = args.cv.filter(|k| *k >= 2) {
            for fold in 0..k {
                let train = |p: usize| {
                    pages
                        .iter()
                        .position(|&q| q == p)
                        .is_some_and(|i| i % k != fold)
                };
                let set = fit_set(
                    site,
                    &analyses,
                    &labels,
                    args.threshold,
                    args.learn,
                    &base,
                    Some(&train),
                );
                for (i, (p, list)) in analyses.iter().enumerate() {
                    if i % k != fold {
                        continue;
                    }
                    for a in list {
                        let pair = set.pair(&site.terms[a.term].taxonomy);
                        finals.insert((*p, a.term), cal.final_score(pair, &a.x, a.evidence));
                    }
                }
            }
        }
        let set = fit_set(
            site,
            &analyses,
            &labels,
            args.threshold,
            args.learn,
            &base,
            None,
        );
        if args.cv.is_none() {
            for (p, list) in &analyses {
                for a in list {
                    finals.insert(
                        (*p, a.term),
                        cal.final_score(set.pair(&site.terms[a.term].taxonomy), &a.x, a.evidence),
                    );
                }
            }
        }
        cal.families.insert(family.clone(), set);
        cal.version = args.calibration_version.clone();
        let text = serde_json::to_string_pretty(&cal)? + "\n";
        std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
        eprintln!(
            "wrote the {family} calibration ({}) to {}",
            cal.version,
            out.display()
        );
    }

    // Metrics.
    let mut per_tax: BTreeMap<String, Vec<PageEval>> = BTreeMap::new();
    for (p, list) in &analyses {
        let page = &site.pages[*p];
        let judged = labels.of(*p);
        let mut scores: BTreeMap<TermId, Score> = BTreeMap::new();
        for a in list {
            let mut s = a.score.clone();
            if let Some(f) = finals.get(&(*p, a.term)) {
                s.final_score = *f;
            }
            scores.insert(s.term.clone(), s);
        }
        for tax in &site.taxonomies {
            if !args.taxonomy.is_empty() && !args.taxonomy.contains(&tax.name) {
                continue;
            }
            let mut pe = PageEval::default();
            for (t, s) in &scores {
                let Some(term) = site.term(t) else { continue };
                if term.taxonomy != tax.name {
                    continue;
                }
                pe.scores.insert(t.to_string(), s.final_score);
            }
            if pe.scores.is_empty() {
                continue;
            }
            for (t, y) in judged.into_iter().flatten() {
                if site.terms[*t].taxonomy == tax.name {
                    pe.labels.insert(site.terms[*t].id.to_string(), *y);
                }
            }
            if pe.labels.is_empty() {
                continue;
            }
            let finals: taxonomist_apply::Finals = scores
                .iter()
                .map(|(k, s)| (k.clone(), s.final_score))
                .collect();
            let c = choose(site, page, None, &finals, tax, SelectOptions::default());
            pe.selected = c.scored.iter().map(|(t, _)| t.to_string()).collect();
            per_tax.entry(tax.name.clone()).or_default().push(pe);
        }
    }
    let mode = match (args.learn, args.fit_calibration.is_some(), args.cv) {
        (true, _, _) => "leave-one-out",
        (false, _, _) => "zero-shot",
    };
    let mode = match (args.fit_calibration.is_some(), args.cv) {
        (true, Some(k)) => format!("{mode}, calibration {k}-fold cross-validated"),
        (true, None) => format!("{mode}, calibration fitted in-sample"),
        _ => mode.to_string(),
    };
    let report = Eval {
        mode,
        labels: args.labels.clone(),
        threshold: args.threshold,
        engine: format!("{} ({})", engine.id(), built.note),
        taxonomies: per_tax
            .iter()
            .map(|(k, v)| (k.clone(), evaluate_taxonomy(v, args.threshold)))
            .collect(),
    };
    let mut w = output::stdout();
    match global.format {
        Format::Json => report.write_json(&mut w)?,
        Format::Text | Format::Reference => {
            let order: Vec<String> = site.taxonomies.iter().map(|t| t.name.clone()).collect();
            report.write_text(&mut w, &order, args.terms)?;
            writeln!(w)?;
        }
    }
    output::finish(w)?;
    Ok(Exit::Ok)
}
