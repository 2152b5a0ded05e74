//! Building engines from settings and flags: the model fetch, the embedder choice, the
//! embedding cache and the labels the embedded engine learns from.

use std::path::PathBuf;

use anyhow::Context;
use globset::{Glob, GlobSetBuilder};
use taxonomist_embed::{CachedEmbedder, Embedder, MiniLm, StaticModel, TextTokenizer, fetch};
use taxonomist_embedded::{EmbeddedEngine, Labels, Options, labels_from_front_matter};
use taxonomist_model::Site;
use taxonomist_site::Config;
use taxonomist_store::Store;

use crate::settings::{EmbeddedSection, EmbedderChoice, LabelSource};

/// MiniLM throughput on the 2-core reference machine (tokens per second), for `auto`.
const MINILM_TOKENS_PER_SEC: f64 = 2_500.0;

/// Flags every engine-using command shares.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EngineFlags {
    /// Embedder of the embedded engine (default from `[embedded] model`, else auto).
    #[arg(long, value_enum)]
    pub embedder: Option<EmbedderChoice>,
    /// A folder holding the model (air-gapped machines; also TAXONOMIST_MODEL_DIR).
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// Where the embedded engine takes trusted labels from (default from `[embedded] learn`).
    #[arg(long, value_enum, value_name = "SOURCE")]
    pub learn_from: Option<LabelSource>,
}

/// Fetches (on first use) and verifies the model, with messages on stderr.
pub fn model_dir(flags: &EngineFlags) -> anyhow::Result<PathBuf> {
    let mut opts = fetch::FetchOptions::from_env();
    if let Some(d) = &flags.model_dir {
        opts.model_dir = Some(d.clone());
    }
    let dir = fetch::ensure(&opts, &mut |event| {
        if !matches!(
            event,
            fetch::FetchEvent::Ready { .. } | fetch::FetchEvent::Verifying { .. }
        ) {
            eprintln!("taxonomist: {event}");
        }
    })?;
    Ok(dir)
}

/// Estimated seconds MiniLM needs to embed every page of the site cold.
pub fn minilm_estimate_secs(site: &Site, options: &Options) -> f64 {
    let cap = (options.chunk_tokens * options.max_chunks) as f64;
    let tokens: f64 = site
        .pages
        .iter()
        .map(|p| {
            let body = (p.body_text.len() as f64 / 4.2).min(cap);
            // Overlap re-reads a share of each chunk; the title is repeated per chunk.
            let chunks = (body / options.chunk_tokens as f64).ceil().max(1.0);
            body * options.chunk_tokens as f64
                / (options.chunk_tokens - options.chunk_overlap).max(1) as f64
                + chunks * 12.0
                + (p.title.len() + p.description.len()) as f64 / 4.2
        })
        .sum();
    tokens / MINILM_TOKENS_PER_SEC
}

/// The pages whose front matter counts as trusted labels: the `[embedded] trusted` globs,
/// else pages whose origin says `human`.
pub fn trusted_pages(site: &Site, section: &EmbeddedSection) -> anyhow::Result<Vec<bool>> {
    match &section.trusted {
        Some(globs) => {
            let mut b = GlobSetBuilder::new();
            for g in globs {
                b.add(
                    Glob::new(g)
                        .with_context(|| format!("[embedded] trusted: invalid glob {g:?}"))?,
                );
            }
            let set = b.build()?;
            Ok(site.pages.iter().map(|p| set.is_match(&p.rel)).collect())
        }
        None => Ok(site
            .pages
            .iter()
            .map(|p| p.origin.as_deref() == Some("human"))
            .collect()),
    }
}

/// Labels from imported scores (`.taxonomist/imported/`).
pub fn labels_from_store(site: &Site, store: &Store) -> anyhow::Result<Labels> {
    let (imported, warnings) = store.imported().load_all()?;
    for w in warnings {
        eprintln!("warning: {}: {}", w.path.display(), w.message);
    }
    let term_index: std::collections::HashMap<&taxonomist_model::TermId, usize> = site
        .terms
        .iter()
        .enumerate()
        .map(|(i, t)| (&t.id, i))
        .collect();
    let mut triples = Vec::new();
    for (p, page) in site.pages.iter().enumerate() {
        let Some(file) = imported.get(&page.id) else {
            continue;
        };
        for (term, s) in &file.scores {
            // Entries that were never a judgment carry no reason; they teach nothing.
            if s.reason.is_empty() {
                continue;
            }
            if let Some(&t) = term_index.get(term) {
                triples.push((p, t, s.confidence));
            }
        }
    }
    Ok(Labels::new(triples))
}

