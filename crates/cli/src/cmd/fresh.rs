//! Read-only freshness: which stored scores count for the configured engine (`status`,
//! `apply`). Never writes the store.

use std::collections::HashMap;

use taxonomist_engine::{Engine, scorable_terms};
use taxonomist_model::PageId;
use taxonomist_store::{Loaded, Plan, expected_digest, plan_loaded_with};

use crate::args::{EngineKind, ModeChoice};
use crate::cmd::Ctx;
use crate::engines::{self, EngineFlags};

/// The store compared with the site, for one engine choice.
pub struct Freshness {
    /// What is fresh, stale, missing and orphaned.
    pub plan: Plan,
    /// What was read.
    pub loaded: Loaded,
    /// The engine whose scores count, for people.
    pub engine: String,
}

/// Compares the store with `pages` of the site. LLM scores count for `llm` and
/// `cascade`, embedded ones for `embedded` and `cascade` (`auto` resolves as `classify`
/// does).
pub fn check(
    ctx: &Ctx,
    kind: EngineKind,
    mode: Option<ModeChoice>,
    flags: &EngineFlags,
    pages: &[usize],
) -> anyhow::Result<Freshness> {
    let site = &ctx.site;
    let kind = crate::cmd::llm::resolve(kind, &ctx.config);
    let terms = scorable_terms(site);
    let llm = match kind {
        EngineKind::Llm | EngineKind::Cascade => {
            let cfg = crate::cmd::llm::llm_config(&ctx.config, mode)?;
            Some((
                taxonomist_llm::engine_id(&cfg)?,
                site.terms
                    .iter()
                    .map(|t| t.definition_hash)
                    .collect::<Vec<_>>(),
            ))
        }
        _ => None,
    };
    let embedded = if kind == EngineKind::Llm {
        None
    } else {
        let built = engines::embedded(&ctx.config, site, &ctx.store, flags, None)?;
        Some((built.engine.id(), built.engine.definition_hashes(site)))
    };
    let Some((id, def_hashes)) = embedded.clone().or_else(|| llm.clone()) else {
        anyhow::bail!("no engine to compare the store with");
    };
    // Only a single-engine store can be proven fresh by the index's digests.
    let single = llm.is_none() || embedded.is_none();
    let page_index: HashMap<&PageId, usize> = site
        .pages
        .iter()
        .enumerate()
        .map(|(i, p)| (&p.id, i))
        .collect();
    let loaded = ctx.store.read_only().load_for(&|pid| {
        if !single {
            return None;
        }
        page_index
            .get(pid)
            .map(|&p| expected_digest(site, p, &terms, &def_hashes, &id))
    })?;
    for w in &loaded.warnings {
        eprintln!("warning: {}: {}", w.path.display(), w.message);
    }
    let plan = plan_loaded_with(site, &loaded, pages, &terms, &|e, t| match &llm {
        Some((lid, ldefs)) if e == lid => (ldefs[t], true),
        _ if *e == id => (def_hashes[t], true),
        _ => (def_hashes[t], false),
    });
    let engine = match &llm {
        Some((lid, _)) if kind == EngineKind::Cascade => format!("cascade ({lid} over {id})"),
        _ => id.to_string(),
    };
    Ok(Freshness {
        plan,
        loaded,
        engine,
    })
}
