//! One module per subcommand.

pub mod apply;
pub mod bench;
pub mod cache;
pub mod choices;
pub mod classify;
pub mod eval;
pub mod explain;
pub mod fresh;
pub mod init;
pub mod inspect;
pub mod llm;
pub mod model;
pub mod status;

use anyhow::Context;
use globset::{Glob, GlobSetBuilder};
use taxonomist_model::{Severity, Site};
use taxonomist_site::Config;
use taxonomist_store::Store;

use crate::args::Global;

/// Loads the site named by `--site`, with `--drafts` and `only` globs.
pub fn load_site(global: &Global, only: &[String]) -> anyhow::Result<Site> {
    let opts = taxonomist_site::LoadOptions {
        drafts: global.drafts,
        only: only.to_vec(),
        config: global.config.clone(),
    };
    let site = taxonomist_site::load(&global.site, &opts)?;
    Ok(site)
}

/// A loaded site with its config and store.
pub struct Ctx {
    /// The resolved config.
    pub config: Config,
    /// The site.
    pub site: Site,
    /// Its store.
    pub store: Store,
}

/// Loads everything a scoring command needs; load errors are printed (the run goes on
/// without the bad files).
pub fn load_ctx(global: &Global) -> anyhow::Result<Ctx> {
    let config = taxonomist_site::read_config_with(&global.site, global.config.as_deref())?;
    let opts = taxonomist_site::LoadOptions {
        drafts: global.drafts,
        only: Vec::new(),
        config: global.config.clone(),
    };
    let site = taxonomist_site::load_with_config(&config, &opts)?;
    for d in &site.diagnostics {
        if d.severity == Severity::Error || global.verbose > 0 {
            eprintln!("{d}");
        }
    }
    let store = match &global.store {
        Some(dir) => Store::at(dir),
        None => Store::open(&global.site),
    };
    Ok(Ctx {
        config,
        site,
        store,
    })
}

/// Indices of pages whose path (relative to the content dir) matches any glob.
pub fn matching_pages(site: &Site, globs: &[String]) -> anyhow::Result<Vec<usize>> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(Glob::new(g).with_context(|| format!("--only: invalid glob {g:?}"))?);
    }
    let set = b.build()?;
    Ok(site
        .pages
        .iter()
        .enumerate()
        .filter(|(_, p)| set.is_match(&p.rel))
        .map(|(i, _)| i)
        .collect())
}

/// Finds a page by id, by path (relative to the site root or the content dir, with or
/// without `index.md`), or by its bundle folder.
pub fn find_page(site: &Site, what: &str) -> Option<usize> {
    let w = what.trim_end_matches('/').replace('\\', "/");
    let content = site.content_dir.to_string_lossy().replace('\\', "/");
    let w = w
        .strip_prefix(&format!("{content}/"))
        .unwrap_or(&w)
        .to_string();
    site.pages.iter().position(|p| {
        p.id.as_str() == w
            || p.rel == w
            || p.rel.strip_suffix("/index.md") == Some(w.as_str())
            || p.rel.strip_suffix("/_index.md") == Some(w.as_str())
            || p.rel.strip_suffix(".md") == Some(w.as_str())
    })
}
