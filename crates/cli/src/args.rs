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
#[derive(Debug, Args)]
pub struct Global {
    /// The site root (the folder holding hugo.toml / config.toml).
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    pub site: PathBuf,
    /// taxonomist.toml to use instead of the one at the site root.
    #[arg(long, global = true, value_name = "FILE", env = "TAXONOMIST_CONFIG")]
    pub config: Option<PathBuf>,
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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what was loaded: taxonomies, terms, pages, undefined terms, load errors.
    Inspect(InspectArgs),
    /// Write a commented taxonomist.toml for this site (never overwrites).
    Init(InitArgs),
    /// Benchmarks: generate a large site, time the hot paths.
    Bench(BenchArgs),
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
