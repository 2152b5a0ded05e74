//! `taxonomist bench`: generated sites and timings of the hot paths, printed as throughput.
//!
//! `bench gen-site` makes a large site out of a small one (the example site): each page is
//! a base page whose paragraphs are shuffled and mixed with paragraphs of two other pages,
//! plus a sentence of its own, so that no two generated pages have the same text (no cache
//! can cheat) while the vocabulary stays realistic. `bench load` times loading a site.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde_json::Value;

use crate::Exit;
use crate::args::{
    BenchArgs, BenchCommand, ClassifyBenchArgs, GenSiteArgs, Global, IncrementalBenchArgs,
    LoadBenchArgs,
};

/// splitmix64: a tiny deterministic PRNG, so a seed always makes the same site.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Peak resident memory of this process in MiB (Linux), when known.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

struct SourcePage {
    title: String,
    description: String,
    paragraphs: Vec<String>,
    lists: Vec<(String, Vec<String>)>,
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn read_source(site: &taxonomist_model::Site) -> anyhow::Result<Vec<SourcePage>> {
    let mut out = Vec::new();
    for p in &site.pages {
        let abs = site.root.join(&p.path);
        let text =
            std::fs::read_to_string(&abs).with_context(|| format!("reading {}", abs.display()))?;
        let doc = taxonomist_frontmatter::Document::parse(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", abs.display(), e.message()))?;
        let paragraphs: Vec<String> = doc
            .body()
            .replace("\r\n", "\n")
            .split("\n\n")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let lists = p
            .terms
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.push(SourcePage {
            title: p.title.clone(),
            description: p.description.clone(),
            paragraphs,
            lists,
        });
    }
    if out.is_empty() {
        anyhow::bail!("the source site has no pages");
    }
    Ok(out)
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry?;
        let rel = entry.path().strip_prefix(from)?;
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest)?;
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// Writes a generated site; returns the number of pages and extra terms written.
pub fn generate(
    from: &Path,
    out: &Path,
    pages: usize,
    extra_terms: usize,
    seed: u64,
) -> anyhow::Result<(usize, usize)> {
    let site = taxonomist_site::load(from, &Default::default())?;
    let sources = read_source(&site)?;
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("clearing {}", out.display()))?;
    }
    std::fs::create_dir_all(out)?;
    for f in &site.config_files {
        std::fs::copy(from.join(f), out.join(f))?;
    }
    let tax_toml = from.join(taxonomist_site::config::CONFIG_FILE);
    if tax_toml.is_file() {
        std::fs::copy(&tax_toml, out.join(taxonomist_site::config::CONFIG_FILE))?;
    }
    let content = out.join(&site.content_dir);
    for tax in &site.taxonomies {
        let src = from.join(&site.content_dir).join(&tax.name);
        if src.is_dir() {
            copy_dir(&src, &content.join(&tax.name))?;
        }
    }
    let mut rng = Rng::new(seed);
    // Extra terms: pairs of existing terms' definitions, so the vocabulary stays real.
    let mut extra_written = 0;
    let base_terms: Vec<&taxonomist_model::Term> = site
        .terms
        .iter()
        .filter(|t| t.instructions.is_some())
        .collect();
    for i in 0..extra_terms {
        if base_terms.len() < 2 {
            break;
        }
        let a = base_terms[rng.below(base_terms.len())];
        let b = base_terms[rng.below(base_terms.len())];
        let title = format!("{} with {} {i}", a.title, b.title);
        let slug = taxonomist_model::slugify(&title);
        let (ia, ib) = (a.instructions.as_ref(), b.instructions.as_ref());
        let mut topics: Vec<&String> = Vec::new();
        for inst in [ia, ib].into_iter().flatten() {
            topics.extend(inst.key_topics.iter().take(4));
        }
        let mut text = String::new();
        let _ = writeln!(
            text,
            "---\ntitle: {}\ndescription: {}",
            yaml_str(&title),
            yaml_str(&format!("{} {}", a.description, b.description))
        );
        let _ = writeln!(
            text,
            "Instructions: |-\n  **Use this category only for discussions on {} together with {}.**\n\n  **Key Topics:**",
            a.title, b.title
        );
        for t in topics {
            let _ = writeln!(text, "  - {t}");
        }
        let _ = writeln!(text, "---");
        let dir = content.join(a.taxonomy.as_str()).join(&slug);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("_index.md"), text)?;
        extra_written += 1;
    }
    // Pages, 100 per folder.
    for i in 0..pages {
        let base = &sources[i % sources.len()];
        let other1 = &sources[rng.below(sources.len())];
        let other2 = &sources[rng.below(sources.len())];
        let mut paras: Vec<&String> = base.paragraphs.iter().collect();
        for o in [other1, other2] {
            if !o.paragraphs.is_empty() {
                paras.push(&o.paragraphs[rng.below(o.paragraphs.len())]);
            }
        }
        for j in (1..paras.len()).rev() {
            let k = rng.below(j + 1);
            paras.swap(j, k);
        }
        let mut text = String::new();
        let _ = writeln!(text, "---");
        let _ = writeln!(
            text,
            "title: {}",
            yaml_str(&format!("{} ({i})", base.title))
        );
        let _ = writeln!(
            text,
            "date: 20{:02}-{:02}-{:02}",
            10 + i % 16,
            1 + i % 12,
            1 + i % 28
        );
        let _ = writeln!(text, "description: {}", yaml_str(&base.description));
        for (k, v) in &base.lists {
            let items: Vec<String> = v.iter().map(|s| yaml_str(s)).collect();
            let _ = writeln!(text, "{k}: [{}]", items.join(", "));
        }
        let _ = writeln!(text, "---\n");
        let _ = writeln!(
            text,
            "Generated page {i} (seed {seed}, draw {}).\n",
            rng.next_u64() % 100_000
        );
        for p in paras {
            text.push_str(p);
            text.push_str("\n\n");
        }
        let dir = content
            .join("generated")
            .join(format!("{:03}", i / 100))
            .join(format!("page-{i:05}"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("index.md"), text)?;
    }
    Ok((pages, extra_written))
}

