//! Import and export of the reference system's cache files, on real files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;
use taxonomist_model::{
    Dimensions, EngineId, Hash, Inputs, PageId, Score, Site, TermId, Thresholds,
};
use taxonomist_store::reference::{
    self, CATEGORIES_FILE, CLASSIFICATIONS_FILE, FileKind, ImportOptions, TAGS_FILE,
};
use taxonomist_store::{PageScores, Store};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

fn term(root: &Path, rel: &str, title: &str, extra: &str) {
    write(
        root,
        rel,
        &format!(
            "---\ntitle: {title}\n{extra}description: About {title}.\nInstructions: |-\n  Use this only for {title}.\n---\n"
        ),
    );
}

fn page(root: &Path, rel: &str, front: &str) {
    write(
        root,
        rel,
        &format!("---\ntitle: A page\n{front}---\n\nSome body text about delivery.\n"),
    );
}

fn load(root: &Path) -> Site {
    let site = taxonomist_site::load(root, &Default::default()).expect("load");
    assert!(!site.has_errors(), "{:?}", site.diagnostics);
    site
}

/// A small site with every generation, scale and failure the importer must handle.
fn fixture_site(root: &Path) {
    write(
        root,
        "hugo.toml",
        "baseURL = \"https://x.example/\"\n[taxonomies]\n  category = \"categories\"\n  tag = \"tags\"\n",
    );
    write(root, "taxonomist.toml", "[taxonomies.concepts]\n");
    term(root, "content/categories/scrum/_index.md", "Scrum", "");
    term(root, "content/categories/devops.md", "DevOps", "");
    term(
        root,
        "content/categories/engineering-excellence/_index.md",
        "Engineering Excellence",
        "",
    );
    term(
        root,
        "content/tags/product-owner/_index.md",
        "Product Owner",
        "aliases:\n  - Product Ownership\n",
    );
    term(root, "content/tags/kanban/_index.md", "Kanban", "");
    term(root, "content/tags/scrum/_index.md", "Scrum", "");
    term(
        root,
        "content/tags/definition-of-done/_index.md",
        "Definition of Done",
        "",
    );
    term(root, "content/concepts/practice/_index.md", "Practice", "");

    // Legacy per-type files: the oldest generation, the middle one and the newest.
    page(root, "content/blog/legacy/index.md", "");
    write(
        root,
        &format!("content/blog/legacy/{CATEGORIES_FILE}"),
        r#"{
  "Scrum": {"category": "Scrum", "ai_confidence": 0, "non_ai_confidence": 10, "final_score": 3.0, "reasoning": null, "level": "Ignored"},
  "DevOps": {"category": "DevOps", "ai_confidence": 80, "non_ai_confidence": 0, "final_score": 56.0, "reasoning": " Mostly about pipelines. ", "level": "Secondary"},
  "Engineering Excellence": {"category": "Engineering Excellence", "ai_confidence": "0.85", "non_ai_confidence": 0, "final_score": 60.0, "reasoning": "Quality focus.", "level": "Secondary", "extra_key": [1, 2]}
}
"#,
    );
    write(
        root,
        &format!("content/blog/legacy/{TAGS_FILE}"),
        r#"{
  "Kanban": {"category": "Kanban", "calculated_at": "2025-02-13T22:23:42", "ai_confidence": 50, "non_ai_confidence": 10, "final_score": 46.0, "reasoning": "Some flow talk.", "level": "Ignored"},
  "Old Vocabulary": {"category": "Old Vocabulary", "calculated_at": "2025-02-13T22:23:43", "ai_confidence": 90, "non_ai_confidence": 0, "final_score": 81.0, "reasoning": "Gone term.", "level": "Primary"},
  "Engineering Excellence": {"category": "Engineering Excellence", "calculated_at": "2025-02-13T22:23:44", "ai_confidence": 90, "non_ai_confidence": 0, "final_score": 81.0, "reasoning": "A category title in the tags file.", "level": "Primary"},
  "product ownership": {"category": "product ownership", "calculated_at": "2025-02-13T22:23:45", "ai_confidence": 70, "non_ai_confidence": 0, "final_score": 63.0, "reasoning": "Matched by alias, any case.", "level": "Secondary"}
}
"#,
    );

    // The current file: v3 entries and legacy entries at three dimension scales.
    page(
        root,
        "content/blog/current/index.md",
        "ResourceId: abc123\n",
    );
    write(
        root,
        &format!("content/blog/current/{CLASSIFICATIONS_FILE}"),
        r#"{
  "Engineering Excellence": {
    "resourceId": "abc123", "category": "Engineering Excellence", "calculated_at": "2025-05-08T08:55:20",
    "ai_confidence": 92.7, "ai_mentions": 6.7, "ai_alignment": 9.7, "ai_depth": 9.4,
    "ai_intent": 9.2, "ai_audience": 9.1, "ai_signal": 9.6,
    "ai_penalties_applied": false, "ai_penalty_points": 0, "ai_penalty_details": "none",
    "final_score": 93.0, "reasoning": "A long justification.", "level": "Primary",
    "reasoning_summary": "An excellent fit."
  },
  "Practice": {
    "resourceId": "abc123", "category": "Practice", "calculated_at": "2025-05-08T08:55:21",
    "ai_confidence": "8.2", "ai_mentions": "8", "ai_alignment": 9, "ai_depth": 8,
    "ai_intent": 8, "ai_audience": 8, "ai_signal": 9,
    "ai_penalties_applied": true, "ai_penalty_points": 2, "ai_penalty_details": "some marketing",
    "final_score": 8.0, "reasoning": null, "level": "Ignored"
  },
  "Product Owner": {
    "resourceId": "abc123", "category": "Product Owner", "calculated_at": "2025-05-08T08:55:22",
    "ai_confidence": 0.9, "ai_mentions": 9, "ai_alignment": 9, "ai_depth": 9,
    "ai_intent": 9, "ai_audience": 9, "ai_signal": 8,
    "final_score": 1.0, "reasoning": "A raw 0-1 answer.", "level": "Ignored"
  },
  "Kanban": {"category": "Kanban", "calculated_at": "2025-04-10T13:00:30", "ai_confidence": 55.0,
    "ai_mentions": 10, "ai_alignment": 5, "ai_depth": 3, "non_ai_confidence": 50,
    "final_score": 55.0, "reasoning": "Legacy 0-10 dimensions.", "level": "Tertiary"},
  "Definition of Done": {"category": "Definition of Done", "calculated_at": "2025-04-10T13:00:38",
    "ai_confidence": 87.0, "ai_mentions": 18, "ai_alignment": 36, "ai_depth": 38,
    "non_ai_confidence": 50, "final_score": 87.0, "reasoning": "Weighted points.", "level": "Primary"},
  "DevOps": {"category": "DevOps", "calculated_at": "2025-04-10T13:00:39", "ai_confidence": 85,
    "ai_mentions": 75, "ai_alignment": 85, "ai_depth": 90, "final_score": 85.0,
    "reasoning": "0-100 dimensions.", "level": "Primary"},
  "Scrum": {"resourceId": "abc123", "category": "Scrum", "calculated_at": "2025-05-08T08:55:23",
    "ai_confidence": 70, "final_score": 70.0, "reasoning": "Which Scrum?", "level": "Secondary"},
  "Broken": "not an object",
  "NoScore": {"category": "Scrum", "reasoning": "no numbers at all"}
}
"#,
    );
    // A tags file beside it: "Product Owner" is older than the classifications entry (it
    // loses), "Kanban" is newer (it wins).
    write(
        root,
        &format!("content/blog/current/{TAGS_FILE}"),
        r#"{
  "Product Owner": {"category": "Product Owner", "calculated_at": "2025-02-13T22:23:42", "ai_confidence": 40, "non_ai_confidence": 0, "final_score": 36.0, "reasoning": "Old.", "level": "Ignored"},
  "Kanban": {"category": "Kanban", "calculated_at": "2025-06-01T00:00:00", "ai_confidence": 60, "non_ai_confidence": 10, "final_score": 55.0, "reasoning": "Newer.", "level": "Secondary"}
}
"#,
    );

    // A corrupt file does not stop the page's other file.
    page(root, "content/blog/corrupt/index.md", "");
    write(
        root,
        &format!("content/blog/corrupt/{CATEGORIES_FILE}"),
        "{ \"Scrum\": { this is not json",
    );
    write(
        root,
        &format!("content/blog/corrupt/{TAGS_FILE}"),
        "\u{feff}{\"Kanban\": {\"category\": \"Kanban\", \"calculated_at\": \"2025-02-13T22:00:00\", \"ai_confidence\": 70, \"non_ai_confidence\": 0, \"final_score\": 63.0, \"reasoning\": \"BOM is fine.\", \"level\": \"Secondary\"}}",
    );
    write(
        root,
        &format!("content/blog/corrupt/{CLASSIFICATIONS_FILE}"),
        "[1, 2, 3]",
    );

    // A single-file page: the folder's cache is not its own.
    page(root, "content/blog/single.md", "");
    write(
        root,
        &format!("content/blog/{TAGS_FILE}"),
        r#"{"Kanban": {"category": "Kanban", "calculated_at": "2025-02-13T22:00:00", "ai_confidence": 99, "non_ai_confidence": 0, "final_score": 89.0, "reasoning": "Not this page's.", "level": "Primary"}}"#,
    );
}

