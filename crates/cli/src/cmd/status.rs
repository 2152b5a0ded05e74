//! `taxonomist status`: what the store holds, what is stale and why, without scoring.

use std::collections::BTreeMap;
use std::io::Write as _;

use serde_json::json;
use taxonomist_engine::scorable_terms;

use crate::Exit;
use crate::args::{Format, Global, StatusArgs};
use crate::cmd::Ctx;
use crate::output;

pub fn run(ctx: &Ctx, global: &Global, args: &StatusArgs) -> anyhow::Result<Exit> {
    let site = &ctx.site;
    let terms = scorable_terms(site);
    let pages: Vec<usize> = (0..site.pages.len()).collect();
    let crate::cmd::fresh::Freshness {
        plan,
        loaded,
        engine: id,
    } = crate::cmd::fresh::check(ctx, args.engine, args.mode, &args.flags, &pages)?;
    // Keep what was learned about the files for the next run.
    if !loaded.files.is_empty() && ctx.store.root().is_dir() {
        ctx.store.save_index(&loaded.index).ok();
    }
    let cache = ctx.store.cache_size();
    let mut per_tax = serde_json::Map::new();
    let mut w = output::stdout();
    if global.format == Format::Text {
        writeln!(w, "store   {}", ctx.store.root().display())?;
        writeln!(w, "engine  {id}")?;
        writeln!(
            w,
            "pages   {} ({} stored)",
            site.pages.len(),
            loaded.stored.len()
        )?;
    }
    for tax in &site.taxonomies {
        let n_terms = terms
            .iter()
            .filter(|&&t| site.terms[t].taxonomy == tax.name)
            .count();
        if n_terms == 0 {
            continue;
        }
        let fresh = plan.fresh.get(&tax.name).copied().unwrap_or(0);
        let stale: BTreeMap<&str, usize> = plan
            .stale
            .get(&tax.name)
            .map(|m| m.iter().map(|(r, n)| (r.describe(), *n)).collect())
            .unwrap_or_default();
        let missing: usize = stale
            .iter()
            .filter(|(r, _)| **r == "new page" || **r == "new term")
            .map(|(_, n)| n)
            .sum();
        let outdated: usize = stale.values().sum::<usize>() - missing;
        if global.format == Format::Text {
            let why: Vec<String> = stale.iter().map(|(r, n)| format!("{n} {r}")).collect();
            writeln!(
                w,
                "{}: {} terms · {fresh} fresh · {outdated} stale · {missing} missing{}",
                tax.name,
                n_terms,
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", why.join(", "))
                }
            )?;
        }
        per_tax.insert(
            tax.name.clone(),
            json!({"terms": n_terms, "fresh": fresh, "stale": outdated, "missing": missing, "reasons": stale}),
        );
    }
    let orphan_terms: usize = plan.orphan_terms.values().sum();
    match global.format {
        Format::Json => {
            let v = json!({
                "store": ctx.store.root().to_string_lossy(),
                "engine": id.to_string(),
                "pages": site.pages.len(),
                "stored_pages": loaded.stored.len(),
                "taxonomies": per_tax,
                "orphans": {
                    "pages": plan.orphan_pages,
                    "terms": plan.orphan_terms,
                },
                "damaged_files": loaded.warnings.iter().map(|w| w.path.to_string_lossy().into_owned()).collect::<Vec<_>>(),
                "cache_bytes": cache,
            });
            serde_json::to_writer_pretty(&mut w, &v)?;
            writeln!(w)?;
        }
        Format::Text | Format::Reference => {
            if !plan.orphan_pages.is_empty() || orphan_terms > 0 {
                writeln!(
                    w,
                    "orphans: {} pages and {} scores of deleted terms (`classify --prune` removes them)",
                    plan.orphan_pages.len(),
                    orphan_terms
                )?;
            }
            writeln!(
                w,
                "cache   {:.1} MiB of embeddings (rebuildable; safe to delete)",
                cache as f64 / 1_048_576.0
            )?;
        }
    }
    output::finish(w)?;
    Ok(if plan.stale_total() > 0 {
        Exit::Findings
    } else {
        Exit::Ok
    })
}