fn gen_site(args: &GenSiteArgs) -> anyhow::Result<Exit> {
    let t = Instant::now();
    let (pages, terms) = generate(
        &args.from,
        &args.out,
        args.pages,
        args.extra_terms,
        args.seed,
    )?;
    eprintln!(
        "generated {pages} pages and {terms} extra terms in {} from {} in {:.2}s",
        args.out.display(),
        args.from.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(Exit::Ok)
}

fn load(global: &Global, args: &LoadBenchArgs) -> anyhow::Result<Exit> {
    let mut times = Vec::new();
    let mut n = 0;
    for _ in 0..args.iterations.max(1) {
        let t = Instant::now();
        let site = taxonomist_site::load(&global.site, &Default::default())?;
        times.push(t.elapsed().as_secs_f64());
        n = site.pages.len() + site.terms.len();
    }
    times.sort_by(f64::total_cmp);
    let best = times[0];
    let median = times[times.len() / 2];
    let result = serde_json::json!({
        "bench": "load",
        "site": global.site.display().to_string(),
        "files": n,
        "iterations": times.len(),
        "best_s": round3(best),
        "median_s": round3(median),
        "files_per_s": (n as f64 / median).round(),
        "peak_rss_mib": peak_rss_mib().map(round1),
        "threads": rayon_threads(),
    });
    print_result(global, &result);
    Ok(Exit::Ok)
}

pub fn rayon_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub fn print_result(global: &Global, v: &Value) {
    match global.format {
        crate::args::Format::Json => println!("{v}"),
        crate::args::Format::Text | crate::args::Format::Reference => {
            if let Value::Object(m) = v {
                let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!("{}", parts.join(" "));
            }
        }
    }
}

/// Times classify on the site given by --site: cold (no store, no embedding cache), warm
/// (embeddings cached, scores recomputed) and no-op (everything fresh).
fn classify(global: &Global, args: &ClassifyBenchArgs) -> anyhow::Result<Exit> {
    let ctx = crate::cmd::load_ctx(global)?;
    let store_dir = ctx.store.root().to_path_buf();
    let cargs = crate::args::ClassifyArgs {
        only: Vec::new(),
        engine: crate::args::EngineKind::Embedded,
        llm: Default::default(),
        flags: args.flags.clone(),
        force: false,
        prune: false,
        quiet: true,
    };
    let mut quiet = Global {
        no_progress: true,
        ..global.clone()
    };
    quiet.format = crate::args::Format::Json;
    if store_dir.exists() {
        std::fs::remove_dir_all(&store_dir)
            .with_context(|| format!("clearing {}", store_dir.display()))?;
    }
    let t = Instant::now();
    let cold = crate::cmd::classify::update(&ctx, &quiet, &cargs, None)?;
    let cold_s = t.elapsed().as_secs_f64();
    std::fs::remove_dir_all(ctx.store.scores_dir()).ok();
    let t = Instant::now();
    let warm = crate::cmd::classify::update(&ctx, &quiet, &cargs, None)?;
    let warm_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let noop = crate::cmd::classify::update(&ctx, &quiet, &cargs, None)?;
    let noop_s = t.elapsed().as_secs_f64();
    let pairs = cold.scored;
    let result = serde_json::json!({
        "bench": "classify",
        "site": global.site.display().to_string(),
        "pages": ctx.site.pages.len(),
        "terms": taxonomist_engine::scorable_terms(&ctx.site).len(),
        "pairs": pairs,
        "embedder": cold.note,
        "cold_s": round3(cold_s),
        "cold_pairs_per_s": (pairs as f64 / cold_s).round(),
        "warm_s": round3(warm_s),
        "warm_scored": warm.scored,
        "noop_s": round3(noop_s),
        "noop_scored": noop.scored,
        "cache_mib": round1(ctx.store.cache_size() as f64 / 1_048_576.0),
        "peak_rss_mib": peak_rss_mib().map(round1),
    });
    print_result(global, &result);
    Ok(Exit::Ok)
}

/// One timed run as a user sees it: load the site, plan, score, store.
fn timed_run(
    global: &Global,
    cargs: &crate::args::ClassifyArgs,
) -> anyhow::Result<(f64, crate::cmd::classify::Outcome)> {
    let t = Instant::now();
    let ctx = crate::cmd::load_ctx(global)?;
    let out = crate::cmd::classify::update(&ctx, global, cargs, None)?;
    Ok((t.elapsed().as_secs_f64(), out))
}

fn replace_once(path: &Path, from: &str, to: &str) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    anyhow::ensure!(
        text.contains(from),
        "{} does not contain {from:?}",
        path.display()
    );
    std::fs::write(path, text.replacen(from, to, 1))
        .with_context(|| format!("writing {}", path.display()))
}

