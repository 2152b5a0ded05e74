//! Plain data shared by every taxonomist stage.
//!
//! Nothing in this crate does I/O. The loader (`taxonomist-site`) builds a [`Site`] out of
//! files; engines turn a [`Site`] into [`Score`]s; the store keeps them; `apply` and the
//! reports read them. Every type here is plain data with `serde` support, so every stage can
//! be tested on values built by hand.
//!
//! # Brief overview
//! - [`Site`]: the loaded site: [`Taxonomy`]s, [`Term`]s, [`Page`]s and [`Diagnostic`]s.
//! - [`TermId`] / [`PageId`]: stable identities (`"tags/product-owner"`, `"blog/first-post"`).
//! - [`Hash`]: a 128-bit blake3 digest shown as 32 hex digits; [`Page::content_hash`] and
//!   [`Term::definition_hash`] decide when a stored score is still fresh.
//! - [`Score`] and [`Level`]: one (page, term) judgment and the band it falls in.
//!
//! ```
//! use taxonomist_model::{Level, Thresholds};
//! let t = Thresholds::default();
//! assert_eq!(t.level(80.0), Level::Primary);
//! assert_eq!(t.level(79.9), Level::Secondary);
//! ```
#![deny(missing_docs)]

mod hash;
mod ids;
mod score;
mod site;

pub use hash::{Hash, Hasher};
pub use ids::{PageId, TermId, slug_matches, slugify};
pub use score::{Dimensions, EngineId, Inputs, Level, Score, Thresholds, Usage, fmt_score};
pub use site::{
    Diagnostic, Instructions, Locks, Mode, Origin, Page, PageKind, Policy, Severity, Site,
    SkipReason, Skipped, Taxonomy, Term,
};
