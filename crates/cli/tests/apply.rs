//! `taxonomist apply` end to end on temp copies: idempotence, byte-for-byte preservation of
//! everything but the changed lists, --check / --diff, stale refusal, locks, pins, excludes,
//! human pages, fallback, replace and merge.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;
use taxonomist_frontmatter::Document;

fn run(site: &Path, args: &[&str]) -> std::process::Output {
    taxonomist()
        .args(args)
        .arg("--site")
        .arg(site)
        .args(["--no-progress", "--embedder", "static"])
        .output()
        .expect("run")
}

fn code(out: &std::process::Output, want: i32) {
    assert_eq!(
        out.status.code(),
        Some(want),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn classify(site: &Path) {
    code(&run(site, &["classify", "-q"]), 0);
}

fn apply_json(site: &Path, extra: &[&str], want: i32) -> Value {
    let mut args = vec!["apply", "--format", "json"];
    args.extend_from_slice(extra);
    let out = run(site, &args);
    code(&out, want);
    json_of(&out)
}

/// Every file under `dir/content`, by path relative to `dir`.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir.join("content"))
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).expect("prefix").to_path_buf();
            (rel, std::fs::read(e.path()).expect("read"))
        })
        .collect()
}

/// The top-level key a front-matter line belongs to: the nearest line at or above `i` that
/// starts a key (`key:`, `key =`, `"key":`), skipping list items and continuations.
fn owner(lines: &[&str], i: usize) -> Option<String> {
    for l in lines[..=i].iter().rev() {
        let t = l.trim_end_matches(['\r', '\n']);
        let indent = t.len() - t.trim_start().len();
        let rest = t.trim_start();
        if indent > 2 || rest.starts_with('-') || rest.starts_with('#') || rest.is_empty() {
            continue;
        }
        let rest = rest.trim_start_matches('\u{feff}');
        let rest = rest.strip_prefix('"').unwrap_or(rest);
        let key: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        let after = rest[key.len()..].trim_start_matches('"').trim_start();
        if !key.is_empty() && (after.starts_with(':') || after.starts_with('=')) {
            return Some(key.to_ascii_lowercase());
        }
    }
    None
}

/// Checks one rewritten file: body bytes, BOM and line endings kept, and every line that
/// differs belongs to one of `keys` (or is a new `---` fence when the file had no front
/// matter).
fn assert_only_keys_changed(path: &Path, old: &[u8], new: &[u8], keys: &BTreeSet<String>) {
    let old = std::str::from_utf8(old).expect("utf8");
    let new = std::str::from_utf8(new).expect("utf8");
    let (a, b) = (
        Document::parse(old).expect("old parses"),
        Document::parse(new).expect("new parses"),
    );
    assert_eq!(a.body(), b.body(), "{}: body changed", path.display());
    assert_eq!(a.has_bom(), b.has_bom(), "{}: BOM", path.display());
    if old.contains("\r\n") {
        assert_eq!(
            new.matches('\n').count(),
            new.matches("\r\n").count(),
            "{}: line endings",
            path.display()
        );
    }
    for (k, v) in a.data() {
        if !keys.contains(&k.to_ascii_lowercase()) {
            assert_eq!(
                b.data().get(k),
                Some(v),
                "{}: key {k} changed",
                path.display()
            );
        }
    }
    let had_fm = a.format().is_some();
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    let diff = similar::TextDiff::from_slices(&old_lines, &new_lines);
    for op in diff.ops() {
        for change in diff.iter_changes(op) {
            let (lines, idx) = match change.tag() {
                similar::ChangeTag::Equal => continue,
                similar::ChangeTag::Delete => (&old_lines, change.old_index().expect("old")),
                similar::ChangeTag::Insert => (&new_lines, change.new_index().expect("new")),
            };
            let line = lines[idx].trim_end_matches(['\r', '\n']);
            if !had_fm && line == "---" {
                continue;
            }
            let who = owner(lines, idx);
            assert!(
                who.as_ref().is_some_and(|k| keys.contains(k)),
                "{}: line {:?} (key {who:?}) changed, but only {keys:?} should",
                path.display(),
                line
            );
        }
    }
}

