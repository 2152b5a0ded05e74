//! Helpers shared by the CLI integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

pub fn example_site() -> PathBuf {
    workspace().join("examples/site")
}

/// The shared corpus, or `None` (with a printed reason) when this clone does not have it.
pub fn corpus(name: &str) -> Option<PathBuf> {
    let p = workspace().join("../shared/corpus").join(name);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "skipping: {} not found (the shared corpus is only on CI and dev machines)",
            p.display()
        );
        None
    }
}

/// Copies a directory tree into a fresh temp dir and returns (guard, copy path).
pub fn copy_site(from: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let to = dir.path().join("site");
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let rel = entry.path().strip_prefix(from).expect("prefix");
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
    (dir, to)
}

pub fn taxonomist() -> Command {
    let mut c = Command::cargo_bin("taxonomist").expect("binary");
    c.env_remove("TAXONOMIST_CONFIG");
    c
}

pub fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The binary's path, for tests that need a plain `std::process::Command` (spawn, kill).
pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("taxonomist")
}
