//! Selection and write-back: turns each taxonomy's policy and a page's scores into the
//! terms the page should list, and writes them through the lossless front-matter editor.
//!
//! # Brief overview
//! - [`select::choose`]: policy (`max`, `min_score`, `fallback`, `mode`) plus the page's
//!   locks, pins and excludes → a [`select::Choice`]. Pure.
#![deny(missing_docs)]

pub mod select;

pub use select::{Choice, Finals, SelectOptions, choose};
