//! Reports over loaded data: pure functions that build a value, then write it as text or
//! JSON to any `io::Write`. Nothing here reads files or prints on its own.
//!
//! # Brief overview
//! - [`inspect::Inspect`]: what a site holds and what is wrong with it (`taxonomist inspect`).
#![deny(missing_docs)]

pub mod inspect;

pub use inspect::Inspect;
