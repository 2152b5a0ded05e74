//! `taxonomist apply`: write each page's selected terms into its front matter, touching only
//! the lists that change; `--diff` shows, `--check` tells CI whether anything would change.

use std::io::Write as _;

use anyhow::Context;
use serde_json::json;
use taxonomist_apply::{Choice, ListEdit, WriteError, rewrite};
use taxonomist_model::{PageId, Site};
use taxonomist_store::fsutil::write_atomic;

use crate::Exit;
use crate::args::{ApplyArgs, Format, Global};
use crate::cmd::{Ctx, choices, matching_pages};
use crate::output;
use crate::settings::ApplySection;

/// One page that changes (or would).
struct Changed {
    page: PageId,
    path: String,
    lists: Vec<Choice>,
    diff: Option<String>,
}

/// A page that could not be processed.
struct Failure {
    path: String,
    line: Option<usize>,
    column: Option<usize>,
    message: String,
}

impl Failure {
    fn describe(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}: {}", self.path, self.message),
            (Some(l), None) => format!("{}:{l}: {}", self.path, self.message),
            _ => format!("{}: {}", self.path, self.message),
        }
    }
}

fn rel_path(site: &Site, i: usize) -> String {
    site.pages[i].path.to_string_lossy().replace('\\', "/")
}