fn score<'a>(imported: &'a reference::Imported, page: &str, term: &str) -> &'a Score {
    imported
        .pages
        .get(&PageId(page.into()))
        .unwrap_or_else(|| panic!("page {page}"))
        .scores
        .get(&TermId(term.into()))
        .unwrap_or_else(|| panic!("{page} {term}"))
}

fn has(imported: &reference::Imported, page: &str, term: &str) -> bool {
    imported
        .pages
        .get(&PageId(page.into()))
        .is_some_and(|p| p.scores.contains_key(&TermId(term.into())))
}

#[test]
fn fixture_import_covers_every_generation_and_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fixture_site(root);
    let site = load(root);
    let imported = reference::import(&site, &ImportOptions::default());
    let r = &imported.report;

    // Files: legacy 2, current 2, corrupt 3 (all read, two unusable); not the folder of
    // the single page.
    assert_eq!(r.files_read, 7, "{r:#?}");
    assert_eq!(r.files_per_kind[&FileKind::Categories], 2);
    assert_eq!(r.files_per_kind[&FileKind::Tags], 3);
    assert_eq!(r.files_per_kind[&FileKind::Classifications], 2);
    assert!(!has(&imported, "blog/single", "tags/kanban"));
    assert!(!imported.pages.contains_key(&PageId("blog/single".into())));

    // Generations.
    let g = |k: &str| r.generations.get(k).copied().unwrap_or(0);
    assert_eq!(g("legacy-v0"), 1);
    assert_eq!(g("legacy-0.7/0.3"), 2);
    assert_eq!(g("legacy-0.9/0.1"), 7);
    assert_eq!(g("classifications-legacy"), 3);
    assert_eq!(g("classifications-v3"), 4);
    assert_eq!(r.entries, 3 + 4 + 9 + 2 + 1);
    assert_eq!(
        r.generations_per_file[&FileKind::Classifications]["classifications-v3"],
        4
    );
    assert_eq!(
        r.legacy_dimension_scales,
        BTreeMap::from([("0-10", 1), ("0-100", 1), ("points", 1)])
    );
    assert_eq!(
        r.confidence_rescaled,
        BTreeMap::from([("x10", 1), ("x100", 2)])
    );
    // Only "Engineering Excellence" in the categories file disagrees with its formula
    // (60 is not round(0.7 · 0.85)); "Practice" (8.0 = round(8.2)) and "Product Owner"
    // (1.0 = round(0.9)) agree before rescaling.
    assert_eq!(
        r.final_score_mismatches,
        BTreeMap::from([("legacy-0.7/0.3", 1)]),
        "{r:#?}"
    );

    // Skips.
    let s = &r.skipped;
    assert_eq!(s.not_a_judgment, 1, "legacy Scrum with null reasoning");
    assert_eq!(s.invalid, 2, "\"Broken\" and \"NoScore\"");
    assert_eq!(s.unmappable, 2);
    assert_eq!(s.unmappable_titles["Old Vocabulary"].count, 1);
    let ee = &s.unmappable_titles["Engineering Excellence"];
    assert_eq!(ee.count, 1);
    assert!(ee.files.contains(&FileKind::Tags));
    assert!(
        ee.elsewhere
            .contains(&TermId("categories/engineering-excellence".into()))
    );
    assert_eq!(s.ambiguous, 1);
    assert_eq!(
        s.ambiguous_titles["Scrum"]
            .terms
            .iter()
            .cloned()
            .collect::<Vec<_>>(),
        vec![
            TermId("categories/scrum".into()),
            TermId("tags/scrum".into())
        ]
    );
    assert_eq!(
        s.conflicts, 2,
        "Product Owner and Kanban on the current page"
    );

    // Accounting: every entry is imported or skipped exactly once.
    let by_gen: usize = r.generations.values().sum();
    assert_eq!(r.entries, by_gen + s.invalid);
    assert_eq!(
        by_gen,
        r.imported + s.not_a_judgment + s.unmappable + s.ambiguous + s.conflicts
    );
    assert_eq!(r.imported, 11, "{r:#?}");
    let json = serde_json::to_value(r).expect("serialize");
    assert_eq!(json["files_per_kind"]["categories"], 2);
    assert_eq!(json["generations"]["legacy-0.9/0.1"], 7);
    assert_eq!(
        json["skipped"]["unmappable_titles"]["Old Vocabulary"]["files"][0],
        "tags"
    );
    assert_eq!(r.pages, 3);

    // Warnings name the file (and the key).
    let w: Vec<String> = r
        .warnings
        .iter()
        .map(|w| {
            format!(
                "{} [{}] {}",
                w.file,
                w.key.clone().unwrap_or_default(),
                w.message
            )
        })
        .collect();
    assert_eq!(w.len(), 4, "{w:#?}");
    assert!(w.iter().any(|m| m.starts_with(&format!(
        "content/blog/corrupt/{CATEGORIES_FILE} [] not valid JSON"
    ))));
    assert!(w.iter().any(|m| m.starts_with(&format!(
        "content/blog/corrupt/{CLASSIFICATIONS_FILE} [] the file holds an array"
    ))));
    assert!(w.iter().any(|m| m.starts_with(&format!(
        "content/blog/current/{CLASSIFICATIONS_FILE} [Broken] the entry is a string"
    ))));
    assert!(w.iter().any(|m| m.starts_with(&format!(
        "content/blog/current/{CLASSIFICATIONS_FILE} [NoScore] no usable"
    ))));

    // Legacy page.
    let devops = score(&imported, "blog/legacy", "categories/devops");
    assert_eq!(
        (devops.confidence, devops.lexical, devops.final_score),
        (80.0, 0.0, 56.0)
    );
    assert_eq!(devops.reason, "Mostly about pipelines.");
    assert_eq!(devops.engine.version, "legacy-0.7/0.3");
    assert_eq!(devops.engine.name, "imported");
    assert_eq!(devops.engine.model, "reference");
    assert_eq!(devops.computed_at, "");
    assert!(devops.dimensions.is_none());
    let legacy_page = site
        .pages
        .iter()
        .find(|p| p.id.as_str() == "blog/legacy")
        .expect("page");
    let devops_term = site
        .term(&TermId("categories/devops".into()))
        .expect("term");
    assert_eq!(devops.inputs.content_hash, legacy_page.content_hash);
    assert_eq!(devops.inputs.definition_hash, devops_term.definition_hash);
    let ee = score(
        &imported,
        "blog/legacy",
        "categories/engineering-excellence",
    );
    assert!(
        (ee.confidence - 85.0).abs() < 1e-4,
        "0–1 string confidence ×100"
    );
    assert_eq!(
        ee.final_score, 85.0,
        "rescaled: final follows the confidence"
    );
    assert!(
        !has(&imported, "blog/legacy", "categories/scrum"),
        "not a judgment"
    );
    let kanban = score(&imported, "blog/legacy", "tags/kanban");
    assert_eq!((kanban.confidence, kanban.final_score), (50.0, 46.0));
    assert_eq!(kanban.engine.version, "legacy-0.9/0.1");
    assert_eq!(kanban.computed_at, "2025-02-13T22:23:42");
    let po = score(&imported, "blog/legacy", "tags/product-owner");
    assert_eq!(po.confidence, 70.0, "found by alias, ignoring case");

    // Current page (id from ResourceId).
    let ee = score(&imported, "abc123", "categories/engineering-excellence");
    assert_eq!((ee.confidence, ee.final_score), (92.7, 93.0));
    assert_eq!(ee.reason, "An excellent fit.", "the summary wins");
    assert_eq!(ee.engine.version, "classifications-v3");
    let d = ee.dimensions.as_ref().expect("dims");
    assert_eq!((d.mentions, d.signal, d.penalty_points), (6.7, 9.6, 0.0));
    assert_eq!(d.penalty_details, "");
    let practice = score(&imported, "abc123", "concepts/practice");
    assert!((practice.confidence - 82.0).abs() < 1e-4, "0–10 answer ×10");
    assert_eq!(practice.final_score, 82.0);
    assert_eq!(practice.reason, "", "null reasoning");
    let d = practice.dimensions.as_ref().expect("dims");
    assert_eq!((d.mentions, d.penalty_points), (8.0, 2.0));
    assert_eq!(d.penalty_details, "some marketing");
    let po = score(&imported, "abc123", "tags/product-owner");
    assert!((po.confidence - 90.0).abs() < 1e-4, "raw 0–1 answer ×100");
    assert_eq!(po.final_score, 90.0);
    assert_eq!(
        po.engine.version, "classifications-v3",
        "newer than the tags file"
    );
    let kanban = score(&imported, "abc123", "tags/kanban");
    assert_eq!(kanban.confidence, 60.0, "the tags file's entry is newer");
    assert_eq!(kanban.engine.version, "legacy-0.9/0.1");
    let dod = score(&imported, "abc123", "tags/definition-of-done");
    let d = dod.dimensions.as_ref().expect("dims");
    assert_eq!((d.mentions, d.alignment, d.depth), (9.0, 9.0, 9.5));
    assert_eq!((d.intent, d.audience, d.signal), (0.0, 0.0, 0.0));
    assert_eq!(dod.lexical, 50.0);
    let devops = score(&imported, "abc123", "categories/devops");
    let d = devops.dimensions.as_ref().expect("dims");
    assert_eq!((d.mentions, d.alignment, d.depth), (7.5, 8.5, 9.0));
    assert!(!has(&imported, "abc123", "categories/scrum"));
    assert!(!has(&imported, "abc123", "tags/scrum"));

    // Corrupt page: the tags file (with a BOM) still imports.
    let k = score(&imported, "blog/corrupt", "tags/kanban");
    assert_eq!(k.confidence, 70.0);

    // Only the tags file.
    let only_tags = reference::import(
        &site,
        &ImportOptions {
            files: vec![FileKind::Tags],
        },
    );
    assert_eq!(only_tags.report.files_read, 3);
    assert!(!has(&only_tags, "blog/legacy", "categories/devops"));
}

