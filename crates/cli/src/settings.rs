//! Settings: `taxonomist.toml` sections owned by the CLI's stages, merged with flags.

use serde::Deserialize;
use taxonomist_site::Config;

/// Where the embedded engine takes trusted labels from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LabelSource {
    /// Zero-shot: learn from nothing.
    #[default]
    None,
    /// The front matter of trusted pages (see `[embedded] trusted`).
    FrontMatter,
    /// Imported scores (`taxonomist cache import`).
    Store,
}

/// Which embedder the embedded engine uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum EmbedderChoice {
    /// MiniLM when embedding the whole site with it fits the time budget, else static.
    #[default]
    Auto,
    /// all-MiniLM-L6-v2 (most accurate; ~2,500 tokens/s on 2 cores).
    Minilm,
    /// The static model derived from MiniLM (hundreds of times faster).
    Static,
}

/// `[embedded]` in `taxonomist.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedSection {
    /// `auto`, `minilm` or `static`.
    pub model: Option<EmbedderChoice>,
    /// `auto` picks MiniLM when embedding every page cold is estimated within this many
    /// seconds (default 60).
    pub auto_budget_secs: Option<f64>,
    /// Where trusted labels come from.
    pub learn: Option<LabelSource>,
    /// Globs (relative to the content dir) of pages whose front matter is human-curated,
    /// for `learn = "front-matter"`. Default: pages whose origin key says `human`.
    pub trusted: Option<Vec<String>>,
    /// Tokens per body chunk.
    pub chunk_tokens: Option<usize>,
    /// Overlap between chunks.
    pub chunk_overlap: Option<usize>,
    /// Body chunks read per page at most.
    pub max_chunks: Option<usize>,
}

impl EmbeddedSection {
    /// The section from a loaded config (defaults when absent).
    pub fn from_config(config: &Config) -> anyhow::Result<EmbeddedSection> {
        let Some(table) = config.taxonomist.as_ref().and_then(|t| t.embedded.clone()) else {
            return Ok(EmbeddedSection::default());
        };
        toml::Value::Table(table)
            .try_into()
            .map_err(|e| anyhow::anyhow!("taxonomist.toml [embedded]: {e}"))
    }
}

/// `[apply]` in `taxonomist.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplySection {
    /// Never write any taxonomy of a page whose origin key says `human` (default false).
    #[serde(default)]
    pub lock_human: bool,
    /// The front-matter key holding a page's origin (default: `ClassificationContentOrigin`,
    /// then `ItemContentOrigin`, then `ResourceContentOrigin`).
    pub origin_key: Option<String>,
}

impl ApplySection {
    /// The section from a loaded config (defaults when absent).
    pub fn from_config(config: &Config) -> anyhow::Result<ApplySection> {
        let Some(table) = config.taxonomist.as_ref().and_then(|t| t.apply.clone()) else {
            return Ok(ApplySection::default());
        };
        toml::Value::Table(table)
            .try_into()
            .map_err(|e| anyhow::anyhow!("taxonomist.toml [apply]: {e}"))
    }
}
