//! Round trips over real sites: every `.md` file of the shared corpus
//! (`../shared/corpus` beside the repository) and of `examples/site`.
//!
//! For each file: it parses, printing it without edits gives its bytes
//! back, and for each list key among `tags` and `categories`, setting a
//! different list and then the original one gives the original bytes
//! back. A scratch key is also inserted then removed, which must restore
//! the bytes too. Folders that are absent are skipped with a message.

use std::path::{Path, PathBuf};

use serde_json::Value;
use taxonomist_frontmatter::{Document, Format};

fn md_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            md_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

#[derive(Default)]
struct Tally {
    files: usize,
    yaml: usize,
    toml: usize,
    json: usize,
    none: usize,
    lists_checked: usize,
    /// Lists that came back byte-identical from a fresh parse of the
    /// edited file (style rendering alone, without the original bytes).
    restyled_identical: usize,
    restyled_differences: Vec<String>,
    failures: Vec<String>,
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|i| i.as_str().map(str::to_owned))
        .collect()
}

fn check_file(path: &Path, text: &str, tally: &mut Tally) {
    let fail = |tally: &mut Tally, what: String| {
        tally.failures.push(format!("{}: {what}", path.display()));
    };
    let doc = match Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => return fail(tally, format!("parse error {e}")),
    };
    match doc.format() {
        Some(Format::Yaml) => tally.yaml += 1,
        Some(Format::Toml) => tally.toml += 1,
        Some(Format::Json) => tally.json += 1,
        None => tally.none += 1,
    }
    if doc.to_string() != text {
        return fail(tally, "printing without edits changed the bytes".into());
    }
    for key in ["tags", "categories"] {
        let Some(value) = doc.get(key) else {
            continue;
        };
        let Some(original) = string_list(value) else {
            // `tags:` empty or a lone string: set a list, then put the
            // original value back.
            tally.lists_checked += 1;
            let mut edited = doc.clone();
            let restored = edited
                .set_list(key, &["x".to_owned()])
                .and_then(|()| edited.set(key, value));
            match restored {
                Ok(()) if edited.to_string() == text => {}
                Ok(()) => fail(
                    tally,
                    format!("set then restore `{key}` ({value}) changed the bytes"),
                ),
                Err(e) => fail(tally, format!("setting `{key}` ({value}): {e}")),
            }
            continue;
        };
        tally.lists_checked += 1;
        let mut edited = doc.clone();
        let other = vec![
            "taxonomist probe".to_owned(),
            "needs: quoting".to_owned(),
            "plain-probe".to_owned(),
        ];
        if let Err(e) = edited.set_list(key, &other) {
            fail(tally, format!("setting `{key}`: {e}"));
            continue;
        }
        let reparsed = match Document::parse(&edited.to_string()) {
            Ok(d) => d,
            Err(e) => {
                fail(
                    tally,
                    format!("after setting `{key}` it no longer parses: {e}"),
                );
                continue;
            }
        };
        if reparsed.get(key).and_then(string_list) != Some(other.clone()) {
            fail(tally, format!("`{key}` did not read back as set"));
        }
        if reparsed.body() != doc.body() {
            fail(tally, format!("setting `{key}` changed the body"));
        }
        for (k, v) in doc.data() {
            if k != key && reparsed.get(k) != Some(v) {
                fail(tally, format!("setting `{key}` changed `{k}`"));
            }
        }
        if let Ok(mut fresh) = Document::parse(&edited.to_string()) {
            if fresh.set_list(key, &original).is_ok() && fresh.to_string() == text {
                tally.restyled_identical += 1;
            } else {
                tally
                    .restyled_differences
                    .push(format!("{}: `{key}`", path.display()));
            }
        }
        if let Err(e) = edited.set_list(key, &original) {
            fail(tally, format!("restoring `{key}`: {e}"));
            continue;
        }
        if edited.to_string() != text || edited.is_modified() {
            fail(
                tally,
                format!("set `{key}` then restore did not give the original bytes"),
            );
        }
    }
    if doc.format().is_some() {
        let mut edited = doc.clone();
        let probe = serde_json::json!(["a", "b"]);
        match edited.set("taxonomist_probe", &probe) {
            Ok(()) => match edited.remove("taxonomist_probe") {
                Ok(true) if edited.to_string() == text => {}
                Ok(_) => fail(
                    tally,
                    "insert then remove did not give the original bytes".into(),
                ),
                Err(e) => fail(tally, format!("removing a probe key: {e}")),
            },
            Err(e) => fail(tally, format!("inserting a probe key: {e}")),
        }
    }
}

fn check_tree(root: &Path) -> Option<Tally> {
    if !root.is_dir() {
        eprintln!("skipping: {} not found", root.display());
        return None;
    }
    let mut files = Vec::new();
    md_files(root, &mut files);
    files.sort();
    let mut tally = Tally::default();
    for path in &files {
        let Ok(bytes) = std::fs::read(path) else {
            // Being written by someone else right now, or gone: skip.
            continue;
        };
        tally.files += 1;
        match String::from_utf8(bytes) {
            Ok(text) => check_file(path, &text, &mut tally),
            Err(_) => tally
                .failures
                .push(format!("{}: not UTF-8", path.display())),
        }
    }
    eprintln!(
        "{}: {} files ({} YAML, {} TOML, {} JSON, {} without front matter), {} lists set and restored",
        root.display(),
        tally.files,
        tally.yaml,
        tally.toml,
        tally.json,
        tally.none,
        tally.lists_checked
    );
    eprintln!(
        "  re-rendered in the list's own style from a fresh parse: {} identical, {} differ",
        tally.restyled_identical,
        tally.restyled_differences.len()
    );
    for d in tally.restyled_differences.iter().take(20) {
        eprintln!("    differs: {d}");
    }
    Some(tally)
}

fn assert_clean(tally: &Tally) {
    assert!(
        tally.failures.is_empty(),
        "{} failures:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
}

#[test]
fn shared_corpus_round_trips() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    let Some(tally) = check_tree(&root) else {
        return;
    };
    assert_clean(&tally);
    // The corpus is known: nearly all YAML, some TOML, four files without
    // front matter (a README, a data note, a page that opens with code).
    assert!(tally.files > 1000, "corpus too small: {}", tally.files);
    assert!(tally.toml > 0 && tally.yaml > tally.toml);
    assert!(tally.lists_checked > 500);
}

#[test]
fn example_site_round_trips() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/site");
    if let Some(tally) = check_tree(&root) {
        assert_clean(&tally);
    }
}