fn mtimes(dir: &Path) -> BTreeMap<PathBuf, SystemTime> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let m = e.metadata().expect("meta").modified().expect("mtime");
                out.insert(p, m);
            }
        }
    }
    out
}

#[test]
fn saving_twice_writes_nothing_the_second_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fixture_site(root);
    let site = load(root);
    let store = Store::open(root);
    let first = reference::import(&site, &ImportOptions::default());
    let saved = reference::save_import(&store, &first).expect("save");
    assert_eq!((saved.written, saved.unchanged), (3, 0));
    let (back, warnings) = store.imported().load_all().expect("load");
    assert!(warnings.is_empty());
    assert_eq!(back.len(), 3);
    assert!(
        store.load_all().expect("load").0.is_empty(),
        "imported scores never go to the engine store"
    );
    let before = mtimes(store.root());
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = reference::import(&site, &ImportOptions::default());
    assert_eq!(second, first, "deterministic");
    let saved = reference::save_import(&store, &second).expect("save");
    assert_eq!((saved.written, saved.unchanged), (0, 3));
    assert_eq!(mtimes(store.root()), before);
}

fn sample_score(term: &str, confidence: f32, final_score: f32, reason: &str) -> Score {
    Score {
        term: TermId(term.into()),
        confidence,
        lexical: 0.0,
        final_score,
        reason: reason.into(),
        dimensions: None,
        engine: EngineId {
            name: "embedded".into(),
            model: "m".into(),
            version: "1".into(),
        },
        inputs: Inputs {
            content_hash: Hash::of(b"c"),
            definition_hash: Hash::of(b"d"),
        },
        computed_at: "2026-01-02T03:04:05Z".into(),
        usage: None,
    }
}

