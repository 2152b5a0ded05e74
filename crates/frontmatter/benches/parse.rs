//! Throughput of parsing, and of parse + edit + serialise, over every
//! `.md` file of the shared corpus (and `examples/site` when present).
//!
//! Run with `cargo bench -p taxonomist-frontmatter`. Plain `Instant`
//! timing, no framework: each pass runs over all files, passes repeat
//! for about a second, and the best pass is reported (the least
//! disturbed by other work on the machine).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// Runs `pass` repeatedly for about `budget`; returns the best time.
fn best_of(budget: Duration, mut pass: impl FnMut()) -> Duration {
    pass(); // warm up
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut runs = 0;
    while runs < 3 || start.elapsed() < budget {
        let t = Instant::now();
        pass();
        best = best.min(t.elapsed());
        runs += 1;
    }
    best
}

fn report(what: &str, files: usize, bytes: usize, d: Duration) {
    let secs = d.as_secs_f64();
    println!(
        "{what:<34} {:>9.0} files/s {:>8.1} MB/s {:>8.2} µs/file",
        files as f64 / secs,
        bytes as f64 / secs / 1e6,
        secs * 1e6 / files as f64
    );
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0.0)
}

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    for root in ["../../../shared/corpus", "../../examples/site"] {
        let dir = manifest.join(root);
        if dir.is_dir() {
            md_files(&dir, &mut paths);
        } else {
            println!("skipping: {} not found", dir.display());
        }
    }
    paths.sort();
    let texts: Vec<String> = paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    let docs: Vec<Document> = texts
        .iter()
        .filter_map(|t| Document::parse(t).ok())
        .collect();
    if docs.is_empty() {
        println!("skipping: no .md files to measure");
        return;
    }
    let bytes: usize = texts.iter().map(String::len).sum();
    let fm_bytes: usize = docs
        .iter()
        .map(|d| d.to_string().len() - d.body().len())
        .sum();
    println!(
        "{} files, {:.1} MB ({:.1} MB of front matter, {:.0} bytes on average)",
        texts.len(),
        bytes as f64 / 1e6,
        fm_bytes as f64 / 1e6,
        fm_bytes as f64 / texts.len() as f64
    );
    let budget = Duration::from_millis(1500);

    let d = best_of(budget, || {
        for t in &texts {
            let _ = black_box(Document::parse(black_box(t)));
        }
    });
    report("parse", texts.len(), bytes, d);

    for format in [Format::Yaml, Format::Toml] {
        let subset: Vec<&String> = texts
            .iter()
            .filter(|t| Document::parse(t).ok().and_then(|d| d.format()) == Some(format))
            .collect();
        if subset.is_empty() {
            continue;
        }
        let sub_bytes = subset.iter().map(|t| t.len()).sum();
        let d = best_of(budget / 2, || {
            for t in &subset {
                let _ = black_box(Document::parse(black_box(t)));
            }
        });
        report(
            &format!("parse ({format:?} only)"),
            subset.len(),
            sub_bytes,
            d,
        );
    }

    let tags = vec![
        "Agile Planning".to_owned(),
        "taxonomist: generated".to_owned(),
        "Scrum".to_owned(),
    ];
    let d = best_of(budget, || {
        for t in &texts {
            if let Ok(mut doc) = Document::parse(t) {
                let _ = doc.set_list("tags", &tags);
                black_box(doc.to_string());
            }
        }
    });
    report("parse + set tags + serialise", texts.len(), bytes, d);

    // Per-file parse times, to see the typical post and the tail.
    let mut per_file: Vec<f64> = texts
        .iter()
        .map(|t| {
            let reps = 20;
            let start = Instant::now();
            for _ in 0..reps {
                let _ = black_box(Document::parse(black_box(t)));
            }
            start.elapsed().as_secs_f64() * 1e6 / reps as f64
        })
        .collect();
    per_file.sort_by(f64::total_cmp);
    println!(
        "parse time per file: median {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        percentile(&per_file, 0.5),
        percentile(&per_file, 0.9),
        percentile(&per_file, 0.99),
        percentile(&per_file, 1.0)
    );
}