/// The resolved embedded-engine setup.
pub struct Embedded {
    /// The engine.
    pub engine: EmbeddedEngine,
    /// Which embedder and why, for people.
    pub note: String,
}

/// Builds the embedded engine for `site`. `labels` overrides the configured label source.
pub fn embedded(
    config: &Config,
    site: &Site,
    store: &Store,
    flags: &EngineFlags,
    labels: Option<Labels>,
) -> anyhow::Result<Embedded> {
    let section = EmbeddedSection::from_config(config)?;
    let d = Options::default();
    let options = Options {
        chunk_tokens: section.chunk_tokens.unwrap_or(d.chunk_tokens).max(16),
        chunk_overlap: section.chunk_overlap.unwrap_or(d.chunk_overlap),
        max_chunks: section.max_chunks.unwrap_or(d.max_chunks).max(1),
        batch: d.batch,
    };
    let dir = model_dir(flags)?;
    let tokenizer = TextTokenizer::from_file(&dir.join("tokenizer.json"))
        .with_context(|| format!("loading the tokenizer from {}", dir.display()))?;
    let choice = flags.embedder.or(section.model).unwrap_or_default();
    let budget = section.auto_budget_secs.unwrap_or(60.0);
    let (use_static, why) = match choice {
        EmbedderChoice::Minilm => (false, "minilm (configured)".to_string()),
        EmbedderChoice::Static => (true, "static (configured)".to_string()),
        EmbedderChoice::Auto => {
            let est = minilm_estimate_secs(site, &options);
            if est <= budget {
                (
                    false,
                    format!(
                        "minilm (auto: ~{est:.0} s to embed the site cold, within {budget:.0} s)"
                    ),
                )
            } else {
                (
                    true,
                    format!(
                        "static (auto: minilm would need ~{est:.0} s cold, over {budget:.0} s; set [embedded] model = \"minilm\" to use it anyway)"
                    ),
                )
            }
        }
    };
    // The engine id is known without loading the model, so a run with nothing to score
    // never pays for it; the factory loads it on first use.
    let cache_dir = store.cache_dir();
    let (id, factory): (String, taxonomist_embedded::EmbedderFactory) = if use_static {
        let id = StaticModel::id_for(&dir, Default::default())?;
        let factory: taxonomist_embedded::EmbedderFactory = Box::new(move || {
            let path = StaticModel::default_path(&dir);
            if !path.exists() {
                eprintln!(
                    "taxonomist: building the static model from MiniLM (one time, about 35 s on 2 cores)…"
                );
            }
            let (model, report) = StaticModel::load_or_build(
                &dir,
                fetch::MODEL_SHA256,
                None,
                Default::default(),
                &mut |_, _| {},
            )
            .map_err(|e| format!("building the static model: {e}"))?;
            for w in report.warnings {
                eprintln!("warning: static model: {w}");
            }
            let (cached, warning) =
                CachedEmbedder::open(model, &cache_dir).map_err(|e| e.to_string())?;
            if let Some(w) = warning {
                eprintln!("warning: embedding cache: {w}");
            }
            Ok(Box::new(cached) as Box<dyn Embedder>)
        });
        (id, factory)
    } else {
        let id = MiniLm::id_for(&dir)?;
        let factory: taxonomist_embedded::EmbedderFactory = Box::new(move || {
            let minilm = MiniLm::load(&dir)
                .map_err(|e| format!("loading the model from {}: {e}", dir.display()))?;
            let (cached, warning) =
                CachedEmbedder::open(minilm, &cache_dir).map_err(|e| e.to_string())?;
            if let Some(w) = warning {
                eprintln!("warning: embedding cache: {w}");
            }
            Ok(Box::new(cached) as Box<dyn Embedder>)
        });
        (id, factory)
    };
    let (spans, warning) = taxonomist_embed::SpanCache::open(&store.cache_dir());
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    let mut engine = EmbeddedEngine::lazy(id, factory, tokenizer)
        .with_options(options)
        .with_span_cache(spans);
    let source = flags.learn_from.or(section.learn).unwrap_or_default();
    let labels = match labels {
        Some(l) => Some(l),
        None => match source {
            LabelSource::None => None,
            LabelSource::FrontMatter => {
                let trusted = trusted_pages(site, &section)?;
                Some(labels_from_front_matter(site, &|p| trusted[p]))
            }
            LabelSource::Store => Some(labels_from_store(site, store)?),
        },
    };
    let mut note = why;
    if let Some(l) = labels {
        if !l.is_empty() {
            note.push_str(&format!("; learning from {} labelled pages", l.len()));
        }
        engine = engine.with_labels(site, l);
    }
    Ok(Embedded { engine, note })
}
