//! Selection and write-back: turns each taxonomy's policy and a page's scores into the
//! terms the page should list, and writes them through the lossless front-matter editor.
//!
//! # Brief overview
//! - [`select::choose`]: policy (`max`, `min_score`, `fallback`, `mode`) plus the page's
//!   locks, pins and excludes → a [`select::Choice`]. Pure.
//! - [`write::rewrite`]: a file's text and the lists to write → the new text, through the
//!   lossless editor, touching only keys whose list changes; body bytes are re-checked.
#![deny(missing_docs)]

pub mod select;
pub mod write;

pub use select::{Choice, Finals, SelectOptions, choose};
pub use write::{ListEdit, Rewrite, WriteError, rewrite};