#[test]
fn export_then_import_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fixture_site(root);
    // Start from a clean slate: no reference files.
    for p in mtimes(&root.join("content")).into_keys() {
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("data.index."))
        {
            std::fs::remove_file(p).expect("rm");
        }
    }
    let site = load(root);
    let long_reason = "This page explains why the team writes the checks first. ".repeat(12);
    let mut scores = BTreeMap::new();
    let mut current = BTreeMap::new();
    for s in [
        sample_score("categories/engineering-excellence", 92.7, 93.4, "Fits."),
        sample_score("tags/kanban", 80.0, 80.0, "Exactly eighty."),
        sample_score("tags/product-owner", 5.0, 4.5, "Barely."),
        sample_score("concepts/practice", 61.3, 62.5, &long_reason),
        sample_score("tags/gone", 50.0, 50.0, "A term the site no longer has."),
    ] {
        current.insert(s.term.clone(), s);
    }
    let mut with_dims = sample_score("categories/devops", 77.0, 77.0, "With dimensions.");
    with_dims.dimensions = Some(Dimensions {
        mentions: 6.5,
        alignment: 8.0,
        depth: 7.5,
        intent: 8.0,
        audience: 7.0,
        signal: 9.0,
        penalty_points: 1.0,
        penalty_details: "one aside".into(),
    });
    current.insert(with_dims.term.clone(), with_dims);
    scores.insert(
        PageId("abc123".into()),
        PageScores {
            page: PageId("abc123".into()),
            path: "content/blog/current/index.md".into(),
            scores: current.clone(),
        },
    );
    // A single-file page never gets a file.
    scores.insert(
        PageId("blog/single".into()),
        PageScores {
            page: PageId("blog/single".into()),
            path: "content/blog/single.md".into(),
            scores: current.clone(),
        },
    );

    let files = reference::export(&site, &scores, &Thresholds::default());
    assert_eq!(files.len(), 1);
    let (path, text) = &files[0];
    assert_eq!(
        path,
        &root.join("content/blog/current").join(CLASSIFICATIONS_FILE)
    );
    assert_eq!(
        reference::export(&site, &scores, &Thresholds::default()),
        files,
        "deterministic"
    );

    // The shape the reference's templates read.
    let v: Value = serde_json::from_str(text).expect("valid JSON");
    let obj = v.as_object().expect("object");
    let keys: Vec<&String> = obj.keys().collect();
    assert_eq!(
        keys,
        [
            "DevOps",
            "Engineering Excellence",
            "Kanban",
            "Practice",
            "Product Owner"
        ]
    );
    let ee = &obj["Engineering Excellence"];
    assert_eq!(ee["final_score"], 93.0);
    assert_eq!(ee["ai_confidence"], 92.7);
    assert_eq!(ee["level"], "Primary");
    assert_eq!(ee["resourceId"], "abc123");
    assert_eq!(ee["category"], "Engineering Excellence");
    assert_eq!(ee["calculated_at"], "2026-01-02T03:04:05Z");
    assert_eq!(ee["ai_penalty_details"], "none");
    assert_eq!(ee["ai_penalties_applied"], false);
    assert_eq!(ee["ai_mentions"], 0.0);
    assert_eq!(
        obj["Kanban"]["level"], "Secondary",
        "exactly 80 is not > 80"
    );
    assert_eq!(
        obj["Practice"]["final_score"], 62.0,
        "62.5 → 62, half to even"
    );
    assert_eq!(obj["Practice"]["level"], "Secondary");
    assert_eq!(obj["Product Owner"]["final_score"], 4.0);
    assert_eq!(obj["Product Owner"]["level"], "Ignored");
    let summary = obj["Practice"]["reasoning_summary"].as_str().expect("str");
    assert!(summary.chars().count() <= 500 && summary.ends_with('…'));
    assert_eq!(obj["Practice"]["reasoning"], long_reason.trim());
    assert_eq!(obj["DevOps"]["ai_penalties_applied"], true);
    assert_eq!(obj["DevOps"]["ai_penalty_details"], "one aside");
    assert_eq!(obj["DevOps"]["ai_signal"], 9.0);
    // Layout: 2-space indent, sorted entry keys, one decimal.
    assert!(
        text.starts_with("{\n  \"DevOps\": {\n    \"ai_alignment\": 8.0,\n"),
        "{text}"
    );
    assert!(text.ends_with("\n  }\n}\n"));
    assert!(text.contains("\"final_score\": 93.0,"));
    let entry_keys: Vec<&String> = ee.as_object().expect("obj").keys().collect();
    let mut sorted = entry_keys.clone();
    sorted.sort();
    assert_eq!(entry_keys, sorted);

    // Write, and writing again is a no-op.
    let w = reference::write_export(&files).expect("write");
    assert_eq!((w.written, w.unchanged), (1, 0));
    let w = reference::write_export(&files).expect("write");
    assert_eq!((w.written, w.unchanged), (0, 1));

    // Import what was exported.
    let back = reference::import(&site, &ImportOptions::default());
    assert!(
        back.report.warnings.is_empty(),
        "{:#?}",
        back.report.warnings
    );
    assert_eq!(back.report.generations["classifications-v3"], 5);
    assert_eq!(back.report.imported, 5);
    // Our final scores are calibrated, not round(confidence) as in the reference's v3:
    // "Practice" (61.3 → 62) and "Product Owner" (5 → 4) are reported, nothing else.
    assert_eq!(
        back.report.final_score_mismatches,
        BTreeMap::from([("classifications-v3", 2)])
    );
    let page = &back.pages[&PageId("abc123".into())];
    assert_eq!(page.scores.len(), 5);
    for (id, got) in &page.scores {
        let want = &current[id];
        assert!(
            (got.confidence - want.confidence).abs() <= 0.05,
            "{id}: {} vs {}",
            got.confidence,
            want.confidence
        );
        assert!(
            (got.final_score - want.final_score).abs() <= 0.5,
            "{id}: {} vs {}",
            got.final_score,
            want.final_score
        );
        assert_eq!(got.computed_at, want.computed_at);
        assert_eq!(got.dimensions, want.dimensions, "{id}");
        if want.reason.chars().count() <= 500 {
            assert_eq!(got.reason, want.reason, "{id}");
        } else {
            // The summary is preferred on import: the reason comes back cut.
            let cut = got.reason.trim_end_matches('…');
            assert!(want.reason.starts_with(cut) && cut.len() > 400, "{id}");
        }
    }
    assert_eq!(
        page.scores[&TermId("tags/product-owner".into())].confidence,
        5.0,
        "a low confidence without dimensions is not rescaled"
    );
}

