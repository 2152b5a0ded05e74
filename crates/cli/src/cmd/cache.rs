//! `taxonomist cache import|export`: the reference system's per-page caches.

use std::io::Write as _;

use anyhow::Context;
use taxonomist_store::reference::{self, ImportOptions};

use crate::Exit;
use crate::args::{CacheArgs, CacheCommand, Format, Global};
use crate::cmd::Ctx;
use crate::output;

pub fn run(ctx: &Ctx, global: &Global, args: &CacheArgs) -> anyhow::Result<Exit> {
    let site = &ctx.site;
    match &args.command {
        CacheCommand::Import => {
            let _lock = ctx.store.lock("taxonomist cache import")?;
            let imported = reference::import(site, &ImportOptions::default());
            let saved =
                reference::save_import(&ctx.store, &imported).context("saving imported scores")?;
            let r = &imported.report;
            let mut w = output::stdout();
            match global.format {
                Format::Json => {
                    let v = serde_json::json!({"report": r, "written": saved.written, "unchanged": saved.unchanged,
                        "store": ctx.store.imported().root().to_string_lossy()});
                    serde_json::to_writer_pretty(&mut w, &v)?;
                    writeln!(w)?;
                }
                _ => {
                    writeln!(
                        w,
                        "read {} cache files, {} entries",
                        r.files_read, r.entries
                    )?;
                    for (generation, n) in &r.generations {
                        let got = r
                            .imported_per_generation
                            .get(generation)
                            .copied()
                            .unwrap_or(0);
                        writeln!(w, "  {generation:<24} {n:>6} entries, {got:>6} imported")?;
                    }
                    let s = &r.skipped;
                    writeln!(
                        w,
                        "imported {} scores on {} pages into {} ({} files written, {} unchanged)",
                        r.imported,
                        r.pages,
                        ctx.store.imported().root().display(),
                        saved.written,
                        saved.unchanged
                    )?;
                    writeln!(
                        w,
                        "skipped: {} not judgments, {} unmappable titles ({} distinct), {} ambiguous, {} superseded, {} invalid",
                        s.not_a_judgment,
                        s.unmappable,
                        s.unmappable_titles.len(),
                        s.ambiguous,
                        s.conflicts,
                        s.invalid
                    )?;
                    let mut top: Vec<(&String, usize)> = s
                        .unmappable_titles
                        .iter()
                        .map(|(t, u)| (t, u.count))
                        .collect();
                    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
                    if !top.is_empty() {
                        let list: Vec<String> = top
                            .iter()
                            .take(8)
                            .map(|(t, n)| format!("{t:?} ×{n}"))
                            .collect();
                        writeln!(
                            w,
                            "unmappable: {}{}",
                            list.join(", "),
                            if top.len() > 8 { ", …" } else { "" }
                        )?;
                    }
                    for warn in &r.warnings {
                        eprintln!(
                            "warning: {}{}: {}",
                            warn.file,
                            warn.key
                                .as_ref()
                                .map(|k| format!(" [{k}]"))
                                .unwrap_or_default(),
                            warn.message
                        );
                    }
                }
            }
            output::finish(w)?;
            Ok(Exit::Ok)
        }
        CacheCommand::Export => {
            if global.format != Format::Reference {
                anyhow::bail!(
                    "cache export writes the reference format only: use `cache export --format reference`"
                );
            }
            let (scores, warnings) = ctx.store.load_all()?;
            for w in &warnings {
                eprintln!("warning: {}: {}", w.path.display(), w.message);
            }
            let files = reference::export(site, &scores, &ctx.config.thresholds);
            let saved = reference::write_export(&files)?;
            eprintln!(
                "wrote {} data.index.classifications.json files ({} unchanged) for {} pages with scores",
                saved.written,
                saved.unchanged,
                files.len()
            );
            Ok(Exit::Ok)
        }
    }
}
