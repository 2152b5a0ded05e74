//! Reports over loaded data: pure functions that build a value, then write it as text or
//! JSON to any `io::Write`. Nothing here reads files or prints on its own.
//!
//! # Brief overview
//! - [`inspect::Inspect`]: what a site holds and what is wrong with it (`taxonomist inspect`).
//! - [`eval`]: recall@k, selection precision/recall/F1, Spearman and per-term figures of
//!   scores against labels (`taxonomist eval`).
#![deny(missing_docs)]

pub mod eval;
pub mod inspect;

pub use eval::{Eval, PageEval, TaxonomyEval, evaluate_taxonomy};
pub use inspect::Inspect;