// ------------------------------------------------------------------------------------------
// The real corpus

fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/nkdagility/site");
    if p.join("hugo.yaml").is_file() {
        Some(p)
    } else {
        eprintln!("skipping: the corpus is not at {}", p.display());
        None
    }
}

fn cache_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("ls")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            cache_files(&p, out);
        } else if p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("data.index."))
        {
            out.push(p);
        }
    }
}

#[test]
fn corpus_import_accounts_for_every_entry() {
    let Some(root) = corpus() else {
        return;
    };
    let cfg_dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg_dir.path().join("taxonomist.toml");
    std::fs::write(&cfg, "[taxonomies.concepts]\n").expect("write");
    let site = taxonomist_site::load(
        &root,
        &taxonomist_site::LoadOptions {
            config: Some(cfg),
            ..Default::default()
        },
    )
    .expect("load");

    // Count independently: every file, every entry, by the README's rules.
    let mut files = Vec::new();
    cache_files(&root.join("content"), &mut files);
    assert_eq!(files.len(), 60, "{files:#?}");
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    let mut entries = 0;
    // Folders with at least one judgment whose title is a term of the file's taxonomy.
    let mut expected_pages = std::collections::BTreeSet::new();
    for f in &files {
        let v: Value = serde_json::from_slice(&std::fs::read(f).expect("read")).expect("json");
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        let tax = if name == CATEGORIES_FILE {
            "categories"
        } else {
            assert_eq!(name, TAGS_FILE, "only legacy files in this corpus");
            "tags"
        };
        for (title, e) in v.as_object().expect("object") {
            entries += 1;
            if !e["reasoning"].is_null() && site.find_term(tax, title).is_some() {
                expected_pages.insert(f.parent().expect("dir").to_path_buf());
            }
            let generation = if e["reasoning"].is_null() {
                "legacy-v0"
            } else if e.get("calculated_at").is_some() {
                "legacy-0.9/0.1"
            } else {
                "legacy-0.7/0.3"
            };
            *expected.entry(generation).or_default() += 1;
        }
    }

    let imported = reference::import(&site, &ImportOptions::default());
    let r = &imported.report;
    assert_eq!(r.files_read, 60);
    assert_eq!(r.files_per_kind[&FileKind::Categories], 30);
    assert_eq!(r.files_per_kind[&FileKind::Tags], 30);
    assert_eq!(r.entries, entries);
    assert_eq!(r.generations, expected);
    assert!(r.warnings.is_empty(), "{:#?}", r.warnings);
    assert!(
        r.final_score_mismatches.is_empty(),
        "every final_score follows its generation's formula: {:#?}",
        r.final_score_mismatches
    );
    assert!(r.confidence_rescaled.is_empty());
    let s = &r.skipped;
    assert_eq!(s.invalid, 0);
    assert_eq!(s.ambiguous, 0, "legacy files name their taxonomy");
    assert_eq!(s.not_a_judgment, expected["legacy-v0"]);
    assert_eq!(
        s.unmappable,
        s.unmappable_titles.values().map(|u| u.count).sum::<usize>()
    );
    assert_eq!(
        entries,
        r.imported + s.not_a_judgment + s.unmappable + s.ambiguous + s.conflicts + s.invalid
    );
    assert_eq!(r.pages, expected_pages.len());
    let stored: usize = imported.pages.values().map(|p| p.scores.len()).sum();
    assert_eq!(stored, r.imported);

    // Cross-check with labels.json (the LLM's ai_confidence per page, taxonomy and title,
    // judgments only): every label whose title is a term is imported with that value.
    let labels: Value =
        serde_json::from_slice(&std::fs::read(root.join("../labels.json")).expect("labels"))
            .expect("json");
    let mut checked = 0;
    for page in &site.pages {
        let folder = page.rel.strip_suffix("/index.md").expect("bundle page");
        let Some(l) = labels.get(folder) else {
            continue;
        };
        for tax in ["categories", "tags"] {
            for (title, ai) in l[tax].as_object().expect("map") {
                let Some(term) = site.find_term(tax, title) else {
                    continue;
                };
                let got = &imported.pages[&page.id].scores[&term.id];
                assert_eq!(
                    f64::from(got.confidence),
                    ai.as_f64().expect("number"),
                    "{folder} {title}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "{checked}");
    eprintln!("labels.json: {checked} labels checked against imported confidences");

    // Saving twice: the second save writes nothing.
    let out = tempfile::tempdir().expect("tempdir");
    let store = Store::open(out.path());
    let saved = reference::save_import(&store, &imported).expect("save");
    assert_eq!(saved.written, r.pages);
    let before = mtimes(out.path());
    std::thread::sleep(std::time::Duration::from_millis(20));
    let again = reference::import(&site, &ImportOptions::default());
    assert_eq!(again, imported);
    let saved = reference::save_import(&store, &again).expect("save");
    assert_eq!((saved.written, saved.unchanged), (0, r.pages));
    assert_eq!(mtimes(out.path()), before);

    // The numbers, for the record (`cargo test -- --nocapture`).
    let mut top: Vec<(&String, usize)> = s
        .unmappable_titles
        .iter()
        .map(|(t, u)| (t, u.count))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    eprintln!(
        "corpus: {} files, {} entries, generations {:?}, imported {} on {} pages, not a judgment {}, unmappable {} ({} titles, {} of them terms of another taxonomy), conflicts {}; top unmappable: {:?}",
        r.files_read,
        r.entries,
        r.generations,
        r.imported,
        r.pages,
        s.not_a_judgment,
        s.unmappable,
        s.unmappable_titles.len(),
        s.unmappable_titles
            .values()
            .filter(|u| !u.elsewhere.is_empty())
            .count(),
        s.conflicts,
        &top[..top.len().min(12)]
    );
}