/// Whole incremental runs: no-op, one page edited, one term's Instructions edited.
fn incremental(global: &Global, args: &IncrementalBenchArgs) -> anyhow::Result<Exit> {
    let quiet = Global {
        no_progress: true,
        format: crate::args::Format::Json,
        ..global.clone()
    };
    let cargs = crate::args::ClassifyArgs {
        only: Vec::new(),
        engine: crate::args::EngineKind::Embedded,
        llm: Default::default(),
        flags: args.flags.clone(),
        force: false,
        prune: false,
        quiet: true,
    };
    // Bring the store up to date first (not timed: that is `bench classify`).
    let (prime_s, prime) = timed_run(&quiet, &cargs)?;
    let ctx = crate::cmd::load_ctx(&quiet)?;
    let terms = taxonomist_engine::scorable_terms(&ctx.site);
    let mut noop = Vec::new();
    let mut noop_scored = 0;
    let mut noop_written = 0;
    for _ in 0..args.iterations.max(1) {
        let (s, o) = timed_run(&quiet, &cargs)?;
        noop.push(s);
        noop_scored += o.scored;
        noop_written += o.written;
    }
    noop.sort_by(f64::total_cmp);
    // One page edited: a sentence appended to its body.
    let page = ctx
        .site
        .pages
        .iter()
        .find(|p| !p.body_text.is_empty())
        .context("the site has no page with a body")?;
    let page_path = ctx.site.root.join(&page.path);
    let mut text = std::fs::read_to_string(&page_path)
        .with_context(|| format!("reading {}", page_path.display()))?;
    text.push_str("\nOne more sentence about pairing, added by the benchmark.\n");
    std::fs::write(&page_path, text)?;
    let (page_s, page_out) = timed_run(&quiet, &cargs)?;
    // One term's Instructions edited: a key topic added.
    let term = ctx
        .site
        .terms
        .iter()
        .find(|t| {
            t.instructions.is_some()
                && std::fs::read_to_string(ctx.site.root.join(&t.path))
                    .is_ok_and(|s| s.contains("**Key Topics:**"))
        })
        .context("the site has no term with a Key Topics list")?;
    let term_path = ctx.site.root.join(&term.path);
    let crlf = std::fs::read_to_string(&term_path)?.contains("\r\n");
    let nl = if crlf { "\r\n" } else { "\n" };
    replace_once(
        &term_path,
        "**Key Topics:**",
        &format!("**Key Topics:**{nl}  - Added by the benchmark."),
    )?;
    let (term_s, term_out) = timed_run(&quiet, &cargs)?;
    let result = serde_json::json!({
        "bench": "incremental",
        "site": global.site.display().to_string(),
        "pages": ctx.site.pages.len(),
        "terms": terms.len(),
        "prime_s": round3(prime_s),
        "prime_scored": prime.scored,
        "noop_best_s": round3(noop[0]),
        "noop_median_s": round3(noop[noop.len() / 2]),
        "noop_scored": noop_scored,
        "noop_files_written": noop_written,
        "page_edit_s": round3(page_s),
        "page_edit_scored": page_out.scored,
        "page_edit_files_written": page_out.written,
        "term_edit_s": round3(term_s),
        "term_edit_scored": term_out.scored,
        "term_edit_files_written": term_out.written,
        "edited_page": page.rel,
        "edited_term": term.id.to_string(),
        "peak_rss_mib": peak_rss_mib().map(round1),
    });
    print_result(global, &result);
    Ok(Exit::Ok)
}

pub fn run(global: &Global, args: &BenchArgs) -> anyhow::Result<Exit> {
    match &args.command {
        BenchCommand::GenSite(a) => gen_site(a),
        BenchCommand::Load(a) => load(global, a),
        BenchCommand::Classify(a) => classify(global, a),
        BenchCommand::Incremental(a) => incremental(global, a),
    }
}
