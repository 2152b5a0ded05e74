//! Loads a Hugo site: config, taxonomies, term definitions and content pages.
//!
//! # Brief overview
//! [`load`] reads a site root into a [`taxonomist_model::Site`]. It discovers the Hugo
//! config ([`config::read_config`]), walks the content dir, sorts the files, then parses them
//! in parallel: term pages (`content/<taxonomy>/<slug>/_index.md` or `<slug>.md`) become
//! [`taxonomist_model::Term`]s with parsed Instructions; everything else that is markdown
//! becomes a [`taxonomist_model::Page`] with its body as plain text. A bad file never stops
//! the load: it becomes a [`taxonomist_model::Diagnostic`] and the rest still loads.
//!
//! Loading has two doors, as in zola: [`parse_page`] / [`parse_term`] work on strings with
//! no I/O (tests use them), and [`load`] does the file system work.
//!
//! ```no_run
//! let site = taxonomist_site::load("examples/site".as_ref(), &Default::default())?;
//! println!("{} pages, {} terms", site.pages.len(), site.terms.len());
//! # Ok::<(), taxonomist_site::Error>(())
//! ```
#![deny(missing_docs)]

pub mod config;
mod instructions;
mod load;
mod markdown;

use std::path::PathBuf;

use taxonomist_model::Diagnostic;

pub use config::{Config, HugoConfig, TaxonomistToml, read_config, read_config_with};
pub use instructions::parse_instructions;
pub use load::{
    DEFAULT_IMPLICIT_MIN_USES, FileKind, LoadOptions, MAX_FILE_BYTES, classify_path,
    implicit_terms, load, load_with_config, parse_page, parse_term,
};
pub use markdown::{strip_shortcodes, to_plain_text};

/// Errors that stop a load (a bad page never does; it becomes a diagnostic).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The site dir is missing, unreadable or not a directory.
    #[error("cannot open site {path}: {reason}")]
    SiteDir {
        /// The path given.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The site config or `taxonomist.toml` is unreadable or invalid.
    #[error("{diagnostic}")]
    Config {
        /// Where and what.
        diagnostic: Diagnostic,
    },
    /// The content dir does not exist.
    #[error(
        "content dir {path} not found (set contentDir in the Hugo config or [site] content_dir in taxonomist.toml)"
    )]
    ContentDir {
        /// The path looked for.
        path: PathBuf,
    },
    /// An include/exclude glob or an `ignoreFiles` regex does not parse.
    #[error("invalid pattern {pattern:?} in {origin}: {reason}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// Where it came from.
        origin: String,
        /// Why it is invalid.
        reason: String,
    },
}