/// Classify, apply, check every file, apply again: no byte changes. Returns the first
/// apply's JSON.
fn apply_is_lossless_and_idempotent(site: &Path) -> Value {
    let v = apply_is_lossless(site);
    let after = snapshot(site);
    // Second run: nothing to do, no byte changes.
    let again = apply_json(site, &[], 0);
    assert_eq!(again["summary"]["changed"], 0, "{again:#}");
    assert_eq!(snapshot(site), after, "second apply changed bytes");
    let out = run(site, &["apply", "--check"]);
    code(&out, 0);
    v
}

/// Classify, apply, and check that only the reported keys' lines changed.
fn apply_is_lossless(site: &Path) -> Value {
    classify(site);
    let before = snapshot(site);
    let v = apply_json(site, &[], 0);
    let after = snapshot(site);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "files created or removed"
    );
    let changed: BTreeMap<String, BTreeSet<String>> = v["pages"]
        .as_array()
        .expect("pages")
        .iter()
        .map(|p| {
            (
                p["path"].as_str().expect("path").to_string(),
                p["changes"]
                    .as_array()
                    .expect("changes")
                    .iter()
                    .map(|c| c["taxonomy"].as_str().expect("tax").to_ascii_lowercase())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(v["summary"]["written"].as_u64(), Some(changed.len() as u64));
    for (rel, old) in &before {
        let new = &after[rel];
        let key = rel.to_string_lossy().replace('\\', "/");
        match changed.get(&key) {
            None => assert!(old == new, "{key} changed but was not reported"),
            Some(keys) => {
                assert!(old != new, "{key} reported but unchanged");
                assert_only_keys_changed(rel, old, new, keys);
            }
        }
    }
    v
}

#[test]
fn example_site_apply_is_lossless_and_idempotent() {
    let (_g, site) = copy_site(&example_site());
    let v = apply_is_lossless_and_idempotent(&site);
    assert!(
        v["summary"]["changed"].as_u64().is_some_and(|n| n > 5),
        "{v:#}"
    );
    // The file without front matter got a YAML block (categories always get a value: the
    // fallback), body untouched.
    let text =
        std::fs::read_to_string(site.join("content/notes/on-call-handover.md")).expect("read");
    assert!(text.starts_with("---\n"), "{text}");
    assert!(
        text.contains("\n---\n# On-call handover template\n"),
        "{text}"
    );
    // The locked taxonomy is untouched; the pin stays.
    let text =
        std::fs::read_to_string(site.join("content/blog/2024/code-review-turnaround/index.md"))
            .expect("read");
    assert!(text.contains("categories:\n  - Software Quality\n  - Team Practices\n"));
    let doc = Document::parse(&text).expect("parse");
    let tags = doc.get("tags").expect("tags").as_array().expect("list");
    assert!(tags.iter().any(|t| t == "Code Review"), "{tags:?}");
    assert!(!tags.iter().any(|t| t == "Pair Programming"), "{tags:?}");
}

#[test]
fn corpus_nkdagility_apply_is_lossless_and_idempotent() {
    let Some(src) = corpus("nkdagility") else {
        return;
    };
    let (_g, site) = copy_site(&src.join("site"));
    let v = apply_is_lossless_and_idempotent(&site);
    assert!(
        v["summary"]["changed"].as_u64().is_some_and(|n| n > 0),
        "{v:#}"
    );
}

#[test]
fn corpus_roweb3_apply_is_lossless_and_idempotent() {
    let Some(src) = corpus("roweb3") else {
        return;
    };
    let (_g, site) = copy_site(&src);
    let v = apply_is_lossless_and_idempotent(&site);
    assert!(
        v["summary"]["changed"].as_u64().is_some_and(|n| n > 0),
        "{v:#}"
    );
}

#[test]
fn check_exit_codes_and_diff_write_nothing() {
    let (_g, site) = copy_site(&example_site());
    classify(&site);
    let before = snapshot(&site);

    let out = run(&site, &["apply", "--check"]);
    code(&out, 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("would change: content/notes/on-call-handover.md"),
        "{stdout}"
    );
    assert!(stdout.contains("run `taxonomist apply`"), "{stdout}");
    assert_eq!(snapshot(&site), before, "--check wrote");

    let out = run(&site, &["apply", "--diff"]);
    code(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "--- a/content/notes/on-call-handover.md\n+++ b/content/notes/on-call-handover.md\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("\n+categories:\n"), "{stdout}");
    assert_eq!(snapshot(&site), before, "--diff wrote");

    // --only limits the work.
    let v = apply_json(&site, &["--check", "--only", "notes/on-call-*"], 1);
    assert_eq!(v["summary"]["pages"], 1);
    assert_eq!(v["pages"][0]["path"], "content/notes/on-call-handover.md");

    code(&run(&site, &["apply"]), 0);
    let out = run(&site, &["apply", "--check"]);
    code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
}

#[test]
fn stale_scores_are_refused_and_named() {
    let (_g, site) = copy_site(&example_site());
    // Never classified: every page is stale.
    let out = run(&site, &["apply", "--check"]);
    code(&out, 2);
    classify(&site);
    let page = site.join("content/notes/flaky-tests.md");
    let text = std::fs::read_to_string(&page).expect("read");
    std::fs::write(
        &page,
        text.replacen("check these first", "check these five first", 1),
    )
    .expect("write");
    let before = snapshot(&site);
    let out = run(&site, &["apply"]);
    code(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stale: content/notes/flaky-tests.md"),
        "{stderr}"
    );
    assert!(stderr.contains("1 page has stale"), "{stderr}");
    assert!(stderr.contains("--allow-stale"), "{stderr}");
    assert_eq!(snapshot(&site), before, "refused, but wrote");
    let v = apply_json(&site, &["--allow-stale"], 0);
    assert!(v["summary"]["written"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(v["stale"][0], "content/notes/flaky-tests.md");
}

fn set_front_matter(page: &Path, key: &str, value: Value) {
    let text = std::fs::read_to_string(page).expect("read");
    let mut doc = Document::parse(&text).expect("parse");
    doc.set(key, &value).expect("set");
    std::fs::write(page, doc.to_string()).expect("write");
}

fn tags_of(page: &Path) -> Vec<String> {
    let doc = Document::parse(&std::fs::read_to_string(page).expect("read")).expect("parse");
    doc.get("tags")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn write_config(site: &Path, extra: &str) {
    let p = site.join("taxonomist.toml");
    let mut text = std::fs::read_to_string(&p).unwrap_or_default();
    text.push_str(extra);
    std::fs::write(p, text).expect("write config");
}

#[test]
fn lock_pin_and_exclude() {
    let (_g, site) = copy_site(&example_site());
    // Low bar, so the scores choose something whatever the embedder.
    write_config(
        &site,
        "\n[taxonomies.tags]\nmode = \"replace\"\nmin_score = 0\nmax = 3\n",
    );
    classify(&site);
    let rel = "content/blog/2025/zero-downtime-database-migrations/index.md";
    let page = site.join(rel);
    // What apply would choose without any instruction.
    let v = apply_json(&site, &["--check", "--only", "blog/2025/zero-*/**"], 1);
    let chosen: Vec<String> = v["pages"][0]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["taxonomy"] == "tags")
        .map(|c| serde_json::from_value(c["after"].clone()).expect("list"))
        .unwrap_or_else(|| tags_of(&page));
    assert!(!chosen.is_empty(), "{v:#}");
    let top = chosen[0].clone();
    let pin = if top == "Estimation" {
        "User Research"
    } else {
        "Estimation"
    };
    assert!(!chosen.iter().any(|t| t == pin));

    // Exclude the top choice, pin a term the scores would not choose.
    set_front_matter(
        &page,
        "taxonomist",
        serde_json::json!({"pin": {"tags": [pin]}, "exclude": {"tags": [top]}}),
    );
    code(&run(&site, &["apply", "--only", "blog/2025/zero-*/**"]), 0);
    let tags = tags_of(&page);
    assert_eq!(tags.first().map(String::as_str), Some(pin), "{tags:?}");
    assert!(!tags.contains(&top), "excluded {top} is listed: {tags:?}");

    // Lock: nothing is written, even when the list is far from the selection.
    set_front_matter(&page, "tags", serde_json::json!(["Product Experiments"]));
    set_front_matter(&page, "taxonomist", serde_json::json!({"lock": ["tags"]}));
    let before = std::fs::read(&page).expect("read");
    let v = apply_json(&site, &["--only", "blog/2025/zero-*/**"], 0);
    assert!(
        v["summary"]["locked_lists"]
            .as_u64()
            .is_some_and(|n| n >= 1)
    );
    let after = std::fs::read_to_string(&page).expect("read");
    assert_eq!(tags_of(&page), ["Product Experiments"]);
    // Other taxonomies may still change, but not the locked list's lines.
    let tags_block = |t: &str| {
        t.lines()
            .skip_while(|l| !l.starts_with("tags:"))
            .take_while(|l| l.starts_with("tags:") || l.starts_with("  -"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        tags_block(&after),
        tags_block(&String::from_utf8(before).expect("utf8"))
    );
}

#[test]
fn human_pages_are_locked_wholesale_by_config() {
    let (_g, site) = copy_site(&example_site());
    let page = site.join("content/guides/running-an-incident.md");
    // A list the scores will not keep, so an unlocked apply would change it.
    set_front_matter(&page, "tags", serde_json::json!(["Product Experiments"]));
    classify(&site);
    let v = apply_json(&site, &["--check", "--only", "guides/running-*"], 1);
    assert_eq!(
        v["pages"][0]["path"],
        "content/guides/running-an-incident.md"
    );

    write_config(&site, "\n[apply]\nlock_human = true\n");
    let before = std::fs::read(&page).expect("read");
    let v = apply_json(&site, &["--only", "guides/running-*"], 0);
    assert_eq!(v["summary"]["changed"], 0, "{v:#}");
    assert_eq!(v["summary"]["locked_lists"], 3, "{v:#}");
    assert_eq!(std::fs::read(&page).expect("read"), before);

    // A configured origin key the page does not have: not human, so it changes.
    write_config(&site, "origin_key = \"ItemContentOrigin\"\n");
    let v = apply_json(&site, &["--only", "guides/running-*"], 0);
    assert_eq!(v["summary"]["changed"], 1, "{v:#}");
}

#[test]
fn fallback_when_nothing_qualifies() {
    let (_g, site) = copy_site(&example_site());
    write_config(
        &site,
        "\n[taxonomies.categories]\nmode = \"replace\"\nmin_score = 101\n",
    );
    classify(&site);
    let v = apply_json(&site, &[], 0);
    let page = "content/notes/pairing-rotation.md";
    let p = v["pages"]
        .as_array()
        .expect("pages")
        .iter()
        .find(|p| p["path"] == page)
        .expect("page changed");
    let c = p["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["taxonomy"] == "categories")
        .expect("categories changed");
    assert_eq!(c["after"], serde_json::json!(["Uncategorized"]));
    assert_eq!(c["fallback"], true);
    let doc =
        Document::parse(&std::fs::read_to_string(site.join(page)).expect("read")).expect("parse");
    assert_eq!(
        doc.get("categories"),
        Some(&serde_json::json!(["Uncategorized"]))
    );
}

#[test]
fn replace_and_merge_modes_and_undefined_values() {
    let rel = "content/blog/2025/a-pipeline-for-the-data-team/index.md";
    let original = [
        "Data Pipelines",
        "Test Automation",
        "Continuous Integration",
        "Observability",
        "Serverless",
    ];

    // Replace, nothing qualifies: defined terms go, the undefined "Serverless" stays...
    let (_g, site) = copy_site(&example_site());
    write_config(
        &site,
        "\n[taxonomies.tags]\nmode = \"replace\"\nmin_score = 101\n",
    );
    classify(&site);
    assert_eq!(tags_of(&site.join(rel)), original);
    code(&run(&site, &["apply"]), 0);
    assert_eq!(tags_of(&site.join(rel)), ["Serverless"]);
    // ...unless --prune-undefined.
    code(&run(&site, &["apply", "--prune-undefined"]), 0);
    assert_eq!(tags_of(&site.join(rel)), Vec::<String>::new());

    // Merge keeps what a person listed and adds the selection.
    let (_g2, site) = copy_site(&example_site());
    write_config(
        &site,
        "\n[taxonomies.tags]\nmode = \"merge\"\nmin_score = 0\nmax = 1\n",
    );
    classify(&site);
    code(&run(&site, &["apply"]), 0);
    let tags = tags_of(&site.join(rel));
    assert_eq!(&tags[..4], &original[..4], "kept in place: {tags:?}");
    assert!(tags.contains(&"Serverless".to_string()), "{tags:?}");
    assert!(tags.len() <= original.len() + 1, "{tags:?}");
    // A page that listed nothing gets exactly the one best term.
    let tags = tags_of(&site.join("content/notes/on-call-handover.md"));
    assert_eq!(tags.len(), 1, "{tags:?}");
}

#[test]
fn a_page_the_editor_cannot_change_is_an_error_and_the_rest_are_written() {
    let (_g, site) = copy_site(&example_site());
    let bad = site.join("content/notes/flow.md");
    let text = "---\n{title: Flow, tags: [Estimation]}\n---\nEstimates and forecasts.\n";
    std::fs::write(&bad, text).expect("write");
    classify(&site);
    let v = apply_json(&site, &[], 1);
    assert_eq!(v["errors"][0]["path"], "content/notes/flow.md", "{v:#}");
    assert_eq!(v["summary"]["errors"], 1);
    assert!(v["summary"]["written"].as_u64().is_some_and(|n| n > 5));
    assert_eq!(std::fs::read_to_string(&bad).expect("read"), text);
    let out = run(&site, &["apply"]);
    code(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: content/notes/flow.md: cannot write"),
        "{stderr}"
    );
}

#[test]
fn term_pages_receive_terms_of_other_taxonomies_never_their_own() {
    let (_g, site) = copy_site(&example_site());
    write_config(
        &site,
        "\n[site]\nterm_pages = true\n\n[taxonomies.categories]\nmin_score = 0\nmax = 2\n",
    );
    // Lossless: only the changed keys' lines differ, term pages included.
    let v = apply_is_lossless(&site);
    let term_pages: Vec<&Value> = v["pages"]
        .as_array()
        .expect("pages")
        .iter()
        .filter(|p| {
            ["content/tags/", "content/categories/", "content/concepts/"]
                .iter()
                .any(|d| p["path"].as_str().is_some_and(|s| s.starts_with(d)))
        })
        .collect();
    assert!(term_pages.len() >= 20, "{v:#}");
    for dir in ["tags", "categories", "concepts"] {
        for e in std::fs::read_dir(site.join("content").join(dir)).expect("dir") {
            let path = e.expect("entry").path().join("_index.md");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let doc = Document::parse(&text).expect("parse");
            assert!(
                doc.get(dir).is_none(),
                "{} lists its own taxonomy",
                path.display()
            );
            if dir == "tags" {
                // Up to `max` = 2 of the categories that scored at all.
                let cats = doc.get("categories").expect("categories");
                let n = cats.as_array().map_or(0, Vec::len);
                assert!((1..=2).contains(&n), "{}: {cats}", path.display());
            }
        }
    }
    // Term pages' lists are taxonomist's own output here, so they are not evidence for the
    // term graph: the applied lists make nothing stale and the next apply changes nothing.
    let out = run(&site, &["classify", "-q", "--format", "json"]);
    code(&out, 0);
    assert_eq!(
        json_of(&out)["summary"]["scored"],
        0,
        "applying re-scored pairs"
    );
    code(&run(&site, &["apply", "--check"]), 0);
    // Without the setting, term pages are left alone.
    let (_g2, plain) = copy_site(&example_site());
    classify(&plain);
    let v = apply_json(&plain, &["--check"], 1);
    assert!(
        v["pages"]
            .as_array()
            .expect("pages")
            .iter()
            .all(|p| !p["path"]
                .as_str()
                .is_some_and(|s| s.starts_with("content/tags/"))),
        "{v:#}"
    );
}
