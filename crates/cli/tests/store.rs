//! The incremental store end to end: every invalidation cause, status, locks, crashes,
//! the reference caches.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn run(site: &Path, args: &[&str]) -> std::process::Output {
    taxonomist()
        .args(args)
        .arg("--site")
        .arg(site)
        .args(["--no-progress", "--embedder", "static"])
        .output()
        .expect("run")
}

fn json(out: &std::process::Output, code: i32) -> Value {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(out)
}

fn classify(site: &Path) -> Value {
    json(&run(site, &["classify", "--format", "json", "-q"]), 0)["summary"].clone()
}

fn status(site: &Path) -> (Option<i32>, Value) {
    let out = run(site, &["status", "--format", "json"]);
    (out.status.code(), json_of(&out))
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(
        text.contains(from),
        "{} does not contain {from:?}",
        path.display()
    );
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

#[test]
fn every_invalidation_cause_recomputes_exactly_what_changed() {
    let (_g, site) = copy_site(&example_site());
    let (code, s) = status(&site);
    assert_eq!(code, Some(1), "stale work is a finding");
    assert_eq!(s["taxonomies"]["tags"]["missing"], 29 * 28);
    assert_eq!(s["taxonomies"]["tags"]["reasons"]["new page"], 29 * 28);

    assert_eq!(classify(&site)["scored"], 29 * 41);
    let (code, s) = status(&site);
    assert_eq!(code, Some(0));
    assert_eq!(s["taxonomies"]["tags"]["fresh"], 29 * 28);
    assert!(s["cache_bytes"].as_u64().is_some_and(|b| b > 0));

    // Page content changed: that page's 41 pairs.
    edit(
        &site.join("content/notes/flaky-tests.md"),
        "check these first",
        "check these five first",
    );
    let (_, s) = status(&site);
    assert_eq!(s["taxonomies"]["tags"]["reasons"]["page changed"], 28);
    assert_eq!(classify(&site)["scored"], 41);

    // (This page is the example site's CRLF file.)
    // Front matter that is not content (its tags) changes nothing.
    edit(
        &site.join("content/notes/flaky-tests.md"),
        "  - Continuous Integration\r\n",
        "",
    );
    assert_eq!(classify(&site)["scored"], 0);

    // A term's Instructions changed: that term's column only.
    edit(
        &site.join("content/tags/code-review/_index.md"),
        "**Key Topics:**",
        "**Key Topics:**\n  - Review checklists.",
    );
    let (_, s) = status(&site);
    assert_eq!(s["taxonomies"]["tags"]["reasons"]["definition changed"], 29);
    assert_eq!(s["taxonomies"]["tags"]["stale"], 29);
    assert_eq!(classify(&site)["scored"], 29);

    // A renamed term (same slug, old title kept as an alias) keeps its scores.
    edit(
        &site.join("content/tags/code-review/_index.md"),
        "title: Code Review",
        "title: Code Reviews\naliases: [\"Code Review\"]",
    );
    assert_eq!(classify(&site)["scored"], 0);

    // A new term: its column only.
    std::fs::create_dir_all(site.join("content/tags/mob-programming")).expect("mkdir");
    std::fs::write(
        site.join("content/tags/mob-programming/_index.md"),
        "---\ntitle: Mob Programming\ndescription: The whole team on one change.\nInstructions: |-\n  **Use this category only for discussions on mob programming.**\n\n  **Key Topics:**\n  - Rotating the driver.\n---\n",
    )
    .expect("write");
    let (_, s) = status(&site);
    assert_eq!(s["taxonomies"]["tags"]["reasons"]["new term"], 29);
    assert_eq!(classify(&site)["scored"], 29);

    // A new page: its pairs only.
    std::fs::write(
        site.join("content/notes/new-note.md"),
        "---\ntitle: A new note\n---\nAbout pairing and code review.\n",
    )
    .expect("write");
    assert_eq!(classify(&site)["scored"], 42);

    // Another engine version (here: another embedder) makes everything stale.
    let out = taxonomist()
        .args([
            "status",
            "--format",
            "json",
            "--no-progress",
            "--embedder",
            "minilm",
            "--site",
        ])
        .arg(&site)
        .output()
        .expect("run");
    let s = json_of(&out);
    assert_eq!(
        s["taxonomies"]["tags"]["reasons"]["engine changed"],
        30 * 29
    );

    // Deleted page and term: orphans, reported, pruned on request.
    std::fs::remove_file(site.join("content/notes/new-note.md")).expect("rm");
    std::fs::remove_dir_all(site.join("content/tags/mob-programming")).expect("rm");
    let (code, s) = status(&site);
    assert_eq!(code, Some(0));
    assert_eq!(s["orphans"]["pages"], serde_json::json!(["notes/new-note"]));
    assert_eq!(s["orphans"]["terms"]["tags/mob-programming"], 29);
    let v = json(
        &run(&site, &["classify", "--format", "json", "-q", "--prune"]),
        0,
    );
    assert_eq!(v["summary"]["scored"], 0);
    assert_eq!(v["summary"]["pruned"], 1 + 29);
    let (_, s) = status(&site);
    assert_eq!(s["orphans"]["pages"], serde_json::json!([]));
    assert_eq!(s["orphans"]["terms"], serde_json::json!({}));
    assert!(!site.join(".taxonomist/scores/notes/new-note.json").exists());
}

#[test]
fn a_store_write_that_fails_stops_the_run_naming_the_file_and_keeps_what_was_written() {
    let (_g, site) = copy_site(&example_site());
    // A file where the store needs the `notes/` directory: those pages cannot be written.
    let scores = site.join(".taxonomist/scores");
    std::fs::create_dir_all(&scores).expect("dir");
    std::fs::write(scores.join("notes"), "in the way").expect("file");
    let out = run(&site, &["classify", "-q"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scores/notes/"), "names the file: {err}");
    // Every page that was written is in the index: status counts it fresh, and the next
    // run (the obstacle gone) scores exactly the pages that were not written.
    let (_, s) = status(&site);
    let fresh = s["taxonomies"]["tags"]["fresh"].as_u64().expect("fresh");
    std::fs::remove_file(scores.join("notes")).expect("rm");
    let again = classify(&site);
    let scored = again["scored"].as_u64().expect("scored");
    assert_eq!(scored % 41, 0, "whole pages: {again}");
    assert_eq!(
        fresh + scored / 41 * 28,
        29 * 28,
        "the fresh pages plus the re-scored ones are the site: {again}"
    );
    assert!(scored > 0, "the blocked pages were not written: {again}");
    let (code, _) = status(&site);
    assert_eq!(code, Some(0));
}

#[test]
fn a_second_run_is_refused_while_the_store_is_locked() {
    let (_g, site) = copy_site(&example_site());
    let dir = site.join(".taxonomist");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))
        .expect("open");
    lock.lock().expect("lock");
    std::fs::write(
        dir.join("lock"),
        format!("{}\ntest holder\n", std::process::id()),
    )
    .expect("write");
    let out = run(&site, &["classify", "-q"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "in use by another taxonomist run (pid {}: test holder)",
            std::process::id()
        )),
        "{stderr}"
    );
    lock.unlock().expect("unlock");
    drop(lock);
    let out = run(&site, &["classify", "-q"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(unix)]
#[test]
fn sigkill_at_any_moment_leaves_a_store_the_next_run_finishes() {
    let (_g, site) = copy_site(&example_site());
    for i in 0..12u64 {
        // Force recomputation so every run writes files while it may be killed.
        let mut child = std::process::Command::new(bin())
            .env_remove("TAXONOMIST_CONFIG")
            .args([
                "classify",
                "-q",
                "--no-progress",
                "--embedder",
                "static",
                "--force",
                "--site",
            ])
            .arg(&site)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(40 + i * 90));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    // The store loads (no damaged file: writes are atomic) and the next run finishes.
    let out = run(&site, &["classify", "--format", "json", "-q"]);
    let v = json(&out, 0);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not a valid score file"));
    let done = v["summary"]["scored"].as_u64().expect("scored")
        + v["summary"]["reused"].as_u64().expect("reused");
    assert_eq!(done, 29 * 41);
    assert_eq!(classify(&site)["scored"], 0, "then nothing is left to do");
    let leftovers: Vec<_> = walkdir::WalkDir::new(site.join(".taxonomist/scores"))
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name().to_string_lossy().ends_with(".tmp")
                || e.file_name().to_string_lossy().contains("corrupt")
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "the run after a kill removes the killed run's temp files: {leftovers:?}"
    );
}

#[test]
fn cache_import_and_export_on_the_corpus() {
    let Some(corpus_site) = corpus("nkdagility/site") else {
        return;
    };
    let (_g, site) = copy_site(&corpus_site);
    std::fs::write(site.join("taxonomist.toml"), "[taxonomies.concepts]\n").expect("write");
    let out = taxonomist()
        .args(["cache", "import", "--format", "json", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    let v = json(&out, 0);
    let r = &v["report"];
    // Every entry of every file is counted in a generation.
    let mut entries = 0u64;
    for e in walkdir::WalkDir::new(site.join("content"))
        .into_iter()
        .filter_map(|e| e.ok())
    {
        let name = e.file_name().to_string_lossy();
        if name.starts_with("data.index.") && name.ends_with(".json") {
            let j: Value = serde_json::from_str(&std::fs::read_to_string(e.path()).expect("read"))
                .expect("json");
            entries += j.as_object().expect("object").len() as u64;
        }
    }
    let per_generation: u64 = r["generations"]
        .as_object()
        .expect("generations")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(per_generation, entries);
    assert_eq!(r["entries"].as_u64(), Some(entries));
    assert!(r["imported"].as_u64().is_some_and(|n| n > 1000));
    assert!(v["written"].as_u64().is_some_and(|n| n > 0));
    // A second import writes nothing.
    let v = json(
        &taxonomist()
            .args(["cache", "import", "--format", "json", "--site"])
            .arg(&site)
            .output()
            .expect("run"),
        0,
    );
    assert_eq!(v["written"], 0);

    // Imported scores are labels the embedded engine learns from.
    let out = taxonomist()
        .args([
            "classify",
            "--format",
            "json",
            "-q",
            "--no-progress",
            "--embedder",
            "static",
            "--learn-from",
            "store",
            "--site",
        ])
        .arg(&site)
        .output()
        .expect("run");
    let v = json(&out, 0);
    assert!(
        v["summary"]["engine"]
            .as_str()
            .is_some_and(|e| e.contains("+labels-")),
        "{}",
        v["summary"]["engine"]
    );
    assert!(
        v["summary"]["embedder"]
            .as_str()
            .is_some_and(|e| e.contains("learning from 26 labelled pages")),
        "{}",
        v["summary"]["embedder"]
    );

    // Export writes the reference's current format beside each bundle.
    let out = taxonomist()
        .args(["cache", "export", "--format", "reference", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = walkdir::WalkDir::new(site.join("content/resources"))
        .into_iter()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name() == "data.index.classifications.json")
        .expect("an exported file");
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(file.path()).expect("read")).expect("json");
    let (title, entry) = j.as_object().expect("object").iter().next().expect("entry");
    assert_eq!(entry["category"], Value::String(title.clone()));
    for key in [
        "ai_confidence",
        "final_score",
        "level",
        "reasoning",
        "calculated_at",
    ] {
        assert!(entry.get(key).is_some(), "{key} missing in {entry}");
    }
    let out = taxonomist()
        .args(["cache", "export", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "export needs --format reference"
    );
}
