//! `taxonomist explain PAGE`: the terms ranked, with final score, level and evidence.

use std::collections::BTreeMap;
use std::io::Write as _;

use serde_json::json;
use taxonomist_apply::{SelectOptions, choose};
use taxonomist_model::{Score, fmt_score, slugify};

use crate::Exit;
use crate::args::{ClassifyArgs, EngineKind, ExplainArgs, Format, Global};
use crate::cmd::{Ctx, classify, find_page};
use crate::output;

pub fn run(ctx: &Ctx, global: &Global, args: &ExplainArgs) -> anyhow::Result<Exit> {
    let site = &ctx.site;
    let Some(p) = find_page(site, &args.page) else {
        let key = slugify(&args.page);
        let near: Vec<&str> = site
            .pages
            .iter()
            .filter(|p| slugify(p.id.as_str()).contains(&key) || slugify(&p.title).contains(&key))
            .take(5)
            .map(|p| p.id.as_str())
            .collect();
        if near.is_empty() {
            anyhow::bail!(
                "no page {:?} in {} (give its id or its path)",
                args.page,
                global.site.display()
            );
        }
        anyhow::bail!("no page {:?}; did you mean: {}", args.page, near.join(", "));
    };
    if let Some(t) = &args.taxonomy
        && site.taxonomy(t).is_none()
    {
        let names: Vec<&str> = site.taxonomies.iter().map(|t| t.name.as_str()).collect();
        anyhow::bail!("no taxonomy {t:?} (this site has: {})", names.join(", "));
    }
    let classify_args = ClassifyArgs {
        only: Vec::new(),
        engine: EngineKind::Embedded,
        llm: Default::default(),
        flags: args.flags.clone(),
        force: false,
        prune: false,
        quiet: true,
    };
    let kind = crate::cmd::llm::resolve(args.engine, &ctx.config);
    let engine = if kind == EngineKind::Embedded {
        classify::update(ctx, global, &classify_args, Some(vec![p]))?.engine
    } else {
        // Never pay for an explanation, and never replace LLM scores with embedded ones:
        // explain what is stored, when it is fresh.
        let fresh = crate::cmd::fresh::check(ctx, kind, args.mode, &args.flags, &[p])?;
        if !fresh.plan.stale_pages.is_empty() {
            anyhow::bail!(
                "{}: its scores under {} are stale or missing; run `taxonomist classify` first (explain never calls the LLM)",
                site.pages[p].id,
                fresh.engine
            );
        }
        fresh.engine
    };
    let page = &site.pages[p];
    let file = ctx
        .store
        .load_page(&page.id)
        .map_err(|w| anyhow::anyhow!("{}: {}", w.path.display(), w.message))?;
    let empty = BTreeMap::new();
    let scores = file.as_ref().map_or(&empty, |f| &f.scores);
    let finals: taxonomist_apply::Finals = scores
        .iter()
        .map(|(k, s)| (k.clone(), s.final_score))
        .collect();
    let thresholds = ctx.config.thresholds;
    let mut w = output::stdout();
    let mut json_tax = serde_json::Map::new();
    if global.format == Format::Text {
        writeln!(w, "{} — {}", page.id, page.title)?;
        writeln!(w, "{}", page.path.display())?;
    }
    for tax in &site.taxonomies {
        if args.taxonomy.as_ref().is_some_and(|t| *t != tax.name)
            || site.terms_of(&tax.name).next().is_none()
        {
            continue;
        }
        let choice = choose(site, page, None, &finals, tax, SelectOptions::default());
        let mut ranked: Vec<&Score> = scores
            .values()
            .filter(|s| site.term(&s.term).is_some_and(|t| t.taxonomy == tax.name))
            .collect();
        ranked.sort_by(|a, b| {
            b.final_score.total_cmp(&a.final_score).then_with(|| {
                let ta = site.term(&a.term).map(|t| t.title.as_str()).unwrap_or("");
                let tb = site.term(&b.term).map(|t| t.title.as_str()).unwrap_or("");
                ta.cmp(tb)
            })
        });
        let total = ranked.len();
        if !args.all {
            ranked.truncate(args.top);
        }
        let listed = |title: &str| choice.current.iter().any(|c| slugify(c) == slugify(title));
        let selected = |title: &str| choice.terms.iter().any(|c| slugify(c) == slugify(title));
        let mut rows = Vec::new();
        if global.format == Format::Text {
            writeln!(
                w,
                "\n{} (policy: up to {} at ≥ {}; {} terms{}){}",
                tax.name,
                tax.policy.max,
                fmt_score(tax.policy.min_score),
                total,
                if args.all || total <= args.top {
                    String::new()
                } else {
                    format!(", top {}", args.top)
                },
                if choice.locked {
                    " — locked on this page"
                } else {
                    ""
                }
            )?;
        }
        for s in ranked {
            let Some(term) = site.term(&s.term) else {
                continue;
            };
            let level = thresholds.level(s.final_score);
            if global.format == Format::Text {
                let mark = match (selected(&term.title), listed(&term.title)) {
                    (true, true) => "✓",
                    (true, false) => "+",
                    (false, true) => "−",
                    (false, false) => " ",
                };
                writeln!(
                    w,
                    "{mark} {:>5}  {:<9}  {}",
                    fmt_score(s.final_score),
                    level.as_str(),
                    term.title
                )?;
                if !s.reason.is_empty() {
                    writeln!(w, "                    {}", s.reason)?;
                }
            }
            rows.push(json!({
                "term": term.id, "title": term.title, "final": s.final_score, "level": level.as_str(),
                "confidence": s.confidence, "lexical": s.lexical, "reason": s.reason,
                "selected": selected(&term.title), "listed": listed(&term.title),
                "engine": s.engine.to_string(),
            }));
        }
        json_tax.insert(tax.name.clone(), json!({"terms": rows, "selection": choice.terms, "current": choice.current, "locked": choice.locked}));
    }
    match global.format {
        Format::Json => {
            serde_json::to_writer_pretty(
                &mut w,
                &json!({"page": page.id, "path": page.path.to_string_lossy(), "title": page.title, "engine": engine, "taxonomies": json_tax}),
            )?;
            writeln!(w)?;
        }
        Format::Text | Format::Reference => {
            writeln!(
                w,
                "\n✓ listed and selected · + would be added · − listed, would be removed · engine {}",
                engine
            )?;
        }
    }
    output::finish(w)?;
    Ok(Exit::Ok)
}