pub fn run(ctx: &Ctx, global: &Global, args: &ApplyArgs) -> anyhow::Result<Exit> {
    let site = &ctx.site;
    let section = ApplySection::from_config(&ctx.config)?;
    let pages: Vec<usize> = if args.only.is_empty() {
        (0..site.pages.len()).collect()
    } else {
        matching_pages(site, &args.only)?
    };

    // Staleness, read-only (as `status` computes it).
    let crate::cmd::fresh::Freshness { plan, loaded, .. } =
        crate::cmd::fresh::check(ctx, args.engine, args.mode, &args.flags, &pages)?;
    let mut stale: Vec<String> = plan
        .stale_pages
        .iter()
        .map(|&p| rel_path(site, p))
        .collect();
    stale.sort();
    if !stale.is_empty() {
        if !args.allow_stale {
            for s in &stale {
                eprintln!("stale: {s}");
            }
            anyhow::bail!(
                "{} page{} ha{} stale or missing scores (listed above); run `taxonomist classify` first, or pass --allow-stale",
                stale.len(),
                if stale.len() == 1 { "" } else { "s" },
                if stale.len() == 1 { "s" } else { "ve" },
            );
        }
        eprintln!(
            "warning: applying {} page{} with stale scores (--allow-stale)",
            stale.len(),
            if stale.len() == 1 { "" } else { "s" }
        );
    }

    let mut changed: Vec<Changed> = Vec::new();
    let mut failures: Vec<Failure> = Vec::new();
    let mut unscored: Vec<String> = Vec::new();
    let (mut unchanged, mut locked, mut written) = (0usize, 0usize, 0usize);
    for &pi in &pages {
        let page = &site.pages[pi];
        let path = rel_path(site, pi);
        let Some(entry) = loaded.index.pages.get(&page.id) else {
            unscored.push(path);
            continue;
        };
        let all = choices::page_choices(site, page, &entry.finals, &section, args.prune_undefined);
        locked += all.iter().filter(|c| c.locked).count();
        let edits: Vec<(ListEdit, Choice)> = all
            .into_iter()
            .filter(|c| c.changes())
            .filter_map(|c| {
                let key = site.taxonomy(&c.taxonomy)?.key.clone();
                Some((
                    ListEdit {
                        key,
                        values: c.terms.clone(),
                    },
                    c,
                ))
            })
            .collect();
        if edits.is_empty() {
            unchanged += 1;
            continue;
        }
        let file = site.root.join(&page.path);
        let text = match std::fs::read(&file)
            .map_err(|e| e.to_string())
            .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8 text".to_string()))
        {
            Ok(t) => t,
            Err(message) => {
                failures.push(Failure {
                    path,
                    line: None,
                    column: None,
                    message,
                });
                continue;
            }
        };
        let list_edits: Vec<ListEdit> = edits.iter().map(|(e, _)| e.clone()).collect();
        let out = match rewrite(&text, &list_edits) {
            Ok(o) => o,
            Err(e) => {
                let (line, column) = match &e {
                    WriteError::Parse(p) | WriteError::Edit { source: p, .. } => {
                        (p.line(), p.column())
                    }
                    WriteError::BodyChanged => (None, None),
                };
                let message = match &e {
                    WriteError::Parse(p) => p.message().to_string(),
                    other => other.to_string(),
                };
                failures.push(Failure {
                    path,
                    line,
                    column,
                    message,
                });
                continue;
            }
        };
        if out.changed.is_empty() {
            unchanged += 1;
            continue;
        }
        let lists: Vec<Choice> = edits
            .into_iter()
            .filter(|(e, _)| out.changed.iter().any(|k| k.eq_ignore_ascii_case(&e.key)))
            .map(|(_, c)| c)
            .collect();
        let diff = args.diff.then(|| {
            similar::TextDiff::from_lines(&text, &out.text)
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{path}"), &format!("b/{path}"))
                .to_string()
        });
        if !args.diff && !args.check {
            write_atomic(&file, out.text.as_bytes())
                .with_context(|| format!("writing {}", file.display()))?;
            written += 1;
        }
        changed.push(Changed {
            page: page.id.clone(),
            path,
            lists,
            diff,
        });
    }
    changed.sort_by(|a, b| a.path.cmp(&b.path));
    failures.sort_by(|a, b| a.path.cmp(&b.path));
    unscored.sort();

    let mode = if args.check {
        "check"
    } else if args.diff {
        "diff"
    } else {
        "write"
    };
    let lists_changed: usize = changed.iter().map(|c| c.lists.len()).sum();
    let mut w = output::stdout();
    match global.format {
        Format::Json => {
            let v = json!({
                "mode": mode,
                "pages": changed.iter().map(|c| {
                    let mut o = json!({
                        "page": c.page,
                        "path": c.path,
                        "changes": c.lists.iter().map(|l| json!({
                            "taxonomy": l.taxonomy,
                            "before": l.current,
                            "after": l.terms,
                            "fallback": l.fallback,
                        })).collect::<Vec<_>>(),
                    });
                    if let Some(d) = &c.diff {
                        o["diff"] = json!(d);
                    }
                    o
                }).collect::<Vec<_>>(),
                "errors": failures.iter().map(|f| json!({
                    "path": f.path, "line": f.line, "column": f.column, "message": f.message,
                })).collect::<Vec<_>>(),
                "unscored": unscored,
                "stale": stale,
                "summary": {
                    "pages": pages.len(),
                    "changed": changed.len(),
                    "lists_changed": lists_changed,
                    "unchanged": unchanged,
                    "locked_lists": locked,
                    "written": written,
                    "errors": failures.len(),
                    "unscored": unscored.len(),
                },
            });
            serde_json::to_writer_pretty(&mut w, &v)?;
            writeln!(w)?;
        }
        Format::Text | Format::Reference => {
            for c in &changed {
                if let Some(d) = &c.diff {
                    write!(w, "{d}")?;
                    continue;
                }
                if args.check {
                    let names: Vec<&str> = c.lists.iter().map(|l| l.taxonomy.as_str()).collect();
                    writeln!(w, "would change: {} ({})", c.path, names.join(", "))?;
                    continue;
                }
                writeln!(w, "{}", c.path)?;
                for l in &c.lists {
                    writeln!(
                        w,
                        "  {}: [{}] → [{}]{}",
                        l.taxonomy,
                        l.current.join(", "),
                        l.terms.join(", "),
                        if l.fallback { " (fallback)" } else { "" }
                    )?;
                }
            }
            let summary = match mode {
                "check" if changed.is_empty() => {
                    format!("up to date: {} pages checked", pages.len())
                }
                "check" => format!(
                    "{} of {} pages would change ({} lists); run `taxonomist apply`",
                    changed.len(),
                    pages.len(),
                    lists_changed
                ),
                "diff" => format!(
                    "{} of {} pages would change ({} lists); nothing written",
                    changed.len(),
                    pages.len(),
                    lists_changed
                ),
                _ => format!(
                    "applied: {} pages changed ({} lists), {} unchanged, {} locked lists kept",
                    written, lists_changed, unchanged, locked
                ),
            };
            if args.diff {
                // Keep stdout a clean patch.
                eprintln!("{summary}");
            } else {
                if !changed.is_empty() && !args.check {
                    writeln!(w)?;
                }
                writeln!(w, "{summary}")?;
            }
            for u in &unscored {
                eprintln!("skipped (never scored): {u}");
            }
        }
    }
    output::finish(w)?;
    for f in &failures {
        eprintln!("error: {}", f.describe());
    }
    Ok(
        if !failures.is_empty() || (args.check && !changed.is_empty()) {
            Exit::Findings
        } else {
            Exit::Ok
        },
    )
}
